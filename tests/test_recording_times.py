"""A recording's receive times: stamped on a clock that a wall-clock step does not move, and read back in file
order with every backwards step clamped to no time passing, counted and reported."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

from bot.recording import RecordOptions, frame_line, read_recording, record_to
from bot.recording_stats import ReadStats

S = 1_000_000_000


class SteppingRecorder:
    """Hands four frames to the sink, the wall clock stepped 5 s back (NTP) after the second."""

    def __init__(self, step_back) -> None:
        self.step_back = step_back

    async def record(self, options, sink, stop) -> str:
        for n in range(4):
            if n == 2:
                self.step_back()
            sink(f'{{"n":{n}}}')
            await asyncio.sleep(0.001)
        return "messages=4"


async def test_a_wall_clock_stepped_back_while_recording_moves_no_receive_time_back(monkeypatch):
    real_time_ns = time.time_ns
    stepped = [0]
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() - stepped[0])
    out = io.StringIO()
    before = real_time_ns()

    await record_to(SteppingRecorder(lambda: stepped.__setitem__(0, 5 * S)), RecordOptions([]), out)

    stamps = [json.loads(line)["ts_ns"] for line in out.getvalue().splitlines()]
    assert len(stamps) == 4
    assert stamps == sorted(stamps), stamps  # the step back did not reach them
    assert before <= stamps[0] <= real_time_ns()  # anchored on the wall clock when the recording began
    assert stamps[-1] - stamps[0] < S  # the recording took milliseconds, whatever the wall clock did


def write(path: Path, stamps: list[int]) -> None:
    path.write_text("".join(frame_line(f'{{"n":{n}}}', ts) for n, ts in enumerate(stamps)))


def test_a_backwards_step_is_read_in_file_order_as_no_time_passing_and_counted(tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, [10 * S, 20 * S, 5 * S, 15 * S, 25 * S, 24 * S, 30 * S])
    stats = ReadStats(path)

    frames = list(read_recording(path, stats))

    assert [raw for _, raw in frames] == [f'{{"n":{n}}}' for n in range(7)]  # file order
    # each step back plays as no time passing; the spacing after it is kept
    assert [ts for ts, _ in frames] == [10 * S, 20 * S, 20 * S, 30 * S, 40 * S, 40 * S, 46 * S]
    assert (stats.went_back, stats.went_back_max_ns, stats.went_back_ns, stats.first_went_back) == (2, 15 * S,
                                                                                                     16 * S, 3)
    assert stats.troubled and not stats.malformed
    assert "receive time went back 2 times (at most 15.0 s, 16.0 s in all; first at line 3)" in stats.summary()
    assert stats.as_json()["went_back"] == {"steps": 2, "largest_ns": 15 * S, "total_ns": 16 * S, "first_line": 3}


def test_a_recording_in_order_is_read_as_it_is(tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, [10 * S, 10 * S, 11 * S])
    stats = ReadStats(path)
    assert [ts for ts, _ in read_recording(path, stats)] == [10 * S, 10 * S, 11 * S]
    assert stats.went_back == 0 and not stats.troubled
    assert "went back" not in stats.summary() and "went_back" not in stats.as_json()
