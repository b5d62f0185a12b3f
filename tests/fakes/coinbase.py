"""A fake Coinbase Advanced Trade on 127.0.0.1: the market data WebSocket and the brokerage REST API.

It speaks the documented formats and keeps its own truth (a Decimal book per product, orders by
``client_order_id``), and checks CDP API-key JWTs itself (ES256 signature with the test key's
public half, ``kid``/``sub``, ``iss``, lifetime, and the ``uri`` claim against the request), so a
test compares the plugin against the venue rather than against itself. Faults on demand:

* WebSocket (:class:`FakeCoinbaseWS`): :meth:`drop` (abort every connection), ``silent = True``
  (nothing is sent, heartbeats included; TCP stays open and pings are answered),
  ``skip_sequence`` (the next message's ``sequence_num`` jumps by one), ``refuse_level2_subscribes``
  (an ``error`` message instead of the subscription), :meth:`send_raw`;
* the ``user`` channel (a :class:`FakeCoinbaseWS` built with ``rest=``, the user-order endpoint):
  a valid JWT is required, a ``snapshot`` of the REST side's open orders, then one ``update`` per
  change of an order (created, filled, cancelled); ``refuse = True`` closes new connections at once;
* REST (:class:`FakeCoinbaseREST`): ``http_429 = True`` (every call answers HTTP 429),
  ``lose_create_order = n`` (the order is created, then the connection is aborted before any
  answer), ``hang_create_order_s`` (created, then the answer is late), ``fills_cursor_stuck = True``
  (every List Fills answer names a next page).

List Orders (``orders/historical/batch``) filters by ``product_ids``, ``order_status`` and the creation window
(``start_date`` inclusive, ``end_date`` exclusive, RFC 3339), newest first, ``limit`` a page; every query is kept in
``list_queries``, and :meth:`FakeCoinbaseREST.add_history` gives the account older orders.

List Fills (``orders/historical/fills``) pages as Coinbase documents it: ``limit`` fills at most (and
at most ``fills_page_max``), then the answer's ``cursor`` for the next page, empty on the last.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from websockets.asyncio.server import ServerConnection, serve

from . import SHUTDOWN_TIMEOUT_S

KEY_NAME = "organizations/fake-org-0000/apiKeys/fake-key-0000"


def new_private_key_pem() -> str:
    """A fresh EC P-256 key in the PEM form the CDP portal hands out (``BEGIN EC PRIVATE KEY``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


PRIVATE_KEY_PEM = new_private_key_pem()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token: str, public_key: ec.EllipticCurvePublicKey, key_name: str, uri: str | None,
               now: float | None = None) -> str | None:
    """None if ``token`` is a valid CDP JWT for ``uri`` (None: a WebSocket JWT), else why not."""
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(_unb64(head_b64))
        claims = json.loads(_unb64(claims_b64))
        sig = _unb64(sig_b64)
    except (ValueError, TypeError):
        return "not a JWT"
    if header.get("alg") != "ES256" or header.get("typ") != "JWT" or not header.get("nonce"):
        return f"bad header {header}"
    if header.get("kid") != key_name or claims.get("sub") != key_name:
        return "unknown key"
    if claims.get("iss") != "cdp":
        return "bad issuer"
    now = time.time() if now is None else now
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int) or nbf > now + 5 or exp <= now or exp - nbf > 120:
        return "expired or not yet valid"
    if uri is not None and claims.get("uri") != uri:
        return f"uri {claims.get('uri')!r} is not {uri!r}"
    if len(sig) != 64:
        return "bad signature length"
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public_key.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad signature"
    return None


def public_key_of(pem: str) -> ec.EllipticCurvePublicKey:
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()


# --- market data -----------------------------------------------------------------------------------


