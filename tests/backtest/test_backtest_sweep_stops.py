"""A sweep that stops before its table: one combination failed, or SIGTERM to `arbot backtest --sweep` itself. Either
way it stops every combination at once (queued ones never start, running ones are terminated), says why, and leaves
nothing behind: no output directory it made, no scratch directory (``arbot-backtest-*``) in the temp directory, no
worker process. Each test runs the real command in a session of its own, its temp directory pointed at the test's."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from bot.backtest.driver import SCRATCH_PREFIX, BacktestError
from bot.backtest.sweep import parse_axis, run_sweep
from tests.backtest.backtest_kit import end_group, group_alive, left_behind, start, write_config
from tests.helpers.processes import wait_until
from tests.plugins.arb.arb_kit import arb_plugins

# size_step 0.0001 SOL is finer than the CEX's lot (0.001): that combination's strategy cannot start, at once
FAILS_FIRST = "size_step=0.0001,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8"
LONG = "5000000"  # market steps a combination runs: minutes each (200,000 took 30 s here)


def test_a_combination_that_fails_ends_the_sweep_at_once_naming_it_and_leaves_nothing(tmp_path):
    """9 combinations on 2 processes, the first failing as it starts, each other running minutes. Before: the pool's
    shutdown waited for every queued combination to play to its end before the error was said (130 s for 200,000
    steps a combination), and the error did not say which combination failed."""
    config = write_config(tmp_path)
    process = start(["backtest", "--config", str(config), "--steps", LONG, "--out", "sw", "--workers", "2",
                     "--sweep", FAILS_FIRST], tmp_path, tmp_path / "tmp")
    began = time.monotonic()
    try:
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the sweep had not said its failed combination 60 s after it started: it waits "
                                 "for the others to play to their end") from None
        took_s = time.monotonic() - began
        print(f"error after {took_s:.1f} s: {err.strip().splitlines()[-3:]}")
        assert process.returncode == 1, (process.returncode, err[-3000:])
        assert "combination 1 of 9 (size_step=0.0001)" in err, err[-3000:]
        assert "not a multiple of the lot size" in err, err[-3000:]  # why it failed
        assert "Traceback" not in err, err[-3000:]
        assert out == ""
        assert wait_until(lambda: not group_alive(process), 10), "a worker outlived the sweep"
        assert left_behind(tmp_path / "tmp") == []
        assert not (tmp_path / "sw").exists()
    finally:
        end_group(process)


def test_a_combination_that_fails_on_one_process_is_named_too(tmp_path):
    # the sweep runs in this process (--workers 1): the second combination's strategy cannot start
    with pytest.raises(BacktestError) as caught:
        run_sweep(write_config(tmp_path), tmp_path / "sw", [parse_axis("size_step=0.1,0.0001,0.2")], 300, workers=1,
                  chart=False, extra_plugins=arb_plugins())
    assert str(caught.value).startswith("combination 2 of 3 (size_step=0.0001): "), str(caught.value)
    assert "not a multiple of the lot size" in str(caught.value)
    assert not (tmp_path / "sw").exists()


def test_sigterm_to_a_sweep_stops_its_workers_removes_its_scratch_dir_and_ends_by_sigterm(tmp_path):
    """SIGTERM to the sweep's own process (as `kill PID`, a service manager or `timeout` sends it), mid-sweep.
    Before: it died at once, its workers played on alone, and its ``arbot-backtest-sweep-*`` directory (with the
    workers' scratch dirs in it) and ``--out`` stayed behind."""
    config = write_config(tmp_path)
    temp = tmp_path / "tmp"
    process = start(["backtest", "--config", str(config), "--steps", LONG, "--out", "sw", "--workers", "2",
                     "--sweep", "min_edge_bps=5,10,20"], tmp_path, temp)
    try:
        ready = tmp_path / "sw" / "run-001" / "backtest.db"
        assert wait_until(ready.exists, 60), f"{ready} never appeared: {process.poll()}"
        assert list(temp.glob(f"{SCRATCH_PREFIX}sweep-*")), "the sweep's scratch directory is not where expected"
        os.kill(process.pid, signal.SIGTERM)  # the parent alone
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the sweep was still running 30 s after SIGTERM") from None
        assert process.returncode == -signal.SIGTERM, (process.returncode, err[-3000:])  # a shell shows 143
        assert "Traceback" not in err, err[-3000:]
        assert wait_until(lambda: not group_alive(process), 10), "a worker outlived the sweep"
        assert left_behind(temp) == []
        assert not (tmp_path / "sw").exists()
    finally:
        end_group(process)
