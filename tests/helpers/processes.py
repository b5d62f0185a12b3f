"""Driving a real `arbot` process from a test: its command line, and waiting on what it writes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
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
