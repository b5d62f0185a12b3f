"""What the charts show, as values: the realized PnL curve and the fills of one market."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.api import ZERO, Fill
from bot.api.ledger import Step


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


def pnl_curves(steps: Iterable[Step], since_ns: int | None = None) -> list[PnlCurve]:
    """One curve per quote asset over every strategy: the ledger's realized PnL net of fees, fill by fill.

    ``steps`` are the ledger's (:meth:`bot.ledger.Ledger.steps`) from ``since_ns`` on.
    """
    totals: dict[str, Decimal] = {}
    points: dict[str, list[tuple[int, Decimal]]] = {}
    counts: dict[str, int] = {}
    for step in steps:
        quote = step.quote
        counts[quote] = counts.get(quote, 0) + 1
        curve = points.setdefault(quote, [(since_ns, ZERO)] if since_ns is not None else [])
        if step.net == 0 and curve:
            continue
        totals[quote] = totals.get(quote, ZERO) + step.net
        curve.append((step.fill.ts_ns, totals[quote]))
    return [PnlCurve(asset, points[asset], counts[asset]) for asset in sorted(points)]


def market_fills(fills: Iterable[tuple[str, Fill]], symbol: str, since_ns: int | None = None) -> list[Fill]:
    """The fills of ``symbol`` (any exchange, any strategy) from ``since_ns`` on."""
    return [f for _, f in fills if f.symbol == symbol and (since_ns is None or f.ts_ns >= since_ns)]
