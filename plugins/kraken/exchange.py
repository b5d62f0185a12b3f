"""Kraken as an arbot Exchange: verified books from WebSocket v2, orders over signed REST.

**Client order ids.** Kraken's ``cl_ord_id`` is a UUID or free text of at most 18 characters, and
it is unique only among *open* orders. An id that fits is sent as it is; a longer one is sent as
``uuid5(ARBOT_NAMESPACE, id)``, which is deterministic, so the same order is found again by the
same id after a restart. A lost AddOrder answer (timeout, dropped connection) raises
``UnknownOutcome``; the executor then calls :meth:`KrakenExchange.fetch_order`, which asks
``OpenOrders`` and then ``ClosedOrders`` filtered by ``cl_ord_id`` before anything is sent again.
A request whose answer was lost may still be queued at Kraken, so every AddOrder carries a ``deadline``
(``request_timeout_s`` ahead, 5 to 55 s) past which the engine refuses it; until then (and
``CLOCK_SKEW_ALLOWANCE_S`` more) a look-up that finds nothing raises ``UnknownOutcome`` rather than
answering "never placed": an IOC closes at once, so ``cl_ord_id`` uniqueness would not stop a resend
from trading twice. (After a restart that memory is gone: the executor does not resend what a restart
finds unknown, and keeps an order not found UNKNOWN for :meth:`KrakenExchange.late_arrival_s`, adopting it if
it lands.)
AddOrder's answer counts the trades of the order the executions stream delivered before it (the stream is often
faster than REST).
An AddOrder Kraken refuses because an open order already carries the ``cl_ord_id`` (an earlier attempt it took
after the look-up found nothing) answers that order's state: it is ours, and it rests and fills whatever we answer.

**Which open orders are ours.** ``open_orders`` lists an order under our id when its ``cl_ord_id`` is our id
(free text) or the uuid5 of an id known this run (placed or looked up: recovery looks up every order the store
holds unfinished), and otherwise under the ``cl_ord_id`` itself. A uuid5 cannot be read back, and its namespace
cannot be read from it either, so any version-5 UUID ``cl_ord_id`` is *possibly ours* (:meth:`derived_client_id`):
the start-up check counts it as ours unless an unfinished order of the store, under any bot of the database,
derives to it. An order without ``cl_ord_id``, or with free text or a UUID of another version, is another
client's. The price: another client of the same API key sending uuid5 ids is taken for a lost store of ours (give
each bot its own key: the dead-man switch asks it anyway), and ``--cancel-unknown`` would cancel its orders.

**Fills as they happen, polling as the reconciler.** With API keys, the private WebSocket v2
``executions`` channel (:mod:`.private`) delivers each of our trades and order changes as they
happen: a ``trade`` report is published at once as a ``Fill`` (trade id = ``exec_id``, Kraken's
trade txid) and then an ``OrderReport``. Orders we placed and that are not final are still polled
with ``QueryOrders`` (``trades=true``; new trade ids read with ``QueryTrades``), in batches of the
most txids Kraken takes per call (50 and 20; more is refused as ``EGeneral:Invalid arguments``): every
``stream_poll_s`` while the stream is up (reconciliation), every ``fill_poll_s`` while it is down
(the fallback). Both paths carry the same trade ids, so the executor applies each fill once. The
stream dropping and coming back are alerted; on its return one poll runs at once, so nothing that
happened meanwhile is missed.

**Fee credits.** The trade history states a fee in the quote only; the fee credits (KFEE) a trade the poll read
used come from the ledger, which Kraken may write after the trade shows: a trade whose credits it does not show yet
is looked for again (:meth:`KrakenExchange.look_for_late_fee_credits`) for ``FEE_CREDITS_LATE_S``, and credits found
are published as the fee-only fill ``TID:fee:KFEE`` the stream makes, applied once.

**Dead-man switch.** With ``dead_man_s`` > 0 the exchange arms Kraken's ``CancelAllOrdersAfter``
at start and re-arms it every ``dead_man_refresh_s``: if the bot's machine or network dies, Kraken
itself cancels every resting order of the account ``dead_man_s`` after the last refresh. A clean
stop disarms it (``timeout=0``), so with ``[bot] on_shutdown = "keep"`` the orders stay (with
``"cancel"`` the bot has cancelled them already). A failed arming or refresh is alerted (ERROR),
and its recovery too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from dataclasses import replace
from decimal import Decimal

from bot.api import (
    Balance,
    Context,
    ExchangeError,
    FeedState,
    Fill,
    Liquidity,
    MarketInfo,
    Order,
    OrderNotFound,
    OrderState,
    OrderStatus,
    OrderType,
    PermanentError,
    Side,
    TimeInForce,
    UnknownOutcome,
    split_symbol,
)
from bot.api.kit import REDACTOR, BookPublisher, DeadManSwitch, OrderBook, OrderMemory, PollingVenue, TokenBucket

from .book import KrakenBooks
from .feed import KrakenFeed
from .private import KrakenExecutions, timestamp_ns
from .record import KrakenRecorder
from .rest import DuplicateClientId, KrakenRest, NonceFile
from .settings import KrakenSettings
from .transfers import KrakenTransfers

log = logging.getLogger("arbot.kraken")

ARBOT_NAMESPACE = uuid.UUID("5b0c7d0e-2f4e-4d59-9a43-6a7262bf7401")
_FREE_TEXT_ID = re.compile(r"[A-Za-z0-9_-]{1,18}")
# Kraken's legacy X/Z codes (its oldest assets) and XBT/XDG, named as the WebSocket v2 symbols name them
_ASSETS = {"XXBT": "BTC", "XBT": "BTC", "XETH": "ETH", "ZUSD": "USD", "ZEUR": "EUR", "ZGBP": "GBP",
           "ZJPY": "JPY", "ZCAD": "CAD", "ZAUD": "AUD", "XXRP": "XRP", "XLTC": "LTC", "XXLM": "XLM", "XXDG": "DOGE",
           "XDG": "DOGE", "XXMR": "XMR", "XZEC": "ZEC", "XETC": "ETC", "XMLN": "MLN", "XREP": "REP"}

NONCE_FILE = "kraken-nonces.json"
"""In the data directory: the nonces reserved per API key (by digest), so a restart never goes below them."""

DEADLINE_MIN_S = 5.0
DEADLINE_MAX_S = 55.0
"""AddOrder's ``deadline`` must be 2 to 60 s ahead when Kraken receives it; ours is ``request_timeout_s`` ahead,
clamped to 5..55 s so that the request's latency and a few seconds of clock skew never make it invalid."""
CLOCK_SKEW_ALLOWANCE_S = 2.0
"""How far our clock may run ahead of Kraken's before a look-up after a lost AddOrder answer could end too early."""

