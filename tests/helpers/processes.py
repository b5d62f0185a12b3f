"""Driving a real `arbot` process from a test: its command line, and waiting on what it writes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_RUN = ("import runpy, sys; sys.path.insert(0, {root!r}); sys.argv[0] = 'arbot'; "
        "runpy.run_module('bot.cli', run_name='__main__', alter_sys=True)")


def arbot(*args: str) -> list[str]:
    """The command line of ``arbot ARGS`` with this interpreter and this checkout's code first on the path (the
    code under test: ``-m bot.cli`` from another directory would import the copy the environment installed, which
    in a second checkout sharing a virtualenv is the other checkout's)."""
    return [sys.executable, "-c", _RUN.format(root=str(ROOT)), *args]


def wait_until(predicate: Callable[[], Any], timeout_s: float) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)  # polling another process's files: there is no event to wait on
    return False


def run_until(command: list[str], log: Path, settled: Callable[[], Any], *, cwd: Path,
              env: Mapping[str, str] | None = None, timeout_s: float = 60) -> int:
    """Run ``command`` (an ``arbot run``), its output in ``log``, and stop it with Ctrl-C once ``settled()`` holds,
    as its owner would (the clean stop stores what is left); its exit status. A run that has not got there after
    ``timeout_s`` (or that a ``--for`` ended) is stopped the same way: the assertions after it say what is missing.
    The bound is the test's, not the run's: a ``--for`` short enough to end a quick run is what a loaded machine's
    slow start runs out of."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or settled(), timeout_s)
        proc.send_signal(signal.SIGINT)  # a no-op once it has ended
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
