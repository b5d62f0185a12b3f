"""A backtest's scratch data dir (``arbot-backtest-*`` in the temp directory, where the bot writes its identity file)
is gone once the backtest returns or raises, however it ended: run to its end, failed at start, interrupted by
Ctrl-C, a sweep interrupted, a sweep whose worker processes were terminated. Each test points the temp directory at
its own folder, so it sees only the directories it made."""

from __future__ import annotations

import io
import signal
import tempfile
import threading
from pathlib import Path

import pytest

import tests.backtest.sigterm_worker
from bot.app import Bot
from bot.backtest.driver import BacktestError, Progress, run_backtest
from bot.backtest.sweep import parse_axis, run_sweep
from bot.identity import StoreMismatch
from bot.writer import THREAD_NAME
from tests.backtest.backtest_kit import arb_plugins, write_config
from tests.test_cli_first_hour import ctrl_c

PREFIX = "arbot-backtest-"


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp directory of this test (and of the processes it starts): ``tmp_path/tmp``."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def bots(monkeypatch: pytest.MonkeyPatch) -> list[Bot]:
    """Every bot started in this test, to check afterwards that it was stopped (its store closed)."""
    started: list[Bot] = []
    start = Bot.start

    async def noted(self: Bot) -> None:
        started.append(self)
        await start(self)

    monkeypatch.setattr(Bot, "start", noted)
    return started


def left_behind(root: Path) -> list[str]:
    """The backtest scratch directories in ``root``, each with what it holds."""
    return sorted(f"{p.name}: {sorted(c.name for c in p.iterdir())}" for p in root.glob(f"{PREFIX}*"))


def writer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == THREAD_NAME]


def test_a_backtest_run_to_its_end_leaves_no_scratch_dir_and_nothing_that_could_write_into_it(tmp_path, temp_root,
                                                                                              bots):
    run_backtest(write_config(tmp_path), tmp_path / "out", 300, chart=False, extra_plugins=arb_plugins())
    assert left_behind(temp_root) == []
    assert len(bots) == 1 and bots[0].store.closed  # stopped before its data dir was removed
    assert writer_threads() == []  # no store writer thread is left to write an identity file after the removal


def test_a_backtest_that_fails_at_start_stops_its_bot_before_its_scratch_dir_goes(tmp_path, temp_root, bots,
                                                                                   monkeypatch):
    # the start fails after the identity was written into the data dir (as a venue's unknown open order does)
    async def mismatch(self: Bot) -> None:
        raise StoreMismatch("an order open at the venue that the store has never seen")

    monkeypatch.setattr(Bot, "_check_venues", mismatch)
    with pytest.raises(StoreMismatch):
        run_backtest(write_config(tmp_path), tmp_path / "out", 300, chart=False, extra_plugins=arb_plugins())
    assert left_behind(temp_root) == []
    assert len(bots) == 1 and bots[0].store.closed  # before: left open, the bot never stopped
    assert writer_threads() == []
    assert not (tmp_path / "out").exists()


class CtrlC(Progress):
    """Presses Ctrl-C (SIGINT to this process, as a terminal sends it) at market step ``at``."""

    def __init__(self, at: int):
        super().__init__(None, io.StringIO(), enabled=True)
        self.at = at

    def update(self, done: int, simulated_s: float, force: bool = False) -> None:
        super().update(done, simulated_s, force)
        if done == self.at:
            signal.raise_signal(signal.SIGINT)


def test_a_backtest_interrupted_by_ctrl_c_mid_run_leaves_no_scratch_dir(tmp_path, temp_root, bots):
    with pytest.raises(KeyboardInterrupt):
        run_backtest(write_config(tmp_path), tmp_path / "out", 50_000, progress=CtrlC(200), chart=False,
                     extra_plugins=arb_plugins())
    assert left_behind(temp_root) == []
    assert len(bots) == 1 and bots[0].store.closed
    assert writer_threads() == []
    assert not (tmp_path / "out").exists()


def test_a_sweep_interrupted_by_ctrl_c_leaves_no_scratch_dir_of_its_workers(tmp_path, temp_root):
    # `arbot backtest --sweep` on 2 processes, Ctrl-C to the whole process group as a terminal sends it: the parent
    # terminates its workers mid-run (before: each left its arbot-backtest-* directory, its identity file in it)
    status, _, err, _ = ctrl_c(
        ["backtest", "--steps", "5000000", "--out", "sw", "--workers", "2", "--sweep", "min_edge_bps=5,10,20"],
        tmp_path, ready=tmp_path / "sw" / "run-001" / "backtest.db")
    assert status == 130, err[-3000:]
    assert left_behind(temp_root) == []
    assert not (tmp_path / "sw").exists()


def test_a_sweep_whose_workers_are_terminated_leaves_no_scratch_dir_of_theirs(tmp_path, temp_root):
    # each worker is terminated (SIGTERM) once its bot has started: a worker never reaches its own clean-up
    plugins = [*arb_plugins(), ("sigterm-worker", tests.backtest.sigterm_worker)]
    with pytest.raises(BacktestError, match="^a worker process was killed by SIGTERM .*; the sweep stopped$"):
        run_sweep(write_config(tmp_path), tmp_path / "sw", [parse_axis("min_edge_bps=5,10")], 450, workers=2,
                  chart=False, extra_plugins=plugins)
    assert left_behind(temp_root) == []
    assert not (tmp_path / "sw").exists()
