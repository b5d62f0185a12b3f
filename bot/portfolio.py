"""In-memory positions, open orders and last prices: the view risk checks decide on."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, DefaultContext, localcontext
from itertools import islice
from operator import itemgetter

from .api import FeedView, PortfolioView
from .domain import ZERO, BookUpdate, FeedState, FeedStatus, Fill, Order, Pool, PoolUpdate

log = logging.getLogger("arbot.portfolio")

Top = tuple[int, Decimal | None, Decimal | None, Pool | BookUpdate | None, Pool | BookUpdate | None]
"""A market's latest update: (its time, best bid, best ask, its source: the pool or the book that holds its own
levels, None for a live book's view whose touch was read at once; what is still to be priced: the same source
until its touch is made, then None). Markouts read the source (:meth:`Portfolio.follow`)."""

HISTORY_MAX_UPDATES = 16_384
"""Most updates of one market kept in its history (:meth:`Portfolio.keep_history`), whatever its window: the memory
bound of a market that updates very fast (about 270 updates a second still fill a 60 s window)."""

_ts = itemgetter(0)


class _History(deque[Top]):
    """A market's recent updates, oldest first, and when they are next trimmed."""

    __slots__ = ("trim_after_ns",)
    trim_after_ns: int
    """An update later than this trims the history to the window (one int comparison an update)."""

Follower = Callable[[tuple[str, str], int, Top | None], None]
"""``follower(key, ts_ns, before)``: market ``key`` has an update at ``ts_ns``, the first later than the time the
follower waits for; ``before`` is its latest update until now (None: none yet)."""


