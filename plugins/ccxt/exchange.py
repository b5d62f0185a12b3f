"""Any ccxt exchange as an arbot Exchange: books from ``ccxt.pro``'s ``watch_order_book``, orders over REST.

**ccxt's configuration.** ``number = str`` (every price, amount, fee and balance as the venue's
text, turned into Decimals here), ``enableRateLimit`` (ccxt paces requests with the venue's own
limit, ``rateLimit``), the venue's order book checksum option on (ccxt leaves some off), its
WebSocket keep-alive tied to ``silence_timeout_s``, spot markets only, and the ``urls`` setting
rewriting endpoint prefixes (how the tests reach a fake venue on 127.0.0.1).

**Books.** One task per symbol awaits ``watch_order_book`` and publishes the top
``publish_levels`` as exact Decimals (:class:`~plugins.ccxt.book.LevelConverter`). The feed is
LIVE from the first book, RESYNCING while a snapshot is awaited (a checksum or sequence error,
a gap in update ids, a dropped connection). Each ``FeedStatus`` says whether the book is
verified (``verified``), and so does ``/status`` (:meth:`CcxtExchange.status`).

**Orders** go through the host's executor like any venue's. One off the market's lot or tick, or
below its minimum size or value (ccxt's ``limits``), is refused before anything is sent. Our client
order id is sent as the venue's client id (:mod:`.orders`); a lost answer raises ``UnknownOutcome``
and the executor's look-up (:meth:`CcxtExchange.fetch_order`) asks by client id before anything is
sent again. An order the venue accepted whose trades cannot then be read is an ``UnknownOutcome``
too (never an error that reads as "not sent" or "refused"): the look-up adopts it with its fills.
Fills are polled (``fill_poll_s``) with the order's trades; a final order whose trades do not add up
to what it filled yet (the venue's trade list lagging) is polled until they do (at most
``LAGGING_POLLS`` times). A tracked order the venue no longer knows (its look-ups answer "not found"
``NOT_FOUND_POLLS`` times in a row over at least ``NOT_FOUND_S``) is reported UNKNOWN once, alerted, and
polled no more; errors that are no answer (the network, a rate limit) never end its tracking. A
rate-limit answer (HTTP 429, or the venue's own label) becomes ``RateLimited`` and holds every REST
call for ``rate_limit_pause_s``.

**Transfers** (:class:`~plugins.ccxt.transfers.CcxtTransfers`): withdrawals to the ``withdraw_to``
whitelist only, found again by our transfer id, and deposits, through the same ccxt instance.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from bot.api import (
    AlertLevel,
    Balance,
    BookUpdate,
    Context,
    ExchangeError,
    FeedState,
    FeedStatus,
    MarketInfo,
    Order,
    OrderNotFound,
    OrderReport,
    OrderState,
    OrderStatus,
    OrderType,
    PermanentError,
    RateLimited,
    Side,
    TimeInForce,
    TransientError,
    UnknownOutcome,
    split_symbol,
)
from bot.api.kit import DeadManSwitch, OrderMemory, PollingVenue

from . import history
from .book import ARBOT_SEQUENCE, CCXT_SEQUENCE, UNVERIFIED, BrokenLevel, LevelConverter, SequenceMonitor, integrity
from .features import TICK_SIZE, dead_man_method, load_ccxt, spot_features
from .orders import CLIENT_IDS, NOT_FOUND_ANSWERS, ccxt_fault, dec, fill_from_trade, order_state, translate
from .settings import CcxtSettings
from .transfers import CcxtTransfers

ORDERS_KEPT = 100_000
"""Orders whose venue client id and trades are remembered (the newest); an order still tracked is never forgotten. An
older one is read from the venue again if ever asked for (``fetch_order``, the order's trades), as after a restart;
a trade read again is applied once all the same (the executor de-duplicates fills by exchange and trade id)."""


LAGGING_POLLS = 30
"""A final order whose trades do not add up to what it filled is polled this many times more (``fill_poll_s`` apart)
for the missing ones."""
NOT_FOUND_POLLS = 5
"""A tracked order whose look-up the venue answers "not found" (its order-not-found error, or its order lists read whole
without it) this many polls in a row, the first at least :data:`NOT_FOUND_S` before the last, is one the venue no
longer knows (older than it keeps, or deleted): it is reported UNKNOWN once ("cannot tell": the executor never sends it
again, its reconciliation keeps asking), alerted (``order-unknown-to-venue``) and polled no more. An error that is no
answer (the network, the venue unavailable, a rate limit) neither counts nor starts the count over; the order found
again does."""
NOT_FOUND_S = 60.0
"""See :data:`NOT_FOUND_POLLS`: the venue's "not found" for this long at least (a venue may briefly miss an order it
has, a replica lagging) before a tracked order is given up on."""
TRADE_PAGES = 10
"""At most this many pages holding trades (the venue's page, :meth:`CcxtExchange._trade_page_size`, each, from the
order's creation on) are read for one order's where the venue lists none by order: an order whose trades lie further
on shows them short, the read that stops here logs a warning naming it, and its polls say so (:data:`LAGGING_POLLS`).
An empty window (:data:`TRADE_WINDOW_MS`) does not count: those are bounded by :data:`TRADE_WINDOWS`."""
TRADE_PAGE_SIZE = 100
"""The page of trades asked of a venue not in :data:`TRADE_PAGE_LIMIT` (Bitget's ``GET /api/v2/spot/trade/fills`` and
Crypto.com's ``private/get-trades`` take at most 100)."""
TRADE_PAGE_LIMIT = {"gemini": 500}
"""The largest page of trades fetchMyTrades takes, per ccxt id of a venue that takes more than :data:`TRADE_PAGE_SIZE`
(the page is asked at that size: a page shorter than asked is taken for the end of the list, so it must never be more
than the venue serves). Gemini's ``POST /v1/mytrades``: its documented walk through the whole history asks
``limit_trades`` 500 a page (ccxt's ``features`` table gives 500 too); 100 made 5 requests of each 500 trades."""
TRADE_WINDOW_MS = {"cryptocom": 86_400_000}
"""The longest time range (ms) fetchMyTrades takes, per ccxt id of a venue that refuses longer ones: Crypto.com's
``private/get-trades`` takes at most one day between ``start_time`` and ``end_time`` (which defaults to now). Elsewhere
ccxt's ``features`` table says (its fetchMyTrades ``untilDays``: Bitget's 90). The account's trades are read in windows
no longer than that."""
TRADE_WINDOWS = 30
"""At most this many windows (:data:`TRADE_WINDOW_MS`) are read for one order at one look: 30 days of Crypto.com's,
whose ``private/get-trades`` answers one request a second. Windows that ended :data:`TRADE_SETTLED_MS` before they
were read, and were read whole, are not read again for the order while it is polled: the next look goes on from the
first window not read so (an order made 40 days before its fills has them after two looks)."""
TRADE_SETTLED_MS = 60_000
"""A window that ended this long before it was read lists all its trades (the venue's trade list lags by seconds)."""
LOOKUP_SKEW_MS = 60_000
"""A look-up of a stored order in the venue's order lists reads from this long before its intent (``created_ns``: the
venue's clock may be behind ours) to this long after now."""
LOOKUP_CALLS = 30
"""At most this many order-list requests for one look-up (the account's whole history is never read for one order):
past them, the outcome stays unknown (``UnknownOutcome``), never "not found"."""
LOOKUP_RESUMES_KEPT = 10_000
"""Look-ups whose progress through the order lists is kept (the newest), for the next look at the same order."""
LOOKUP_PAGE = 100
"""The page asked of an order list where ccxt's ``features`` table gives the venue's no ``limit``."""
DAY_MS = 86_400_000
LOOKUP_RANGE_MS = {"binance": DAY_MS}
"""The longest range (ms) an order list takes, per ccxt id of a venue where ccxt's ``features`` table says otherwise
(ccxt gives Binance 10,000 days; its ``GET /api/v3/allOrders`` refuses a ``startTime``..``endTime`` over 24 hours)."""
FINISHED_LISTS: dict[str, tuple[str, ...]] = {
    "okx": ("fetch_closed_orders", "fetch_canceled_orders"),
    "bybit": ("fetch_canceled_and_closed_orders",),
    "bitget": ("fetch_canceled_and_closed_orders",),
    "htx": ("fetch_orders",),
}
"""The ccxt lists that hold a venue's finished orders between them, per ccxt id of a venue whose ccxt
``fetchClosedOrders`` leaves its cancelled ones out (even one filled in part): the look-up by client id is not all
there is, and lists read whole without an order that may have been cancelled would not say that the venue never saw
it. OKX: ccxt's okx asks ``GET /api/v5/trade/orders-history`` for ``state=filled``, its ``fetchCanceledOrders`` the
same list for ``state=canceled``; Bybit: ccxt's bybit asks ``/v5/order/history`` for ``orderStatus=Filled``, its
``fetchCanceledAndClosedOrders`` for every final state; Bitget: ccxt's bitget keeps the ``closed`` ones of its
``fetchCanceledAndClosedOrders``; HTX: ccxt's htx asks ``/v1/order/orders`` for ``states=filled``, its ``fetchOrders``
for every state. Each reads the endpoint ccxt's ``features`` table describes under ``fetchClosedOrders`` (page,
range, history)."""
BEYOND_HISTORY_KEPT = 10_000
"""Orders alerted for lying beyond the venue's history (their fills, :meth:`CcxtExchange._fills_beyond_history`, or
the order itself, :meth:`CcxtExchange._order_beyond_history`; the newest): not alerted again at every poll or pass."""
ORDER_METHODS = ("fetch_order", "cancel_order")
"""The ccxt calls about one order, whose "no such order" answers are ``OrderNotFound`` (also where ccxt does not class
them so: :data:`.orders.NOT_FOUND_ANSWERS`)."""
TRADE_ORDER_PARAMS = {"bitget": "orderId"}
"""The fetchMyTrades parameter that keeps one order's trades, per ccxt id of a venue without fetchOrderTrades that
has one (ccxt's bitget sends it on to its spot trade fills endpoint)."""
TRADE_SINCE_MS_PARAM = {"gemini": "timestamp"}
"""The venue's own fetchMyTrades parameter that takes ``since`` in milliseconds, where ccxt sends it in whole seconds:
ccxt's gemini sends ``/v1/mytrades``'s ``timestamp`` as ``since / 1000``, so a page of trades inside one second could
never be paged past; Gemini takes ``timestamp`` in milliseconds too, its preferred form ("the following two values are
supported in order of preference: the number of milliseconds ..., the number of seconds", its Timestamps data
type)."""
TRADE_OLDER_CURSOR = {"bitget": "idLessThan"}
"""Venues whose trade list gives the newest trades of the range first, with the parameter that asks for the page
before a trade id (older data): Bitget's ``GET /api/v2/spot/trade/fills`` documents ``idLessThan`` so ("the content
on the page before this ID (older data)"; ccxt's bitget pages its fills with it too), and its trade ids are numbers.
Elsewhere a page holds the oldest trades from ``since`` on and the reading goes forward (Gemini's ``/v1/mytrades``:
sorted by timestamp descending, walked forward from ``timestamp`` by the page's highest one, as Gemini documents;
Crypto.com's and Gate's likewise)."""


@dataclass
class Counters:
    """What the book side and the fill polls saw (``/status`` shows each: :meth:`CcxtExchange.status`; the tests read
    them)."""

    books: int = 0
    resyncs: int = 0
    broken: int = 0
    disconnects: int = 0
    poll_errors: int = 0
    """Tracked orders whose look-up failed in a fill poll (each logged; the other orders polled all the same)."""


def rewrite_urls(urls: Any, prefixes: dict[str, str]) -> Any:
    """ccxt's nested ``urls['api']`` with every string starting with a key of ``prefixes`` rewritten."""
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, prefixes) for k, v in urls.items()}
    if isinstance(urls, str):
        for old, new in prefixes.items():
            if urls.startswith(old):
                return new + urls[len(old):]
    return urls


