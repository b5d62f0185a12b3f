"""A recording's receive times: stamped on a clock that a wall-clock step does not move."""

from __future__ import annotations

import asyncio
import io
import json
import time

from bot.recording import RecordOptions, record_to

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
