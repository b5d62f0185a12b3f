"""A bounded in-memory history of mid prices per market, sampled from book updates."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.api import BookUpdate


class PriceHistory:
    """Mid prices per (exchange, symbol): at most one per ``sample_every_s``, the last ``keep_points``.

    :meth:`on_book` is a bus subscriber on the hot path: a dict look-up and a comparison for an
    update that falls between two samples.
    """

    def __init__(self, sample_every_s: float, keep_points: int):
        self._every_ns = int(sample_every_s * 1_000_000_000)
        self._keep = keep_points
        self._points: dict[tuple[str, str], deque[tuple[int, Decimal]]] = {}

    def on_book(self, event: BookUpdate) -> None:
        """Keep the update's mid price if the market's last kept point is ``sample_every_s`` old."""
        key = (event.exchange, event.symbol)
        points = self._points.get(key)
        if points is not None and event.ts_ns - points[-1][0] < self._every_ns:
            return  # before reading the book: most updates are not kept
        mid = event.mid
        if mid is None:
            return
        if points is None:
            points = self._points[key] = deque(maxlen=self._keep)
        points.append((event.ts_ns, mid))

    def markets(self) -> list[tuple[str, str]]:
        """The (exchange, symbol) pairs with at least one price."""
        return sorted(self._points)

    def prices(self, exchange: str, symbol: str) -> list[tuple[int, Decimal]]:
        """(ts_ns, mid) of one market, oldest first."""
        return list(self._points.get((exchange, symbol), ()))