QUERY_ORDERS_MAX = 50
"""txids Kraken takes in one ``QueryOrders`` call."""
QUERY_TRADES_MAX = 20
"""txids Kraken takes in one ``QueryTrades`` call."""
FEE_CREDITS = "KFEE"
"""Kraken's fee credits: they pay (part of) a USD fee, which the trade history does not state (the ledger does)."""
LEDGER_PAGE = 50
"""Entries one ``Ledgers`` call answers (Kraken: 50 at a time)."""
LEDGER_PAGES_MAX = 20
"""``Ledgers`` pages one poll reads at most for the fee credits of the trades it read."""
FEE_CREDITS_LATE_S = 120.0
"""How long after the poll read a trade whose fee credits the ledger did not show the ledger is read again for them:
Kraken may write a trade's KFEE entry after its trade history shows the trade. Past it the trade is taken to have
used none (most trades use none: a bound, not a wait for something known to come)."""
FEE_CREDITS_RETRY_S = 10.0
"""Between two such ledger reads (one ``Ledgers`` call for every trade still due)."""

ORDERS_KEPT = 100_000
"""Orders whose cl_ord_id and trades are remembered (the newest); an order still tracked is never forgotten. An older
one is read from Kraken again if ever asked for (``fetch_order``, ``QueryTrades``), as after a restart, and a stream
report of it is ignored like one of another client; a trade read again is applied once all the same (the executor
de-duplicates fills by exchange and trade id)."""


def rfc3339_ms(ns: int) -> str:
    """Integer ns since the epoch -> ``2026-12-07T06:20:01.123Z`` (UTC, milliseconds: AddOrder's ``deadline``)."""
    seconds, rest_ns = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest_ns // 1_000_000:03d}Z"


def venue_client_id(client_order_id: str) -> str:
    """The ``cl_ord_id`` Kraken gets for one of our client order ids (deterministic). An id that already is a
    version-5 UUID (one ``open_orders`` could not read back, listed as it is) is sent as it is."""
    if _FREE_TEXT_ID.fullmatch(client_order_id) or is_uuid5(client_order_id):
        return client_order_id
    return str(uuid.uuid5(ARBOT_NAMESPACE, client_order_id))


