"""What the charts show, as values: the realized PnL curve and the fills of one market."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from bot.api import ZERO, Fill
from bot.api.ledger import Step
from bot.api.ledger import pnl_curves as ledger_curves


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
    """One curve per quote asset over every strategy: the ledger's curves (:func:`bot.api.ledger.pnl_curves`).

    ``steps`` are the ledger's (:meth:`bot.ledger.Ledger.steps`) from ``since_ns`` on.
    """
    counts: dict[str, int] = {}

    def counted(steps: Iterable[Step]) -> Iterator[Step]:
        for step in steps:
            counts[step.quote] = counts.get(step.quote, 0) + 1
            yield step

    curves = next(iter(ledger_curves(counted(steps), since_ns, per_strategy=False).values()), {})
    return [PnlCurve(asset, curves[asset], counts[asset]) for asset in sorted(curves)]


def market_fills(fills: Iterable[tuple[str, Fill]], symbol: str, since_ns: int | None = None) -> list[Fill]:
    """The fills of ``symbol`` (any exchange, any strategy) from ``since_ns`` on."""
    return [f for _, f in fills if f.symbol == symbol and (since_ns is None or f.ts_ns >= since_ns)]
