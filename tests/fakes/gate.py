"""A fake Gate.io v4 spot venue on 127.0.0.1: REST under ``/api/v4`` and WebSocket v4 under ``/ws/v4/``.

Shaped from Gate's published APIv4 and spot WebSocket v4 documentation, and from what ccxt's
``gate`` class (REST) and ``ccxt.pro`` ``gate`` class (WebSocket) send, so the real ccxt talks to it
when its ``urls`` point here. It keeps its own truth (Decimal levels, its own HMAC check), so a
test compares the plugin against the venue rather than against itself.

* REST: ``GET /spot/currency_pairs``, ``/spot/currencies``, ``/margin/currency_pairs``,
  ``/spot/order_book`` (``with_id``), and signed (``KEY``, ``Timestamp``, ``SIGN`` = hex
  HMAC-SHA512 of ``METHOD\\n/api/v4/PATH\\nQUERY\\nhex(SHA512(body))\\nTIMESTAMP``):
  ``POST /spot/orders``, ``GET /spot/orders/{id}`` (order id, or the ``text`` "t-..." of an open
  order), ``DELETE /spot/orders/{id}``, ``GET /spot/orders`` (status open/finished, pages:
  :meth:`FakeGate._order_page`),
  ``GET /spot/open_orders``, ``GET /spot/my_trades`` (pages: :meth:`FakeGate._trade_page`), ``GET /spot/accounts``,
  ``GET /account/detail``. Errors are Gate's ``{"label": ..., "message": ...}``.
* WebSocket: ``spot.obu`` (order book v2, what ccxt 4.5 subscribes for Gate spot: payload
  ``["ob.BTC_USDT.50"]``, a ``full`` snapshot first, then updates with ``U`` = previous ``u`` + 1
  and ``u``; amount ``"0"`` deletes a level), ``spot.order_book_update`` (the v4 incremental
  channel, what ccxt subscribes on Gate's EU endpoint: payload ``["BTC_USDT", "100ms"]``, every
  change with ``U``/``u``, no snapshot: the client takes one from ``/spot/order_book?with_id=true``
  and applies the updates after its ``id``), ``spot.ping`` -> ``spot.pong``, and protocol pings
  answered with pongs. The same server answers under ``/gateeu/ws/v4/`` (:meth:`FakeGate.urls`
  with ``eu=True``), which is how ccxt is made to take its EU path.

Faults on demand: :meth:`FakeGate.drop` (abort every WebSocket), ``silent = True`` (no data, no pong, no answer;
TCP stays open), ``skip_update_ids`` (the next update jumps its ids: a gap), ``lose_create_order`` (the order is
created, then the connection is closed before any answer), ``hang_create_order_s`` (created, then the answer is
late), ``cut_create_order`` (created, then the answer stops half-way through its body and the connection is
closed), ``stale_trades`` (the next trade lists leave out the newest trade), ``my_trades_max_range_s`` (a trade
list over a longer ``from``..``to`` is refused, as Crypto.com refuses one over a day), ``my_trades_history_s`` (a
trade list from further back than this is refused, and no older trade is listed, as Bitget serves the fills of the
last 90 days only), ``fail_next`` (per path, the errors the next requests get, e.g. ``{"/spot/my_trades": [(502,
"SERVER_ERROR", "...")]}``), ``http_429`` (every REST call answers 429 ``TOO_MANY_REQUESTS``), and a recording of
every WS frame sent (``record = True``) for the benchmark. ``POST /spot/countdown_cancel_all`` (the dead-man
switch) runs a real countdown that cancels the open orders when it runs out.

Wallet (Gate APIv4 "Withdrawal" and "Wallet" sections, what ccxt's ``withdraw``,
``fetch_withdrawals``, ``fetch_deposits``, ``fetch_deposit_address`` and
``fetch_deposit_withdraw_fees`` call): ``POST /withdrawals`` (``currency``, ``address``,
``amount`` with the fee inside it, ``chain``, ``withdraw_order_id``: Gate keeps it but does not
make it unique, so two requests with one id make two withdrawals), ``GET /wallet/withdrawals``
and ``GET /wallet/deposits`` (``currency``, ``withdraw_order_id``, ``from``/``to`` in seconds,
``limit``, ``offset``; newest first), ``GET /wallet/deposit_address`` (``multichain_addresses``),
``GET /wallet/withdraw_status`` (``deposit``, ``withdraw_fix``, ``withdraw_fix_on_chains``,
``withdraw_amount_mini``), and ``chains`` in ``/spot/currencies``. A withdrawal debits the
account at once and moves through :attr:`FakeGate.withdraw_timeline` (REQUEST, PEND, DONE with a
``txid`` and ``block_number``) on the wallet's clock, which a test moves with
:meth:`FakeGate.advance`; :meth:`FakeGate.deposit` makes an incoming transfer that is credited to
the account when it reaches DONE. Faults: ``lose_withdraw`` (the withdrawal is made, the answer
dropped; with ``http_429_after_lost_withdraw`` the next calls answer 429 too), ``hang_withdraw_s``
(made, answered late), and ``http_429`` as for every call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, unquote

from aiohttp import WSMsgType, web

from . import SHUTDOWN_TIMEOUT_S

API_KEY = "fake-gate-key"
API_SECRET = "fake-gate-secret-for-tests-only"
PREFIX = "/api/v4"
MS_TIMESTAMP = 10**11
"""A ``from`` at least this large is in milliseconds on the fake's Gemini trade list (``trade_list_order = "gemini"``),
as Gemini's ``timestamp`` is ("seconds or milliseconds since 1970-01-01 UTC")."""
GEMINI_MAX_TRADES = 500
"""The most trades a page of the fake's Gemini trade list holds, whatever ``limit`` asks: Gemini's ``limit_trades``
maximum (its documented walk through ``/v1/mytrades`` asks 500 a page; ccxt's features table gives 500)."""


