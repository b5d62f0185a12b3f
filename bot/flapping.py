"""The flap rule, one owner: something that keeps failing and recovering is alerted once, not once per failure.

A venue's private order stream, the fleet's NATS connection, a venue's dead-man switch: each can drop and come back
every few seconds, and a "lost" and a "back" alert per drop bury a trader's phone. :class:`Flapping` decides, for its
owner, what each loss and return is worth saying:

* a loss is alerted at once (:data:`LOST`), and so is its return (:meth:`Flapping.back` is True);
* a loss within :attr:`Flapping.window_s` of the last return alerted is a flap (:data:`FLAPPING`): alerted once, and
  the losses after it are counted (:data:`COUNTED`: log them, do not alert them);
* the return of a flapping thing is not alerted at once: once it has held for :attr:`Flapping.window_s`, ``held(losses,
  seconds)`` is called (alert it then: how many losses, over how long), and the next loss is a new problem.

The owner keeps its own words (what is lost, what it means for the trader); the rule is this class's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal

FLAP_WINDOW_S = 300.0
"""A loss this soon after the last return alerted is a flap; a flapping thing's return is said once it has held
this long."""

Loss = Literal["lost", "flapping", "counted"]
LOST: Loss = "lost"
"""A loss to alert as such."""
FLAPPING: Loss = "flapping"
"""Lost again soon after its return: alert once that it flaps (:attr:`Flapping.up_s`: how long it was back)."""
COUNTED: Loss = "counted"
"""Lost again while flapping: counted in :attr:`Flapping.losses`, to log, not to alert."""


class Flapping:
    """The flap rule of one thing. ``monotonic``: the owner's clock; ``spawn(coro, what)``: starts the task that waits
    for a flapping thing to hold (``ctx.create_task``); ``held(losses, seconds)``: it held, after ``losses`` losses
    counted since it began flapping ``seconds`` ago."""

    def __init__(self, *, monotonic: Callable[[], float],
                 spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[Any]],
                 held: Callable[[int, float], None], what: str, window_s: float = FLAP_WINDOW_S) -> None:
        self.window_s = window_s
        self._monotonic = monotonic
        self._spawn = spawn
        self._held = held
        self.what = what
        self.losses = 0
        """Losses since it began flapping (the one alerted as flapping included); 0: it is not flapping."""
        self.up_s = 0.0
        """How long it was back before the loss just reported as :data:`FLAPPING`."""
        self._since = 0.0
        self._back_at: float | None = None
        """When its last return was alerted (or said to hold): a loss sooner than :attr:`window_s` after is a flap."""
        self._holding: asyncio.Task[Any] | None = None

    @property
    def flapping(self) -> bool:
        return self.losses > 0

    def lost(self) -> Loss:
        """It is lost: what to say of it (:data:`LOST`, :data:`FLAPPING` or :data:`COUNTED`)."""
        self._stop_holding()
        now = self._monotonic()
        if self.losses:
            self.losses += 1
            return COUNTED
        back_at = self._back_at
        if back_at is not None and now - back_at < self.window_s:
            self.losses, self._since, self.up_s = 1, now, now - back_at
            return FLAPPING
        return LOST

    def back(self) -> bool:
        """It is back: True to alert the return now; False while it flaps (``held`` is called once it has held for
        :attr:`window_s`, unless it is lost again first)."""
        if self.losses:
            self._stop_holding()
            self._holding = self._spawn(self._hold(), f"{self.what} holding")
            return False
        self._back_at = self._monotonic()
        return True

    def close(self) -> None:
        """The owner stops: no note is due."""
        self._stop_holding()

    def _stop_holding(self) -> None:
        if self._holding is not None:
            self._holding.cancel()
            self._holding = None

    async def _hold(self) -> None:
        await asyncio.sleep(self.window_s)
        now = self._monotonic()
        losses, self.losses, self._holding, self._back_at = self.losses, 0, None, now
        self._held(losses, now - self._since)