class Portfolio(PortfolioView):
    """Kept current from the bus (book updates), the fills the executor applies (each once, through
    :class:`~bot.dispatch.Dispatch`; rebuilt from the store's fills on start) and its open orders.

    The one keeper of each market's latest book or pool update in the host: the risk checks' marks read it,
    and so do markouts, which :meth:`follow` a market while a sample waits on it (rather than hearing every
    update of every market themselves)."""

    def __init__(self, open_orders: Callable[[], list[Order]]):
        self._open_orders = open_orders
        self._positions: dict[tuple[str, str], Decimal] = {}
        self._top: dict[tuple[str, str], Top] = {}
        """(exchange, symbol) -> its latest book or pool update (:data:`Top`): one dict set a tick; the touch is
        made when read (markets move far more often than risk checks read them), except a live book's view's
        (keeping the view would copy its levels), read at once."""
        self._followers: dict[tuple[str, str], tuple[int, Follower]] = {}
        """(exchange, symbol) -> (the time its follower waits for, the follower): an update is one dict read and
        a comparison, the follower called only past its time."""
        self._feed_status: dict[tuple[str, str], FeedStatus] = {}
        self._resyncs: dict[tuple[str, str], int] = {}
        self._history: dict[tuple[str, str], _History] = {}
        """(exchange, symbol) -> its recent updates, oldest first (:meth:`keep_history`; none kept by default): the
        window's, trimmed once a window later (so at most two windows')."""
        self._window_ns = 0

    def keep_history(self, window_ns: int) -> None:
        """Keep each market's updates of the last ``window_ns`` at least (the one in force ``window_ns`` ago
        included), for :meth:`history`; at most :data:`HISTORY_MAX_UPDATES` of them (the oldest go first)."""
        self._window_ns = max(window_ns, 0)
        self._history.clear()

    def history(self, key: tuple[str, str]) -> Sequence[Top]:
        """Market ``key``'s kept updates, oldest first, the latest last (empty without :meth:`keep_history`);
        read-only. The update in force at a time after the first one's is the last one published at or before it."""
        return self._history.get(key, ())

    def _keep(self, key: tuple[str, str], top: Top) -> None:
        """The first update of a market kept (its history is made), or one that trims it: what is older than the
        window goes, but the update in force then."""
        history = self._history.get(key)
        if history is None:
            history = _History(maxlen=HISTORY_MAX_UPDATES)
        history.append(top)
        ts_ns = top[0]
        first = bisect_right(history, ts_ns - self._window_ns, key=_ts) - 1  # the update in force then
        if first > 0:  # copied in C, not popped one by one in Python
            history = _History(islice(history, first, None), HISTORY_MAX_UPDATES)
        history.trim_after_ns = ts_ns + self._window_ns
        self._history[key] = history

    def follow(self, key: tuple[str, str], follower: Follower, after_ns: int) -> None:
        """Call ``follower(key, ts_ns, before)`` once, on the first book or pool update of market ``key`` later
        than ``after_ns``, before it replaces ``before``, the latest until then; then no more (a follower that
        waits for a later time follows again). One follower per market: a new call replaces the last (and its
        time). A follower must not raise: it runs on the tick, inside the portfolio's
        own update."""
        self._followers[key] = (after_ns, follower)

    def on_book(self, event: BookUpdate) -> None:
        key = (event.exchange, event.symbol)
        followers = self._followers  # most updates find nobody following (a look-up only when someone is)
        if followers and (follower := followers.get(key)) is not None and event.ts_ns > follower[0]:
            del followers[key]
            follower[1](key, event.ts_ns, self._top.get(key))
        if event.owns_levels:  # kept as it is (it never changes): its Decimal touch is made when read
            top: Top = (event.ts_ns, None, None, event, event)
        else:  # a live book's view: its touch now, never its levels
            top = (event.ts_ns, event.best_bid, event.best_ask, None, None)
        self._top[key] = top
        history = self._history.get(key)  # inline: a dict read, a comparison and an append an update (see _keep)
        if history is not None and event.ts_ns <= history.trim_after_ns:
            history.append(top)
        elif self._window_ns:
            self._keep(key, top)

    def on_pool(self, event: PoolUpdate) -> None:
        """A pool's marginal price stands for both sides of its book: made from the pool when first read
        (:meth:`top`), at the default 28-digit precision, as if made now (the pool is immutable)."""
        key = (event.exchange, event.symbol)
        top = self._top.get(key)
        followers = self._followers
        if followers and (follower := followers.get(key)) is not None and event.ts_ns > follower[0]:
            del followers[key]
            follower[1](key, event.ts_ns, top)
        pool = event.pool
        if top is None:
            top = self._top[key] = (event.ts_ns, None, None, pool, pool)
        else:
            if isinstance(top[4], BookUpdate):  # a venue with a book and a pool for one market: the book's touch
                top = self._priced(key, top)  # stays for the case this pool cannot be priced
            top = self._top[key] = (event.ts_ns, top[1], top[2], pool, pool)
        history = self._history.get(key)
        if history is not None and event.ts_ns <= history.trim_after_ns:
            history.append(top)
        elif self._window_ns:
            self._keep(key, top)

    def _priced(self, key: tuple[str, str], top: Top) -> Top:
        """``top`` with its book's touch, or its pool's mid as both sides; an unpriceable pool (no liquidity) is
        still data: its time counts, the touch priced before it stays."""
        ts_ns, bid, ask, source, pending = top
        if isinstance(pending, BookUpdate):
            bid, ask = pending.best_bid, pending.best_ask
        elif pending is not None:
            try:
                with localcontext(DefaultContext):
                    bid = ask = pending.mid()
            except Exception as exc:
                log.warning("the pool of %s %s cannot be priced: %s", key[0], key[1], exc)
        top = self._top[key] = (ts_ns, bid, ask, source, None)
        return top

    def on_fill(self, fill: Fill) -> None:
        key = (fill.exchange, fill.symbol)
        self._positions[key] = self._positions.get(key, ZERO) + fill.base_change

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
        for key in sorted(set(self._top) | set(self._feed_status)):
            status = self._feed_status.get(key)
            views.append(FeedView(exchange=key[0], symbol=key[1],
                                  state=status.state.value if status else FeedState.LIVE.value,
                                  data_ns=self._top[key][0] if key in self._top else None,
                                  changed_ns=status.ts_ns if status else None,
                                  reason=status.reason if status else "", resyncs=self._resyncs.get(key, 0)))
        return views

    def tops(self) -> Mapping[tuple[str, str], Top]:
        """Each market's latest update (:data:`Top`), read-only: a market once here stays; an update is replaced,
        never changed in place, so the same object means no update since (what the backtest's mark tape skips on).
        Its touch may still be unpriced: read prices through :meth:`top` or :meth:`last_price`."""
        return self._top

    def data_times(self) -> dict[tuple[str, str], int]:
        """Time (ns) of the latest book update per market."""
        return {key: top[0] for key, top in self._top.items()}

    def top(self, exchange: str, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) of the latest book update."""
        key = (exchange, symbol)
        top = self._top.get(key)
        if top is None:
            return None, None
        if top[4] is not None:
            top = self._priced(key, top)
        return top[1], top[2]

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        bid, ask = self.top(exchange, symbol)
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid if bid is not None else ask
