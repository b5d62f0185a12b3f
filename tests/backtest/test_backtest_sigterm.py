"""SIGTERM to `arbot backtest` (``kill PID``, a service manager stopping it, ``timeout``) ends it as Ctrl-C does: the
bot stops, its scratch directory (``arbot-backtest-*`` in the temp directory) goes, nothing of the run is left in
``--out`` (what was there before stays), one line says so, and the status is 143 (128 + SIGTERM, as a shell shows a
program SIGTERM ended). The real command runs in a session of its own, its temp directory pointed at the test's."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.backtest.backtest_kit import end_group, group_alive, left_behind, start, stored_fills
from tests.helpers.processes import wait_until

LONG = "5000000"  # market steps: minutes; SIGTERM comes long before the end


@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["sigint-default", "sigint-ignored"])
def test_sigterm_to_a_backtest_stops_it_as_ctrl_c_does_leaving_nothing_and_exits_143(tmp_path, sigint):
    """Before: SIGTERM ended the process at once (status -15): its ``arbot-backtest-*`` scratch directory and the
    store it was writing in ``--out`` (``backtest.db`` and its ``-wal``) stayed behind. ``sigint-ignored``: the
    command started with ``&`` by a script, where Ctrl-C's own handling is off and SIGTERM must still stop it."""
    out = tmp_path / "bt"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # what --out held before stays
    temp = tmp_path / "tmp"
    process = start(["backtest", "--steps", LONG, "--out", "bt"], tmp_path, temp, sigint=sigint)
    try:
        # mid-run: the bot has started, and its strategies trade (a stop during the start is another moment)
        assert wait_until(lambda: stored_fills(out / "backtest.db") > 0, 60), f"no fill was stored: {process.poll()}"
        assert left_behind(temp), "the run's scratch directory is not where expected"
        os.kill(process.pid, signal.SIGTERM)
        try:
            stdout, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("the backtest was still running 30 s after SIGTERM") from None
        assert process.returncode == 143, (process.returncode, err[-3000:])
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
        assert err.strip().splitlines()[-1] == ("arbot backtest: stopped (SIGTERM): no report written; nothing of "
                                                "this run is left in bt"), err[-3000:]
        assert stdout == ""
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
        assert left_behind(temp) == []
        assert not group_alive(process)
    finally:
        end_group(process)
