"""Token bucket and retry delays shared by the executor (and any plugin that calls a venue)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

WHOLE_TOKEN = 1 - 1e-6
"""A token short by less than a millionth is whole: float rounding leaves such a shortfall (a third of a second on a
clock of whole nanoseconds refills 0.999999999 of a token at 3 a second), and the wait for it would be shorter than
the clock can move (a backtest's loop would wait for it forever)."""


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``acquire`` waits for one token."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self._now = now
        self._tokens = float(burst)
        self._last = now()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()
        self._waiting = 0
        """Acquires not served yet (the one the lock holds included)."""

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def block_for(self, seconds: float) -> None:
        """The venue said "slow down": hand out nothing for ``seconds`` and start again empty."""
        self._blocked_until = max(self._blocked_until, self._now() + seconds)
        self._tokens = 0.0

    def blocked_s(self) -> float:
        """How long the venue's "slow down" (:meth:`block_for`) still holds: 0 when it asked for none or it is over."""
        return max(0.0, self._blocked_until - self._now())

    def wait_s(self, ahead: int | None = None) -> float:
        """How long an :meth:`acquire` would wait for its token, known now (the block, then the refill at ``rate``)
        behind ``ahead`` acquires (default: all those waiting now; 0: when the next token is handed out). Changes
        nothing: a stop decides with it whether a wait can end within its bound."""
        need = (self._waiting if ahead is None else ahead) + 1  # tokens handed out up to and including ours
        blocked_s = self.blocked_s()
        if blocked_s > 0:  # a block ends with no token saved (block_for empties the bucket)
            return blocked_s + need / self.rate
        tokens = min(self.burst, self._tokens + (self._now() - self._last) * self.rate)
        return max(0.0, (need - tokens) / self.rate) if tokens < need - (1 - WHOLE_TOKEN) else 0.0

    def available(self) -> bool:
        """A token can be taken now, without waiting (no one waits for one, the venue did not block us)."""
        if self._lock.locked() or self._blocked_until > self._now():
            return False
        self._refill()
        return self._tokens >= WHOLE_TOKEN

    def take(self) -> None:
        """Take the token :meth:`available` said is there (in the same callback: nothing ran between)."""
        self._tokens = max(0.0, self._tokens - 1)

    async def acquire(self) -> None:
        self._waiting += 1
        try:
            async with self._lock:  # FIFO: waiters are served in arrival order
                while True:
                    wait = self._blocked_until - self._now()
                    if wait > 0:
                        await asyncio.sleep(wait)
                        self._last = self._now()
                        continue
                    self._refill()
                    if self._tokens >= WHOLE_TOKEN:
                        self._tokens = max(0.0, self._tokens - 1)
                        return
                    await asyncio.sleep((1 - self._tokens) / self.rate)
        finally:
            self._waiting -= 1


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random = random._inst) -> float:
    """Exponential backoff with full jitter: uniform in [initial/2, min(max, initial * 2**attempt)]."""
    ceiling = min(max_s, initial_s * (2 ** attempt))
    return rng.uniform(min(initial_s / 2, ceiling), ceiling)
