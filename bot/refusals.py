"""Refused orders, alerted once per cause: the one owner of the "orders refused" alert.

A grid short of balance has every slot's order rejected, and every slot tries again every half minute; a risk check
that vetoes a strategy's orders vetoes them on every tick. One alert per order would bury a trader's phone, so each
cause (strategy, exchange, symbol and the kind of refusal: ``rejected (InsufficientFunds)``, ``failed``,
``vetoed by max_position``) is an episode: its first refusal is alerted at once, the next ones are counted, a cause
still refused after :data:`REPEAT_S` is alerted again with its count ("and 19 more like it"), and when an order of that
strategy on that market goes through again (the host's checks let it pass, for a veto or an order no venue could
take; the venue accepts it, for any cause) one INFO note ends the episode with what it counted. A cause that stops
being refused without any order going through (the strategy was paused, or stopped sending) ends too once it has been
quiet for :data:`REPEAT_S`: one INFO note with its count, so the trader's last word on it is not its first alert.
Every refusal is still logged (and stored: the order's row, a veto's ``risk_events`` row): only the alerts are gathered.
The counting and the alert again after :data:`REPEAT_S` are the host's one rule of repeats
(:class:`bot.folding.Folding`, ``renew``); the ends of an episode are this module's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .domain import AlertLevel
from .folding import Folding
from .units import span

KIND = "order"
"""The alert kind of an order the venue or the executor refused (a risk check's veto is alerted as ``risk``)."""

REPEAT_S = 600.0
"""A cause still refused this long after it was last alerted is alerted again, with the count since."""


@dataclass
class _Episode:
    """What a cause's alerts say besides its counts (the :attr:`~bot.folding.Fold.note` of its window)."""

    kind: str
    """The alert's kind: ``order`` (the venue or the executor refused it), ``risk`` (a check vetoed it)."""
    level: AlertLevel
    before_venue: bool
    """Refused before the venue saw it (a risk check's veto, an order no venue can take): over as soon as an order of
    the market passes the host's checks."""
    last: float
    """When the cause was last refused: quiet for :data:`REPEAT_S` since, the episode is over."""


Key = tuple[str, str, str, str]
"""(strategy, exchange, symbol, cause)."""


class RefusalAlerts:
    """Gathers the alerts of refused orders by cause; ``alert(level, kind, message, source=..., **fields)``;
    ``later(delay_s, callback)`` calls back after a delay (the running loop's ``call_later`` unless given): the check
    for causes gone quiet."""

    def __init__(self, alert: Callable[..., None], monotonic: Callable[[], float], repeat_s: float = REPEAT_S,
                 later: Callable[[float, Callable[[], None]], asyncio.TimerHandle] | None = None):
        self._alert = alert
        self._monotonic = monotonic
        self.repeat_s = repeat_s
        self._later = later or _call_later
        self._open: Folding[Key] = Folding(lambda: self.repeat_s, monotonic=monotonic, renew=True)
        """Causes alerted and not over yet: the first refusal alerted, the next ones counted and alerted again with
        their count once :attr:`repeat_s` has passed since the last alert (the host's one rule, :mod:`bot.folding`)."""
        self._quiet_check: asyncio.TimerHandle | None = None
        """Pending while causes are open: ends those refused no more for :attr:`repeat_s`."""
        self._closed = False

    def refused(self, strategy: str, exchange: str, symbol: str, cause: str, detail: str, *,
                level: AlertLevel = AlertLevel.WARNING, kind: str = KIND, before_venue: bool = False,
                **fields: Any) -> None:
        """An order was refused for ``cause`` (``detail``: this order's reason): alerted when the cause is new, or
        still refused :attr:`repeat_s` after its last alert; counted otherwise."""
        key = (strategy, exchange, symbol, cause)
        now = self._monotonic()
        market = f"{strategy} on {exchange} {symbol}"
        if self._open.first(key, _Episode(kind, level, before_venue, now), now):
            if self._quiet_check is None and not self._closed:
                self._quiet_check = self._later(self.repeat_s, self._check_quiet)
            self._alert(level, kind, f"orders of {market} {cause}: {detail}; more like it are counted, not alerted, "
                        f"and a note follows when orders go through again", source=strategy, exchange=exchange,
                        symbol=symbol, cause=cause, **fields)
            return
        episode = self._open.get(key)
        if episode is not None:
            episode.note.last = now
        again = self._open.due_of(key, now)
        if again is not None:
            self._alert(again.note.level, kind, f"orders of {market} still {cause}: {detail} (and {again.count - 1} "
                        f"more like it since the last alert, {again.total} in {span(now - again.since)})",
                        source=strategy, exchange=exchange, symbol=symbol, cause=cause, refused=again.total,
                        **fields)

    def passed_checks(self, strategy: str, exchange: str, symbol: str) -> None:
        """An order of this market passed the host's checks (the risk checks too) on its way to the venue: its refusals
        before the venue are over."""
        if self._open:
            self._end(strategy, exchange, symbol, "pass the checks", lambda episode: episode.before_venue)

    def went_through(self, strategy: str, exchange: str, symbol: str) -> None:
        """The venue took an order of this market (resting or filled): every refusal of it is over."""
        if self._open:
            self._end(strategy, exchange, symbol, "go through", lambda episode: True)

    def close(self) -> None:
        """The bot stops: no cause is said to go quiet (its open episodes are left as they are)."""
        self._closed = True
        self._cancel_check()

    def _cancel_check(self) -> None:
        if self._quiet_check is not None:
            self._quiet_check.cancel()
            self._quiet_check = None

    def _check_quiet(self) -> None:
        """End each cause refused no more for :attr:`repeat_s` though no order went through (a strategy paused after
        its refusals): its count is said; check again when the next open cause could be quiet."""
        self._quiet_check = None
        now = self._monotonic()
        for key in list(self._open):
            window = self._open.get(key)
            assert window is not None
            episode: _Episode = window.note
            quiet = now - episode.last
            if quiet < self.repeat_s:
                continue
            self._open.forget(key)
            strategy, exchange, symbol, cause = key
            counted = (f"and {window.count} more like it since the last alert, " if window.count else "")
            self._alert(AlertLevel.INFO, episode.kind, f"orders of {strategy} on {exchange} {symbol} no more {cause} "
                        f"for {span(quiet)}, though none went through either ({counted}{window.total} in "
                        f"{span(episode.last - window.since)}); the next refusal is alerted again",
                        source=strategy, exchange=exchange, symbol=symbol, cause=cause, refused=window.total)
        if self._open and not self._closed:
            due = min(self._open_episodes(), key=lambda e: e.last).last + self.repeat_s - now
            self._quiet_check = self._later(max(due, 0.0), self._check_quiet)

    def _open_episodes(self) -> list[_Episode]:
        return [window.note for key in self._open if (window := self._open.get(key)) is not None]

    def _end(self, strategy: str, exchange: str, symbol: str, what: str, ends: Callable[[_Episode], bool]) -> None:
        now = self._monotonic()
        for key in list(self._open):
            window = self._open.get(key)
            if window is None or key[:3] != (strategy, exchange, symbol) or not ends(window.note):
                continue
            self._open.forget(key)
            cause = key[3]
            counted = (f"and {window.count} more like it since the last alert, " if window.count else "")
            self._alert(AlertLevel.INFO, window.note.kind, f"orders of {strategy} on {exchange} {symbol} {what} again "
                        f"after being {cause} ({counted}{window.total} in {span(now - window.since)})",
                        source=strategy, exchange=exchange, symbol=symbol, cause=cause, refused=window.total)
        if not self._open:
            self._cancel_check()


def _call_later(delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay_s, callback)
