"""Driving a real `arbot` process from a test: its command line, and waiting on what it writes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def arbot(*args: str) -> list[str]:
    """The command line of ``arbot ARGS`` with this interpreter (the code under test, not an installed copy)."""
    return [sys.executable, "-m", "bot.cli", *args]


def wait_until(predicate: Callable[[], Any], timeout_s: float) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)  # polling another process's files: there is no event to wait on
    return False
