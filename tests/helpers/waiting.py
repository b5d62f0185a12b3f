"""Waiting on a condition in async tests: poll the loop, never sleep blindly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll the event loop until ``condition()`` holds (no blind sleeps in tests)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