class CcxtExchange(PollingVenue, CcxtTransfers):
    """One ccxt exchange (``id``): books over WebSocket, orders over REST (live mode only), withdrawals
    and deposits for inventory rebalancing (:mod:`.transfers`)."""

    Settings = CcxtSettings

    @classmethod
    def markets_of(cls, settings: CcxtSettings) -> list[str]:
        """The symbols it watches."""
        return settings.symbols
    simulated = False

    @classmethod
    def lacks(cls, settings: CcxtSettings, features: tuple[str, ...]) -> list[str]:
        """What ccxt's tables say this exchange cannot do, of what a strategy needs (imports ccxt)."""
        try:
            ccxtpro = load_ccxt()
        except ImportError:
            return []  # the settings check already says ccxt is missing
        if settings.id not in ccxtpro.exchanges:
            return []  # ...or that the id is unknown
        have = spot_features(getattr(ccxtpro, settings.id)())
        return [f for f in features if f in have and not have[f]]

    def __init__(self, name: str, settings: CcxtSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.settings: CcxtSettings = settings
        self.api: Any = None
        """The ccxt.pro exchange instance (made in :meth:`start`)."""
        self.integrity_kind, self.integrity_how = integrity(settings.id)
        self.monitor: SequenceMonitor | None = None
        self.counters = Counters()
        self.converters: dict[str, LevelConverter] = {}
        self.markets: dict[str, MarketInfo] = {}
        self._market_ids: dict[str, str] = {}
        """venue market id ("BTC_USDT") -> symbol."""
        self._ids: dict[str, str] = {}
        """symbol -> venue market id."""
        self._features: dict[str, Any] = {}
        self.dead_man: DeadManSwitch | None = None
        self._rule = CLIENT_IDS.get(settings.id)
        self.memory = OrderMemory(ORDERS_KEPT, self._tracked.__contains__)
        """Venue client id -> our client order id, and the trades read, of the newest ORDERS_KEPT orders (and tracked
        ones)."""
        self._blocked_until = 0.0
        self._rng = random.Random()
        self._resubscribing: set[str] = set()
        """Symbols whose snapshot request is under way."""
        self._failures: dict[str, int] = {}
        """Resyncs per symbol since its last good book (the backoff of repeated requests)."""
        self._lagging: dict[str, int] = {}
        """Final orders whose trades do not add up to what they filled yet: polls made since."""
        self._not_found: dict[str, tuple[int, float]] = {}
        """Tracked orders whose last look-ups the venue answered "not found": (answers in a row, the clock's
        ``monotonic`` at the first) (:data:`NOT_FOUND_POLLS`)."""
        self._lookups: dict[tuple[str, str], tuple[int, int]] = {}
        """(ccxt list method, venue client id) -> (the look-up's ``since_ms``, the start of the first range of that
        order list not read whole yet) of a look-up cut short (by the executor's timeout, or :data:`LOOKUP_CALLS`): the
        next look at the order goes on from there. Only ranges that ended :data:`LOOKUP_SKEW_MS` before they were read
        count."""
        self._created: dict[str, int] = {}
        """Tracked order -> its stored order's ``created_ns`` (the time of its intent, our clock), from the order the
        executor placed (:meth:`place_order`) or looked up (:meth:`find_order`): its fill poll reads the venue's lists
        from then on and tells an order older than they keep from one the venue no longer knows for no known reason
        (:meth:`_poll_look_up`). Dropped with its tracking."""
        self._beyond_history: dict[tuple[str, str], None] = {}
        """What was alerted as lying beyond the venue's history, oldest first: ("fills", venue order id) of an
        order's fills (:meth:`_fills_beyond_history`), ("order", client order id) of an order
        (:meth:`_order_beyond_history`)."""
        self._trade_windows: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {}
        """Venue order id -> (the start of the first window still to read, the order's trades in those before it), of
        an order not settled yet whose trades are read in windows (:data:`TRADE_WINDOWS`)."""

    @property
    def verified(self) -> bool:
        return self.integrity_kind != UNVERIFIED

    # --- lifecycle --------------------------------------------------------------------------

    def _build(self) -> Any:
        s = self.settings
        ccxtpro = load_ccxt()
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(s.request_timeout_s * 1000),
                                  "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]},
                                              **s.options}}
        if s.rate_limit_ms is not None:
            config["rateLimit"] = s.rate_limit_ms
        if s.api_key is not None and s.api_secret is not None:
            config["apiKey"] = s.api_key.reveal()
            config["secret"] = s.api_secret.reveal()
        if s.password is not None:
            config["password"] = s.password.reveal()
        api = getattr(ccxtpro, s.id)(config)
        api.number = str  # every number ccxt parses with safe_number stays the venue's text
        api.options.setdefault("watchOrderBook", {})["checksum"] = True
        keep_alive_ms = max(1, int(s.silence_timeout_s * 1000 / 2))
        api.streaming = {**api.streaming, "keepAlive": keep_alive_ms, "maxPingPongMisses": 2}
        if s.urls:
            api.urls["api"] = rewrite_urls(api.urls["api"], s.urls)
        if s.id == "gate":
            if "gateeu" in str(api.urls["api"].get("spot", "")):
                # ccxt subscribes spot.order_book_update there and checks its U/u itself
                self.integrity_kind, self.integrity_how = CCXT_SEQUENCE, "spot.order_book_update U/u, checked by ccxt"
            else:
                self._watch_sequence(api)
        return api

    def _watch_sequence(self, api: Any) -> None:
        """Let :class:`SequenceMonitor` see every message before ccxt (ccxt's clients take the handler when made)."""
        monitor = self.monitor = SequenceMonitor(self._on_gap)
        handle = api.handle_message

        def handle_message(client: Any, message: Any) -> None:
            if monitor.admit(message):
                handle(client, message)

        api.handle_message = handle_message

    async def load(self) -> None:
        """Make the ccxt instance and read the markets' rules (the first half of :meth:`start`; no feed yet)."""
        s = self.settings
        self.api = api = self._build()
        try:
            with localcontext():  # see _call: ccxt's precision code changes the decimal context it runs in
                await api.load_markets()
            if api.precisionMode != TICK_SIZE:
                raise PermanentError(f"{self.name}: {s.id} gives precisions as significant digits: not supported")
            for symbol in s.symbols:
                if symbol not in api.markets:
                    raise PermanentError(f"{self.name}: {s.id} has no market {symbol}")
                self.markets[symbol] = info = self._market_info(api.markets[symbol])
                self.converters[symbol] = LevelConverter(info.tick_size, info.lot_size)
                self._market_ids[api.markets[symbol]["id"]] = symbol
                self._ids[symbol] = api.markets[symbol]["id"]
            self._features = spot_features(api)
        except Exception as exc:
            await api.close()
            raise translate(exc, f"{self.name}: loading {s.id} markets", sent=False, pause_s=0) from exc

    async def start(self) -> None:
        s = self.settings
        await self.load()
        api = self.api
        self._running = True
        for symbol in s.symbols:
            self.publish_feed_state(symbol, FeedState.RESYNCING, "connecting: waiting for a snapshot")
            self.ctx.create_task(self._watch(symbol), f"order book {symbol}")
        if api.apiKey:
            self.ctx.create_task(self.poll_fills(), "fill polling")
            if s.dead_man_s:
                self.dead_man = DeadManSwitch(self.name, self.ctx, self._cancel_all_after, timeout_s=s.dead_man_s,
                                              refresh_s=s.dead_man_refresh_s)
                await self.dead_man.start()
        await self.wait_live(s.symbols, s.start_timeout_s)

    async def stop(self) -> None:
        self.stop_polling()
        if self.dead_man is not None:
            await self.dead_man.stop()
        if self.api is not None:
            await self.api.close()

    async def _cancel_all_after(self, timeout_s: int) -> object:
        """Arm the venue's dead-man switch for ``timeout_s`` (0 disarms) through ccxt."""
        method = dead_man_method(self.api)
        if method is None:
            raise PermanentError(f"{self.name}: {self.settings.id} has no dead-man switch through ccxt")
        if method == "cancel_all_orders_after":  # ccxt's unified method counts milliseconds
            return await self._call("cancel-all-after", True, method, timeout_s * 1000)
        return await self._call("cancel-all-after", True, method, {"timeout": timeout_s})

    def _market_info(self, market: dict[str, Any]) -> MarketInfo:
        precision, limits = market.get("precision") or {}, market.get("limits") or {}
        tick, lot = dec(precision.get("price")), dec(precision.get("amount"))
        if tick is None or lot is None or tick <= 0 or lot <= 0:
            raise PermanentError(f"{self.name}: {market.get('symbol')} has no tick or lot size in ccxt's markets")
        maker, taker = dec(market.get("maker")), dec(market.get("taker"))
        return MarketInfo(market["symbol"], market["base"], market["quote"], tick, lot,
                          min_qty=dec((limits.get("amount") or {}).get("min"), Decimal(0)) or Decimal(0),
                          min_notional=dec((limits.get("cost") or {}).get("min"), Decimal(0)) or Decimal(0),
                          maker_fee_bps=maker * 10_000 if maker is not None else None,
                          taker_fee_bps=taker * 10_000 if taker is not None else None)

    # --- market data ------------------------------------------------------------------------

    def publish_feed_state(self, symbol: str, state: FeedState, reason: str) -> None:
        """Publish a FeedStatus once per change, saying whether this venue's book is verified."""
        if self.states.get(symbol) is state:
            return
        self.states[symbol] = state
        if state is FeedState.LIVE and not self.verified:
            reason = f"{reason} (unverified: {self.integrity_how})"
        self.ctx.log.info("%s %s feed %s: %s", self.name, symbol, state, reason)
        self.ctx.bus.publish(FeedStatus(self.name, symbol, state, self.ctx.clock.time_ns(), reason,
                                        verified=self.verified))

    async def _watch(self, symbol: str) -> None:
        ccxt = load_ccxt()
        s = self.settings
        delay = s.reconnect_initial_s
        while self._running:
            try:
                with localcontext():  # (the connection's tasks made here inherit this context, not the bot's)
                    book = await self.api.watch_order_book(symbol, s.depth)
            except asyncio.CancelledError:
                raise
            except (ccxt.ChecksumError, ccxt.InvalidNonce) as exc:  # ccxt verified, and the book broke
                self.counters.resyncs += 1
                self.publish_feed_state(symbol, FeedState.RESYNCING, f"{type(exc).__name__}: resubscribing")
                continue
            except Exception as exc:
                if not self._running:
                    return
                self.counters.disconnects += 1
                if self.monitor is not None:
                    self.monitor.reset()
                self.publish_feed_state(symbol, FeedState.RESYNCING, f"{type(exc).__name__}: reconnecting")
                await asyncio.sleep(self._rng.uniform(0, delay))
                delay = min(delay * 2, s.reconnect_max_s)
                continue
            delay = s.reconnect_initial_s
            self._on_book(symbol, book)

    def _on_book(self, symbol: str, book: Any) -> None:
        if self.monitor is not None and not self.monitor.in_sync(self._ids[symbol]):
            return
        n = self.settings.publish_levels
        converter = self.converters[symbol]
        try:
            bids, bid_units = converter.side(book["bids"], n)
            asks, ask_units = converter.side(book["asks"], n)
        except BrokenLevel as exc:
            self.counters.broken += 1
            self._resync(symbol, str(exc))
            return
        self.counters.books += 1
        self._failures[symbol] = 0
        if self.states.get(symbol) is not FeedState.LIVE:
            self.publish_feed_state(symbol, FeedState.LIVE, "snapshot received")
        self.ctx.bus.publish(BookUpdate.of_units(self.name, symbol, bid_units, ask_units, converter.price_decimals,
                                                 converter.qty_decimals, self.ctx.clock.time_ns(), (bids, asks)))

    def levels(self, symbol: str) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """Every level of the local book (bids, asks), exact, best first."""
        book = self.api.orderbooks[symbol]
        converter = self.converters[symbol]
        return converter.side(book["bids"], None)[0], converter.side(book["asks"], None)[0]

    def _on_gap(self, stream: str, reason: str) -> None:
        symbol = self._market_ids.get(SequenceMonitor.market_id(stream))
        if symbol is not None:
            self._resync(symbol, reason, [stream])

    def _resync(self, symbol: str, reason: str, streams: list[str] | None = None) -> None:
        """The local book cannot be trusted: RESYNCING, and ask for a fresh snapshot (once at a time)."""
        self.counters.resyncs += 1
        self._failures[symbol] = self._failures.get(symbol, 0) + 1
        self.publish_feed_state(symbol, FeedState.RESYNCING, f"{reason}: resubscribing")
        if symbol in self._resubscribing:
            return
        if self.monitor is not None:
            market_id = self._ids[symbol]
            self.monitor.pending.add(market_id)
            if streams is None:
                streams = [st for st in self.monitor.last if SequenceMonitor.market_id(st) == market_id]
            for stream in streams:
                self.monitor.last.pop(stream, None)
        elif not self.api.has.get("unWatchOrderBook"):
            return  # the next book ccxt resolves is checked again
        self._resubscribing.add(symbol)
        self.ctx.create_task(self._resubscribe(symbol, streams or []), f"resubscribe {symbol}")

    async def _resubscribe(self, symbol: str, streams: list[str]) -> None:
        """Gate: unsubscribe + subscribe each stream; others: un-watch (the watch loop subscribes again).
        A book that keeps breaking is asked for again with backoff, never in a tight loop."""
        s = self.settings
        try:
            failures = self._failures.get(symbol, 1)
            if failures > 1:
                await asyncio.sleep(self._rng.uniform(0, min(s.reconnect_initial_s * 2 ** (failures - 2),
                                                              s.reconnect_max_s)))
            if self.monitor is None:
                with localcontext():
                    await self.api.un_watch_order_book(symbol)
                return
            client = self.api.clients.get(self.api.urls["api"]["spot"])
            if client is None:
                return  # no connection: the reconnection subscribes afresh
            for stream in streams:
                for message in SequenceMonitor.resubscribe(stream, self.api.request_id(), int(time.time())):
                    await client.send(message)
        finally:
            self._resubscribing.discard(symbol)

    def status(self) -> dict[str, str]:
        """Facts for ``/status``: how the books are verified, what the feed went through, and (with keys: orders are
        polled) how many polls of a tracked order failed (:attr:`Counters.poll_errors`, 0 too, as the feed's)."""
        c = self.counters
        kind = "unverified" if not self.verified else (
            "verified by arbot" if self.integrity_kind == ARBOT_SEQUENCE else "verified by ccxt")
        facts = {"book": f"{kind} ({self.integrity_how})",
                 "feed": f"{c.books} books, {c.resyncs} resyncs, {c.disconnects} reconnects, {c.broken} broken"}
        if self.api is not None and self.api.apiKey:
            facts["order polls"] = f"{c.poll_errors} failed" + (
                " (each logged; the order is asked again next poll)" if c.poll_errors else "")
        return facts

    def market(self, symbol: str) -> MarketInfo:
        return self.markets[symbol]  # KeyError: not configured

    def features(self) -> dict[str, Any]:
        """What this venue supports through ccxt (see :func:`~plugins.ccxt.features.spot_features`)."""
        return self._features

    # --- orders -----------------------------------------------------------------------------

    async def _call(self, what: str, sent: bool, method: str, *args: Any, **kwargs: Any) -> Any:
        """One ccxt REST call: held while a rate-limit pause lasts, errors translated."""
        if self.api is None or not self.api.apiKey:
            raise PermanentError(f"{self.name}: no api_key/api_secret configured: market data only")
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            raise RateLimited(f"{self.name} {what}: rate-limit pause", retry_after_s=wait)
        try:
            # ccxt's decimal_to_precision (create_order's amount and price, among others) sets ROUND_HALF_UP and
            # traps Underflow on the decimal context it runs in, for good: on the bot's, every Decimal after it
            # (the ledger, the strategies' figures) would round otherwise. It runs in a context of its own.
            with localcontext():
                return await getattr(self.api, method)(*args, **kwargs)
        except Exception as exc:
            duplicate = self._rule.duplicate if method == "create_order" and self._rule is not None else ()
            not_found = NOT_FOUND_ANSWERS.get(self.settings.id, ()) if method in ORDER_METHODS else ()
            error = translate(exc, f"{self.name} {what}", sent=sent, pause_s=self.settings.rate_limit_pause_s,
                              duplicate=duplicate, not_found=not_found)
            if isinstance(error, RateLimited):
                self._blocked_until = time.monotonic() + self.settings.rate_limit_pause_s
            raise error from exc

    def venue_client_id(self, client_order_id: str) -> str:
        if self._rule is None:
            raise PermanentError(f"{self.name}: {self.settings.id} takes no client order ids through ccxt")
        vid = self._rule.venue_id(client_order_id)
        self.memory.remember(vid, client_order_id)
        return vid

    def derived_client_id(self, venue_id: str) -> bool:
        """A digest of the venue's rule (what every id of ours that does not fit it becomes): the digest cannot be
        read back, so any such client id on the account counts as possibly ours."""
        return self._rule is not None and self._rule.is_digest(venue_id)

    def _our_id(self, venue_id: str) -> str:
        """Our client order id for a venue's (known this run, or readable from it); else the venue's own."""
        known = self.memory.ids.get(venue_id)
        if known is None and self._rule is not None:
            known = self._rule.our_id(venue_id)
        return known or venue_id

    async def place_order(self, order: Order) -> OrderState:
        info = self.market(order.symbol)
        features = self.features()
        if order.tif is TimeInForce.IOC and not features["ioc"]:
            raise PermanentError(f"{self.name}: {self.settings.id} has no IOC orders through ccxt")
        if order.post_only and not features["post_only"]:
            raise PermanentError(f"{self.name}: {self.settings.id} has no post-only orders through ccxt")
        if order.qty % info.lot_size or (order.price is not None and order.price % info.tick_size):
            raise PermanentError(f"{self.name}: {order.symbol} qty {order.qty} / price {order.price} not on the "
                                 f"lot {info.lot_size} / tick {info.tick_size}")  # ccxt would truncate silently
        if order.qty < info.min_qty:  # ccxt's market limits; create_order does not check them
            raise PermanentError(f"{self.name}: {order.symbol} qty {order.qty} is below the minimum order size "
                                 f"{info.min_qty} {info.base}")
        if order.price is not None and order.qty * order.price < info.min_notional:
            raise PermanentError(f"{self.name}: {order.symbol} order value {order.qty * order.price} is below the "
                                 f"minimum order value {info.min_notional} {info.quote}")
        vid = self.venue_client_id(order.client_order_id)  # (refused where the venue takes no client ids)
        params: dict[str, Any] = {self._rule.param if self._rule is not None else "clientOrderId": vid}
        if order.tif is TimeInForce.IOC:
            params["timeInForce"] = "IOC"
        if order.post_only:
            params["postOnly"] = True
        market = order.order_type is OrderType.MARKET
        result = await self._call(
            "create order", True, "create_order", order.symbol, "market" if market else "limit",
            "buy" if order.side is Side.BUY else "sell", f"{order.qty:f}",  # plain text, never "5.0E-7"
            None if order.price is None else f"{order.price:f}", params)
        try:
            state = await self._with_fills(order.client_order_id, order.symbol, result)
        except ExchangeError as exc:  # the order is on the venue: whatever failed after, it must not be sent again
            raise UnknownOutcome(f"{self.name}: order {order.client_order_id} was placed (venue id "
                                 f"{result.get('id')}) but its trades could not be read ({exc}): look it up") from exc
        if self._unsettled(state) and state.exchange_order_id is not None:
            self.track(order.client_order_id, order.symbol, state.exchange_order_id, state)
            self._created_at(order)
        return state

    def _created_at(self, order: Order) -> None:
        """Keep the creation time of ``order``'s stored row for its fill poll, while it is tracked."""
        if order.created_ns > 0 and order.client_order_id in self._tracked:
            self._created[order.client_order_id] = order.created_ns

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        current = await self.fetch_order(symbol, client_order_id)
        if current is None:
            raise OrderNotFound(f"{self.name} has no order {client_order_id}")
        if current.status.terminal or current.exchange_order_id is None:
            return current
        try:
            await self._call("cancel order", True, "cancel_order", current.exchange_order_id, symbol)
        except OrderNotFound:
            pass  # closed meanwhile: the look-up below tells how
        state = await self.fetch_order(symbol, client_order_id)
        if state is None:
            raise OrderNotFound(f"{self.name} has no order {client_order_id}")
        return state

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return await self._fetch(symbol, client_order_id, None)

    async def find_order(self, order: Order) -> OrderState | None:
        """:meth:`fetch_order`, where the venue's order lists are searched bounded by the stored order's
        ``created_ns``: the list from then on is read (an order of an earlier run is found behind any number of
        newer ones); and where they miss it, an order whose answer gave its venue id is asked for by that id. An
        order they do not hold (nor its venue id, "not found") that is older than they keep is UNKNOWN
        (:meth:`_order_beyond_history`). An order found unsettled is tracked with its ``created_ns``."""
        since = self._since_ms(order.created_ns)
        try:
            state = await self._fetch(order.symbol, order.client_order_id, since, order.exchange_order_id)
        except OrderNotFound:  # by its venue id: an order the venue received, so never "never saw it"
            beyond = None if since is None else self._order_beyond_history(order, since)
            if beyond is None:
                raise
            return beyond
        if state is None and since is not None:
            return self._order_beyond_history(order, since)
        self._created_at(order)
        return state

    @staticmethod
    def _since_ms(created_ns: int) -> int | None:
        """Where a look-up of an order made at ``created_ns`` (its intent, our clock) reads the venue's lists from:
        :data:`LOOKUP_SKEW_MS` before it (the venue's clock may be behind ours); None: not known (0)."""
        return created_ns // 1_000_000 - LOOKUP_SKEW_MS if created_ns > 0 else None

    def _history_lacks(self, since_ms: int, created_ns: int) -> str | None:
        """Why the venue's lists, read whole, may not hold an order made at ``created_ns`` (looked up from
        ``since_ms``): they keep less than that (their history, :mod:`.history`: MEXC's 7 days, OKX's 2 hours of
        cancelled orders), in words; None: they keep everything since (or the venue has no such lists)."""
        finished = self._finished_lists()
        if finished is None:
            return None
        lacks = history.unkept(self.api, self.settings.id, finished[0], since_ms,
                               self.ctx.clock.time_ns() // 1_000_000)
        if lacks is None:
            return None
        sent = dt.datetime.fromtimestamp(created_ns / 1e9, dt.UTC)
        return (f"not in {self.settings.id}'s order lists, which keep {lacks}: it was sent {sent:%Y-%m-%d %H:%M} "
                "UTC, longer ago than that, so whether it reached the venue, filled or was cancelled cannot be told")

    def _order_beyond_history(self, order: Order, since_ms: int) -> OrderState | None:
        """A stored order its venue's lists, read whole, do not hold: None ("never saw it") only where they keep
        everything since ``since_ms``. Where they keep less (:meth:`_history_lacks`) it may be one they dropped:
        UNKNOWN, saying so (never sent again, never "never received"), alerted once (``order-beyond-history``)."""
        reason = self._history_lacks(since_ms, order.created_ns)
        if reason is None:
            return None
        self._alert_beyond_history(order.client_order_id, order.symbol, order.exchange_order_id, order.filled_qty,
                                   reason)
        return OrderState(order.client_order_id, OrderStatus.UNKNOWN, order.exchange_order_id, order.filled_qty,
                          order.avg_fill_price, (), reason)

    def _alert_beyond_history(self, cid: str, symbol: str, venue_id: str | None, filled: Decimal, reason: str) -> None:
        """Alert, once per order (whether its look-up or its fill poll found it so), an order held UNKNOWN for lying
        beyond the venue's lists (``order-beyond-history``)."""
        if not self._first_beyond_history("order", cid):
            return
        message = (f"{self.name}: order {cid} ({symbol}, venue id {venue_id or 'not known'}) is {reason}. It is held "
                   f"UNKNOWN with {filled} filled (never sent again; reconciliation keeps asking). Fix: look for it on "
                   "the venue (its web site's order history or export, by client order id): if it filled, compare its "
                   "fills there with the position")
        self.ctx.log.error("%s", message)
        self.ctx.alert(AlertLevel.ERROR, "order-beyond-history", message, exchange=self.name, order=cid)

    def _first_beyond_history(self, what: str, key: str) -> bool:
        """Whether ``what`` ("fills", "order") of ``key`` is alerted as beyond the venue's history for the first time
        (remembered: the newest :data:`BEYOND_HISTORY_KEPT`)."""
        if (what, key) in self._beyond_history:
            return False
        self._beyond_history[(what, key)] = None
        if len(self._beyond_history) > BEYOND_HISTORY_KEPT:
            self._beyond_history.pop(next(iter(self._beyond_history)))
        return True

    def _finished_lists(self) -> tuple[str, tuple[str, ...]] | None:
        """(the ``features`` name of the venue's list of finished orders, the ccxt methods that read it whole between
        them): ``fetchClosedOrders``; ``fetchOrders`` where ccxt emulates ``fetchClosedOrders`` with it (Crypto.com:
        ccxt's emulation keeps the filled orders only, never a cancelled one); where ccxt's ``fetchClosedOrders``
        leaves the cancelled orders out, the lists :data:`FINISHED_LISTS` names (OKX's filled and cancelled ones).
        None where ccxt has none (its gemini)."""
        has = self.api.has
        if has.get("fetchClosedOrders") == "emulated" and has.get("fetchOrders"):
            return "fetchOrders", ("fetch_orders",)
        if not has.get("fetchClosedOrders"):
            return None
        return "fetchClosedOrders", FINISHED_LISTS.get(self.settings.id, ("fetch_closed_orders",))

    async def _fetch(self, symbol: str, client_order_id: str, since_ms: int | None,
                     venue_order_id: str | None = None) -> OrderState | None:
        vid = self.venue_client_id(client_order_id)
        found = None
        if self._rule is not None and self._rule.fetch_by_id and self.api.has.get("fetchOrder"):
            try:
                found = await self._call("look-up", False, "fetch_order", None, symbol, {"clientOrderId": vid})
            except PermanentError:  # OrderNotFound, or a refusal ccxt does not class so (MEXC's -2013 "Order does
                found = None  # not exist." is a plain ExchangeError): the lists below say (a real fault fails there)
            except TransientError as exc:
                if not ccxt_fault(exc):
                    raise  # the venue may not have been asked: the lists could be partial, never guess from them
                found = None  # ccxt's own code failed on the answer (bitget, for an order it does not have)
        if found is None:  # some venues answer by client id only while the order rests: scan the lists
            found = await self._listed(symbol, vid, since_ms)
        tracked = self._tracked.get(client_order_id)
        venue_order_id = tracked[1] if tracked is not None and tracked[1] else venue_order_id
        if found is None and venue_order_id and self.api.has.get("fetchOrder"):
            # a venue whose lists hold no finished orders (ccxt's gemini: open orders only) and whose fetch_order
            # takes its own order id only (Gemini's "Get Order Status" by order_id): an order tracked this run, or
            # stored with the venue id its answer gave, which left the open list, is asked for by that id (its fills
            # were never read otherwise)
            found = await self._call("look-up", False, "fetch_order", venue_order_id, symbol)
        if found is None:
            if not self.api.has.get("fetchOpenOrders") or self._finished_lists() is None:
                # None promises "never reached the venue" (the executor sends it again): only lists that could show
                # the order can say so. An order that filled or was cancelled is in no list this venue has.
                raise UnknownOutcome(f"{self.name}: {client_order_id} is not among the open {symbol} orders, and "
                                     f"{self.settings.id} through ccxt cannot list finished orders (no "
                                     "fetchClosedOrders, no fetchOrders): it may have filled or been cancelled, or "
                                     "never arrived; cannot tell")
            return None
        state = await self._with_fills(client_order_id, symbol, found)
        if self._unsettled(state) and state.exchange_order_id is not None:
            self.track(client_order_id, symbol, state.exchange_order_id, state)
        return state

    async def _listed(self, symbol: str, vid: str, since_ms: int | None) -> dict[str, Any] | None:
        """The order of venue client id ``vid`` in the open order list, else in the finished ones
        (:meth:`_finished_lists`, each in turn: OKX's filled, then its cancelled; None where there are none: the caller
        cannot tell then). Each request asks the venue's largest page (ccxt's ``features`` ``limit``) and none spans
        more than the venue takes (``untilDays``) or starts before what it keeps (``daysBack``,
        :func:`.history.begins_ms`: MEXC's 7 days; a request from further back is refused, or answered without the
        orders made then: :meth:`find_order` says what lies before is beyond its history); from ``since_ms`` on, a
        range whose page comes back full is read again in halves, at most :data:`LOOKUP_CALLS` requests in all. None
        only when every list was read whole; a full page without it (without ``since_ms``, the newest page only) is
        ``UnknownOutcome``.

        Ranges are read oldest first, so those read whole lie before the next one: a look cut short (the executor's
        ``request_timeout_s`` cancels it: Crypto.com's order history takes a day a request, one a second; or past
        :data:`LOOKUP_CALLS`) leaves where it stopped in each list (:attr:`_lookups`), and the next look at the order
        goes on from there instead of reading the same first ranges again, for ever."""
        has = self.api.has
        if has.get("fetchOpenOrders"):
            hits = [o for o in await self._call("look-up", False, "fetch_open_orders", symbol)
                    if o.get("clientOrderId") == vid]
            if hits:
                return dict(hits[-1])
        finished = self._finished_lists()
        if finished is None:
            return None
        name, methods = finished
        limits = ((self.api.features or {}).get("spot") or {}).get(name) or {}
        page = int(limits.get("limit") or LOOKUP_PAGE)
        calls = 0
        for method in methods:
            ranges = self._lookup_ranges(vid, method, name, since_ms, limits)
            while ranges:
                if calls >= LOOKUP_CALLS:
                    raise UnknownOutcome(f"{self.name}: {vid} not among the {symbol} orders of the {calls} lists read "
                                         f"({page} a page); more remain (the next look goes on from there)")
                lo, hi = ranges.pop()
                calls += 1
                orders = await self._call("look-up", False, method, symbol, lo, page,
                                          {} if hi is None else {"until": hi})
                hits = [o for o in orders if o.get("clientOrderId") == vid]
                if hits:
                    for each in methods:
                        self._lookups.pop((each, vid), None)
                    return dict(hits[-1])
                if len(orders) < page:  # read whole
                    if since_ms is not None and hi is not None and \
                            hi < self.ctx.clock.time_ns() // 1_000_000 - LOOKUP_SKEW_MS:  # ...and settled
                        self._lookups.pop((method, vid), None)
                        self._lookups[(method, vid)] = (since_ms, hi + 1)
                        if len(self._lookups) > LOOKUP_RESUMES_KEPT:
                            self._lookups.pop(next(iter(self._lookups)))
                    continue
                if lo is None or hi is None or hi - lo < 2_000:  # (venues that count seconds cannot split it further)
                    raise UnknownOutcome(f"{self.name}: {vid} not in the {page} {symbol} orders the venue listed, a "
                                         "full page: more remain")
                mid = (lo + hi) // 2
                ranges += [(mid + 1, hi), (lo, mid)]
        for method in methods:
            self._lookups.pop((method, vid), None)
        return None

    def _lookup_ranges(self, vid: str, method: str, name: str, since_ms: int | None,
                       limits: dict[str, Any]) -> list[tuple[int | None, int | None]]:
        """The ranges of the finished list ``method`` (``features`` name ``name``, its ``limits``) a look-up of ``vid``
        from ``since_ms`` reads, the last to read first: from ``since_ms``, or where its last look stopped
        (:attr:`_lookups`), or where the list's history begins, whichever is latest, to now, each no longer than the
        venue takes; without ``since_ms``, the newest page (one range without bounds)."""
        if since_ms is None:
            return [(None, None)]
        days = limits.get("untilDays")
        span = LOOKUP_RANGE_MS.get(self.settings.id, int(Decimal(str(days)) * DAY_MS) if days else None)
        end = self.ctx.clock.time_ns() // 1_000_000 + LOOKUP_SKEW_MS
        ranges: list[tuple[int | None, int | None]] = []
        start = since_ms
        resumed = self._lookups.get((method, vid))
        if resumed is not None and resumed[0] == since_ms:
            start = max(since_ms, resumed[1])
        begins = history.begins_ms(self.api, self.settings.id, name, self.ctx.clock.time_ns() // 1_000_000)
        if begins is not None:
            start = max(start, begins)  # what lies before is not listed (find_order says so)
        while start <= end:
            stop = end if span is None else min(end, start + span - 1)
            ranges.append((start, stop))
            start = stop + 1
        ranges.reverse()  # the oldest first: the order was made at the start
        return ranges

    @staticmethod
    def _unsettled(state: OrderState) -> bool:
        """Still to be polled: the order is not final, or its trades do not add up to what it filled yet (the
        venue's trade list lagging its order state: a final order polled no more would never get those fills)."""
        return not state.status.terminal or sum(f.qty for f in state.fills) < state.filled_qty

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        out = []
        for sym in [symbol] if symbol is not None else self.settings.symbols:
            for o in await self._call("open orders", False, "fetch_open_orders", sym):
                out.append(order_state(self._our_id(o.get("clientOrderId") or str(o["id"])), o))
        return out

    async def balances(self) -> dict[str, Balance]:
        result = await self._call("balances", False, "fetch_balance")
        out = {}
        for asset, total in (result.get("total") or {}).items():
            amount = dec(total, Decimal(0)) or Decimal(0)
            free = dec((result.get("free") or {}).get(asset), amount) or Decimal(0)
            out[asset] = Balance(asset, free, amount)
        return out

    # --- fills ------------------------------------------------------------------------------

    async def _with_fills(self, cid: str, symbol: str, order: dict[str, Any]) -> OrderState:
        state = order_state(cid, order)
        if state.filled_qty <= 0 or state.exchange_order_id is None:
            return state
        quote = split_symbol(symbol)[1]
        created = order.get("timestamp")
        trades = await self._order_trades(symbol, state.exchange_order_id, None if created is None else int(created),
                                          state.filled_qty, cid)
        kept = self.memory.fills
        for t in trades:
            if str(t["id"]) not in kept:
                self.memory.keep(fill_from_trade(self.name, symbol, cid, t, quote))
        fills = tuple(kept[str(t["id"])] for t in trades)
        self.memory.forget_old()  # after the answer is made: this order's trades are the newest anyway
        result = OrderState(cid, state.status, state.exchange_order_id, state.filled_qty, state.avg_fill_price,
                            fills, state.reason)
        if not self._unsettled(result):
            self._trade_windows.pop(state.exchange_order_id, None)
        elif created is not None:
            self._fills_beyond_history(symbol, result, int(created))
        return result

    def _fills_beyond_history(self, symbol: str, state: OrderState, created_ms: int) -> None:
        """Alert, once per order, an order made before the venue's trade history begins (:mod:`.history`: Bitget's 90
        days, MEXC's 30) whose fills read add up to less than it filled: the rest may be older than anything the venue
        lists, and the position and PnL (made of fills) lack them while the order shows the venue's filled figure."""
        kept_ms = history.kept_ms(self.api, self.settings.id, "fetchMyTrades")
        begins_ms = self._trades_begin_ms()
        oid = state.exchange_order_id
        if kept_ms is None or begins_ms is None or oid is None or created_ms >= begins_ms:
            return
        if not self._first_beyond_history("fills", oid):
            return
        read = sum((f.qty for f in state.fills), Decimal(0))
        begins = dt.datetime.fromtimestamp(begins_ms / 1000, dt.UTC)
        made = dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC)
        message = (f"{self.name}: order {state.client_order_id} ({symbol}, venue id {oid}, made {made:%Y-%m-%d}) "
                   f"filled {state.filled_qty} but the fills read add up to {read}: {self.settings.id} lists no fill "
                   f"older than {history.kept_text(kept_ms)} (none before {begins:%Y-%m-%d %H:%M} UTC), so the other "
                   f"{state.filled_qty - read} may never be read: the order shows the venue's filled quantity, the "
                   "position and PnL lack those fills. Compare them with the venue (its web site exports older fills)")
        self.ctx.log.warning("%s", message)
        self.ctx.alert(AlertLevel.WARNING, "fills-beyond-history", message, exchange=self.name,
                       order=state.client_order_id)

    async def _order_trades(self, symbol: str, order_id: str, created_ms: int | None,
                            filled: Decimal, cid: str = "") -> list[dict[str, Any]]:
        """The order's trades: by order where the venue lists them so; else from the account's trade list, read
        from the order's creation on (with the venue's own order filter where it has one), page after page until
        they add up to what it filled, at most :data:`TRADE_PAGES` pages holding trades (an order's trades the
        newest page of the account's missed were never read). On a venue that takes a limited time range
        (:data:`TRADE_WINDOW_MS`) each page ends at most that long after it starts, and a window read whole moves on
        to the next one, up to now (an order found again after a restart days later), at most
        :data:`TRADE_WINDOWS` windows at one look; the next look at an order not settled goes on from the first
        window it has not read whole after it ended. A venue whose list gives the newest trades first
        (:data:`TRADE_OLDER_CURSOR`) is read backward from a full page instead, by its older-page cursor."""
        if self.api.has.get("fetchOrderTrades") is True:
            return list(await self._call("order trades", False, "fetch_order_trades", order_id, symbol))
        key = TRADE_ORDER_PARAMS.get(self.settings.id)
        params = {} if key is None else {key: order_id}
        cursor: dict[str, str] = {}  # the older-page cursor (TRADE_OLDER_CURSOR) within the range being read
        since_ms_key = TRADE_SINCE_MS_PARAM.get(self.settings.id)
        window_ms = self._trade_window_ms()
        page_size = self._trade_page_size()
        since = created_ms
        mine: dict[str, dict[str, Any]] = {}
        if window_ms is not None and order_id in self._trade_windows:
            since, settled = self._trade_windows[order_id]
            mine.update(settled)
        begins_ms = self._trades_begin_ms()
        if since is not None and begins_ms is not None and since < begins_ms:
            since = begins_ms  # a range from further back is refused (and nothing older is listed)
        seen: set[str] = set(mine)
        pages = windows = 0
        while pages < TRADE_PAGES:
            now_ms = self.ctx.clock.time_ns() // 10**6
            until = None
            if window_ms is not None and since is not None and since + window_ms < now_ms:
                if windows >= TRADE_WINDOWS:
                    break  # the next look goes on from here
                windows += 1
                until = since + window_ms  # a longer range is refused; up to now needs no end
            ask: dict[str, Any] = {**params, **cursor}
            if until is not None:
                ask["until"] = until
            if since is not None and since_ms_key is not None:
                ask[since_ms_key] = since  # the venue's own, in ms (ccxt sends whole seconds)
            page = await self._call("my trades", False, "fetch_my_trades", symbol, since, page_size, ask)
            pages += 1 if page else 0
            new = [t for t in page if str(t["id"]) not in seen]
            seen.update(str(t["id"]) for t in new)
            mine.update((str(t["id"]), t) for t in new if str(t.get("order")) == order_id)
            times = [int(t["timestamp"]) for t in page if t.get("timestamp") is not None]
            if sum((dec(t.get("amount")) or Decimal(0) for t in mine.values()), Decimal(0)) >= filled:
                break
            if since is not None and until is not None and len(page) < page_size:
                since, cursor = until + 1, {}  # this window read whole: the next one
                if until < now_ms - TRADE_SETTLED_MS:  # ...and no trade of it is still to be listed
                    self._trade_windows[order_id] = (since, dict(mine))
                continue
            older = TRADE_OLDER_CURSOR.get(self.settings.id)
            ids = [int(t["id"]) for t in page if str(t.get("id", "")).isdigit()]
            if older is not None and ids and len(page) >= page_size:
                cursor = {older: str(min(ids))}  # the newest of the range first: the page before this one's oldest
                continue
            if since is None or not times or len(page) < page_size:
                break  # all of it read, or no time to page on (the newest page is all there is)
            if max(times) <= since:  # a whole page in one millisecond: the next page cannot start inside it
                self.ctx.log.warning("%s: order %s (venue id %s): %d trades at %d ms fill a page and cannot be "
                                     "paged past: its trades beyond them in that millisecond are not read", self.name,
                                     cid, order_id, len(page), since)
            since = max(max(times), since + 1)  # the same millisecond again: its other trades, known ones skipped
        else:
            self.ctx.log.warning("%s: order %s (venue id %s): its trades read stopped at %d pages (TRADE_PAGES) "
                                 "short of what it filled; the next poll reads again", self.name, cid, order_id, pages)
        return list(mine.values())

    def _not_found_answer(self, cid: str, symbol: str, oid: str, last: OrderState, why: str,
                          beyond: str | None = None) -> None:
        """The venue answered a poll of tracked order ``cid`` "not found": counted and logged as a failed poll, and
        after :data:`NOT_FOUND_POLLS` such answers in a row over :data:`NOT_FOUND_S` at least, reported UNKNOWN (once:
        it is no longer tracked), alerted with what to do, and polled no more. ``beyond``: the order is older than the
        venue's lists keep, in words (:meth:`_history_lacks`): that is the reason it is reported with, and its alert
        the one ``order-beyond-history`` (its look-up after a restart, or reconciliation's, says the same and does not
        alert it again)."""
        now = self.ctx.clock.monotonic()
        count, first = self._not_found.get(cid, (0, now))
        count += 1
        self._not_found[cid] = (count, first)
        self.counters.poll_errors += 1
        if count < NOT_FOUND_POLLS or now - first < NOT_FOUND_S:
            self.ctx.log.warning("%s: poll of order %s failed (%s); the other orders are polled, it is asked again "
                                 "next poll (%d \"not found\" in a row)", self.name, cid, why, count)
            return
        del self._not_found[cid]
        self._tracked.pop(cid, None)
        self._created.pop(cid, None)
        self._lagging.pop(cid, None)
        oid = last.exchange_order_id or oid
        self._trade_windows.pop(oid, None)
        if beyond is not None:
            self.ctx.bus.publish(OrderReport(self.name, symbol, OrderState(
                cid, OrderStatus.UNKNOWN, oid or None, last.filled_qty, last.avg_fill_price, (), beyond),
                self.ctx.clock.time_ns()))
            self._alert_beyond_history(cid, symbol, oid or None, last.filled_qty, beyond)
            return
        cannot_tell = (f"{self.settings.id} no longer knows it: {count} look-ups over {now - first:.0f} s answered "
                       f"not found (the last: {why}); whether it filled further or was cancelled cannot be told")
        self.ctx.bus.publish(OrderReport(self.name, symbol, OrderState(
            cid, OrderStatus.UNKNOWN, oid or None, last.filled_qty, last.avg_fill_price, (), cannot_tell),
            self.ctx.clock.time_ns()))
        message = (f"{self.name}: order {cid} ({symbol}, venue id {oid or 'not known'}): {cannot_tell}. It is polled "
                   f"no more and held UNKNOWN with {last.filled_qty} filled (never sent again; reconciliation keeps "
                   "asking). Fix: check it on the venue (its order history, or its web site): if it still rests "
                   "there, cancel it there; compare its fills there with the position")
        self.ctx.log.error("%s", message)
        self.ctx.alert(AlertLevel.ERROR, "order-unknown-to-venue", message, exchange=self.name, order=cid)

    async def _poll_look_up(self, symbol: str, cid: str) -> tuple[OrderState | None, str]:
        """A fill poll's look-up of tracked order ``cid``: (its state, "") or (None, why the venue answered "not
        found"). First as any look-up (:meth:`fetch_order`: the newest page of the venue's lists); where that does not
        find it and its creation time is known (:attr:`_created`), again through the lists from then on (those read
        without a start may hold the last days only: Bybit's 7)."""
        why = "not in the venue's order lists"
        try:
            state = await self.fetch_order(symbol, cid)
        except OrderNotFound as exc:  # the venue answered: it has no such order
            state, why = None, str(exc)
        since = self._since_ms(self._created.get(cid, 0))
        if state is not None or since is None:
            return state, why
        try:
            return await self._fetch(symbol, cid, since), why
        except OrderNotFound as exc:
            return None, str(exc)

    def _trades_begin_ms(self) -> int | None:
        """The earliest start (ms, our clock) of a range of the account's trades the venue takes now
        (:func:`.history.begins_ms` of fetchMyTrades); None: no limit known."""
        return history.begins_ms(self.api, self.settings.id, "fetchMyTrades", self.ctx.clock.time_ns() // 1_000_000)

    def _trade_page_size(self) -> int:
        """The page of trades asked of the venue: its documented largest (:data:`TRADE_PAGE_LIMIT`), else
        :data:`TRADE_PAGE_SIZE`."""
        return TRADE_PAGE_LIMIT.get(self.settings.id, TRADE_PAGE_SIZE)

    def _trade_window_ms(self) -> int | None:
        """The longest range (ms) the venue's fetchMyTrades takes: :data:`TRADE_WINDOW_MS`, else ccxt's ``features``
        ``untilDays`` for it (Bitget's 90: its ``GET /api/v2/spot/trade/fills`` refuses a ``startTime`` to
        ``endTime`` over 90 days, and ``endTime`` is now when not sent); None: any range."""
        window = TRADE_WINDOW_MS.get(self.settings.id)
        if window is not None:
            return window
        limits = ((self.api.features or {}).get("spot") or {}).get("fetchMyTrades") or {}
        days = limits.get("untilDays")
        return int(Decimal(str(days)) * DAY_MS) if days else None

    async def poll_once(self) -> None:
        """One poll of every tracked order (also called by tests). One order's failing look-up is logged and counted
        (``counters.poll_errors``) and the others are polled all the same (the first error ended the poll: the
        orders tracked after it were never read). A rate limit is no failure of one order's look-up: it holds every
        REST call for ``rate_limit_pause_s``, so it ends the poll (``RateLimited`` to the poll loop, which logs it
        once) and the orders are asked next poll (each of them was counted and logged failed, unasked). An order the
        venue answers "not found" for (:data:`NOT_FOUND_POLLS`) is counted and logged so too, until it is given up
        on (:meth:`_not_found_answer`)."""
        for cid in [c for c in self._not_found if c not in self._tracked]:
            del self._not_found[cid]  # final, or given up on, another way
        for cid in [c for c in self._created if c not in self._tracked]:
            del self._created[cid]
        for cid, (symbol, oid, last) in list(self._tracked.items()):
            if cid not in self._tracked:
                continue  # final meanwhile
            try:
                state, why = await self._poll_look_up(symbol, cid)
            except (asyncio.CancelledError, RateLimited):
                raise
            except Exception as exc:
                self.counters.poll_errors += 1
                self.ctx.log.warning("%s: poll of order %s failed (%s); the other orders are polled, it is asked "
                                     "again next poll", self.name, cid, exc)
                continue
            if state is None:  # the venue answered: it has no such order (or its lists, read whole, do not hold it)
                created = self._created.get(cid, 0)
                since = self._since_ms(created)
                beyond = None if since is None else self._history_lacks(since, created)
                self._not_found_answer(cid, symbol, oid, last, why, beyond)
                continue
            self._not_found.pop(cid, None)
            self.report_change(cid, symbol, state.exchange_order_id or "", last, state)
            if not state.status.terminal or not self._unsettled(state):
                self._lagging.pop(cid, None)
                continue
            polls = self._lagging[cid] = self._lagging.get(cid, 0) + 1  # final, some trades not listed yet
            if polls < LAGGING_POLLS:
                self._tracked[cid] = (symbol, state.exchange_order_id or "", state)
            else:
                self._lagging.pop(cid, None)
                self._tracked.pop(cid, None)
                self._created.pop(cid, None)
                self._trade_windows.pop(state.exchange_order_id or "", None)
                self.ctx.log.error("%s: order %s filled %s but its trades still show %s after %d polls: its other "
                                   "fills were never read; compare the position with the venue", self.name, cid,
                                   state.filled_qty, sum(f.qty for f in state.fills), polls)