class FakeProduct:
    """One product on the fake: its full book, Decimals, rendered at the product's precision."""

    def __init__(self, product_id: str, price_decimals: int = 2, qty_decimals: int = 8):
        self.product_id = product_id
        self.pd = price_decimals
        self.qd = qty_decimals
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def view(self, depth: int | None = None) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])
        asks = sorted(self.asks.items())
        return (bids, asks) if depth is None else (bids[:depth], asks[:depth])

    def level(self, side: str, price: Decimal, qty: Decimal) -> dict:
        return {"side": side, "event_time": "2026-11-22T01:00:00.000000Z", "price_level": f"{price:.{self.pd}f}",
                "new_quantity": f"{qty:.{self.qd}f}"}

    def info(self) -> dict:
        base, quote = self.product_id.split("-")
        return {"product_id": self.product_id, "price": "30000.00", "base_increment": str(Decimal(1).scaleb(-self.qd)),
                "quote_increment": str(Decimal(1).scaleb(-self.pd)),
                "price_increment": str(Decimal(1).scaleb(-self.pd)),
                "base_min_size": "0.00000001", "base_max_size": "3400", "quote_min_size": "1",
                "quote_max_size": "150000000", "status": "online", "base_currency_id": base,
                "quote_currency_id": quote, "product_type": "SPOT", "trading_disabled": False}


def populate(product: FakeProduct, levels: int = 60, mid: Decimal = Decimal("30000"), seed: int = 3) -> None:
    rng = random.Random(seed)
    tick = Decimal(1).scaleb(-product.pd)
    product.bids.clear()
    product.asks.clear()
    price = mid - tick
    for _ in range(levels):
        product.bids[price] = Decimal(rng.randint(1, 10**9)).scaleb(-product.qd)
        price -= tick * rng.randint(1, 3)
    price = mid + tick
    for _ in range(levels):
        product.asks[price] = Decimal(rng.randint(1, 10**9)).scaleb(-product.qd)
        price += tick * rng.randint(1, 3)
    if product.qd == 8:
        product.asks[min(product.asks)] = Decimal("12345678.12345678")


class _Conn:
    """One client connection: its sequence counter and subscriptions."""

    def __init__(self, ws: ServerConnection):
        self.ws = ws
        self.seq = 0
        self.subs: dict[str, set[str]] = {"level2": set(), "ticker": set(), "heartbeats": set(), "user": set()}
        self.heartbeat_task: asyncio.Task | None = None
        self.heartbeat_counter = 0


