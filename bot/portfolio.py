"""In-memory positions, open orders and last prices: the view risk checks decide on."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from .api import FeedView, PortfolioView
from .domain import ZERO, BookUpdate, FeedState, FeedStatus, Fill, Order, PoolUpdate, Side


class Portfolio(PortfolioView):
    """Kept current from the bus (book updates), the fills the executor applies (each once, through
    :class:`~bot.dispatch.Dispatch`; rebuilt from the store's fills on start) and its open orders."""

    def __init__(self, open_orders: Callable[[], list[Order]]):
        self._open_orders = open_orders
        self._positions: dict[tuple[str, str], Decimal] = {}
        self._top: dict[tuple[str, str], tuple[Decimal | None, Decimal | None]] = {}
        self._data_ns: dict[tuple[str, str], int] = {}
        self._feed_status: dict[tuple[str, str], FeedStatus] = {}
        self._resyncs: dict[tuple[str, str], int] = {}

    def on_book(self, event: BookUpdate) -> None:
        self._data_ns[(event.exchange, event.symbol)] = event.ts_ns
        self._top[(event.exchange, event.symbol)] = (event.best_bid, event.best_ask)  # the touch, not the levels

    def on_pool(self, event: PoolUpdate) -> None:
        """A pool's marginal price stands for both sides of its book."""
        key = (event.exchange, event.symbol)
        self._data_ns[key] = event.ts_ns
        mid = event.pool.mid()
        self._top[key] = (mid, mid)

    def on_fill(self, fill: Fill) -> None:
        key = (fill.exchange, fill.symbol)
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        self._positions[key] = self._positions.get(key, ZERO) + signed

    def position(self, exchange: str, symbol: str) -> Decimal:
        return self._positions.get((exchange, symbol), ZERO)

    def positions(self) -> dict[tuple[str, str], Decimal]:
        return {k: v for k, v in self._positions.items() if v != 0}

    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Order]:
        return [
            o for o in self._open_orders()
            if (exchange is None or o.exchange == exchange) and (symbol is None or o.symbol == symbol)
        ]

    def on_feed_status(self, event: FeedStatus) -> None:
        key = (event.exchange, event.symbol)
        if event.state is not FeedState.LIVE:
            self._resyncs[key] = self._resyncs.get(key, 0) + 1
        self._feed_status[key] = event

    def feed_health(self) -> list[FeedView]:
        """Every market with data or a published feed state, by exchange and symbol."""
        views = []
        for key in sorted(set(self._data_ns) | set(self._feed_status)):
            status = self._feed_status.get(key)
            views.append(FeedView(exchange=key[0], symbol=key[1],
                                  state=status.state.value if status else FeedState.LIVE.value,
                                  data_ns=self._data_ns.get(key), changed_ns=status.ts_ns if status else None,
                                  reason=status.reason if status else "", resyncs=self._resyncs.get(key, 0)))
        return views

    def data_times(self) -> dict[tuple[str, str], int]:
        """Time (ns) of the latest book update per market."""
        return dict(self._data_ns)

    def top(self, exchange: str, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) of the latest book update."""
        return self._top.get((exchange, symbol), (None, None))

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        bid, ask = self.top(exchange, symbol)
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid if bid is not None else ask
