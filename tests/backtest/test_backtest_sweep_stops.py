"""A sweep that stops before its table is in place: one combination failed, a worker process was killed from outside,
SIGTERM to `arbot backtest --sweep` itself, Ctrl-C while the table is written. Each way it stops every combination at
once (queued ones never start, running ones are terminated), says why, and leaves nothing behind: no output directory
it made, no run directory, no table cut short, no scratch directory (``arbot-backtest-*``) in the temp directory, no
worker process. Each test runs the real command in a session of its own, its temp directory pointed at the test's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.backtest.driver import SCRATCH_PREFIX, BacktestError
from bot.backtest.sweep import parse_axis, run_sweep
from tests.backtest.backtest_kit import end_group, group_alive, left_behind, start, write_config
from tests.helpers.processes import ROOT, wait_until
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


def holding(path: Path, group: int) -> int | None:
    """The pid of a process of process group ``group`` that has ``path`` open (a worker running that run's store)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            if any(os.readlink(fd) == str(path) for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:  # gone meanwhile, or not ours
            continue
    return None


def test_a_worker_killed_from_outside_ends_the_sweep_naming_its_combination_and_leaves_nothing(tmp_path):
    """SIGKILL to one worker process mid-run (``kill -9``, the kernel's out-of-memory killer). Before: a bare
    ``BrokenProcessPool`` traceback ("A process in the process pool was terminated abruptly ..."), naming no
    combination and not saying how the worker ended."""
    config = write_config(tmp_path)
    temp = tmp_path / "tmp"
    process = start(["backtest", "--config", str(config), "--steps", LONG, "--out", "sw", "--workers", "2",
                     "--sweep", "min_edge_bps=5,10,20"], tmp_path, temp)
    try:
        store = tmp_path / "sw" / "run-002" / "backtest.db"
        worker: dict[str, int] = {}

        def running_combination_2() -> bool:
            worker["pid"] = holding(store, process.pid) or 0
            return worker["pid"] != 0

        assert wait_until(running_combination_2, 60), f"no worker ever ran combination 2: {process.poll()}"
        os.kill(worker["pid"], signal.SIGKILL)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the sweep was still running 30 s after its worker was killed") from None
        assert process.returncode == 1, (process.returncode, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines() == [
            "arbot: backtest failed: combination 2 of 3 (min_edge_bps=10): its worker process "
            f"(pid {worker['pid']}) was killed by SIGKILL (kill -9, or the kernel's out-of-memory killer); the sweep "
            "stopped"], err[-3000:]
        assert out == ""
        assert wait_until(lambda: not group_alive(process), 10), "a worker outlived the sweep"
        assert left_behind(temp) == []
        assert not (tmp_path / "sw").exists()
    finally:
        end_group(process)


HOLD_CHART = """
import pathlib, runpy, sys, time
sys.path.insert(0, {root!r})
import bot.backtest.sweep

def held(*args, **kwargs):
    pathlib.Path({charting!r}).touch()
    time.sleep(600)  # until Ctrl-C

bot.backtest.sweep.sweep_chart_png = held
sys.argv[0] = "arbot"
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""
"""`arbot` with the sweep's chart held while it is drawn (in the middle of writing the table) until Ctrl-C."""


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_sweep_stopped_while_its_table_is_written_leaves_the_table_there_before_whole(tmp_path, stop):
    """Every combination has run and the table is being written (its chart drawn) when Ctrl-C (or SIGTERM to the
    sweep's process) comes. Before: the new sweep.json and sweep.md had already replaced the earlier sweep's, its
    sweep.png stayed (a table of two sweeps), and the run directories stayed, while the last line said nothing of
    the run was left (SIGTERM: the process ended at once, leaving the same)."""
    config = write_config(tmp_path)
    out = tmp_path / "sw"
    out.mkdir()
    earlier = {"sweep.json": "{}\n", "sweep.md": "# the earlier sweep\n", "sweep.png": "earlier chart"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    charting = tmp_path / "charting"
    command = [sys.executable, "-c", HOLD_CHART.format(root=str(ROOT), charting=str(charting))]
    temp = tmp_path / "tmp"
    process = start(["backtest", "--config", str(config), "--steps", "300", "--out", "sw", "--workers", "2",
                     "--sweep", "min_edge_bps=5,10"], tmp_path, temp, command=command)
    try:
        assert wait_until(charting.exists, 60), f"the table was never written: {process.poll()}"
        if stop == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it
        else:
            os.kill(process.pid, signal.SIGTERM)
        try:
            stdout, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the sweep was still running 30 s after {stop}") from None
        assert "Traceback" not in err, err[-3000:]
        if stop == "ctrl-c":
            assert process.returncode == 130, (process.returncode, err[-3000:])
            assert err.strip().splitlines()[-1] == ("arbot backtest: interrupted (Ctrl-C): no sweep table written; "
                                                    "nothing of this run is left in sw"), err[-3000:]
        else:
            assert process.returncode == -signal.SIGTERM, (process.returncode, err[-3000:])
        assert stdout == ""
        assert {name: (out / name).read_text() for name in earlier} == earlier  # the earlier table, whole
        assert sorted(p.name for p in out.iterdir()) == sorted(earlier)  # no run directory, no temporary file
        assert left_behind(temp) == []
    finally:
        end_group(process)
