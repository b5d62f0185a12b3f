"""What the charts show, as values: the realized PnL curve and the fills of one market."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import ZERO, Fill, split_symbol
from bot.report import realized_steps


@dataclass(frozen=True)
class PnlCurve:
    """Cumulative realized PnL net of fees in one quote asset: a point after each fill that changed it."""

    asset: str
    points: list[tuple[int, Decimal]]
    """(ts_ns, cumulative PnL), starting with (since_ns, 0) when the curve has a start."""
    fills: int

    @property
    def total(self) -> Decimal:
        return self.points[-1][1] if self.points else ZERO


def pnl_curves(fills: Iterable[tuple[str, Fill]], since_ns: int | None = None) -> list[PnlCurve]:
    """One curve per quote asset over every strategy, average cost as in :mod:`bot.report`.

    Fills before ``since_ns`` only build the cost basis; fees count when paid in the quote asset
    (a fee paid in the base asset lowers the position, not this curve).
    """
    totals: dict[str, Decimal] = {}
    points: dict[str, list[tuple[int, Decimal]]] = {}
    counts: dict[str, int] = {}
    for _strategy, fill, pnl in realized_steps(fills):
        if since_ns is not None and fill.ts_ns < since_ns:
            continue
        _, quote = split_symbol(fill.symbol)
        change = (pnl or ZERO) - (fill.fee if fill.fee_asset == quote else ZERO)
        counts[quote] = counts.get(quote, 0) + 1
        curve = points.setdefault(quote, [(since_ns, ZERO)] if since_ns is not None else [])
        if change == 0 and curve:
            continue
        totals[quote] = totals.get(quote, ZERO) + change
        curve.append((fill.ts_ns, totals[quote]))
    return [PnlCurve(asset, points[asset], counts[asset]) for asset in sorted(points)]


def market_fills(fills: Iterable[tuple[str, Fill]], symbol: str, since_ns: int | None = None) -> list[Fill]:
    """The fills of ``symbol`` (any exchange, any strategy) from ``since_ns`` on."""
    return [f for _, f in fills if f.symbol == symbol and (since_ns is None or f.ts_ns >= since_ns)]