def is_uuid5(text: str) -> bool:
    """Whether ``text`` is a version-5 UUID in its canonical form, the shape of the ids derived from ours."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return False
    return parsed.version == 5 and str(parsed) == text


def asset_name(kraken_asset: str) -> str:
    """Kraken's balance keys (``XXBT``, ``ZUSD``) -> the names our symbols use (``BTC``, ``USD``)."""
    return _ASSETS.get(kraken_asset, kraken_asset)


WS_TOKEN_VALID_S = 900.0
"""How long a WebSocket token can start a subscription, when GetWebSocketsToken's answer says none (``expires``)."""

class KrakenExchange(PollingVenue, KrakenTransfers):
    """Kraken spot: book ``depth`` per symbol over WebSocket v2, orders over REST (live mode only)."""

    Settings = KrakenSettings

    @classmethod
    def markets_of(cls, settings: KrakenSettings) -> list[str]:
        """The symbols it subscribes to."""
        return settings.symbols
    simulated = False
    recorder = KrakenRecorder()

    def __init__(self, name: str, settings: KrakenSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.books = KrakenBooks(settings.depth, symbols=settings.symbols, publisher=self._publisher,
                                 on_live=self._on_live)
        self.feed = KrakenFeed(
            settings.ws_url, settings.symbols, settings.depth, self.books,
            silence_timeout_s=settings.silence_timeout_s, reconnect_initial_s=settings.reconnect_initial_s,
            reconnect_max_s=settings.reconnect_max_s, on_state=self.publish_feed_state,
        )
        self.rest: KrakenRest | None = None
        self.memory = OrderMemory(ORDERS_KEPT, self._tracked.__contains__)
        """cl_ord_id -> our client order id, and the trades read, of the newest ORDERS_KEPT orders (and tracked
        ones)."""
        self._ledger_refused = False
        """The key may not read the ledger: fee credits come from the execution stream alone."""
        self.fee_credits_due: dict[str, tuple[Fill, int]] = {}
        """Trade id -> (its fill, when (ns) the poll read it): trades whose fee credits the ledger did not show (yet);
        :meth:`look_for_late_fee_credits`."""
        self._fee_credits_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.private: KrakenExecutions | None = None
        self.dead_man: DeadManSwitch | None = None
        self._ws_token_in_use: tuple[str, float] | None = None
        """The executions stream's token and until when (``time.monotonic``) it could start a subscription."""
        self._deadlines: dict[str, int] = {}
        """cl_ord_id -> the ``deadline`` (ns) of its AddOrder whose answer never came: until then Kraken may still
        place it, so a look-up that finds nothing proves nothing."""

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if s.api_key is not None and s.api_secret is not None:
            bucket = TokenBucket(s.rest_per_s, s.rest_burst)
            self.rest = KrakenRest(s.rest_url, s.api_key.reveal(), s.api_secret.reveal(),
                                   timeout_s=s.request_timeout_s, bucket=bucket,
                                   rate_limit_pause_s=s.rate_limit_pause_s, time_ns=self.ctx.clock.time_ns,
                                   nonce_file=NonceFile(self.ctx.data_dir / NONCE_FILE))
            await self.rest.load_nonces()  # off the loop; an unreadable state file stops the start, as before
        self._running = True
        self.ctx.create_task(self.feed.run(), "market data")
        if self.rest is not None:
            self.ctx.create_task(self.poll_fills(), "fill polling")
            self.ctx.create_task(self._late_fee_credits(), "late fee credits")
            if s.private_stream:
                self.private = KrakenExecutions(
                    s.private_ws_url, self._ws_token, on_report=self._on_execution, on_up=self.stream_up,
                    on_down=self.stream_down, silence_timeout_s=s.silence_timeout_s,
                    reconnect_initial_s=s.reconnect_initial_s, reconnect_max_s=s.reconnect_max_s,
                    on_malformed=lambda _reason: self.poll_soon())
                self.ctx.create_task(self.private.run(), "private order stream")
            if s.dead_man_s:
                self.dead_man = DeadManSwitch(self.name, self.ctx, self._cancel_all_after, timeout_s=s.dead_man_s,
                                              refresh_s=s.dead_man_refresh_s)
                await self.dead_man.start()
        await self.wait_live(s.symbols, s.start_timeout_s)

    async def stop(self) -> None:
        self.stop_polling()
        self._stopping.set()
        self._fee_credits_wakeup.set()
        await self.feed.stop()
        if self.private is not None:
            await self.private.stop()
            self._ws_token_done()
        if self.rest is not None:
            if self.dead_man is not None:
                await self.dead_man.stop()
            await self.rest.close()

    async def reload_secrets(self) -> None:
        """A rotated API key or secret (``arbot ctl reload-secrets``): signed calls use it from the next one on."""
        s = self.settings
        if self.rest is not None and s.api_key is not None and s.api_secret is not None:
            self.rest.use_credentials(s.api_key.reveal(), s.api_secret.reveal())

    # --- dead-man switch -------------------------------------------------------------------

    async def _cancel_all_after(self, timeout_s: int) -> object:
        """``CancelAllOrdersAfter``: Kraken cancels every resting order ``timeout_s`` from now (0 disarms)."""
        return await self._api().private("CancelAllOrdersAfter", {"timeout": timeout_s})

    # --- the private order stream -----------------------------------------------------------

    async def _ws_token(self) -> str:
        """A fresh token for the executions stream's next connection. It is a credential, known to the redactor from
        now on: for as long as it is the one in use (a subscription made with it keeps it valid while it lasts), then,
        once replaced, until the time Kraken gave it to start a subscription is over; then it is forgotten."""
        answer = await self._api().private("GetWebSocketsToken")
        token = str(answer["token"])
        self._ws_token_done()
        REDACTOR.add(token, ttl_s=math.inf)
        try:
            valid_s = float(answer["expires"])
        except (KeyError, TypeError, ValueError):
            valid_s = WS_TOKEN_VALID_S
        self._ws_token_in_use = (token, time.monotonic() + valid_s)
        return token

    def _ws_token_done(self) -> None:
        """The token in use is replaced, or its stream stopped: masked only until it could no longer start one."""
        if self._ws_token_in_use is not None:
            token, valid_until = self._ws_token_in_use
            REDACTOR.add(token, ttl_s=max(0.0, valid_until - time.monotonic()))
            self._ws_token_in_use = None

    def _on_execution(self, report: dict) -> None:
        """One execution report of the ``executions`` channel (snapshot or update)."""
        vid = str(report.get("cl_ord_id") or "")
        txid = str(report.get("order_id") or "")
        cid = self.memory.ids.get(vid)
        tracked = self._tracked.get(cid) if cid is not None else None
        if cid is None:
            by_txid = {t: c for c, (_, t, _) in self._tracked.items()}
            cid = by_txid.get(txid)
            tracked = self._tracked.get(cid) if cid is not None else None
        if cid is None:
            return  # not one of ours (another client of the account)
        symbol = str(report.get("symbol") or (tracked[0] if tracked else ""))
        kind = report.get("exec_type")
        new: tuple[Fill, ...] = ()
        if kind == "trade" and report.get("exec_id"):
            trade, fee_only = self._stream_fills(cid, symbol, report)
            # the trade as first read (the poll may have read it before this report), and the fees in other assets,
            # which only this report states
            if trade.trade_id in self.memory.fills:
                trade = self.memory.fills[trade.trade_id]
            else:
                self.memory.keep(trade)
            self.fee_credits_due.pop(trade.trade_id, None)  # the report names every fee it paid, credits too
            new = (trade, *fee_only)
            self.memory.forget_old()
        if tracked is None:  # not known to be open here (its AddOrder answer is on its way): the fills only
            for fill in new:
                self.ctx.bus.publish(fill)
            return
        _, venue_id, last = tracked
        fills = last.fills + tuple(f for f in new if f not in last.fills)
        filled = sum((f.qty for f in fills), Decimal(0))
        if report.get("cum_qty") is not None and Decimal(str(report["cum_qty"])) > filled:
            self.poll_soon()  # trades this stream did not carry (made while it was down): REST reads them
            return
        status = {"filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED,
                  "expired": OrderStatus.CANCELLED}.get(str(report.get("order_status")), OrderStatus.OPEN)
        avg = Decimal(str(report["avg_price"])) if report.get("avg_price") else last.avg_fill_price
        if new and avg is None:
            avg = new[0].price
        state = OrderState(cid, status, exchange_order_id=venue_id or txid, filled_qty=filled, avg_fill_price=avg,
                           fills=fills, reason=str(report.get("reason") or ""))
        self.report_change(cid, symbol, venue_id, last, state)

    def _stream_fills(self, cid: str, symbol: str, report: dict) -> tuple[Fill, tuple[Fill, ...]]:
        """A ``trade`` report -> its fill, and a fee-only entry (quantity 0) for each other asset it paid a fee in.

        ``fees`` is a list of ``{asset, qty}``: a trade can pay its fee in two assets (fee credits, KFEE, pay part of
        a USD fee). A fill has one fee in one asset, so the fill carries the fee in the quote (every order asks for it
        there, ``fciq``), else the first one named, and each other asset's goes in an entry of its own (trade id
        ``EXEC_ID:fee:ASSET``): no fee is lost, none is added to another asset's."""
        by_asset: dict[str, Decimal] = {}
        for entry in report.get("fees") or []:
            asset = asset_name(str(entry.get("asset")))
            by_asset[asset] = by_asset.get(asset, Decimal(0)) + Decimal(str(entry.get("qty", "0")))
        quote = split_symbol(symbol)[1] if "/" in symbol else ""
        fee_asset = quote if quote in by_asset or not by_asset else next(iter(by_asset))
        exec_id = str(report["exec_id"])
        side = Side.BUY if report.get("side") == "buy" else Side.SELL
        price = Decimal(str(report["last_price"]))
        liquidity = Liquidity.MAKER if report.get("liquidity_ind") == "m" else Liquidity.TAKER
        ts_ns = timestamp_ns(str(report["timestamp"])) if report.get("timestamp") else self.ctx.clock.time_ns()
        fill = Fill(self.name, symbol, cid, exec_id, side, price, Decimal(str(report["last_qty"])),
                    by_asset.pop(fee_asset, Decimal(0)), fee_asset, liquidity, ts_ns)
        fee_only = tuple(Fill(self.name, symbol, cid, f"{exec_id}:fee:{asset}", side, price, Decimal(0), fee, asset,
                              liquidity, ts_ns) for asset, fee in by_asset.items() if fee)
        return fill, fee_only

    # --- market data ------------------------------------------------------------------------

    def _publisher(self, symbol: str, book: OrderBook) -> BookPublisher:
        """What publishes a ``BookUpdate`` view of ``book`` after each verified change (see ``BookPublisher``)."""
        return BookPublisher(self.ctx.bus, self.name, symbol, book, self.settings.publish_levels,
                             self.ctx.clock.time_ns)

    def _on_live(self, symbol: str) -> None:
        """A verified snapshot: the book is trustworthy (again), published as LIVE before the book itself."""
        self.publish_feed_state(symbol, FeedState.LIVE, "snapshot verified")

    def market(self, symbol: str) -> MarketInfo:
        info = self.books.pairs[symbol]  # KeyError: not subscribed, or no instrument data yet
        base, quote = split_symbol(symbol)
        return MarketInfo(
            symbol, base, quote,
            tick_size=info.price_increment or Decimal(1).scaleb(-info.price_precision),
            lot_size=info.qty_increment or Decimal(1).scaleb(-info.qty_precision),
            min_qty=info.qty_min or Decimal(0), min_notional=info.cost_min or Decimal(0),
        )

    # --- orders -----------------------------------------------------------------------------

    def _api(self) -> KrakenRest:
        if self.rest is None:
            raise PermanentError(f"{self.name}: no api_key/api_secret configured: market data only")
        return self.rest

    async def place_order(self, order: Order) -> OrderState:
        rest = self._api()
        vid = venue_client_id(order.client_order_id)
        self.memory.remember(vid, order.client_order_id)
        params = {
            "pair": self.settings.rest_pair(order.symbol),
            "type": "buy" if order.side is Side.BUY else "sell",
            "ordertype": "market" if order.order_type is OrderType.MARKET else "limit",
            # plain decimal text: str() of a Decimal can be "5.0E-7" or "3E+4", which no venue parses as a number
            "volume": f"{order.qty:f}",
            "price": f"{order.price:f}" if order.order_type is OrderType.LIMIT and order.price is not None else None,
            "timeinforce": "IOC" if order.tif is TimeInForce.IOC else None,
            # fee in the quote asset on both sides (Kraken charges a sell's in the base unless told): the asset the
            # trade history (QueryTrades, the poll) reports a fee in, so the stream and the poll record one fill alike
            "oflags": "post,fciq" if order.post_only else "fciq",
            "cl_ord_id": vid,
        }
        # the engine refuses the request once this is past, so a request queued at Kraken beyond it never trades: a
        # look-up after then that finds nothing proves the order was never placed (see fetch_order)
        deadline_ns = self.ctx.clock.time_ns() + int(self._deadline_ahead_s() * 1e9)
        params["deadline"] = rfc3339_ms(deadline_ns)
        earlier = self._deadlines.get(vid)  # an earlier attempt's, whose answer was lost too
        self._deadlines[vid] = deadline_ns  # kept until an answer says what became of this request
        try:
            result = await rest.private("AddOrder", params)
        except UnknownOutcome:
            raise  # it may still reach the engine before its deadline
        except DuplicateClientId:
            self._deadlines.pop(vid, None)
            # the cl_ord_id is derived from our id: the open order carrying it is this one, placed by an earlier attempt
            # whose answer was lost (Kraken took it after the look-up that found nothing). Taken, never rejected: it
            # rests and fills at the venue whatever we answer.
            found = await self.fetch_order(order.symbol, order.client_order_id)
            if found is None:  # closed between the refusal and the look-up: the executor looks it up again
                raise UnknownOutcome(
                    f"{self.name}: {order.client_order_id} refused as a duplicate, then not found") from None
            return found
        except ExchangeError:  # answered: this request was refused, an earlier lost one may still arrive
            if earlier is None:
                self._deadlines.pop(vid, None)
            else:
                self._deadlines[vid] = earlier
            raise
        self._deadlines.pop(vid, None)
        txid = (result.get("txid") or [None])[0]
        # the executions stream may have carried the order's first trades before this answer (published as fills
        # only: the order was not tracked yet); the answer counts them, or the order would read unfilled meanwhile
        fills = tuple(self.memory.fills[t] for t in self.memory.trade_ids.get(order.client_order_id, ())
                      if t in self.memory.fills)
        filled = sum((f.qty for f in fills), Decimal(0))
        avg = sum((f.price * f.qty for f in fills), Decimal(0)) / filled if filled else None
        state = OrderState(order.client_order_id, OrderStatus.OPEN, exchange_order_id=txid, filled_qty=filled,
                           avg_fill_price=avg, fills=fills)
        if txid is not None:
            self.track(order.client_order_id, order.symbol, txid, state)
        return state

    def _deadline_ahead_s(self) -> float:
        """How far ahead of its request an AddOrder's ``deadline`` is."""
        return min(max(self.settings.request_timeout_s, DEADLINE_MIN_S), DEADLINE_MAX_S)

    def late_arrival_s(self) -> float:
        """An AddOrder whose answer was lost may reach the engine until its deadline (and Kraken's clock may be
        behind ours): after a restart, which forgot each request's deadline, an order not found is not proven never
        placed before this long."""
        return self._deadline_ahead_s() + CLOCK_SKEW_ALLOWANCE_S

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        rest = self._api()
        try:
            await rest.private("CancelOrder", {"cl_ord_id": venue_client_id(client_order_id)})
        except OrderNotFound:
            pass  # closed meanwhile, or never seen: the look-up below tells which
        state = await self.fetch_order(symbol, client_order_id)
        if state is None:
            raise OrderNotFound(f"{self.name} has no order {client_order_id}")
        return state

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        rest = self._api()
        vid = venue_client_id(client_order_id)
        self.memory.remember(vid, client_order_id)
        found = (await rest.private("OpenOrders", {"trades": "true", "cl_ord_id": vid})).get("open") or {}
        if not found:
            found = (await rest.private("ClosedOrders", {"trades": "true", "cl_ord_id": vid})).get("closed") or {}
        matches = [(txid, info) for txid, info in found.items() if info.get("cl_ord_id") in (vid, None)]
        if not matches:
            deadline_ns = self._deadlines.get(vid)
            if deadline_ns is not None:
                wait_ns = deadline_ns + int(CLOCK_SKEW_ALLOWANCE_S * 1e9) - self.ctx.clock.time_ns()
                if wait_ns > 0:  # an AddOrder whose answer was lost may still reach the engine: nothing proven yet
                    raise UnknownOutcome(f"{self.name}: {client_order_id} not found, but its AddOrder may still reach "
                                         f"Kraken for {wait_ns / 1e9:.1f} s (its deadline)")
                del self._deadlines[vid]
            return None
        self._deadlines.pop(vid, None)
        txid, info = max(matches, key=lambda m: Decimal(str(m[1].get("opentm", 0))))
        state = await self._state(client_order_id, symbol, txid, info)
        if not state.status.terminal:
            self.track(client_order_id, symbol, txid, state)
        return state

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        rest = self._api()
        found = (await rest.private("OpenOrders", {"trades": "true"})).get("open") or {}
        symbols = {self.settings.rest_pair(sym): sym for sym in self.settings.symbols}
        out = []
        for txid, info in found.items():
            descr = info.get("descr") or {}
            order_symbol = symbols.get(descr.get("pair", ""), descr.get("pair", ""))
            if symbol is not None and order_symbol != symbol:
                continue
            vid = info.get("cl_ord_id") or txid
            cid = self.memory.ids.get(vid, vid)
            out.append(await self._state(cid, order_symbol, txid, info))
        return out

    def venue_client_id(self, client_order_id: str) -> str:
        return venue_client_id(client_order_id)

    def derived_client_id(self, venue_id: str) -> bool:
        """A version-5 UUID: what every id longer than Kraken's 18 characters of free text becomes. The namespace
        cannot be read from the UUID, so any such ``cl_ord_id`` on the account counts as possibly ours."""
        return is_uuid5(venue_id)

    async def balances(self) -> dict[str, Balance]:
        """``BalanceEx``: total is each asset's ``balance``, free that less ``hold_trade`` (what open orders hold).
        An ``ASSET.F`` balance (earning in Kraken Rewards, traded through the base asset) counts in its asset.

        A credit line (``credit`` - ``credit_used``, which Kraken's own "available" adds) is not counted as free:
        it is borrowed, not held."""
        result = await self._api().private("BalanceEx")
        totals: dict[str, Decimal] = {}
        holds: dict[str, Decimal] = {}
        for asset, entry in result.items():
            # ASSET.F earns in Kraken Rewards and is read-only: the base asset transacts with both (Kraken's note on
            # Earn assets), so it counts in that asset. Staked ones (.S, .M, .B) are not tradable: kept apart.
            name = asset_name(asset[:-2] if asset.endswith(".F") else asset)
            totals[name] = totals.get(name, Decimal(0)) + Decimal(str(entry["balance"]))
            holds[name] = holds.get(name, Decimal(0)) + Decimal(str(entry.get("hold_trade") or "0"))
        return {name: Balance(name, max(total - holds[name], Decimal(0)), total) for name, total in totals.items()}

    # --- order state and fills --------------------------------------------------------------

    async def _state(self, cid: str, symbol: str, txid: str, info: dict) -> OrderState:
        volume = Decimal(str(info.get("vol", "0")))
        executed = Decimal(str(info.get("vol_exec", "0")))
        status = info.get("status")
        if status in ("pending", "open"):
            mapped = OrderStatus.OPEN
        elif status == "closed":
            mapped = OrderStatus.FILLED if executed >= volume else OrderStatus.CANCELLED
        elif status in ("canceled", "expired"):
            mapped = OrderStatus.CANCELLED
        else:
            mapped = OrderStatus.UNKNOWN
        trade_ids = [str(t) for t in info.get("trades") or []]
        fills = await self._fills(cid, symbol, info, trade_ids)
        avg = Decimal(str(info["price"])) if executed and info.get("price") not in (None, "0", 0) else None
        return OrderState(cid, mapped, exchange_order_id=txid, filled_qty=executed, avg_fill_price=avg,
                          fills=tuple(fills), reason=str(info.get("reason") or ""))

    async def _fills(self, cid: str, symbol: str, info: dict, trade_ids: list[str]) -> list[Fill]:
        """The order's fills, its trades not known here read by ``QueryTrades`` (the fee in the quote, as the trade
        history states it) with the fee credits each used from the ledger (:meth:`_fee_credits`): a fee-only entry
        ``TID:fee:KFEE`` as the execution stream makes, so either path records the same fees, applied once."""
        missing = [t for t in trade_ids if t not in self.memory.fills]
        quote = split_symbol(symbol)[1] if "/" in symbol else ""
        read: list[Fill] = []
        for start in range(0, len(missing), QUERY_TRADES_MAX):
            batch = missing[start:start + QUERY_TRADES_MAX]
            found = await self._api().private("QueryTrades", {"txid": ",".join(batch)})
            for tid, t in found.items():
                read.append(Fill(
                    self.name, symbol, cid, tid, Side.BUY if t.get("type") == "buy" else Side.SELL,
                    Decimal(str(t["price"])), Decimal(str(t["vol"])), Decimal(str(t.get("fee", "0"))), quote,
                    Liquidity.MAKER if t.get("maker") else Liquidity.TAKER,
                    int(Decimal(str(t.get("time", "0"))) * 1_000_000_000),
                ))
        credits = await self._fee_credits(read) if read else {}
        read_ns = self.ctx.clock.time_ns()
        for fill in read:  # kept once every read succeeded: a failed read leaves them missing, read again next time
            self.memory.keep(fill)
            if credits.get(fill.trade_id):
                self.memory.keep(self._credit_fill(fill, credits[fill.trade_id]))
            elif not self._ledger_refused:  # the ledger may show them later: looked for again, for a while
                self.fee_credits_due[fill.trade_id] = (fill, read_ns)
                self._fee_credits_wakeup.set()
        kept = self.memory.fills
        fills = [kept[k] for t in trade_ids for k in (t, f"{t}:fee:{FEE_CREDITS}") if k in kept]
        self.memory.forget_old()  # after the answer is made: this order's trades are the newest anyway
        return fills

    @staticmethod
    def _credit_fill(trade: Fill, credits: Decimal) -> Fill:
        """The fee-only entry of the fee credits ``trade`` used, under the id the execution stream gives it."""
        return replace(trade, trade_id=f"{trade.trade_id}:fee:{FEE_CREDITS}", qty=Decimal(0), fee=credits,
                       fee_asset=FEE_CREDITS)

    async def look_for_late_fee_credits(self) -> None:
        """Read the ledger once more for the fee credits of the trades still due (:attr:`fee_credits_due`): each
        found is published as its fee-only fill (the executor applies it to its order, once: its id is the one the
        stream and a later poll give it); a trade whose look-back (``FEE_CREDITS_LATE_S``) is over is read this last
        time and then no more. Run every ``FEE_CREDITS_RETRY_S`` while trades are due; also called by tests."""
        if not self.fee_credits_due:
            return
        due = dict(self.fee_credits_due)
        now = self.ctx.clock.time_ns()
        credits = await self._fee_credits([fill for fill, _ in due.values()])
        for tid, (fill, read_ns) in due.items():
            if self.fee_credits_due.get(tid) != (fill, read_ns):
                continue  # the stream reported the trade meanwhile: its report named the credits
            if credits.get(tid):
                credit = self._credit_fill(fill, credits[tid])
                self.memory.keep(credit)
                self.ctx.bus.publish(credit)
            elif now - read_ns < FEE_CREDITS_LATE_S * 1e9 and not self._ledger_refused:
                continue
            del self.fee_credits_due[tid]

    async def _late_fee_credits(self) -> None:
        """While trades are due: :meth:`look_for_late_fee_credits` every ``FEE_CREDITS_RETRY_S``. Run as a task."""
        while self._running:
            if not self.fee_credits_due:
                self._fee_credits_wakeup.clear()
                await self._fee_credits_wakeup.wait()
                continue
            try:
                async with asyncio.timeout(FEE_CREDITS_RETRY_S):
                    await self._stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.look_for_late_fee_credits()
            except Exception as exc:  # read again next time, while the look-back lasts
                log.warning("%s: reading the ledger for late fee credits failed: %s", self.name, exc)

    async def _fee_credits(self, trades: list[Fill]) -> dict[str, Decimal]:
        """Trade id -> the fee credits (KFEE) it used, from the ledger's KFEE entries of those trades (``refid``
        the trade id, ``fee`` what was paid in KFEE): the trade history states a fee in the quote only.

        ``Ledgers`` filtered by asset and the trades' times, ``LEDGER_PAGES_MAX`` pages at most. A key without the
        ledger permission (a permanent refusal) records the trade history's fee alone, with a warning once."""
        if self._ledger_refused:
            return {}
        wanted = {f.trade_id for f in trades}
        params = {"asset": FEE_CREDITS, "type": "trade",
                  "start": str(min(f.ts_ns for f in trades) // 1_000_000_000 - 1),
                  "end": str(max(f.ts_ns for f in trades) // 1_000_000_000 + 2)}
        credits: dict[str, Decimal] = {}
        for page in range(LEDGER_PAGES_MAX):
            try:
                answer = await self._api().private("Ledgers", {**params, "ofs": str(page * LEDGER_PAGE)})
            except PermanentError as exc:
                self._ledger_refused = True
                log.warning("%s: the ledger cannot be read (%s): fee credits (KFEE) of trades the poll reads first "
                            "are not recorded; give the key the \"Query ledger entries\" permission", self.name, exc)
                return credits
            entries = list((answer.get("ledger") or {}).values())
            for entry in entries:
                refid = str(entry.get("refid"))
                if refid in wanted and asset_name(str(entry.get("asset"))) == FEE_CREDITS:
                    credits[refid] = credits.get(refid, Decimal(0)) + Decimal(str(entry.get("fee") or "0"))
            if len(entries) < LEDGER_PAGE or (page + 1) * LEDGER_PAGE >= int(answer.get("count") or 0):
                break
        return credits

    async def poll_once(self) -> None:
        """One poll of every tracked order (also called by tests)."""
        tracked = dict(self._tracked)
        by_txid = {txid: (cid, symbol, last) for cid, (symbol, txid, last) in tracked.items()}
        txids = list(by_txid)
        for start in range(0, len(txids), QUERY_ORDERS_MAX):
            batch = txids[start:start + QUERY_ORDERS_MAX]
            result = await self._api().private("QueryOrders", {"txid": ",".join(batch), "trades": "true"})
            for txid, info in result.items():
                if txid not in by_txid:
                    continue
                cid, symbol, last = by_txid[txid]
                state = await self._state(cid, symbol, txid, info)
                self.report_change(cid, symbol, txid, last, state)
