"""`arbot backtest` (a host command) as a user runs it: a real subprocess, its exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bot.backtest.driver import run_backtest
from tests.backtest.backtest_kit import RECORDED_CEX, recorded_cex_config, write_config, write_kraken_recording
from tests.backtest.test_backtest_pinned import GRID
from tests.helpers.processes import arbot as arbot_command

ROOT = Path(__file__).resolve().parents[2]


def arbot(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``arbot ARGS`` as a user runs it, with this checkout's code."""
    env = {k: v for k, v in os.environ.items() if k != "ARBOT_CONFIG"}
    return subprocess.run(arbot_command(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**env, "PYTHONPATH": str(ROOT)})


def test_backtest_runs_and_writes_its_report(tmp_path):
    config = write_config(tmp_path)
    out = arbot("backtest", "--config", str(config), "--out", "report", "--steps", "450", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "450 steps" in out.stdout and "captured PnL:" in out.stdout and "capture rate" in out.stdout
    assert out.stderr == ""  # not a terminal: no progress bar, and no log line below ERROR
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["scenario"]["steps"] == 450
    assert f"{report['sections']['arb']['opportunities']['seen']} seen" in out.stdout
    assert f"strategy sol-arb (arb): {report['strategies']['sol-arb']['fills']} fills" in out.stdout
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "pnl.png").is_file()
    assert not list(tmp_path.glob("*.db")), "a backtest writes nothing outside --out"


def test_a_bad_config_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(write_config(tmp_path).read_text().replace('min_edge_bps = "10"', 'min_edge_bps = "ten"'))
    out = arbot("backtest", "--config", str(bad), "--out", "report", cwd=tmp_path)
    assert out.returncode == 2
    assert "invalid config" in out.stderr and "strategies.sol-arb.min_edge_bps" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "report" / "report.json").exists()


def test_a_missing_file_and_a_bad_step_count_exit_2(tmp_path):
    missing = arbot("backtest", "--config", "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr and "cannot read" in missing.stderr
    steps = arbot("backtest", "--config", str(write_config(tmp_path)), "--steps", "0", cwd=tmp_path)
    assert steps.returncode == 2 and "--steps" in steps.stderr


def test_a_strategy_that_cannot_start_exits_1_with_its_reason(tmp_path):
    """Valid keys, but the arb's size_step is finer than the CEX lot: the bot would run without the strategy."""
    config = tmp_path / "step.toml"
    config.write_text(write_config(tmp_path).read_text().replace('size_step = "0.1"', 'size_step = "0.0001"'))
    out = arbot("backtest", "--config", str(config), "--out", "report", "--steps", "100", cwd=tmp_path)
    assert out.returncode == 1
    assert "backtest failed" in out.stderr and 'strategy "sol-arb" failed to start' in out.stderr
    assert "size_step" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "report" / "report.json").exists()


def test_arbot_report_on_a_backtests_store_shows_the_backtest_of_a_config_that_names_no_bot(tmp_path):
    """The command README "Backtesting" gives: the backtest's rows are under "backtest", not the host name."""
    config = tmp_path / "grid.toml"
    config.write_text(GRID)  # no [bot] name, as in the README's examples
    result = run_backtest(config, tmp_path / "out", 600, chart=False)
    fills = json.loads(result.report_json.read_text())["strategies"]["btc-grid"]["fills"]
    assert fills > 0

    out = arbot("report", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'out' / 'backtest.db'}",
                cwd=tmp_path)

    assert out.returncode == 0, out.stderr
    assert "arbot report: bot backtest" in out.stdout
    assert "btc-grid" in out.stdout


def test_arbot_report_on_a_grid_backtests_store_prints_no_failing_plugin_section(tmp_path):
    """The arb plugin is loaded but no arb strategy ran: the store has no arb tables, and its section is absent.
    (Both commands in their own process: one that imported the arb models would have created the tables.)"""
    config = tmp_path / "grid.toml"
    config.write_text(GRID + '[bot]\nname = "bt"\n')
    backtest = arbot("backtest", "--config", str(config), "--out", "out", "--steps", "300", cwd=tmp_path)
    assert backtest.returncode == 0, backtest.stderr[-3000:]

    out = arbot("report", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'out' / 'backtest.db'}",
                cwd=tmp_path)

    assert out.returncode == 0, out.stderr
    assert "arbot report: bot bt" in out.stdout and "btc-grid" in out.stdout
    assert "report section failed" not in out.stdout and "Arbitrage" not in out.stdout