class FakeCoinbaseWS:
    """The Advanced Trade market data endpoint: ``heartbeats``, ``level2`` (``l2_data``), ``ticker``."""

    def __init__(self, products: list[FakeProduct], *, heartbeat_interval_s: float = 0.1, seed: int = 1,
                 key_pem: str = PRIVATE_KEY_PEM, key_name: str = KEY_NAME, rest: FakeCoinbaseREST | None = None):
        self.products = {p.product_id: p for p in products}
        self.rest = rest
        """Serve the ``user`` channel from this REST side's orders."""
        self.refuse = False
        if rest is not None:
            rest.listeners.append(self._on_order)
        self.heartbeat_interval_s = heartbeat_interval_s
        self.rng = random.Random(seed)
        self.public_key = public_key_of(key_pem)
        self.key_name = key_name
        self.conns: dict[ServerConnection, _Conn] = {}
        self.requests: list[dict] = []
        """Every subscribe/unsubscribe received, in order (the jwt removed)."""
        self.jwt_results: list[str | None] = []
        """For each request that carried a jwt: None if valid, else why not."""
        self.jwts: list[str] = []
        """Each jwt received, as received."""
        self.silent = False
        self.skip_sequence = 0
        self.refuse_level2_subscribes = 0
        """That many ``level2`` subscriptions are answered with an ``error`` message (which names no product, as
        Coinbase's do); nothing is subscribed."""
        self.sent_updates = 0
        self.connection_count = 0
        self.server = None
        self.url = ""

    async def start(self) -> FakeCoinbaseWS:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def close(self) -> None:
        if self.rest is not None:
            self.rest.listeners.remove(self._on_order)
        for conn in list(self.conns.values()):
            if conn.heartbeat_task is not None:
                conn.heartbeat_task.cancel()
        self.server.close()
        await self.server.wait_closed()

    def level2_requests(self, kind: str = "subscribe") -> list[dict]:
        return [r for r in self.requests if r.get("type") == kind and r.get("channel") == "level2"]

    async def _send(self, conn: _Conn, channel: str, events: list) -> None:
        if self.silent:
            return
        if self.skip_sequence > 0:
            self.skip_sequence -= 1
            conn.seq += 1  # a message lost on the way
        message = {"channel": channel, "client_id": "", "timestamp": "2026-11-22T01:00:00.000000000Z",
                   "sequence_num": conn.seq, "events": events}
        conn.seq += 1
        try:
            await conn.ws.send(json.dumps(message))
        except Exception:
            pass

    def _on_order(self, order: dict) -> None:
        for conn in list(self.conns.values()):
            if conn.subs["user"]:
                asyncio.get_running_loop().create_task(
                    self._send(conn, "user", [{"type": "update", "orders": [user_order(order)]}]))

    async def _handler(self, ws: ServerConnection) -> None:
        self.connection_count += 1
        if self.refuse:
            ws.transport.abort()
            return
        conn = self.conns[ws] = _Conn(ws)
        conn.heartbeat_task = asyncio.ensure_future(self._heartbeats(conn))
        try:
            async for text in ws:
                try:
                    request = json.loads(text)
                    kind, channel = request["type"], request["channel"]
                except (ValueError, KeyError, TypeError):
                    await ws.send(json.dumps({"type": "error", "message": "failure to parse message"}))
                    continue
                token = request.pop("jwt", None)
                if token is not None:
                    self.jwts.append(token)
                    self.jwt_results.append(verify_jwt(token, self.public_key, self.key_name, None))
                self.requests.append(request)
                if channel == "user" and (self.rest is None or token is None or self.jwt_results[-1] is not None):
                    await ws.send(json.dumps({"type": "error", "message": "authentication failure"}))
                    continue
                await self._answer(conn, kind, channel, request.get("product_ids") or [])
        except Exception:
            pass
        finally:
            conn.heartbeat_task.cancel()
            self.conns.pop(ws, None)

    async def _answer(self, conn: _Conn, kind: str, channel: str, product_ids: list[str]) -> None:
        if channel not in conn.subs or kind not in ("subscribe", "unsubscribe"):
            await conn.ws.send(json.dumps({"type": "error", "message": f"unknown channel or type: {channel} {kind}"}))
            return
        if kind == "subscribe" and channel == "level2" and self.refuse_level2_subscribes > 0:
            self.refuse_level2_subscribes -= 1
            await conn.ws.send(json.dumps({"type": "error", "message": "Failure to subscribe"}))
            return
        unknown = [p for p in product_ids if p not in self.products]
        if unknown:
            await conn.ws.send(json.dumps({"type": "error", "message": f"invalid product_id {unknown[0]}"}))
            return
        subs = conn.subs[channel]
        if channel in ("heartbeats", "user"):
            subs.add(channel) if kind == "subscribe" else subs.clear()
        elif kind == "unsubscribe":
            subs.difference_update(product_ids or list(subs))
        else:
            new = [p for p in product_ids if p not in subs]
            subs.update(product_ids)
        await self._send(conn, "subscriptions", [{"subscriptions": {c: sorted(s) for c, s in conn.subs.items() if s}}])
        if kind == "subscribe" and channel == "level2":
            for pid in new:
                p = self.products[pid]
                bids, asks = p.view()
                updates = [p.level("bid", pr, q) for pr, q in bids] + [p.level("offer", pr, q) for pr, q in asks]
                await self._send(conn, "l2_data", [{"type": "snapshot", "product_id": pid, "updates": updates}])
        elif kind == "subscribe" and channel == "user" and self.rest is not None:
            subs.add("user")
            await self._send(conn, "user", [{"type": "snapshot", "orders": [
                user_order(o) for o in self.rest.orders.values() if o["status"] == "OPEN"]}])
        elif kind == "subscribe" and channel == "ticker":
            for pid in new:
                await self._send(conn, "ticker", [{"type": "snapshot", "tickers": [self._ticker(pid)]}])

    def _ticker(self, pid: str) -> dict:
        p = self.products[pid]
        bids, asks = p.view(1)
        return {"type": "ticker", "product_id": pid, "price": f"{bids[0][0]:.{p.pd}f}" if bids else "0",
                "volume_24_h": "1000", "low_24_h": "1", "high_24_h": "2", "low_52_w": "1", "high_52_w": "2",
                "price_percent_chg_24_h": "0", "best_bid": f"{bids[0][0]:.{p.pd}f}" if bids else "",
                "best_bid_quantity": f"{bids[0][1]:.{p.qd}f}" if bids else "",
                "best_ask": f"{asks[0][0]:.{p.pd}f}" if asks else "",
                "best_ask_quantity": f"{asks[0][1]:.{p.qd}f}" if asks else ""}

    async def _heartbeats(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval_s)
            if conn.subs["heartbeats"]:
                conn.heartbeat_counter += 1
                await self._send(conn, "heartbeats", [{"current_time": "2026-11-22 01:00:00 +0000 UTC",
                                                       "heartbeat_counter": conn.heartbeat_counter}])

    # --- driving the market ---------------------------------------------------------------

    async def change(self, product_id: str, bids: dict[Decimal, Decimal] | None = None,
                     asks: dict[Decimal, Decimal] | None = None) -> None:
        """Set levels (qty 0 deletes) and send one ``update`` to every level2 subscriber."""
        p = self.products[product_id]
        updates = []
        for side, book, changes in (("bid", p.bids, bids or {}), ("offer", p.asks, asks or {})):
            for price, qty in changes.items():
                if qty == 0:
                    if book.pop(price, None) is None:
                        continue
                else:
                    book[price] = qty
                updates.append(p.level(side, price, qty))
        if not updates:
            return
        for conn in list(self.conns.values()):
            if product_id in conn.subs["level2"]:
                await self._send(conn, "l2_data", [{"type": "update", "product_id": product_id, "updates": updates}])
                self.sent_updates += 1

    async def random_updates(self, product_id: str, n: int) -> None:
        """``n`` random changes, mostly near the touch, some deletes, some new best prices."""
        p = self.products[product_id]
        tick = Decimal(1).scaleb(-p.pd)
        rng = self.rng
        for _ in range(n):
            bid_side = rng.random() < 0.5
            side = p.bids if bid_side else p.asks
            keys = sorted(side, reverse=bid_side)
            r = rng.random()
            i = min(int(rng.expovariate(0.3)), len(keys) - 1)
            qty = Decimal(rng.randint(1, 10**9)).scaleb(-p.qd)
            if rng.random() < 0.05 and p.qd == 8:
                qty = Decimal("0.10000000")
            if r < 0.6 or len(keys) < 30:
                price = keys[i] if r < 0.6 else keys[-1] + (-tick if bid_side else tick) * rng.randint(1, 3)
                change = {price: qty}
            elif r < 0.8:
                change = {keys[i]: Decimal(0)}
            else:
                best_other = min(p.asks) if bid_side else max(p.bids)
                price = keys[0] + (tick if bid_side else -tick)
                crosses = price >= best_other if bid_side else price <= best_other
                change = {keys[i]: qty} if crosses else {price: qty}
            await self.change(product_id, **({"bids": change} if bid_side else {"asks": change}))
            await asyncio.sleep(0)  # one loop: let the client read as a real venue's client would

    # --- faults -------------------------------------------------------------------------

    async def drop(self) -> None:
        """Abort every connection (no close frame), as a network failure would."""
        for ws in list(self.conns):
            ws.transport.abort()

    async def send_raw(self, frame: str) -> None:
        for ws in list(self.conns):
            await ws.send(frame)


