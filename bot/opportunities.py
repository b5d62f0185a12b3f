"""The latest arbitrage opportunities seen on the bus, kept in memory for ``/opportunities``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from .domain import BPS, Opportunity, split_symbol


@dataclass(frozen=True)
class OpportunityFigures:
    """One opportunity's edge taken apart: what the prices offer, what costs take, what is left."""

    gross_bps: Decimal
    """(sell price - buy price) / buy price, in basis points, before any cost."""
    cost_bps: Decimal
    """Gross minus net: fees and whatever else the strategy charged against the edge."""
    net_bps: Decimal
    net_profit: Decimal
    """Net edge on the opportunity's size, in ``quote`` units."""
    quote: str


def figures(opportunity: Opportunity) -> OpportunityFigures:
    """Break an opportunity's net edge down into gross edge and costs."""
    o = opportunity
    gross = (o.sell_price - o.buy_price) / o.buy_price * BPS if o.buy_price else Decimal(0)
    _, quote = split_symbol(o.symbol)
    net = o.net_pnl if o.net_pnl is not None else o.edge_bps / BPS * o.buy_price * o.qty
    return OpportunityFigures(gross_bps=gross, cost_bps=gross - o.edge_bps, net_bps=o.edge_bps,
                              net_profit=net, quote=quote)


class OpportunityLog:
    """A bounded buffer of the newest :class:`Opportunity` events (a bus subscriber; O(1) per event)."""

    def __init__(self, keep: int = 50):
        self._latest: deque[Opportunity] = deque(maxlen=keep)

    def on_opportunity(self, opportunity: Opportunity) -> None:
        self._latest.append(opportunity)

    def latest(self, n: int | None = None) -> list[Opportunity]:
        """Newest first; at most ``n``."""
        items = list(reversed(self._latest))
        return items if n is None else items[:n]

    def __len__(self) -> int:
        return len(self._latest)
