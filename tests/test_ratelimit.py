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


async def test_the_known_wait_counts_the_block_the_refill_and_the_acquires_ahead():
    """``wait_s`` says, without changing anything, when an acquire would get its token: what a stop decides on."""
    now = 100.0
    bucket = TokenBucket(2.0, 1, now=lambda: now)
    assert bucket.wait_s() == 0.0  # a token saved
    bucket.take()
    assert bucket.wait_s() == pytest.approx(0.5)  # refilled at 2 a second
    now += 0.25
    assert bucket.wait_s() == pytest.approx(0.25)
    bucket.block_for(60.0)  # the venue said "slow down": nothing for 60 s, then an empty bucket
    assert bucket.blocked_s() == pytest.approx(60.0)
    assert bucket.wait_s() == pytest.approx(60.5)
    waiting = asyncio.ensure_future(bucket.acquire())  # one ahead: its token first
    await asyncio.sleep(0)
    assert bucket.wait_s() == pytest.approx(61.0) and bucket.wait_s(ahead=0) == pytest.approx(60.5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bucket.wait_s() == pytest.approx(60.5)  # a cancelled acquire is no longer ahead
    now += 61.0
    assert bucket.blocked_s() == 0.0 and bucket.wait_s() == pytest.approx(0.0)  # refilled since the block ended
