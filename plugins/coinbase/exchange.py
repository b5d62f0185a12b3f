"""Coinbase Advanced Trade as an arbot Exchange: level2 books over WebSocket, orders over REST.

**Client order ids.** Our client order id is sent as Coinbase's ``client_order_id``. Coinbase
answers a create-order that reuses an id with the order it already holds, so a resend can never
make a second order; still, a lost answer (timeout, dropped connection) raises ``UnknownOutcome``
and the executor looks the order up first: :meth:`CoinbaseExchange.fetch_order` reads the order by
its ``order_id`` when we know it, else lists the product's orders and matches ``client_order_id``: those created
in the hour after the intent, then (a stored order changed more than that hour after its intent: its first send
came before that change) in the hour before its last change, then since the intent, when its time is known (a
create whose answer was lost this run, or the stored order the executor looks up through
:meth:`CoinbaseExchange.find_order`), at most ``LOOKUP_PAGES_MAX`` pages a query, past which the outcome stays
unknown rather than reading the account's whole history.

**Order changes as they happen, polling as the reconciler.** With an API key, the authenticated
``user`` channel (:mod:`.private`) reports each change of one of our orders as it happens; a
changed order is read at once (``GET orders/historical/{order_id}``, then List Fills,
``orders/historical/fills``, when the filled size grew: page after page, following the answer's
``cursor`` until it is empty, at most ``FILL_PAGES_MAX`` pages) and its new fills are published with
Coinbase's ``entry_id`` as trade id (and its ``trade_time`` as time), then an ``OrderReport``. Orders not
final are still polled the
same way: every ``stream_poll_s`` while the stream is up, every ``fill_poll_s`` while it is down.
Both paths carry the same trade ids, so the executor applies each fill once; the stream's loss and
return are alerted, and on its return one poll reads what happened meanwhile.

**Ticker.** The ``ticker`` channel's latest values are kept in ``books.tickers`` (last price, best
bid/ask as received); the book is what strategies see, so nothing more is published for it.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

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
    TransientError,
    UnknownOutcome,
    split_symbol,
)
from bot.api.kit import BookPublisher, PollingVenue, TokenBucket

from .book import CoinbaseBooks, ProductBook
from .feed import CoinbaseFeed
from .private import CoinbaseUserStream
from .record import CoinbaseRecorder
from .rest import CoinbaseRest, JwtSigner, classify_order_failure
from .settings import CoinbaseSettings, product_id

API = "/api/v3/brokerage"
_STATUS = {"OPEN": OrderStatus.OPEN, "PENDING": OrderStatus.OPEN, "QUEUED": OrderStatus.OPEN,
           "CANCEL_QUEUED": OrderStatus.OPEN, "EDIT_QUEUED": OrderStatus.OPEN, "FILLED": OrderStatus.FILLED,
           "CANCELLED": OrderStatus.CANCELLED, "EXPIRED": OrderStatus.CANCELLED, "FAILED": OrderStatus.REJECTED}


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def rfc3339_ns(text: str) -> int | None:
    """``2026-11-22T01:00:01.123456Z`` -> integer ns since the epoch, exact to 9 decimals; None when not that shape."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def decimals_of(increment: str) -> int:
    """``"0.01"`` -> 2, ``"1"`` -> 0: the precision a product's increment implies."""
    exponent = Decimal(increment).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def order_configuration(order: Order) -> dict[str, Any]:
    """Coinbase's ``order_configuration`` for one of our orders."""
    size = f"{order.qty:f}"  # plain decimal text: str() of a Decimal can be "5.0E-7" or "3E+4"
    if order.order_type is OrderType.MARKET:
        return {"market_market_ioc": {"base_size": size}}
    if order.price is None:
        raise PermanentError("a limit order needs a price")
    if order.tif is TimeInForce.IOC:
        if order.post_only:
            raise PermanentError("post-only and immediate-or-cancel contradict each other")
        return {"sor_limit_ioc": {"base_size": size, "limit_price": f"{order.price:f}"}}
    return {"limit_limit_gtc": {"base_size": size, "limit_price": f"{order.price:f}", "post_only": order.post_only}}