SOL_GRID = """
[strategies.sol-grid]
type = "grid"
exchange = "sol-cex"
symbol = "SOL/USDC"
lower = "140"
upper = "160"
levels = 21
order_size = "0.1"
"""


def recorded_book_config(tmp_path: Path, *, pool: bool = True) -> Path:
    """The SOL/USDC arbitrage scenario with its CEX book played from ``sol.jsonl`` (relative to ``tmp_path``);
    ``pool``: beside the synthetic pool (else the book alone, with a grid on it)."""
    if pool:
        return recorded_cex_config(tmp_path)
    config = tmp_path / "recorded.toml"
    config.write_text('mode = "paper"\n\n' + RECORDED_CEX + SOL_GRID)
    return config


def test_an_empty_recording_beside_a_synthetic_pool_ends_with_a_clear_error_not_a_hang(tmp_path):
    """A recording that yields no market event never ends: the synthetic pool was stepped forever."""
    (tmp_path / "sol.jsonl").write_text("")  # `arbot record` interrupted before its first frame
    config = recorded_book_config(tmp_path)
    try:
        out = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("arbot backtest over an empty recording was still running after 60 s") from None
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr[-2000:])
    assert "sol.jsonl" in out.stderr and "empty" in out.stderr and 'exchange "sol-cex"' in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    with_steps = arbot("backtest", "--config", str(config), "--out", "o", "--steps", "100", cwd=tmp_path, timeout=60)
    assert with_steps.returncode == 2 and "sol.jsonl" in with_steps.stderr, with_steps.stderr[-2000:]
    assert not (tmp_path / "o").exists(), "a refused recording leaves nothing in --out"



def test_a_recording_alone_that_yields_no_market_event_is_an_error_not_a_0_step_report(tmp_path):
    config = recorded_book_config(tmp_path, pool=False)
    (tmp_path / "sol.jsonl").write_text("")
    empty = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    assert empty.returncode == 2 and "sol.jsonl" in empty.stderr and "empty" in empty.stderr, empty.stderr[-2000:]
    write_kraken_recording(tmp_path / "sol.jsonl", 20)  # a book, but of another market than the venue's
    (tmp_path / "sol.jsonl").write_text((tmp_path / "sol.jsonl").read_text().replace("SOL/USDC", "ETH/USDC"))
    other = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    assert other.returncode == 2 and "no market event" in other.stderr, other.stderr[-2000:]
    assert "22 frames" in other.stderr, other.stderr[-2000:]
    # the fix: what the file holds, against what the venue trades
    assert "holds ETH/USDC" in other.stderr and "SOL/USDC" in other.stderr, other.stderr[-2000:]
    (tmp_path / "sol.jsonl").write_text("not a recording\n" * 3)
    junk = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    assert junk.returncode == 2 and "not JSON: 3" in junk.stderr, junk.stderr[-2000:]
    assert not (tmp_path / "o").exists(), "a refused recording leaves nothing in --out"


def test_a_failed_backtest_leaves_no_half_written_store_and_keeps_what_out_held(tmp_path):
    config = recorded_book_config(tmp_path, pool=False)
    write_kraken_recording(tmp_path / "sol.jsonl", 20)
    (tmp_path / "sol.jsonl").write_text((tmp_path / "sol.jsonl").read_text().replace("SOL/USDC", "ETH/USDC"))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "notes.txt").write_text("mine")
    out = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["notes.txt"]


