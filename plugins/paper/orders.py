"""The venue's order records and the sets they live in: one order, the resting book of a symbol,
and the change set a persistence layer takes after each operation."""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import NamedTuple

from bot.api import ZERO, Fill, Order, OrderState, OrderStatus, OrderType, Side, TimeInForce

from .events import new_order_state

NO_BUY = -1
"""``RestingOrders.best_buy`` when there is no resting buy."""
NO_SELL = 1 << 62
"""``RestingOrders.best_sell`` when there is no resting sell."""


def order_kinds(order: Order) -> tuple[Side, OrderType, TimeInForce]:
    """The order's side, type and time in force as enum members (they may arrive as plain strings: an Order
    rebuilt from a database row); ValueError names one that is not valid. Members are taken as they are."""
    side, order_type, tif = order.side, order.order_type, order.tif
    if type(side) is Side and type(order_type) is OrderType and type(tif) is TimeInForce:
        return side, order_type, tif
    return Side(side), OrderType(order_type), TimeInForce(tif)


class PaperOrder:
    """The venue's record of one order (mutable; only the engine changes it)."""

    __slots__ = (
        "client_order_id", "exchange_order_id", "seq", "symbol", "side", "order_type", "tif", "post_only",
        "qty", "price", "status", "filled_qty", "notional", "fee", "reason", "created_ns", "updated_ns",
        "fills", "price_ticks", "qty_lots", "filled_lots", "reserved", "exact_fee",
    )  # fmt: skip

    def __init__(self, *, client_order_id: str, exchange_order_id: str, seq: int, symbol: str, side: Side,
                 order_type: OrderType, tif: TimeInForce, post_only: bool, qty: Decimal, price: Decimal | None,
                 status: OrderStatus, created_ns: int, updated_ns: int, filled_qty: Decimal = ZERO,
                 fee: Decimal = ZERO, reason: str = "", fills: list[Fill] | None = None):  # fmt: skip
        self.client_order_id = client_order_id
        self.exchange_order_id = exchange_order_id
        self.seq = seq
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.post_only = post_only
        self.qty = qty
        self.price = price
        self.status = status
        self.created_ns = created_ns
        self.updated_ns = updated_ns
        self.filled_qty = filled_qty
        self.fee = fee
        self.reason = reason
        self.fills: list[Fill] = fills if fills is not None else []
        self.notional = sum((f.price * f.qty for f in fills), ZERO) if fills else ZERO
        # Integer forms, set by the engine for orders it matches.
        self.price_ticks = 0
        self.qty_lots = 0
        self.filled_lots = 0
        self.reserved = ZERO
        self.exact_fee = ZERO  # the fees of the fills so far before rounding; ``fee`` never exceeds it rounded up

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    def state(self) -> OrderState:
        """The order as the venue reports it, with every fill so far."""
        filled = self.filled_qty
        return new_order_state(self.client_order_id, self.status, self.exchange_order_id, filled,
                               self.notional / filled if filled else None, tuple(self.fills), self.reason)


class Changes(NamedTuple):
    """What changed since the last :meth:`MatchingEngine.take_changes`, in the order it happened."""

    orders: dict[str, PaperOrder]
    fills: dict[str, list[Fill]]
    """New fills by client order id."""
    assets: dict[str, Decimal]
    """New total balance by asset."""


class RestingOrders:
    """Resting orders of one symbol: buys best (highest) first, sells best (lowest) first, then oldest."""

    __slots__ = ("buys", "sells", "best_buy", "best_sell")

    def __init__(self) -> None:
        self.buys: list[PaperOrder] = []
        self.sells: list[PaperOrder] = []
        self.best_buy = NO_BUY
        self.best_sell = NO_SELL

    def add(self, order: PaperOrder) -> None:
        if order.side is Side.BUY:
            bisect.insort(self.buys, order, key=lambda o: (-o.price_ticks, o.seq))
        else:
            bisect.insort(self.sells, order, key=lambda o: (o.price_ticks, o.seq))
        self._refresh()

    def remove(self, order: PaperOrder) -> None:
        side = self.buys if order.side is Side.BUY else self.sells
        if order in side:
            side.remove(order)
            self._refresh()

    def _refresh(self) -> None:
        self.best_buy = self.buys[0].price_ticks if self.buys else NO_BUY
        self.best_sell = self.sells[0].price_ticks if self.sells else NO_SELL
