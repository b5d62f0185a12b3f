"""Realized PnL as fills arrive (average cost, per strategy and market) and a bound on what orders can lose."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import BPS, ZERO, Fill, Side



@dataclass
class Book:
    """One strategy's position in one market, with its average-cost basis."""

    position: Decimal = ZERO
    cost: Decimal = ZERO
    """Cost basis of the open position, in quote units (negative for shorts)."""

    @property
    def avg(self) -> Decimal | None:
        return self.cost / self.position if self.position else None

    def apply(self, side: Side, qty: Decimal, price: Decimal) -> Decimal:
        """Book a fill; returns the PnL it realized (before fees), in quote units."""
        signed = qty if side is Side.BUY else -qty
        if self.position == 0 or (self.position > 0) == (signed > 0):
            self.position += signed
            self.cost += signed * price
            return ZERO
        closing = min(qty, abs(self.position))
        avg = self.cost / self.position
        direction = 1 if self.position > 0 else -1
        realized = (price - avg) * closing * direction
        self.cost -= avg * closing * direction
        self.position += signed
        if self.position == 0:
            self.cost = ZERO
        elif (self.position > 0) == (signed > 0):  # flipped: the rest opens a new position at this price
            self.cost = self.position * price
        return realized

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if not self.position or mark is None:
            return ZERO
        return self.position * mark - self.cost


def net_of_fees(realized: Decimal, fill: Fill, quote: str) -> Decimal:
    """Realized PnL minus the fill's fee when the fee is paid in the quote currency."""
    return realized - fill.fee if fill.fee_asset == quote else realized


def worst_loss(book: Book, orders: Iterable[tuple[Side, Decimal, Decimal]], fee_bps: Decimal) -> Decimal:
    """An upper bound of what ``orders`` (side, remaining qty, limit price) can lose if they all fill.

    Every order fills at its limit price or better. A unit sold closes a long bought, on average,
    at no more than the highest of the current average cost and every buy price in play (and the
    mirror for buys closing shorts), so ``sum(qty x max(0, that price - sell price))`` bounds the
    realized loss whatever the order in which they fill; fees add ``fee_bps`` of each notional.
    """
    orders = list(orders)
    buys = [p for side, _, p in orders if side is Side.BUY]
    sells = [p for side, _, p in orders if side is Side.SELL]
    avg = book.avg
    high = max(([avg] if avg is not None and book.position > 0 else []) + buys, default=None)
    low = min(([avg] if avg is not None and book.position < 0 else []) + sells, default=None)
    loss = ZERO
    for side, qty, price in orders:
        if side is Side.SELL and high is not None and high > price:
            loss += (high - price) * qty
        elif side is Side.BUY and low is not None and price > low:
            loss += (price - low) * qty
        loss += price * qty * fee_bps / BPS
    return loss


def worst_position(position: Decimal, buys: Decimal, sells: Decimal) -> Decimal:
    """The largest absolute position reachable if every resting buy, or every resting sell, fills."""
    return max(abs(position + buys), abs(position - sells))
