"""The latest arbitrage opportunities seen on the bus, kept in memory for ``/opportunities``.

At start the list begins with the newest ones stored before this run (the ``stored_opportunities`` hook), so
a restart shows what was seen rather than "none yet"."""

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
    return OpportunityFigures(gross_bps=gross, cost_bps=gross - o.edge_bps, net_bps=o.edge_bps,
                              net_profit=o.net_profit(), quote=quote)


class OpportunityLog:
    """A bounded buffer of the newest :class:`Opportunity` events (a bus subscriber; O(1) per event)."""

    def __init__(self, keep: int = 50):
        self.keep = keep
        self._latest: deque[Opportunity] = deque(maxlen=keep)

    def seed(self, stored: list[Opportunity]) -> None:
        """Start from opportunities stored before this run (plugins' ``stored_opportunities``, several plugins'
        lists together, each newest first): the newest ``keep`` of them, kept in time order."""
        for opportunity in sorted(stored, key=lambda o: o.ts_ns)[-self.keep:]:
            self._latest.append(opportunity)

    def on_opportunity(self, opportunity: Opportunity) -> None:
        self._latest.append(opportunity)

    def latest(self, n: int | None = None) -> list[Opportunity]:
        """Newest first; at most ``n``."""
        items = list(reversed(self._latest))
        return items if n is None else items[:n]

    def __len__(self) -> int:
        return len(self._latest)