ORDERS_KEPT = 100_000
"""Orders whose Coinbase id and fills are remembered (the newest); older ones are read from the venue if asked for."""
FILLS_PAGE = 100
"""Fills asked for per List Fills page (``limit``)."""
FILL_PAGES_MAX = 100
"""List Fills pages read for one order at most: a server whose ``cursor`` never ends cannot hold a poll forever."""
LOOKUP_PAGES_MAX = 4
"""List Orders pages (``LOOKUP_PAGE`` orders each) one look-up by client order id reads at most; past them the answer is
``UnknownOutcome``, not "never placed" (the executor then keeps the order UNKNOWN and reconciliation asks again)."""
LOOKUP_PAGE = 250
LOOKUP_SKEW_S = 300
"""How far before the intent's time a look-up's creation window starts: our clock may run ahead of Coinbase's."""
LOOKUP_WINDOW_S = 3600
"""How long after its intent an order is looked for first: its first send comes well within it (retries, rate-limit
waits) unless its lane held it longer (a store outage), when the orders created since the intent are read next."""
CREATED_KEPT = 10_000
"""Intent times of orders whose create answer never came, kept for their look-up (the newest)."""


def rfc3339_seconds(ns: int) -> str:
    """Integer ns since the epoch -> ``2026-11-22T01:00:01Z`` (UTC, whole seconds, rounded down)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))


class CoinbaseExchange(PollingVenue):
    """Coinbase Advanced Trade spot: level2 books, ticker, orders with client_order_id (live mode only)."""

    Settings = CoinbaseSettings

    @classmethod
    def markets_of(cls, settings: CoinbaseSettings) -> list[str]:
        """The symbols it subscribes to."""
        return settings.symbols
    simulated = False
    recorder = CoinbaseRecorder()

    def __init__(self, name: str, settings: CoinbaseSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        # the whole book: level2 never re-sends a level that comes back into view, so a
        # truncated copy would grow holes after deletions
        self.books = CoinbaseBooks(settings.symbols, on_book=self._on_book)
        self._publishers: dict[str, BookPublisher] = {}
        self.signer: JwtSigner | None = None
        self.feed: CoinbaseFeed | None = None
        self.rest: CoinbaseRest | None = None
        self.products: dict[str, MarketInfo] = {}
        self._order_ids: dict[str, str] = {}
        self._created_ns: dict[str, int] = {}
        """client order id -> its intent's time, for an order whose create answer never came: its look-up asks only
        for the orders created since then."""
        """Our client order id -> Coinbase order_id."""
        self._fills: dict[str, Fill] = {}
        """Trade (entry) id -> its fill, for the orders in :attr:`_fills_by_order`."""
        self._fills_by_order: dict[str, list[Fill]] = {}
        """Our client order id -> its fills as read, oldest order first (at most ORDERS_KEPT orders)."""
        self.private: CoinbaseUserStream | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if s.api_key_name is not None and s.api_private_key is not None:
            self.signer = JwtSigner(s.api_key_name.reveal(), s.api_private_key.reveal(), time.time)
        self.rest = rest = CoinbaseRest(s.rest_url, self.signer, timeout_s=s.request_timeout_s,
                                        bucket=TokenBucket(s.rest_per_s, s.rest_burst),
                                        rate_limit_pause_s=s.rate_limit_pause_s)
        await self._load_products(rest)
        self.feed = CoinbaseFeed(s.ws_url, self.books, silence_timeout_s=s.silence_timeout_s,
                                 reconnect_initial_s=s.reconnect_initial_s, reconnect_max_s=s.reconnect_max_s,
                                 on_state=self.publish_feed_state,
                                 jwt=self.signer.websocket_token if self.signer else None)
        self._running = True
        self.ctx.create_task(self.feed.run(), "market data")
        if self.signer is not None:
            self.ctx.create_task(self.poll_fills(), "fill polling")
            if s.private_stream:
                self.private = CoinbaseUserStream(
                    s.user_ws_url, self.signer.websocket_token, on_order=self._on_user_order, on_up=self.stream_up,
                    on_down=self.stream_down, silence_timeout_s=s.silence_timeout_s,
                    reconnect_initial_s=s.reconnect_initial_s, reconnect_max_s=s.reconnect_max_s,
                    on_malformed=lambda _reason: self.poll_soon(), on_gap=lambda _reason: self.poll_soon())
                self.ctx.create_task(self.private.run(), "private order stream")
        await self.wait_live(s.symbols, s.start_timeout_s)

    async def _load_products(self, rest: CoinbaseRest) -> None:
        """Trading rules and book precisions from the public product endpoint (no key needed)."""
        for symbol in self.settings.symbols:
            try:
                p = await rest.call("GET", f"{API}/market/products/{product_id(symbol)}", public=True)
                base, quote = split_symbol(symbol)
                info = MarketInfo(symbol, base, quote, tick_size=Decimal(str(p["price_increment"])),
                                  lot_size=Decimal(str(p["base_increment"])),
                                  min_qty=Decimal(str(p.get("base_min_size") or 0)),
                                  min_notional=Decimal(str(p.get("quote_min_size") or 0)))
            except (ExchangeError, KeyError, ValueError, ArithmeticError) as exc:
                # the book still works at the default precision; market() stays unknown for it
                self.ctx.log.warning("coinbase product %s: no trading rules (%s)", symbol, exc)
                continue
            self.products[symbol] = info
            self.books.precisions[symbol] = (decimals_of(str(info.tick_size)), decimals_of(str(info.lot_size)))

    async def stop(self) -> None:
        self.stop_polling()
        if self.feed is not None:
            await self.feed.stop()
        if self.private is not None:
            await self.private.stop()
        if self.rest is not None:
            await self.rest.close()

    async def reload_secrets(self) -> None:
        """A rotated CDP key: REST calls and the user channel sign with it from the next JWT on."""
        s = self.settings
        if self.signer is not None and s.api_key_name is not None and s.api_private_key is not None:
            self.signer.use_key(s.api_key_name.reveal(), s.api_private_key.reveal())

    # --- market data ------------------------------------------------------------------------

    def _on_book(self, pb: ProductBook) -> None:
        if self.states.get(pb.symbol) is not FeedState.LIVE:
            self.publish_feed_state(pb.symbol, FeedState.LIVE, "snapshot received")
        pub = self._publishers.get(pb.symbol)
        if pub is None or pub.book is not pb.book:  # a product's book is remade when its precision changes
            pub = self._publishers[pb.symbol] = BookPublisher(
                self.ctx.bus, self.name, pb.symbol, pb.book, self.settings.publish_levels, self.ctx.clock.time_ns)
        pub.publish()  # a view of the book; a subscriber that keeps it gets its own copy before the book changes

    def market(self, symbol: str) -> MarketInfo:
        return self.products[symbol]  # KeyError: not configured, or its rules could not be read

    # --- orders -----------------------------------------------------------------------------

    def _api(self) -> CoinbaseRest:
        if self.rest is None or self.signer is None:
            raise PermanentError(f"{self.name}: no api_key_name/api_private_key configured: market data only")
        return self.rest

    async def place_order(self, order: Order) -> OrderState:
        rest = self._api()
        body = {"client_order_id": order.client_order_id, "product_id": product_id(order.symbol),
                "side": "BUY" if order.side is Side.BUY else "SELL", "order_configuration": order_configuration(order)}
        self._created_ns[order.client_order_id] = order.created_ns or self.ctx.clock.time_ns()
        while len(self._created_ns) > CREATED_KEPT:
            del self._created_ns[next(iter(self._created_ns))]
        try:
            answer = await rest.call("POST", f"{API}/orders", body=body)
        except (PermanentError, TransientError):  # answered, or never sent: nothing to look up
            self._created_ns.pop(order.client_order_id, None)
            raise
        # an UnknownOutcome, a timeout: the intent's time stays for the look-up
        self._created_ns.pop(order.client_order_id, None)
        if not answer.get("success"):
            raise classify_order_failure(answer.get("error_response") or answer)
        order_id = (answer.get("success_response") or {}).get("order_id") or answer.get("order_id")
        if not order_id:
            raise PermanentError(f"coinbase: create order answered without an order_id: {answer}")
        self._remember_id(order.client_order_id, order_id)
        state = OrderState(order.client_order_id, OrderStatus.OPEN, exchange_order_id=order_id)
        self.track(order.client_order_id, order.symbol, order_id, state)
        return state

    async def _find_order_id(self, symbol: str, client_order_id: str, created_ns: int | None = None,
                             sent_by_ns: int | None = None) -> str | None:
        """Coinbase's order id for one of ours: known, else looked for in List Orders by ``client_order_id``.

        With the intent's time (``created_ns``: the stored order's, or a create whose answer was lost this run), the
        orders created from ``LOOKUP_SKEW_S`` before it to ``LOOKUP_WINDOW_S`` after it first (``start_date`` and
        ``end_date``: however many orders came after it); then, when ``sent_by_ns`` (a time its first send came
        before: the stored order's last change) is later than that, the ``LOOKUP_WINDOW_S`` before it (an order its
        lane held for longer, sent just before that change, is found however many orders came after); then those
        created since the intent; without it, the product's newest. ``LOOKUP_PAGES_MAX`` pages at most a query: an
        account's whole history is never read for one order. Not found while more remain is ``UnknownOutcome``."""
        if client_order_id in self._order_ids:
            return self._order_ids[client_order_id]
        if created_ns is None:
            created_ns = self._created_ns.get(client_order_id)
        base: dict[str, Any] = {"product_ids": product_id(symbol), "limit": LOOKUP_PAGE}
        if created_ns is not None:
            skew_ns, window_ns = LOOKUP_SKEW_S * 1_000_000_000, LOOKUP_WINDOW_S * 1_000_000_000
            base["start_date"] = rfc3339_seconds(created_ns - skew_ns)
            windows = [(created_ns - skew_ns, created_ns + window_ns)]
            if sent_by_ns is not None and sent_by_ns > created_ns + window_ns:
                windows.append((max(created_ns + window_ns, sent_by_ns - window_ns) - skew_ns, sent_by_ns + skew_ns))
            for start_ns, end_ns in windows:
                window = {**base, "start_date": rfc3339_seconds(start_ns), "end_date": rfc3339_seconds(end_ns)}
                found, _ = await self._search_orders(window, client_order_id)
                if found is not None:
                    return found
        found, complete = await self._search_orders(base, client_order_id)
        if found is not None or complete:
            return found
        since = f" created since {base['start_date']}" if "start_date" in base else ""
        raise UnknownOutcome(f"{self.name}: {client_order_id} not among the {LOOKUP_PAGES_MAX} pages of "
                             f"{symbol} orders{since} read; more remain")

    async def _search_orders(self, query: dict[str, Any], client_order_id: str) -> tuple[str | None, bool]:
        """(Coinbase's order id of ``client_order_id`` among the orders ``query`` lists or None, whether every page
        was read), ``LOOKUP_PAGES_MAX`` pages at most."""
        cursor = ""
        for _ in range(LOOKUP_PAGES_MAX):
            params = {**query, "cursor": cursor} if cursor else query
            page = await self._api().call("GET", f"{API}/orders/historical/batch", params=params)
            for info in page.get("orders") or []:
                if info.get("client_order_id") == client_order_id:
                    self._remember_id(client_order_id, info["order_id"])
                    self._created_ns.pop(client_order_id, None)
                    return info["order_id"], True
            cursor = page.get("cursor") or ""
            if not page.get("has_next") or not cursor:
                return None, True
        return None, False

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return await self._fetch(symbol, client_order_id, None)

    async def find_order(self, order: Order) -> OrderState | None:
        """:meth:`fetch_order`, its List Orders search bounded by the stored order's ``created_ns`` (an order of an
        earlier run is found behind any number of newer ones) and, for an order changed since it was stored (any
        status but PENDING: it was sent before that change, e.g. UNKNOWN after a lost answer), its ``updated_ns``
        (one its lane sent hours after its intent is found too)."""
        sent_by_ns = order.updated_ns if order.status is not OrderStatus.PENDING and order.updated_ns else None
        return await self._fetch(order.symbol, order.client_order_id, order.created_ns or None, sent_by_ns)

    async def _fetch(self, symbol: str, client_order_id: str, created_ns: int | None,
                     sent_by_ns: int | None = None) -> OrderState | None:
        order_id = await self._find_order_id(symbol, client_order_id, created_ns, sent_by_ns)
        if order_id is None:
            return None
        info = (await self._api().call("GET", f"{API}/orders/historical/{order_id}")).get("order") or {}
        state = await self._state(client_order_id, symbol, info)
        if not state.status.terminal:
            self.track(client_order_id, symbol, order_id, state)
        return state

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        result = (await self.cancel_orders(symbol, [client_order_id]))[0]
        if isinstance(result, ExchangeError):
            raise result
        return result

    async def cancel_orders(self, symbol: str, client_order_ids: list[str]) -> list[OrderState | ExchangeError]:
        """One ``batch_cancel`` for every id, then each order's state is read back."""
        ids: dict[str, str] = {}
        for cid in client_order_ids:
            order_id = await self._find_order_id(symbol, cid)
            if order_id is not None:
                ids[cid] = order_id
        if ids:
            await self._api().call("POST", f"{API}/orders/batch_cancel", body={"order_ids": list(ids.values())})
        results: list[OrderState | ExchangeError] = []
        for cid in client_order_ids:
            state = await self.fetch_order(symbol, cid) if cid in ids else None
            results.append(state if state is not None else OrderNotFound(f"{self.name} has no order {cid}"))
        return results

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        by_product = {product_id(s): s for s in self.settings.symbols}
        params: dict[str, Any] = {"order_status": "OPEN", "limit": 250}
        if symbol is not None:
            params["product_ids"] = product_id(symbol)
        out: list[OrderState] = []
        cursor = ""
        while True:
            page = await self._api().call("GET", f"{API}/orders/historical/batch",
                                          params={**params, **({"cursor": cursor} if cursor else {})})
            for info in page.get("orders") or []:
                pid = info.get("product_id", "")
                cid = info.get("client_order_id") or info.get("order_id")
                if cid not in self._order_ids:
                    self._remember_id(cid, info["order_id"])
                out.append(await self._state(cid, by_product.get(pid, pid.replace("-", "/")), info))
            cursor = page.get("cursor") or ""
            if not page.get("has_next") or not cursor:
                return out

    async def balances(self) -> dict[str, Balance]:
        out: dict[str, Balance] = {}
        cursor = ""
        while True:
            page = await self._api().call("GET", f"{API}/accounts",
                                          params={"limit": 250, **({"cursor": cursor} if cursor else {})})
            for account in page.get("accounts") or []:
                asset = account["currency"]
                free = Decimal(str(account["available_balance"]["value"]))
                hold = Decimal(str((account.get("hold") or {}).get("value", "0")))
                out[asset] = Balance(asset, free, free + hold)
            cursor = page.get("cursor") or ""
            if not page.get("has_next") or not cursor:
                return out

    # --- order state and fills --------------------------------------------------------------

    async def _state(self, cid: str, symbol: str, info: dict) -> OrderState:
        filled = Decimal(str(info.get("filled_size") or "0"))
        mapped = _STATUS.get(str(info.get("status")), OrderStatus.UNKNOWN)
        fills: list[Fill] = []
        if filled > 0:
            fills = await self._fills_of(cid, symbol, info["order_id"], filled)
        avg = Decimal(str(info["average_filled_price"])) if filled and info.get("average_filled_price") else None
        reason = str(info.get("reject_reason") or info.get("cancel_message") or "")
        return OrderState(cid, mapped, exchange_order_id=info.get("order_id"), filled_qty=filled,
                          avg_fill_price=avg, fills=tuple(fills), reason=reason)

    def _remember_id(self, cid: str, order_id: str) -> None:
        """Keep ``cid``'s Coinbase order id; beyond ORDERS_KEPT ids the oldest are forgotten (a look-up of one goes
        to the venue again, as after a restart)."""
        self._order_ids[cid] = order_id
        while len(self._order_ids) > ORDERS_KEPT:
            del self._order_ids[next(iter(self._order_ids))]

    async def _fills_of(self, cid: str, symbol: str, order_id: str, filled: Decimal) -> list[Fill]:
        mine = self._fills_by_order.get(cid, ())
        if sum((f.qty for f in mine), Decimal(0)) >= filled:
            return list(mine)
        quote = split_symbol(symbol)[1] if "/" in symbol else ""
        for f in await self._list_fills(order_id):
            tid = str(f.get("entry_id") or f["trade_id"])
            if tid not in self._fills:
                fill = self._fills[tid] = Fill(
                    self.name, symbol, cid, tid, Side.BUY if f.get("side") == "BUY" else Side.SELL,
                    Decimal(str(f["price"])), Decimal(str(f["size"])), Decimal(str(f.get("commission") or "0")),
                    quote, Liquidity.MAKER if f.get("liquidity_indicator") == "MAKER" else Liquidity.TAKER,
                    # when it was made (the ledger orders fills and counts days by it), not when this read found it
                    rfc3339_ns(str(f.get("trade_time") or "")) or self.ctx.clock.time_ns())
                self._fills_by_order.setdefault(cid, []).append(fill)
        self._forget_old_fills()
        return list(self._fills_by_order.get(cid, ()))

    async def _list_fills(self, order_id: str) -> list[dict]:
        """Every fill of one order: List Fills page after page, following the answer's ``cursor`` until it is empty
        (at most FILL_PAGES_MAX pages, and never the same cursor twice)."""
        fills: list[dict] = []
        cursor = ""
        seen: set[str] = set()
        for _ in range(FILL_PAGES_MAX):
            params: dict[str, Any] = {"order_ids": order_id, "limit": FILLS_PAGE}
            if cursor:
                params["cursor"] = cursor
            page = await self._api().call("GET", f"{API}/orders/historical/fills", params=params)
            fills += page.get("fills") or []
            seen.add(cursor)
            cursor = str(page.get("cursor") or "")
            if not cursor:
                return fills
            if cursor in seen:
                break
        self.ctx.log.warning("%s: List Fills of order %s still named a next page after %d pages (%d fills read); "
                             "the order is read again at the next poll", self.name, order_id, len(seen), len(fills))
        return fills

    def _forget_old_fills(self) -> None:
        """Beyond ORDERS_KEPT orders with fills, the oldest not tracked any more are forgotten with their fills (read
        again from the venue if ever asked for, as after a restart)."""
        by_order = self._fills_by_order
        while len(by_order) > ORDERS_KEPT:
            cid = next(iter(by_order))
            fills = by_order.pop(cid)
            if cid in self._tracked:  # still open: kept, moved to the back
                by_order[cid] = fills
                break
            for fill in fills:
                self._fills.pop(fill.trade_id, None)

    async def poll_once(self) -> None:
        """One read of every tracked order (also called by tests)."""
        for cid in list(self._tracked):
            await self._read(cid)

    async def _read(self, cid: str) -> None:
        """Read one tracked order (and its new fills) and publish what changed."""
        if cid not in self._tracked:
            return
        symbol, order_id, _ = self._tracked[cid]
        info = (await self._api().call("GET", f"{API}/orders/historical/{order_id}")).get("order") or {}
        state = await self._state(cid, symbol, info)
        tracked = self._tracked.get(cid)
        if tracked is not None:  # the last state published, which another read may have moved on
            self.report_change(cid, symbol, order_id, tracked[2], state)

    def _on_user_order(self, info: dict) -> None:
        """One order of a ``user`` channel event: a tracked order that changed is read now."""
        cid = str(info.get("client_order_id") or "")
        tracked = self._tracked.get(cid)
        if tracked is None:
            return  # not ours, final already, or its create answer is still on its way (polling covers it)
        _, _, last = tracked
        status = _STATUS.get(str(info.get("status")), OrderStatus.UNKNOWN)
        if status is last.status and Decimal(str(info.get("cumulative_quantity") or "0")) == last.filled_qty:
            return
        self.ctx.create_task(self._read_logged(cid), f"read order {cid}")

    async def _read_logged(self, cid: str) -> None:
        try:
            await self._read(cid)
        except ExchangeError as exc:  # the next poll reads it again
            self.ctx.log.warning("%s: reading order %s after a user event failed: %s", self.name, cid, exc)