def _text(value: Decimal) -> str:
    """A number as Gate writes it: a JSON string, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


@dataclass
class WalletCurrency:
    """A currency the fake's wallet sends and receives: its chains with their withdrawal fee, and the minimum."""

    chains: dict[str, Decimal]
    minimum: Decimal
    deposit_fee: str = "0"
    """What Gate keeps of a deposit (``withdraw_status``' ``deposit``, the currency's, as Gate's text)."""


class GatePair:
    """One spot market on the fake: a full book deeper than any subscription."""

    def __init__(self, pair_id: str = "BTC_USDT", price_precision: int = 2, amount_precision: int = 4):
        self.id = pair_id
        self.base, self.quote = pair_id.split("_")
        self.pd = price_precision
        self.qd = amount_precision
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id = 1000

    def view(self, depth: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks

    def info(self) -> dict:
        return {"id": self.id, "base": self.base, "base_name": self.base, "quote": self.quote,
                "quote_name": self.quote, "fee": "0.2", "min_base_amount": "0.0001", "min_quote_amount": "1",
                "max_quote_amount": "5000000", "amount_precision": self.qd, "precision": self.pd,
                "trade_status": "tradable", "sell_start": 1516703400, "buy_start": 1516703400, "type": "normal"}


def populate(pair: GatePair, levels: int = 80, mid: Decimal = Decimal("30000"), seed: int = 3) -> None:
    """A plausible book around ``mid``."""
    rng = random.Random(seed)
    tick = Decimal(1).scaleb(-pair.pd)
    pair.bids.clear()
    pair.asks.clear()
    price = mid - tick
    for _ in range(levels):
        pair.bids[price] = Decimal(rng.randint(1, 10**7)).scaleb(-pair.qd)
        price -= tick * rng.randint(1, 3)
    price = mid + tick
    for _ in range(levels):
        pair.asks[price] = Decimal(rng.randint(1, 10**7)).scaleb(-pair.qd)
        price += tick * rng.randint(1, 3)


class FakeGate:
    """The venue: one aiohttp server for REST and WebSocket."""

    def __init__(self, pairs: list[GatePair] | None = None, seed: int = 1, key: str = API_KEY,
                 secret: str = API_SECRET):
        self.pairs = {p.id: p for p in (pairs or [GatePair()])}
        self.rng = random.Random(seed)
        self.key = key
        self.secret = secret
        # WebSocket state
        self.connections: set[web.WebSocketResponse] = set()
        self.subscriptions: dict[web.WebSocketResponse, dict[str, int]] = {}
        """Per connection: pair id -> subscribed level count (spot.obu)."""
        self.incremental: dict[web.WebSocketResponse, set[str]] = {}
        """Per connection: pair ids subscribed on spot.order_book_update."""
        self.ws_requests: list[dict] = []
        self.connection_count = 0
        self.silent = False
        self.skip_update_ids = 0
        self.sent_updates = 0
        self.record = False
        self.recorded: list[str] = []
        # REST state
        self.orders: dict[str, dict] = {}
        """order id -> Gate order object."""
        self.trades: list[dict] = []
        self.trade_list_order = "gate"
        """How ``GET /spot/my_trades`` pages with ``from``, as each venue documents its own trade list: ``"gate"``
        (the oldest first from that time), ``"bitget"`` (the newest first within ``from``/``to``; older pages through
        ``id_less_than``, standing for Bitget's ``idLessThan``), ``"gemini"`` (the oldest ``limit`` from that time,
        given newest first: Gemini's ``/v1/mytrades`` "sorted by timestamp descending"; a ``from`` of
        :data:`MS_TIMESTAMP` or more is in milliseconds, as Gemini takes its ``timestamp``; at most
        :data:`GEMINI_MAX_TRADES` a page)."""
        self.accounts: dict[str, Decimal] = {"USDT": Decimal("1000000"), "BTC": Decimal("10")}
        self.rest_log: list[tuple[str, str, dict]] = []
        """(method, path, query) of every REST request received."""
        self.http_429 = 0
        """How many REST calls answer 429 from now on (-1: all)."""
        self.lose_create_order = 0
        self.hang_create_order_s = 0.0
        """Create the order, then answer this late."""
        self.cut_create_order = 0
        """How many orders are created and their answer cut short (half the body, then the connection closes)."""
        self.stale_trades = 0
        """How many next ``GET /spot/my_trades`` answers leave out the newest trade (the trade list lagging the
        order's state, as a venue's separate trade store may)."""
        self.my_trades_max_range_s: int | None = None
        """Refuse a ``GET /spot/my_trades`` whose ``from``..``to`` (``to`` defaulting to now) spans more than this
        many seconds, ``INVALID_PARAM_VALUE``: the rule of Crypto.com's ``private/get-trades`` (at most one day
        between ``start_time`` and ``end_time``, which defaults to now), for the venues whose trade list has one."""
        self.my_trades_history_s: int | None = None
        """Refuse a ``GET /spot/my_trades`` whose ``from`` is more than this many seconds ago (``INVALID_PARAM_VALUE``,
        standing for Bitget's 43111 "param error time range illegal", which ccxt's bitget raises as PermissionDenied:
        ccxt issue #21502, a 30-day range that began 120 days before), and list no trade made before then: Bitget's
        ``GET /api/v2/spot/trade/fills`` "only supports to get the data within 90days" (older data is downloaded
        from its web site)."""
        self.my_trades_queries: list[dict] = []
        """Every ``GET /spot/my_trades`` query, in order."""
        self.order_list_queries: list[dict] = []
        """Every ``GET /spot/orders`` query (the open or finished order list), in order."""
        self.fail_next: dict[str, list[tuple[int, str, str]]] = {}
        """Per path: (status, label, message) of the error each next request of it answers, oldest first."""
        self.fill_on_create: Decimal | None = None
        """Fill this fraction of each new limit order at once (a taker order), at its price."""
        self.countdown_calls: list[int] = []
        """The ``timeout`` of every ``POST /spot/countdown_cancel_all`` (the dead-man switch; 0 disarms)."""
        self.countdown_cancelled: list[str] = []
        """Ids of the orders the countdown cancelled when it ran out."""
        self._countdown: asyncio.TimerHandle | None = None
        # wallet state
        self.wallet: dict[str, WalletCurrency] = {
            "BTC": WalletCurrency({"BTC": Decimal("0.0005")}, minimum=Decimal("0.001")),
            "USDT": WalletCurrency({"ETH": Decimal("2.5"), "TRX": Decimal("1")}, minimum=Decimal("10"))}
        """Per currency: its chains, the fee on each and the withdrawal minimum."""
        self.withdrawals: list[dict] = []
        """Every withdrawal made, oldest first (Gate's withdrawal records)."""
        self.deposits: list[dict] = []
        self.withdraw_timeline: tuple[tuple[str, float], ...] = (("REQUEST", 0.0), ("PEND", 1.0), ("DONE", 3.0))
        """(status, seconds of wallet time since the request) a withdrawal goes through."""
        self.deposit_timeline: tuple[tuple[str, float], ...] = (("PEND", 0.0), ("DONE", 2.0))
        self.wallet_offset_s = 0.0
        """How far :meth:`advance` moved the wallet's clock ahead of the real one."""
        self.lose_withdraw = 0
        """How many withdrawals are made and their answer dropped (the connection is closed)."""
        self.hang_withdraw_s = 0.0
        """Make the withdrawal, then answer this late."""
        self.http_429_after_lost_withdraw = 0
        """After a withdrawal whose answer is lost, this many REST calls answer 429 (the look-up fails too)."""
        self._wallet_ids = itertools.count(20000001)
        self._ids = itertools.count(100000001)
        self._trade_ids = itertools.count(500000001)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeGate:
        app = web.Application()
        app.router.add_get("/ws/v4/", self._ws)
        app.router.add_get("/gateeu/ws/v4/", self._ws)
        app.router.add_route("*", PREFIX + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._countdown is not None:
            self._countdown.cancel()
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def urls(self, eu: bool = False) -> dict[str, str]:
        """The plugin's ``urls`` setting that points ccxt's gate here (``eu``: ccxt takes its Gate EU path)."""
        return {"https://api.gateio.ws": self.rest_url, "wss://api.gateio.ws": self.ws_url + ("/gateeu" if eu else "")}

    # --- WebSocket ---------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections.add(ws)
        self.subscriptions[ws] = {}
        self.incremental[ws] = set()
        self.connection_count += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    if not self.silent:
                        await ws.pong(msg.data)
                    continue
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data)
                    channel, event = req["channel"], req.get("event")
                except (ValueError, KeyError, TypeError):
                    await self._send(ws, {"time": int(time.time()), "channel": "", "event": "",
                                          "error": {"code": 1, "message": "Invalid request body format"},
                                          "result": None})
                    continue
                self.ws_requests.append(req)
                if self.silent:
                    continue
                await self._answer(ws, req, channel, event)
        except Exception:
            pass
        finally:
            self.connections.discard(ws)
            self.subscriptions.pop(ws, None)
            self.incremental.pop(ws, None)
        return ws

    async def _send(self, ws: web.WebSocketResponse, message: dict | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        if self.record:
            self.recorded.append(text)
        await ws.send_str(text)

    async def _answer(self, ws: web.WebSocketResponse, req: dict, channel: str, event: str | None) -> None:
        now = time.time()
        base = {"time": int(now), "time_ms": int(now * 1000), "id": req.get("id"), "conn_id": "fakeconn",
                "channel": channel, "event": event}
        if channel == "spot.ping":
            await self._send(ws, {**base, "channel": "spot.pong", "event": "", "error": None, "result": None})
            return
        if channel == "spot.order_book_update" and event in ("subscribe", "unsubscribe"):
            payload = req.get("payload") or []
            if not payload or payload[0] not in self.pairs:
                await self._send(ws, {**base, "payload": payload,
                                      "error": {"code": 2, "message": "Invalid argument provided"}, "result": None})
                return
            pairs = self.incremental.setdefault(ws, set())
            (pairs.add if event == "subscribe" else pairs.discard)(payload[0])
            await self._send(ws, {**base, "payload": payload, "error": None, "result": {"status": "success"}})
            return
        if channel != "spot.obu" or event not in ("subscribe", "unsubscribe"):
            await self._send(ws, {**base, "error": {"code": 2, "message": f"unknown channel {channel}"},
                                  "result": None})
            return
        payload = req.get("payload") or []
        streams = []
        for stream in payload:
            parts = str(stream).split(".")
            if len(parts) != 3 or parts[0] != "ob" or parts[1] not in self.pairs or parts[2] not in ("50", "400"):
                await self._send(ws, {**base, "payload": payload,
                                      "error": {"code": 2, "message": f"Invalid argument provided: {stream}"},
                                      "result": None})
                return
            streams.append((parts[1], int(parts[2])))
        subs = self.subscriptions.get(ws, {})
        await self._send(ws, {**base, "payload": payload, "error": None, "result": {"status": "success"}})
        for pair_id, level in streams:
            if event == "unsubscribe":
                subs.pop(pair_id, None)
                continue
            subs[pair_id] = level
            pair = self.pairs[pair_id]
            bids, asks = pair.view(level)
            await self._send(ws, self._obu(pair, level, bids, asks, full=True))

    def _obu(self, pair: GatePair, level: int, bids, asks, full: bool = False, first: int = 0) -> str:
        now_ms = int(time.time() * 1000)
        result: dict = {"t": now_ms, "s": f"ob.{pair.id}.{level}"}
        if full:
            result["full"] = True
        else:
            result["U"] = first
        result["u"] = pair.update_id
        result["b"] = [[_text(p), _text(q)] for p, q in bids]
        result["a"] = [[_text(p), _text(q)] for p, q in asks]
        return json.dumps({"channel": "spot.obu", "result": result, "time_ms": now_ms, "event": "update"})

    # --- driving the market ------------------------------------------------------------------

    async def change(self, pair_id: str, bids: dict[Decimal, Decimal] | None = None,
                     asks: dict[Decimal, Decimal] | None = None) -> None:
        """Change levels (amount 0 deletes) and send each subscriber what its level count shows:
        changed levels inside the view, deletes of levels that left the view, levels that came in."""
        pair = self.pairs[pair_id]
        before = {ws: pair.view(level) for ws, subs in self.subscriptions.items()
                  for p, level in subs.items() if p == pair_id}
        for side, changes in ((pair.bids, bids or {}), (pair.asks, asks or {})):
            for price, qty in changes.items():
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        first = pair.update_id + 1
        pair.update_id += 1
        if self.skip_update_ids > 0:
            self.skip_update_ids -= 1
            first += 2
            pair.update_id += 2
        if self.silent:
            return
        for ws, pairs in list(self.incremental.items()):
            if pair_id in pairs:
                await self._send_quietly(ws, self._incremental(pair, first, bids or {}, asks or {}))
        for ws, (old_bids, old_asks) in before.items():
            level = self.subscriptions.get(ws, {}).get(pair_id)
            if level is None:
                continue
            new_bids, new_asks = pair.view(level)
            out_bids = _diff(old_bids, new_bids, bids or {})
            out_asks = _diff(old_asks, new_asks, asks or {})
            await self._send_quietly(ws, self._obu(pair, level, out_bids, out_asks, first=first))

    def _incremental(self, pair: GatePair, first: int, bids: dict, asks: dict) -> str:
        now = time.time()
        result = {"t": int(now * 1000), "e": "depthUpdate", "E": int(now), "s": pair.id, "U": first,
                  "u": pair.update_id, "b": [[_text(p), _text(q)] for p, q in bids.items()],
                  "a": [[_text(p), _text(q)] for p, q in asks.items()]}
        return json.dumps({"time": int(now), "time_ms": int(now * 1000), "channel": "spot.order_book_update",
                           "event": "update", "result": result})

    async def _send_quietly(self, ws: web.WebSocketResponse, frame: str) -> None:
        try:
            await self._send(ws, frame)
            self.sent_updates += 1
        except Exception:
            pass

    async def random_updates(self, pair_id: str, n: int, yield_every: int = 1) -> None:
        """``n`` random changes, mostly near the touch, some deletes, some new best prices."""
        pair = self.pairs[pair_id]
        tick = Decimal(1).scaleb(-pair.pd)
        rng = self.rng
        for i in range(n):
            bid_side = rng.random() < 0.5
            side = pair.bids if bid_side else pair.asks
            keys = sorted(side, reverse=bid_side)
            r = rng.random()
            k = min(int(rng.expovariate(0.2)), len(keys) - 1)
            qty = Decimal(rng.randint(1, 10**7)).scaleb(-pair.qd)
            if r < 0.6 or len(keys) < 40:
                price = keys[k] if r < 0.6 else keys[-1] + (-tick if bid_side else tick) * rng.randint(1, 3)
                change = {price: qty}
            elif r < 0.8:
                change = {keys[k]: Decimal(0)}
            else:
                best_other = min(pair.asks) if bid_side else max(pair.bids)
                price = keys[0] + (tick if bid_side else -tick)
                if (bid_side and price >= best_other) or (not bid_side and price <= best_other):
                    change = {keys[k]: qty}
                else:
                    change = {price: qty}
            await self.change(pair_id, **({"bids": change} if bid_side else {"asks": change}))
            if i % yield_every == 0:
                await asyncio.sleep(0)

    # --- WebSocket faults --------------------------------------------------------------------

    async def drop(self) -> None:
        """Abort every WebSocket (no close frame), as a network failure would."""
        for ws in list(self.connections):
            transport = ws._req.transport if ws._req is not None else None  # type: ignore[union-attr]
            if transport is not None:
                transport.abort()

    # --- REST --------------------------------------------------------------------------------

    def orders_with_text(self, text: str) -> list[dict]:
        return [o for o in self.orders.values() if o["text"] == text]

    def expected_sign(self, method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
        payload = "\n".join([method, path, query, hashlib.sha512(body).hexdigest(), timestamp])
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha512).hexdigest()

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        query = dict(parse_qsl(request.query_string))
        body = await request.read()
        self.rest_log.append((request.method, path, query))
        if self.http_429:
            self.http_429 -= 1 if self.http_429 > 0 else 0
            return _error(429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded")
        if self.fail_next.get(path):
            return _error(*self.fail_next[path].pop(0))
        self._settle_wallet()
        route = (request.method, path)
        public = {("GET", "/spot/currency_pairs"): self._pairs, ("GET", "/spot/currencies"): self._currencies,
                  ("GET", "/margin/currency_pairs"): lambda q, b: [], ("GET", "/spot/order_book"): self._book,
                  ("GET", "/spot/time"): lambda q, b: {"server_time": int(time.time() * 1000)}}
        if route in public:
            return web.json_response(public[route](query, body))
        # private: Gate's APIv4 signature
        timestamp = request.headers.get("Timestamp", "")
        if request.headers.get("KEY") != self.key:
            return _error(401, "INVALID_KEY", "Invalid key provided")
        sign = self.expected_sign(request.method, PREFIX + path, unquote(request.query_string), body, timestamp)
        if not hmac.compare_digest(request.headers.get("SIGN", ""), sign):
            return _error(401, "INVALID_SIGNATURE", "Signature mismatch")
        if not timestamp or abs(int(timestamp) - time.time()) > 60:
            return _error(401, "REQUEST_EXPIRED", "Request timestamp expired")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "INVALID_REQUEST_BODY", "Invalid request body")
        try:
            if route == ("POST", "/spot/orders"):
                order = self._create(data)
                if self.lose_create_order > 0:
                    self.lose_create_order -= 1
                    assert request.transport is not None
                    request.transport.abort()  # created, and the answer is lost
                    raise ConnectionResetError
                if self.hang_create_order_s:
                    await asyncio.sleep(self.hang_create_order_s)
                if self.cut_create_order > 0:
                    self.cut_create_order -= 1
                    return await self._cut(request, json.dumps(order).encode())
                return web.json_response(order, status=201)
            if path.startswith("/spot/orders/"):
                order = self._find(path.rsplit("/", 1)[1], query.get("currency_pair", ""))
                if request.method == "DELETE":
                    if order["status"] == "open":
                        order.update(status="cancelled", finish_as="cancelled", update_time=str(int(time.time())))
                    return web.json_response(order)
                return web.json_response(order)
            if route == ("GET", "/spot/orders"):
                self.order_list_queries.append(dict(query))
                return web.json_response(self._order_page(query))
            if route == ("GET", "/spot/open_orders"):
                by_pair: dict[str, list[dict]] = {}
                for o in self.orders.values():
                    if o["status"] == "open":
                        by_pair.setdefault(o["currency_pair"], []).append(o)
                return web.json_response([{"currency_pair": p, "total": len(os), "orders": os}
                                          for p, os in by_pair.items()])
            if route == ("GET", "/spot/my_trades"):
                self.my_trades_queries.append(dict(query))
                if self.my_trades_max_range_s is not None and "from" in query:
                    span = int(query.get("to", int(time.time()))) - int(query["from"])
                    if span > self.my_trades_max_range_s:
                        raise _GateError(400, "INVALID_PARAM_VALUE", f"time range {span}s exceeds "
                                                                     f"{self.my_trades_max_range_s}s")
                trades = self.trades
                if self.my_trades_history_s is not None:
                    oldest = int(time.time()) - self.my_trades_history_s
                    if "from" in query and int(query["from"]) < oldest:
                        raise _GateError(400, "INVALID_PARAM_VALUE", "param error time range illegal: from "
                                                                     f"{query['from']} is before {oldest}")
                    trades = [t for t in trades if int(t["create_time"]) >= oldest]
                if self.stale_trades > 0:
                    self.stale_trades -= 1
                    trades = trades[:-1]
                return web.json_response(self._trade_page(trades, query, self.trade_list_order))
            if route == ("POST", "/spot/countdown_cancel_all"):
                return web.json_response(self._countdown_cancel_all(data))
            if route == ("GET", "/spot/accounts"):
                return web.json_response([{"currency": c, "available": _text(v), "locked": "0"}
                                          for c, v in self.accounts.items()])
            if route == ("POST", "/withdrawals"):
                record = self._withdraw(data)
                if self.lose_withdraw > 0:
                    self.lose_withdraw -= 1
                    self.http_429 = self.http_429_after_lost_withdraw
                    assert request.transport is not None
                    request.transport.abort()  # made, and the answer is lost
                    raise ConnectionResetError
                if self.hang_withdraw_s:
                    await asyncio.sleep(self.hang_withdraw_s)
                keys = ("id", "txid", "withdraw_order_id", "timestamp", "amount", "currency", "address", "memo",
                        "status", "chain")
                return web.json_response({k: record[k] for k in keys})
            if route == ("GET", "/wallet/withdrawals"):
                return web.json_response(self._records(self.withdrawals, query))
            if route == ("GET", "/wallet/deposits"):
                return web.json_response(self._records(self.deposits, query))
            if route == ("GET", "/wallet/deposit_address"):
                return web.json_response(self._deposit_address(query))
            if route == ("GET", "/wallet/withdraw_status"):
                return web.json_response(self._withdraw_status(query))
            if route == ("GET", "/account/detail"):
                return web.json_response({"user_id": 1, "ip_whitelist": [], "currency_pairs": [],
                                          "key": {"mode": 1}, "tier": 0})
        except _GateError as exc:
            return _error(exc.status, exc.label, exc.message)
        return _error(404, "NOT_FOUND", f"{request.method} {path}")

    @staticmethod
    async def _cut(request: web.Request, body: bytes) -> web.StreamResponse:
        """Answer 201 with a Content-Length of the whole ``body``, send half of it, and close the connection."""
        response = web.StreamResponse(status=201, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()  # the half sent is flushed first, then the connection ends
        raise ConnectionResetError

    # --- wallet ------------------------------------------------------------------------------

    def wallet_now(self) -> float:
        """The wallet's clock (seconds): the real one, moved ahead by :meth:`advance`."""
        return time.time() + self.wallet_offset_s

    def advance(self, seconds: float) -> None:
        """Move the wallet's clock ahead: withdrawals and deposits progress as if that much time passed."""
        self.wallet_offset_s += seconds
        self._settle_wallet()

    def deposit_address(self, currency: str, chain: str) -> str:
        """The account's deposit address for ``currency`` on ``chain`` (one per pair, as Gate gives)."""
        digest = hashlib.sha256(f"{currency}:{chain}".encode()).hexdigest()[:16]
        return f"gate{chain.lower()}{currency.lower()}dep0sit{digest}"

    def deposit(self, currency: str, amount: Decimal, txid: str, chain: str | None = None) -> dict:
        """Funds sent to the account's deposit address arrive (credited once they reach DONE)."""
        chain = chain or next(iter(self.wallet[currency].chains))
        now = self.wallet_now()
        record = {"id": f"d{next(self._wallet_ids)}", "txid": txid, "withdraw_order_id": "",
                  "timestamp": str(int(now)), "amount": _text(amount), "currency": currency,
                  "address": self.deposit_address(currency, chain), "memo": "", "status": "PEND", "chain": chain,
                  "_at": now, "_credited": False}
        self.deposits.append(record)
        self._settle_wallet()
        return record

    def withdrawals_with_id(self, withdraw_order_id: str) -> list[dict]:
        return [w for w in self.withdrawals if w["withdraw_order_id"] == withdraw_order_id]

    def _withdraw(self, p: dict) -> dict:
        for key in ("currency", "amount", "address"):
            if not p.get(key):
                raise _GateError(400, "MISSING_REQUIRED_PARAM", f"Missing required parameter: {key}")
        currency = self.wallet.get(p["currency"])
        if currency is None:
            raise _GateError(400, "INVALID_CURRENCY", f"Invalid currency {p['currency']}")
        chain = p.get("chain") or next(iter(currency.chains))
        if chain not in currency.chains:
            raise _GateError(400, "INVALID_PARAM_VALUE", f"{p['currency']} cannot be withdrawn on chain {chain}")
        order_id = p.get("withdraw_order_id") or ""
        if len(order_id) > 32 or not all(c.isalnum() or c in "_-." for c in order_id):
            raise _GateError(400, "INVALID_PARAM_VALUE", "withdraw_order_id: at most 32 of 0-9 A-Z a-z _ - .")
        try:
            amount = Decimal(str(p["amount"]))
        except ArithmeticError:
            raise _GateError(400, "INVALID_PARAM_VALUE", f"invalid amount {p['amount']}") from None
        fee = currency.chains[chain]
        if amount < currency.minimum or amount <= fee:
            raise _GateError(400, "INVALID_PARAM_VALUE", f"amount {p['amount']} is below the minimum "
                                                         f"{_text(currency.minimum)}")
        if amount > self.accounts.get(p["currency"], Decimal(0)):
            raise _GateError(400, "BALANCE_NOT_ENOUGH", "Not enough balance")
        self.accounts[p["currency"]] -= amount
        now = self.wallet_now()
        record = {"id": f"w{next(self._wallet_ids)}", "txid": "", "block_number": "0", "withdraw_order_id": order_id,
                  "timestamp": str(int(now)), "amount": _text(amount), "fee": _text(fee), "currency": p["currency"],
                  "address": p["address"], "fail_reason": "", "timestamp2": "", "memo": p.get("memo") or "",
                  "status": "REQUEST", "chain": chain, "_at": now}
        self.withdrawals.append(record)
        return record

    def _settle_wallet(self) -> None:
        """Each withdrawal and deposit at the step of its timeline the wallet's clock has reached."""
        now = self.wallet_now()
        for records, timeline in ((self.withdrawals, self.withdraw_timeline), (self.deposits, self.deposit_timeline)):
            for r in records:
                if r["status"] in ("DONE", "CANCEL", "FAIL", "INVALID"):
                    continue
                status = r["status"]
                for step, after_s in timeline:
                    if now - r["_at"] >= after_s:
                        status = step
                r["status"] = status
                if status == "DONE":
                    r["timestamp2"] = str(int(now))
                    if r["id"].startswith("w"):
                        r.update(txid=hashlib.sha256(r["id"].encode()).hexdigest(), block_number="41575382")
                    elif not r["_credited"]:
                        r["_credited"] = True
                        self.accounts[r["currency"]] = self.accounts.get(r["currency"], Decimal(0)) + Decimal(
                            r["amount"])

    def _records(self, records: list[dict], query: dict) -> list[dict]:
        """Gate's withdrawal/deposit records: filtered by currency, client id and time, newest first."""
        out = [r for r in reversed(records)
               if r["currency"] == query.get("currency", r["currency"])
               and r["withdraw_order_id"] == query.get("withdraw_order_id", r["withdraw_order_id"])
               and int(query.get("from", 0)) <= int(r["timestamp"]) <= int(query.get("to", 2**40))]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in out[offset:offset + limit]]

    def _order_page(self, query: dict) -> list[dict]:
        """One page of ``GET /spot/orders``: ``status`` open or finished, of ``currency_pair``, created from ``from``
        to ``to`` (seconds, inclusive), the newest first, ``limit`` orders (default 100) of page ``page`` (from 1):
        an account's older orders are not in the first page."""
        wanted = ("open",) if query.get("status", "open") == "open" else ("closed", "cancelled")
        start, end = int(query.get("from", 0)), int(query.get("to", 2**62))
        out = [o for o in self.orders.values() if o["status"] in wanted and o["currency_pair"] ==
               query.get("currency_pair") and start <= int(o["create_time"]) <= end]
        out.sort(key=lambda o: int(o["create_time_ms"]), reverse=True)
        limit, page = int(query.get("limit", 100)), int(query.get("page", 1))
        return out[(page - 1) * limit:page * limit]

    @staticmethod
    def _trade_page(trades: list[dict], query: dict, order: str = "gate") -> list[dict]:
        """One page of ``GET /spot/my_trades``: filtered by ``currency_pair``, ``order_id`` and ``from``/``to``
        (seconds, inclusive); ``limit`` trades (default 100) of page ``page`` (from 1): the newest first, or, with
        ``from``, the oldest first from that time (what ccxt's forward pagination from a ``since`` reads), or as
        ``order`` says (:attr:`FakeGate.trade_list_order`)."""
        start, end = int(query.get("from", 0)), int(query.get("to", 2**62))
        start_ms = None
        if order == "gemini" and start >= MS_TIMESTAMP:  # Gemini takes its timestamp in seconds or milliseconds
            start_ms, start = start, start // 1000
        out = [t for t in trades if t["currency_pair"] == query.get("currency_pair", t["currency_pair"])
               and t["order_id"] == query.get("order_id", t["order_id"]) and start <= int(t["create_time"]) <= end]
        if start_ms is not None:
            out = [t for t in out if Decimal(t["create_time_ms"]) >= start_ms]
        if "id_less_than" in query and order == "bitget":
            out = [t for t in out if int(t["id"]) < int(query["id_less_than"])]
        newest_first = order == "bitget" or "from" not in query
        if order == "bitget":  # its trade ids grow with time: the cursor's order
            out.sort(key=lambda t: (Decimal(t["create_time_ms"]), int(t["id"])), reverse=True)
        else:
            out.sort(key=lambda t: Decimal(t["create_time_ms"]), reverse=newest_first)
        limit, page = int(query.get("limit", 100)), int(query.get("page", 1))
        if order == "gemini":
            limit = min(limit, GEMINI_MAX_TRADES)
        out = out[(page - 1) * limit:page * limit]
        return out[::-1] if order == "gemini" and "from" in query else out

    def _deposit_address(self, query: dict) -> dict:
        currency = self.wallet.get(query.get("currency", ""))
        if currency is None:
            raise _GateError(400, "INVALID_CURRENCY", f"Invalid currency {query.get('currency')}")
        chains = [{"chain": c, "address": self.deposit_address(query["currency"], c), "payment_id": "",
                   "payment_name": "", "obtain_failed": 0} for c in currency.chains]
        return {"currency": query["currency"], "address": chains[0]["address"], "multichain_addresses": chains}

    def _withdraw_status(self, query: dict) -> list[dict]:
        wanted = query.get("currency")
        return [{"currency": name, "name": name, "name_cn": name, "deposit": c.deposit_fee, "withdraw_percent": "0%",
                 "withdraw_fix": _text(max(c.chains.values())), "withdraw_day_limit": "500000",
                 "withdraw_amount_mini": _text(c.minimum), "withdraw_day_limit_remain": "500000",
                 "withdraw_eachtime_limit": "90000000000",
                 "withdraw_fix_on_chains": {chain: _text(fee) for chain, fee in c.chains.items()},
                 "withdraw_percent_on_chains": {chain: "0%" for chain in c.chains}}
                for name, c in self.wallet.items() if wanted in (None, name)]

    def _countdown_cancel_all(self, data: dict) -> dict:
        """Gate's countdown: every open spot order (of ``currency_pair`` if given) is cancelled ``timeout``
        seconds from now unless called again first; ``timeout = 0`` stops the countdown."""
        try:
            timeout = int(data["timeout"])
        except (KeyError, TypeError, ValueError):
            raise _GateError(400, "INVALID_PARAM_VALUE", "timeout must be an integer of seconds") from None
        self.countdown_calls.append(timeout)
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None
        if timeout <= 0:
            return {"triggerTime": 0}
        pair = data.get("currency_pair")
        self._countdown = asyncio.get_running_loop().call_later(timeout, self._countdown_fire, pair)
        return {"triggerTime": int((time.time() + timeout) * 1000)}

    def _countdown_fire(self, pair: str | None) -> None:
        self._countdown = None
        for order in self.orders.values():
            if order["status"] == "open" and pair in (None, order["currency_pair"]):
                order.update(status="cancelled", finish_as="cancelled", update_time=str(int(time.time())))
                self.countdown_cancelled.append(order["id"])

    def _pairs(self, query: dict, body: bytes) -> list[dict]:
        return [p.info() for p in self.pairs.values()]

    def _currencies(self, query: dict, body: bytes) -> list[dict]:
        names = sorted({c for p in self.pairs.values() for c in (p.base, p.quote)} | set(self.wallet))
        out = []
        for c in names:
            chains = list(self.wallet[c].chains) if c in self.wallet else [c]
            out.append({"currency": c, "name": c, "delisted": False, "withdraw_disabled": False,
                        "withdraw_delayed": False, "deposit_disabled": False, "trade_disabled": False,
                        "fixed_rate": "", "chain": chains[0],
                        "chains": [{"name": ch, "addr": "", "withdraw_disabled": False, "withdraw_delayed": False,
                                    "deposit_disabled": False} for ch in chains]})
        return out

    def _book(self, query: dict, body: bytes) -> dict:
        pair = self.pairs[query["currency_pair"]]
        bids, asks = pair.view(int(query.get("limit", 10)))
        book = {"current": int(time.time() * 1000), "update": int(time.time() * 1000),
                "asks": [[_text(p), _text(q)] for p, q in asks], "bids": [[_text(p), _text(q)] for p, q in bids]}
        if query.get("with_id") == "true":
            book["id"] = pair.update_id
        return book

    def _create(self, p: dict) -> dict:
        for key in ("currency_pair", "side", "amount"):
            if key not in p:
                raise _GateError(400, "MISSING_REQUIRED_PARAM", f"Missing required parameter: {key}")
        pair = self.pairs.get(p["currency_pair"])
        if pair is None:
            raise _GateError(400, "INVALID_CURRENCY_PAIR", "Invalid currency pair")
        text = p.get("text") or "web"
        if text != "web" and (not text.startswith("t-") or len(text) > 30):
            raise _GateError(400, "INVALID_PARAM_VALUE", "text must start with t- and be at most 28 characters")
        amount, price = Decimal(p["amount"]), Decimal(p.get("price") or "0")
        if amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-pair.qd)):
            raise _GateError(400, "INVALID_PARAM_VALUE", f"invalid amount {p['amount']}")
        if p.get("type", "limit") == "limit" and price != price.quantize(Decimal(1).scaleb(-pair.pd)):
            raise _GateError(400, "INVALID_PRECISION", f"invalid price {p['price']}")
        if p["side"] == "buy" and amount * price > self.accounts.get(pair.quote, Decimal(0)):
            raise _GateError(400, "BALANCE_NOT_ENOUGH", "Not enough balance")
        now = time.time()
        oid = str(next(self._ids))
        order = {"id": oid, "text": text, "amend_text": "-", "create_time": str(int(now)),
                 "update_time": str(int(now)), "create_time_ms": int(now * 1000), "update_time_ms": int(now * 1000),
                 "status": "open", "currency_pair": pair.id, "type": p.get("type", "limit"),
                 "account": p.get("account", "spot"), "side": p["side"], "amount": _text(amount),
                 "price": _text(price), "time_in_force": p.get("time_in_force", "gtc"), "iceberg": "0",
                 "left": _text(amount), "filled_amount": "0", "fill_price": "0", "filled_total": "0",
                 "avg_deal_price": "0", "fee": "0", "fee_currency": pair.base if p["side"] == "buy" else pair.quote,
                 "point_fee": "0", "gt_fee": "0", "gt_discount": False, "rebated_fee": "0",
                 "rebated_fee_currency": pair.quote, "finish_as": "open"}
        self.orders[oid] = order
        if self.fill_on_create is not None:
            self.fill(oid, (amount * self.fill_on_create).quantize(Decimal(1).scaleb(-pair.qd)), maker=False)
        if order["status"] == "open" and order["time_in_force"] in ("ioc", "fok"):
            order.update(status="cancelled" if Decimal(order["filled_amount"]) == 0 else "closed", finish_as="ioc")
        return order

    def _find(self, key: str, pair_id: str) -> dict:
        for order in self.orders.values():
            if order["id"] == key or (order["text"] == key and order["status"] == "open"):
                if pair_id and order["currency_pair"] != pair_id:
                    continue
                return order
        raise _GateError(404, "ORDER_NOT_FOUND", "Order not found")

    def fill(self, order_id: str, qty: Decimal, maker: bool = True, price: Decimal | None = None,
             gt_fee: Decimal | None = None) -> dict:
        """The venue fills part of an order (by itself, or at once for a taker). ``gt_fee``: the account pays
        fees in GT (Gate's "GT deduction"): the trade's ``fee`` is 0 and its ``gt_fee`` this much."""
        order = self.orders[order_id]
        pair = self.pairs[order["currency_pair"]]
        price = Decimal(order["price"]) if price is None else price
        fee_rate = Decimal("0.001") if maker else Decimal("0.002")
        fee = (qty * fee_rate if order["side"] == "buy" else qty * price * fee_rate).quantize(Decimal("1e-8"))
        fee = Decimal(0) if gt_fee is not None else fee
        trade = {"id": str(next(self._trade_ids)), "create_time": str(int(time.time())),
                 "create_time_ms": f"{time.time() * 1000:.3f}", "currency_pair": pair.id, "side": order["side"],
                 "role": "maker" if maker else "taker", "amount": _text(qty), "price": _text(price),
                 "order_id": order_id, "fee": _text(fee), "fee_currency": order["fee_currency"],
                 "point_fee": "0", "gt_fee": _text(gt_fee or Decimal(0)), "amend_text": "-", "sequence_id": "1",
                 "text": order["text"]}
        self.trades.append(trade)
        filled = Decimal(order["filled_amount"]) + qty
        total = Decimal(order["filled_total"]) + qty * price
        order.update(filled_amount=_text(filled), left=_text(Decimal(order["amount"]) - filled),
                     filled_total=_text(total), fill_price=_text(total), avg_deal_price=_text(total / filled),
                     fee=_text(Decimal(order["fee"]) + fee), update_time=str(int(time.time())))
        if filled >= Decimal(order["amount"]):
            order.update(status="closed", finish_as="filled", left="0")
        return trade


def _diff(before, after, changed):
    was = dict(before)
    now = dict(after)
    out = [(p, q) for p, q in after if p not in was or was[p] != q or p in changed]
    out += [(p, Decimal(0)) for p in was if p not in now]
    return out


def _error(status: int, label: str, message: str) -> web.Response:
    return web.json_response({"label": label, "message": message}, status=status)


class _GateError(Exception):
    def __init__(self, status: int, label: str, message: str):
        super().__init__(message)
        self.status = status
        self.label = label
        self.message = message
