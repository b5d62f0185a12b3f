"""Replay fuzz: malformed recordings give a summary with the counts and exit 0 (clean) or 2 (lines
skipped, or no frame), never a traceback; the readers never raise for a line's content."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import cli
from bot.recording import ReadStats, RecordOptions, read_recording
from plugins.coinbase.record import CoinbaseRecorder
from plugins.kraken.record import KrakenRecorder
from tests.helpers.processes import arbot

SUBSCRIBED = json.dumps({"method": "subscribe", "success": True,
                         "result": {"channel": "book", "depth": 10, "snapshot": True, "symbol": "BTC/USD"}})
INSTRUMENT = ('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD",'
              '"price_precision":1,"qty_precision":8,"price_increment":0.1,"qty_increment":0.00000001}]}}')
GOOD = [json.dumps({"ts_ns": 1000 + i, "raw": raw}) + "\n" for i, raw in enumerate([SUBSCRIBED, INSTRUMENT])]

MALFORMED: dict[str, bytes] = {
    "a JSON array, not an object": b'["ts_ns", 1, "raw", "x"]\n',
    "no raw": b'{"ts_ns": 5}\n',
    "a JSON string, not an object": b'"just a string"\n',
    "nested too deep": b"[" * 200_000 + b"]" * 200_000 + b"\n",
    "raw not a string": b'{"ts_ns": 5, "raw": 42}\n',
    "not UTF-8": b'{"ts_ns": 5, "raw": "\xff\xfe"}\n',
    "not JSON": b'{"ts_ns": 5, "raw": \n',
    "ts_ns not an integer": b'{"ts_ns": "soon", "raw": "{}"}\n',
    "raw nested too deep": json.dumps({"ts_ns": 5, "raw": "[" * 10_000 + "]" * 10_000}).encode() + b"\n",
    "a JSON number, not an object": b"12345\n",
    "a JSON null, not an object": b"null\n",
}


def replay(path: Path, exchange: str = "kraken") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["replay", "--exchange", exchange, str(path)])
    return status, out.getvalue(), err.getvalue()


def test_a_clean_recording_exits_0_with_a_summary(tmp_path):
    path = tmp_path / "clean.jsonl"
    path.write_text("".join(GOOD) + "\n")
    status, out, err = replay(path)
    assert status == 0, err
    assert "clean.jsonl: 3 lines, 2 frames" in err and "malformed" not in err
    assert "messages=2" in out


@pytest.mark.parametrize("reason", list(MALFORMED))
def test_each_malformed_kind_is_skipped_and_counted(tmp_path, reason):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(GOOD[0].encode() + MALFORMED[reason] + GOOD[1].encode())
    status, out, err = replay(path)
    assert status == 2
    assert f"bad.jsonl: 3 lines, 2 frames, 1 malformed line skipped ({reason}: 1; first at line 2)" in err, err
    assert "Traceback" not in out + err and "messages=2" in out


def test_every_kind_at_once_and_a_file_of_nothing_but_garbage(tmp_path):
    path = tmp_path / "all.jsonl"
    path.write_bytes(b"".join(MALFORMED.values()) + b"".join(g.encode() for g in GOOD) + b'{"ts_ns": 1, "ra')
    status, _, err = replay(path)
    assert status == 2 and f"{len(MALFORMED) + 1} malformed lines skipped" in err, err
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"".join(MALFORMED.values()))
    status, _, err = replay(garbage)
    assert status == 2 and "0 frames" in err, err


def test_a_missing_or_unreadable_file_is_a_message(tmp_path):
    status, _, err = replay(tmp_path / "nope.jsonl")
    assert status == 2 and "no such file" in err
    status, _, err = replay(tmp_path)  # a directory
    assert status == 2 and "no such file" in err and "Traceback" not in err


@pytest.mark.parametrize("exchange", ["kraken", "coinbase"])
def test_replay_subprocess_never_prints_a_traceback(tmp_path, exchange):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(MALFORMED.values()) + b"".join(g.encode() for g in GOOD))
    out = subprocess.run(arbot("replay", "--exchange", exchange, str(path)), capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stdout + out.stderr
    assert f"{len(MALFORMED)} malformed lines skipped" in out.stderr


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
LINE = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda ts, raw: json.dumps({"ts_ns": ts, "raw": raw}).encode(), st.integers(-5, 2**64), JSON.map(
        json.dumps)),
    st.builds(lambda raw: json.dumps({"ts_ns": 1, "raw": raw}).encode(), st.text(max_size=200)),
    st.sampled_from(list(MALFORMED.values()) + [g.encode() for g in GOOD]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=12))
def test_readers_and_both_recorders_never_raise(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    stats = ReadStats(path)
    frames = list(read_recording(path, stats))
    assert stats.frames == len(frames) and stats.frames + stats.malformed <= stats.lines
    assert all(isinstance(ts, int) and isinstance(raw, str) for ts, raw in frames)
    for recorder in (KrakenRecorder(), CoinbaseRecorder()):
        summary = recorder.replay((raw for _, raw in frames), RecordOptions(symbols=[]))
        assert summary.startswith("messages=")
        events = list(recorder.market_events(iter(frames), RecordOptions(symbols=[]), 10))
        assert all(hasattr(e, "ts_ns") for e in events)