# --- REST ------------------------------------------------------------------------------------------


API = "/api/v3/brokerage"


def user_order(order: dict) -> dict:
    """A REST order as the ``user`` channel describes it (documented field names, strings for numbers)."""
    filled = Decimal(order["filled_size"])
    return {"order_id": order["order_id"], "client_order_id": order["client_order_id"],
            "cumulative_quantity": order["filled_size"], "leaves_quantity": str(Decimal(order["base_size"]) - filled),
            "avg_price": order["average_filled_price"], "total_fees": order["total_fees"], "status": order["status"],
            "product_id": order["product_id"], "product_type": "SPOT", "order_side": order["side"],
            "order_type": order["order_type"].title(), "creation_time": order["created_time"],
            "number_of_fills": order["number_of_fills"], "filled_value": order["filled_value"],
            "cancel_reason": order["cancel_message"], "reject_reason": order["reject_reason"],
            "time_in_force": order["time_in_force"]}


class FakeCoinbaseREST:
    """The brokerage REST API on aiohttp, every private call checked for a valid CDP JWT."""

    def __init__(self, products: list[FakeProduct] | None = None, *, key_pem: str = PRIVATE_KEY_PEM,
                 key_name: str = KEY_NAME):
        self.products = {p.product_id: p for p in (products or [FakeProduct("BTC-USD")])}
        self.public_key = public_key_of(key_pem)
        self.key_name = key_name
        self.orders: dict[str, dict] = {}
        """order_id -> the order as Coinbase describes it."""
        self.by_client: dict[str, str] = {}
        self.fills: list[dict] = []
        self.balances = {"BTC": (Decimal("1.00000000"), Decimal("0")), "USD": (Decimal("100000.00"), Decimal("0"))}
        self.log: list[tuple[float, str, str]] = []
        """(loop time, method, path) of every request received."""
        self.list_queries: list[dict[str, list[str]]] = []
        """The query of every List Orders request (name -> values)."""
        self.auth_failures: list[str] = []
        self.http_429 = False
        self.lose_create_order = 0
        self.hang_create_order_s = 0.0
        self.fills_page_max = 100
        """The most fills one List Fills page holds, whatever ``limit`` asks."""
        self.fills_cursor_stuck = False
        """Every List Fills answer names a next page (a misbehaving server: the client must stop by itself)."""
        self._cursors = 0
        self.listeners: list = []
        """Called with an order each time it changes (the ``user`` channel's source)."""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeCoinbaseREST:
        app = web.Application(middlewares=[self._gate])
        app.add_routes([
            web.get(API + "/market/products/{product_id}", self._product),
            web.post(API + "/orders", self._create),
            web.post(API + "/orders/batch_cancel", self._cancel),
            web.get(API + "/orders/historical/batch", self._list),
            web.get(API + "/orders/historical/fills", self._fills),
            web.get(API + "/orders/historical/{order_id}", self._get),
            web.get(API + "/accounts", self._accounts),
        ])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        await self._runner.cleanup()

    def orders_with(self, client_order_id: str) -> list[dict]:
        return [o for o in self.orders.values() if o["client_order_id"] == client_order_id]

    def add_history(self, count: int, product_id: str, created_time: str, status: str = "FILLED") -> None:
        """``count`` older orders of the account on ``product_id``, created at ``created_time`` (RFC 3339)."""
        for _ in range(count):
            order_id = f"{next(self._ids):08d}-fake-0000-0000-order"
            self.orders[order_id] = {
                "order_id": order_id, "product_id": product_id, "user_id": "fake-user", "side": "BUY",
                "client_order_id": f"history-{order_id}", "status": status, "created_time": created_time,
                "filled_size": "0", "average_filled_price": "0", "total_fees": "0", "base_size": "0.01"}
            self.by_client[f"history-{order_id}"] = order_id

    def requests_since(self, t: float) -> list[tuple[float, str, str]]:
        return [entry for entry in self.log if entry[0] >= t]

    @web.middleware
    async def _gate(self, request: web.Request, handler):
        self.log.append((asyncio.get_running_loop().time(), request.method, request.path))
        if self.http_429:
            return web.json_response({"error": "RATE_LIMIT_EXCEEDED", "message": "Too many requests"}, status=429)
        if not request.path.startswith(API + "/market/"):
            auth = request.headers.get("Authorization", "")
            problem = "no bearer token" if not auth.startswith("Bearer ") else verify_jwt(
                auth[7:], self.public_key, self.key_name, f"{request.method} {request.host}{request.path}")
            if problem is not None:
                self.auth_failures.append(problem)
                return web.json_response({"error": "UNAUTHENTICATED", "message": "Unauthorized"}, status=401)
        return await handler(request)

    # --- handlers -----------------------------------------------------------------------

    async def _product(self, request: web.Request) -> web.Response:
        p = self.products.get(request.match_info["product_id"])
        if p is None:
            return web.json_response({"error": "NOT_FOUND", "message": "product not found"}, status=404)
        return web.json_response(p.info())

    def _failure(self, error: str, message: str, preview: str = "") -> web.Response:
        return web.json_response({"success": False, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": "",
                                  "error_response": {"error": error, "message": message, "error_details": message,
                                                     "preview_failure_reason": preview}})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        cid = body.get("client_order_id")
        if not cid:
            return web.json_response({"error": "INVALID_ARGUMENT", "message": "client_order_id is required"},
                                     status=400)
        if cid in self.by_client:  # documented: a reused client_order_id is answered with the existing order
            return self._created(self.orders[self.by_client[cid]])
        p = self.products.get(body.get("product_id", ""))
        side = body.get("side")
        config = body.get("order_configuration") or {}
        if p is None or side not in ("BUY", "SELL") or len(config) != 1:
            return self._failure("INVALID_ARGUMENT", "invalid product, side or order configuration")
        kind, spec = next(iter(config.items()))
        if kind not in ("limit_limit_gtc", "sor_limit_ioc", "market_market_ioc"):
            return self._failure("UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} is not supported here")
        size = Decimal(spec["base_size"])
        price = Decimal(spec["limit_price"]) if "limit_price" in spec else None
        bids, asks = p.view(1)
        touch = (asks[0][0] if asks else None) if side == "BUY" else (bids[0][0] if bids else None)
        crosses = touch is not None and (price is None or (price >= touch if side == "BUY" else price <= touch))
        if spec.get("post_only") and crosses:
            return self._failure("INVALID_LIMIT_PRICE_POST_ONLY", "post-only order would cross",
                                  "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY")
        if side == "BUY" and size * (price or touch or 0) > self.balances["USD"][0]:
            return self._failure("INSUFFICIENT_FUND", "Insufficient balance in source account",
                                  "PREVIEW_INSUFFICIENT_FUND")
        order_id = f"{next(self._ids):08d}-fake-0000-0000-order"
        order = {
            "order_id": order_id, "product_id": p.product_id, "user_id": "fake-user", "side": side,
            "client_order_id": cid, "order_configuration": config, "status": "OPEN",
            "time_in_force": "IMMEDIATE_OR_CANCEL" if kind != "limit_limit_gtc" else "GOOD_UNTIL_CANCELLED",
            "created_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "completion_percentage": "0",
            "filled_size": "0",
            "average_filled_price": "0", "fee": "", "number_of_fills": "0", "filled_value": "0",
            "pending_cancel": False, "size_in_quote": False, "total_fees": "0", "size_inclusive_of_fees": False,
            "total_value_after_fees": "0", "trigger_status": "INVALID_ORDER_TYPE", "order_type":
                "MARKET" if kind == "market_market_ioc" else "LIMIT", "reject_reason": "", "settled": False,
            "product_type": "SPOT", "reject_message": "", "cancel_message": "", "order_placement_source":
                "RETAIL_ADVANCED", "outstanding_hold_amount": "0", "base_size": str(size),
        }
        self.orders[order_id] = order
        self.by_client[cid] = order_id
        if crosses:
            self.fill(order_id, size, price if price is not None else touch, maker=False)
        elif kind != "limit_limit_gtc":
            order["status"] = "CANCELLED"
            order["cancel_message"] = "IOC: nothing to fill"
        if not crosses:
            self._changed(order)
        if self.lose_create_order > 0:
            self.lose_create_order -= 1
            request.transport.abort()  # created on the venue; the answer never leaves
            raise asyncio.CancelledError
        if self.hang_create_order_s:
            await asyncio.sleep(self.hang_create_order_s)
        return self._created(order)

    def _created(self, order: dict) -> web.Response:
        return web.json_response({"success": True, "success_response": {
            "order_id": order["order_id"], "product_id": order["product_id"], "side": order["side"],
            "client_order_id": order["client_order_id"]}, "order_configuration": order["order_configuration"]})

    def fill(self, order_id: str, qty: Decimal, price: Decimal, maker: bool = True) -> str:
        """The venue fills part of an order by itself."""
        order = self.orders[order_id]
        entry = f"fill-{len(self.fills) + 1:06d}"
        commission = (price * qty * Decimal("0.006")).quantize(Decimal("0.00000001"))
        self.fills.append({"entry_id": entry, "trade_id": f"trade-{len(self.fills) + 1}", "order_id": order_id,
                           "trade_time": "2026-11-22T01:00:01.000000Z", "trade_type": "FILL", "price": str(price),
                           "size": str(qty), "commission": str(commission), "product_id": order["product_id"],
                           "sequence_timestamp": "2026-11-22T01:00:01.000000Z",
                           "liquidity_indicator": "MAKER" if maker else "TAKER", "size_in_quote": False,
                           "user_id": "fake-user", "side": order["side"]})
        old = Decimal(order["filled_size"])
        filled = old + qty
        value = Decimal(order["filled_value"]) + price * qty
        order.update(filled_size=str(filled), filled_value=str(value), average_filled_price=str(value / filled),
                     number_of_fills=str(int(order["number_of_fills"]) + 1),
                     total_fees=str(Decimal(order["total_fees"]) + commission))
        if filled >= Decimal(order["base_size"]):
            order["status"] = "FILLED"
        self._changed(order)
        return entry

    def _changed(self, order: dict) -> None:
        for listener in list(self.listeners):
            listener(order)

    async def _cancel(self, request: web.Request) -> web.Response:
        results = []
        for order_id in (await request.json()).get("order_ids") or []:
            order = self.orders.get(order_id)
            if order is None or order["status"] != "OPEN":
                results.append({"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": order_id})
                continue
            order["status"] = "CANCELLED"
            self._changed(order)
            results.append({"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id})
        return web.json_response({"results": results})

    async def _list(self, request: web.Request) -> web.Response:
        q = request.query
        products = set(q.getall("product_ids", []))
        statuses = set(q.getall("order_status", []))
        limit = int(q.get("limit", "100"))
        start = int(q.get("cursor") or 0)
        self.list_queries.append({k: q.getall(k) for k in q})

        def moment(text: str) -> datetime:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        after = moment(q["start_date"]) if "start_date" in q else None
        before = moment(q["end_date"]) if "end_date" in q else None
        found = [o for o in reversed(list(self.orders.values()))
                 if (not products or o["product_id"] in products) and (not statuses or o["status"] in statuses)
                 and (after is None or moment(o["created_time"]) >= after)
                 and (before is None or moment(o["created_time"]) < before)]
        page = found[start:start + limit]
        more = start + limit < len(found)
        return web.json_response({"orders": page, "sequence": "0", "has_next": more,
                                  "cursor": str(start + limit) if more else ""})

    async def _get(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": "NOT_FOUND", "message": "order with this orderID was not found"},
                                     status=404)
        return web.json_response({"order": order})

    async def _fills(self, request: web.Request) -> web.Response:
        """List Fills, a page at a time: at most ``limit`` fills (and at most :attr:`fills_page_max`), the next
        page's ``cursor`` in the answer, ``""`` on the last page."""
        q = request.query
        ids = set(q.getall("order_ids", []))
        size = min(int(q.get("limit") or self.fills_page_max), self.fills_page_max)
        start = int((q.get("cursor") or "0").split("-")[0])
        found = [f for f in self.fills if not ids or f["order_id"] in ids]
        more = start + size < len(found)
        self._cursors += 1
        cursor = (f"{start + size}-{self._cursors}" if more else
                  f"{start + size}-{self._cursors}" if self.fills_cursor_stuck else "")
        return web.json_response({"fills": found[start:start + size], "cursor": cursor})

    async def _accounts(self, request: web.Request) -> web.Response:
        accounts = [{"uuid": f"acct-{currency}", "name": f"{currency} Wallet", "currency": currency,
                     "available_balance": {"value": str(free), "currency": currency}, "default": True,
                     "active": True, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                     "deleted_at": None, "type": "ACCOUNT_TYPE_CRYPTO", "ready": True,
                     "hold": {"value": str(hold), "currency": currency}}
                    for currency, (free, hold) in self.balances.items()]
        return web.json_response({"accounts": accounts, "has_next": False, "cursor": "", "size": len(accounts)})
