"""What the charts show, as values: the realized PnL curve and the fills of one market."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from bot.api import ZERO, Fill
from bot.api.ledger import Step, is_trade
from bot.api.ledger import pnl_curves as ledger_curves


@dataclass(frozen=True)
class PnlCurve:
    """Cumulative realized PnL net of fees in one quote asset: a point after each fill that changed it."""

    asset: str
    points: list[tuple[int, Decimal]]
    """(ts_ns, cumulative PnL), starting with (since_ns, 0) when the curve has a start."""
    fills: int
    """Trades, as /pnl counts them (a fee-only entry's fee is on the curve, it is not one of its fills)."""

    @property
    def total(self) -> Decimal:
        return self.points[-1][1] if self.points else ZERO


def pnl_curves(steps: Iterable[Step], since_ns: int | None = None) -> list[PnlCurve]:
    """One curve per quote asset over every strategy: the ledger's curves (:func:`bot.api.ledger.pnl_curves`).

    ``steps`` are the ledger's (:meth:`bot.ledger.Ledger.steps`) from ``since_ns`` on.
    """
    counts: dict[str, int] = {}

    def counted(steps: Iterable[Step]) -> Iterator[Step]:
        for step in steps:
            counts[step.quote] = counts.get(step.quote, 0) + is_trade(step.fill)
            yield step

    curves = next(iter(ledger_curves(counted(steps), since_ns, per_strategy=False).values()), {})
    return [PnlCurve(asset, curves[asset], counts[asset]) for asset in sorted(curves)]


def market_fills(fills: Iterable[tuple[str, Fill]], symbol: str, since_ns: int | None = None) -> list[Fill]:
    """The trades of ``symbol`` (any exchange, any strategy) from ``since_ns`` on (a fee-only entry traded nothing
    at a price: not a fill on the chart, as not on /pnl)."""
    return [f for _, f in fills
            if f.symbol == symbol and is_trade(f) and (since_ns is None or f.ts_ns >= since_ns)]
