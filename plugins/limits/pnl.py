"""Bounds on what resting orders can lose, against the ledger's open lots (:class:`bot.ledger.Position`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bot.domain import BPS, ZERO, Side
from bot.ledger import Position


def worst_loss(book: Position, orders: Iterable[tuple[Side, Decimal, Decimal]], fee_bps: Decimal) -> Decimal:
    """An upper bound of what ``orders`` (side, remaining qty, limit price) can lose if they all fill.

    Every order fills at its limit price or better. A unit sold closes a long lot (whichever lot it
    is matched to) bought at no more than the highest of the open long lots' prices and every buy
    price in play (and the mirror for buys closing shorts), so ``sum(qty x max(0, that price - sell price))`` bounds the
    realized loss whatever the order in which they fill; fees add ``fee_bps`` of each notional.
    """
    orders = list(orders)
    buys = [p for side, _, p in orders if side is Side.BUY]
    sells = [p for side, _, p in orders if side is Side.SELL]
    worst = book.worst_price()
    long = bool(book.lots) and book.lots[0].qty > 0
    high = max(([worst] if worst is not None and long else []) + buys, default=None)
    low = min(([worst] if worst is not None and not long else []) + sells, default=None)
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
