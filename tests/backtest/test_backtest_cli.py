"""`arbot backtest` (a host command) as a user runs it: a real subprocess, its exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.backtest.driver import run_backtest
from tests.backtest.backtest_kit import write_config
from tests.backtest.test_backtest_pinned import GRID

ROOT = Path(__file__).resolve().parents[2]


def arbot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``arbot ARGS`` as a user runs it, with this checkout's code."""
    env = {k: v for k, v in os.environ.items() if k != "ARBOT_CONFIG"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**env, "PYTHONPATH": str(ROOT)})


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
