"""The token bucket on a clock of whole nanoseconds (a backtest's): it never waits for less than the clock can."""

from __future__ import annotations

import asyncio

import pytest

from bot import ratelimit
from bot.ratelimit import TokenBucket


async def test_a_bucket_on_a_nanosecond_clock_hands_out_every_token(monkeypatch):
    """3 tokens a second: a third of a second is 333,333,333 ns on the clock, which refills 0.999999999 of a token;
    the rest would take a third of a nanosecond, which such a clock never reaches (a grid backtest hung there)."""
    clock_ns = 0
    sleeps = 0
    yield_now = asyncio.sleep

    async def sleep(seconds: float) -> None:  # the backtest loop's: the clock moves to the nearest nanosecond
        nonlocal clock_ns, sleeps
        sleeps += 1
        if sleeps > 100:
            pytest.fail(f"acquire() still waiting after {sleeps} sleeps (the last {seconds!r} s): it never ends")
        clock_ns += round(seconds * 1e9)
        await yield_now(0)

    monkeypatch.setattr(ratelimit.asyncio, "sleep", sleep)
    bucket = TokenBucket(3.0, 1, now=lambda: clock_ns / 1e9)
    for _ in range(4):
        await bucket.acquire()
    assert clock_ns == pytest.approx(1e9, abs=10)  # three waits of a third of a second
    assert not bucket.available()
