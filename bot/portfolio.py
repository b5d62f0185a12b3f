"""In-memory positions, open orders and last prices: the view risk checks decide on."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from .api import PortfolioView
from .domain import ZERO, BookUpdate, Fill, Order, PoolUpdate, Side


class Portfolio(PortfolioView):
    """Kept current from the bus (book updates), the fills the executor applies (each once, through
    :class:`~bot.dispatch.Dispatch`; rebuilt from the store's fills on start) and its open orders."""

    def __init__(self, open_orders: Callable[[], list[Order]]):
        self._open_orders = open_orders
        self._positions: dict[tuple[str, str], Decimal] = {}
        self._top: dict[tuple[str, str], tuple[Decimal | None, Decimal | None]] = {}
        self._data_ns: dict[tuple[str, str], int] = {}

    def on_book(self, event: BookUpdate) -> None:
        self._data_ns[(event.exchange, event.symbol)] = event.ts_ns
        self._top[(event.exchange, event.symbol)] = (
            event.bids[0][0] if event.bids else None,
            event.asks[0][0] if event.asks else None,
        )

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
