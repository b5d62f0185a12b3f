"""``example-dca``: dollar-cost averaging -- buy a fixed size of one market every N book updates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.api import Context, Strategy
from bot.domain import (
    ZERO,
    BookUpdate,
    FeedState,
    FeedStatus,
    Fill,
    MarketEvent,
    MarketInfo,
    OrderIntent,
    OrderUpdate,
    Side,
    TimeInForce,
    split_symbol,
)
from bot.settings import option


@dataclass(frozen=True, kw_only=True)
class DcaSettings:
    """The ``[strategies.NAME]`` table of a DCA strategy."""

    exchange: str = option(help="exchange instance to buy on: the NAME of an [exchanges.NAME] table")
    symbol: str = option(help='market to buy, "BASE/QUOTE"')
    order_size: Decimal = option(gt=0, help="base quantity of each buy (rounded down to the lot size)")
    every_n_books: int = option(50, ge=1, help="buy once every this many book updates")
    max_buys: int | None = option(None, ge=1, help="most orders this strategy ever sends, across restarts; "
                                                   "unset: no limit")

    def validate(self) -> list[tuple[str, str]]:
        """Cross-field and format checks, as (key, problem) pairs; empty when all is well."""
        try:
            split_symbol(self.symbol)
        except ValueError as exc:
            return [("symbol", str(exc))]
        return []


class DcaStrategy(Strategy[DcaSettings]):
    """Every ``every_n_books`` book updates, buys ``order_size`` at the best ask, immediate-or-cancel.

    One order at a time: the next buy waits until the previous one is final. Client order ids are
    ``<strategy name>-<n>``; after a restart ``n`` carries on from the highest one in the store, so
    an id is never used twice and a retried decision keeps its id.
    """

    Settings = DcaSettings

    def __init__(self, name: str, settings: DcaSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self._base, self._quote = split_symbol(settings.symbol)
        self._market: MarketInfo | None = None
        self._qty = ZERO
        self._next_seq = 1
        self._books = 0
        # Exchanges start (and announce their feeds) before strategies subscribe: assume a live
        # feed until a FeedStatus says otherwise.
        self._live = True
        self._in_flight: str | None = None
        self._bought = ZERO
        self._spent = ZERO

    def markets(self) -> list[tuple[str, str]]:
        return [(self.settings.exchange, self.settings.symbol)]

    async def start(self) -> None:
        """Read the market's rules and pick up where the previous run stopped."""
        s = self.settings
        try:
            self._market = self.ctx.exchange(s.exchange).market(s.symbol)
        except KeyError:
            raise ValueError(f'exchange "{s.exchange}" does not trade {s.symbol}') from None
        self._qty = self._market.round_qty(s.order_size)
        if self._qty <= ZERO or self._qty < self._market.min_qty:
            raise ValueError(f"order_size {s.order_size} rounds to {self._qty} {self._base}, below the smallest "
                             f"order of {s.symbol} ({self._market.min_qty})")
        own_id = re.compile(re.escape(self.name) + r"-(\d+)")
        used = [int(m.group(1)) for order in self.ctx.store.orders(strategy=self.name)
                if (m := own_id.fullmatch(order.client_order_id))]
        self._next_seq = max(used, default=0) + 1
        for _, fill in self.ctx.store.fills(strategy=self.name):
            self._count(fill)

    # --- hot path: plain synchronous code on in-memory state --------------------------------

    def on_market(self, event: MarketEvent) -> None:
        if isinstance(event, FeedStatus):
            self._live = event.state is FeedState.LIVE
            return
        if not isinstance(event, BookUpdate):
            return  # public trades do not matter to a DCA
        self._books += 1
        if self._books % self.settings.every_n_books:
            return
        if self.paused or not self._live or self._in_flight is not None or event.best_ask is None:
            return
        if self.settings.max_buys is not None and self._next_seq > self.settings.max_buys:
            return
        client_order_id = f"{self.name}-{self._next_seq}"
        intent = OrderIntent(
            strategy=self.name, exchange=self.settings.exchange, symbol=self.settings.symbol, side=Side.BUY,
            qty=self._qty, price=event.best_ask, tif=TimeInForce.IOC, client_order_id=client_order_id,
        )
        # None: paused or vetoed by a risk check (stored and alerted by the host). The id was not
        # used, so the next attempt may take it.
        if self.ctx.submit(intent) is not None:
            self._in_flight = client_order_id
            self._next_seq += 1

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.client_order_id == self._in_flight and update.status.terminal:
            self._in_flight = None

    def on_fill(self, fill: Fill) -> None:
        self._count(fill)

    def _count(self, fill: Fill) -> None:
        self._bought += fill.qty
        self._spent += fill.qty * fill.price

    # --- slow path ---------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Periodic: an order whose final update we missed must not block the next buy forever."""
        if self._in_flight is not None:
            order = self.ctx.order(self._in_flight)
            if order is None or order.status.terminal:
                self._in_flight = None

    def status(self) -> dict[str, str]:
        facts = {"orders sent": str(self._next_seq - 1), "bought": f"{self._bought} {self._base}"}
        if self._bought and self._market is not None:
            average = (self._spent / self._bought).quantize(self._market.tick_size)
            facts["average price"] = f"{average} {self._quote}"
        return facts