def test_a_recording_damaged_where_playback_cannot_go_on_is_bad_input_naming_the_file_the_line_and_the_fix(tmp_path):
    """One line cut in half: the book's checksum fails after it and no later snapshot restores it, so the market
    would end there, two thirds of the file unplayed. That was a report on a third of the data with a warning; it
    is bad input (exit 2), naming the file, the line, and how to backtest the part before it."""
    write_kraken_recording(tmp_path / "sol.jsonl", 600)  # 60 s of book
    lines = (tmp_path / "sol.jsonl").read_text().splitlines(keepends=True)
    lines[100] = lines[100][: len(lines[100]) // 2] + "\n"  # one line of 602 cut in half (a bad copy, a full disk)
    (tmp_path / "sol.jsonl").write_text("".join(lines))
    out = arbot("backtest", "--config", str(recorded_book_config(tmp_path)), "--out", "o", cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr[-2000:])
    assert "sol.jsonl" in out.stderr and "line 101" in out.stderr and "line 102" in out.stderr, out.stderr[-2000:]
    assert "SOL/USDC" in out.stderr and "head -n 101" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists(), "nothing half-written"


def test_a_recording_whose_last_line_was_cut_plays_to_its_end_and_says_so(tmp_path):
    """A recorder killed mid-write leaves its last line cut: nothing comes after it, so the backtest runs on
    everything before it, and says on stderr (without -v) and in the report what it skipped."""
    write_kraken_recording(tmp_path / "sol.jsonl", 300)
    text = (tmp_path / "sol.jsonl").read_text()
    (tmp_path / "sol.jsonl").write_text(text[:-40])
    out = arbot("backtest", "--config", str(recorded_book_config(tmp_path)), "--out", "o", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    warned = [line for line in out.stderr.splitlines() if "sol.jsonl" in line]
    assert warned and "1 malformed line" in warned[0] and "line 302" in warned[0], out.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    read = report["recordings"]["sol-cex"]
    assert (read["lines"], read["frames"], read["malformed"]) == (302, 301, 1)
    assert read["first_malformed_lines"] == [302] and read["stopped_early"] is None
    assert "## Recordings" in (tmp_path / "o" / "report.md").read_text()


def test_a_damaged_line_followed_by_a_fresh_snapshot_is_skipped_and_the_book_resyncs(tmp_path):
    """Where the recording holds a later snapshot (a resubscription's), playback goes on from it: the lines skipped
    are counted, but the market did not stop."""
    write_kraken_recording(tmp_path / "sol.jsonl", 300)  # 30 s of book
    lines = (tmp_path / "sol.jsonl").read_text().splitlines(keepends=True)
    # then the same 30 s again, from its snapshot on: as if the recorder had resubscribed to the same market
    again = [json.loads(line) for line in lines[1:]]
    lines += [json.dumps({"ts_ns": e["ts_ns"] + 30_100_000_000, "raw": e["raw"]}) + "\n" for e in again]
    lines[100] = lines[100][: len(lines[100]) // 2] + "\n"
    (tmp_path / "sol.jsonl").write_text("".join(lines))
    out = arbot("backtest", "--config", str(recorded_book_config(tmp_path)), "--out", "o", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    read = report["recordings"]["sol-cex"]
    assert read["malformed"] == 1 and read["stopped_early"] is None, read
    assert float(report["scenario"]["simulated_s"]) > 59, report["scenario"]
    assert "1 malformed line" in out.stderr and "stopped early" not in out.stderr


def test_a_recording_exchange_that_cannot_play_recordings_is_a_config_error_naming_its_key(tmp_path):
    # the venue failed to start: exit 1, "a plugin failed while the bot started", three cascading errors
    write_kraken_recording(tmp_path / "sol.jsonl", 20)
    config = recorded_book_config(tmp_path)
    config.write_text(config.read_text().replace('recording_exchange = "kraken"', 'recording_exchange = "krakn"'))
    out = arbot("backtest", "--config", str(config), "--out", "o", cwd=tmp_path, timeout=60)
    assert out.returncode == 2, (out.stdout, out.stderr[-2000:])
    assert "exchanges.sol-cex.recording_exchange" in out.stderr and "kraken" in out.stderr, out.stderr[-2000:]
    assert "failed while the bot started" not in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists()


def test_the_same_backtest_in_two_processes_with_other_hash_seeds_writes_the_same_report_bytes(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    for seed, out in (("1", "a"), ("2", "b")):
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        done = arbot("backtest", "--config", str(config), "--out", out, "--steps", "300", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    for name in ("report.json", "report.md", "pnl.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
