"""A fake Kraken on 127.0.0.1: WebSocket v2 public ``book`` + ``instrument``, and the private REST API.

It speaks the documented formats and keeps its own truth, computed independently of the plugin
(Decimal text rendering for checksums, its own HMAC check of API-Sign), so a test compares the
plugin against the venue rather than against itself. Faults on demand:

* WebSocket: a ``heartbeat`` every ``heartbeat_s`` once the connection subscribed (Kraken: about every
  second), :meth:`FakeKrakenWS.drop` (abort every connection), ``silent = True`` (stop
  sending, heartbeats included; TCP stays open and pings are still answered), ``corrupt_next_checksums``,
  ``refuse_book_subscribes = n`` (refused as Kraken refuses one, naming the symbol), raw frames
  with :meth:`FakeKrakenWS.send_raw`;
* REST: ``rate_limited = True`` (every call answers ``EAPI:Rate limit exceeded``), ``locked_out = True``
  (``EGeneral:Temporary lockout``),
  ``http_429 = True``, ``lose_add_order = n`` and ``lose_withdraw = n`` (the order is created, the withdrawal made,
  then the connection is closed before any answer), ``hang_add_order_s`` (created, then the answer is late),
  ``queue_add_order_s`` (the answer is lost and the request reaches the engine that much later; AddOrder's
  ``deadline`` is honoured: a request past it is refused ``EService:Deadline elapsed``),
  ``fail_dead_man = True`` (``CancelAllOrdersAfter`` answers ``EService:Unavailable``);
* the private WebSocket v2 (:class:`FakeKrakenAuthWS`): ``executions`` with a token from REST
  ``GetWebSocketsToken``, a snapshot of open orders, then ``trade``/``filled``/``canceled`` reports
  as the REST side's orders change, a ``heartbeat`` every ``heartbeat_s``; :meth:`FakeKrakenAuthWS.drop`
  and ``refuse = True`` (new connections are closed at once) for a stream that is down.

Funding, as documented for withdrawals to pre-registered keys and deposits: ``WithdrawMethods``,
``WithdrawInfo``, ``WithdrawAddresses`` (each key's address), ``Withdraw`` (only to a key in
``withdraw_keys``; the amount includes the fee, taken from the balance; refused ``EFunding:Max fee exceeded``, nothing
made, when its ``max_fee`` is below the fee Kraken would charge; ``fee_rises_at_withdraw`` raises the fee just as the
next ``Withdraw`` arrives, after every ``WithdrawInfo`` quoted it), ``WithdrawStatus``,
``DepositMethods`` (``fee``, ``minimum`` and ``limit`` per method: ``deposit_fees``, ``deposit_minimums``,
``deposit_limits``), ``DepositAddresses``, ``DepositStatus`` (:meth:`FakeKrakenREST.deposit` makes a deposit arrive,
less the deposit fee).

Balances: ``Balance`` (totals) and ``BalanceEx`` as documented (``balance``, ``hold_trade``, ``credit``,
``credit_used``), whose ``hold_trade`` is what the open orders hold (:meth:`FakeKrakenREST.holds`); an Earn
balance is its own key (``XBT.F``, ``USD.F``: earning in Kraken Rewards, traded through the base asset, so a buy's
funds check counts ``USD.F`` with ``ZUSD``; ``DOT.S``: staked).

``QueryOrders`` and ``QueryTrades`` take at most the txids Kraken documents (50 and 20); more is
refused with Kraken's ``EGeneral:Invalid arguments``.

``Ledgers`` lists the account's ledger entries as Kraken documents them (``asset``, ``type``, ``start``/``end``
exclusive, ``ofs``; 50 at a time, newest first; ``{"ledger": {id: entry}, "count": n}``): each trade writes one
entry per asset it changed, ``refid`` the trade id, ``amount`` the change and ``fee`` the fee paid in that asset
(a KFEE entry: amount 0, the credits used as its fee). ``ledger_refused`` answers ``EGeneral:Permission denied``
(a key without the "Query ledger entries" permission). ``ledger_late = True`` holds a trade's KFEE entry back
(``ledger_held``) until :meth:`FakeKrakenREST.write_ledger`: the ledger written after the trade history, so a read
of both in between sees the trade without its fee credits.

``CancelAllOrdersAfter`` (the dead-man switch) is kept as Kraken documents it: each call with a
timeout restarts the countdown, ``timeout=0`` disarms it, and when the countdown runs out every
open order is cancelled (``dead_man_calls`` records every call, ``dead_man_fired`` the firings).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import random
import secrets
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl

from websockets.asyncio.server import ServerConnection, serve

API_KEY = "fake-key"
API_SECRET = base64.b64encode(b"fake kraken secret for tests only " * 2).decode()
QUERY_ORDERS_MAX = 50
"""Kraken: ``QueryOrders`` txid, "Comma delimited list of transaction IDs to query info about (50 maximum)"."""
QUERY_TRADES_MAX = 20
"""Kraken: ``QueryTrades`` txid, "(20 maximum)"."""
FEE_RATE = Decimal("0.0016")
"""The fee of every trade here, and what an open order holds for it."""


def render(value: Decimal, decimals: int) -> str:
    """A JSON number at ``decimals`` places, trailing zeros kept (what Kraken puts on the wire)."""
    return f"{value:.{decimals}f}"


def checksum(asks: list[tuple[Decimal, Decimal]], bids: list[tuple[Decimal, Decimal]], pd: int, qd: int) -> int:
    """Kraken's documented algorithm, written from the text: format, drop '.', strip leading zeros."""
    def part(levels):
        return "".join(render(p, pd).replace(".", "").lstrip("0") + render(q, qd).replace(".", "").lstrip("0")
                       for p, q in levels[:10])
    return zlib.crc32((part(asks) + part(bids)).encode())


class FakePair:
    """One market on the fake: a full book deeper than any subscription."""

    def __init__(self, symbol: str, price_decimals: int = 1, qty_decimals: int = 8):
        self.symbol = symbol
        self.pd = price_decimals
        self.qd = qty_decimals
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def view(self, depth: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks

    def level_json(self, price: Decimal, qty: Decimal) -> str:
        return f'{{"price":{render(price, self.pd)},"qty":{render(qty, self.qd)}}}'

    def instrument(self) -> dict:
        inc_p = Decimal(1).scaleb(-self.pd)
        inc_q = Decimal(1).scaleb(-self.qd)
        base, quote = self.symbol.split("/")
        return {"symbol": self.symbol, "base": base, "quote": quote, "status": "online",
                "qty_precision": self.qd, "qty_increment": str(inc_q), "price_precision": self.pd,
                "price_increment": str(inc_p), "qty_min": "0.0001", "cost_min": "0.5", "marginable": False}


class FakeKrakenWS:
    """The public WebSocket v2 endpoint."""

    def __init__(self, pairs: list[FakePair], seed: int = 1, heartbeat_s: float = 0.1):
        self.pairs = {p.symbol: p for p in pairs}
        self.heartbeat_s = heartbeat_s
        """Kraken sends ``{"channel": "heartbeat"}`` about every second once a connection subscribed to a channel;
        faster here, for tests whose ``silence_timeout_s`` is short. None while ``silent``."""
        self.refuse_book_subscribes = 0
        """That many ``book`` subscriptions of a symbol are refused (``success: false`` naming the symbol)."""
        self.rng = random.Random(seed)
        self.connections: set[ServerConnection] = set()
        self.subscriptions: dict[ServerConnection, dict[str, int]] = {}
        """Per connection: book symbol -> subscribed depth."""
        self.requests: list[dict] = []
        """Every subscribe/unsubscribe received, in order."""
        self.silent = False
        self.corrupt_next_checksums = 0
        self.sent_updates = 0
        self.connection_count = 0
        self.server = None
        self.url = ""

    async def start(self) -> FakeKrakenWS:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v2"
        return self

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def book_requests(self, method: str = "subscribe") -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["params"]["channel"] == "book"]

    async def _heartbeats(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if not self.silent:
                await ws.send('{"channel":"heartbeat"}')

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections.add(ws)
        self.subscriptions[ws] = {}
        self.connection_count += 1
        beats: asyncio.Task | None = None
        try:
            async for text in ws:
                try:
                    request = json.loads(text)
                    method, params = request["method"], request["params"]
                except (ValueError, KeyError, TypeError):
                    await ws.send(json.dumps({"error": "invalid request", "success": False}))
                    continue
                self.requests.append(request)
                if self.silent:
                    continue
                await self._answer(ws, method, params, request.get("req_id"))
                if beats is None and method == "subscribe":
                    beats = asyncio.get_running_loop().create_task(self._heartbeats(ws))
        except Exception:
            pass
        finally:
            if beats is not None:
                beats.cancel()
            self.connections.discard(ws)
            self.subscriptions.pop(ws, None)

    async def _answer(self, ws: ServerConnection, method: str, params: dict, req_id) -> None:
        channel = params.get("channel")
        if channel == "instrument" and method == "subscribe":
            await ws.send(json.dumps({"method": "subscribe", "result": {"channel": "instrument", "snapshot": True},
                                      "success": True, "req_id": req_id}))
            data = {"assets": [], "pairs": [p.instrument() for p in self.pairs.values()]}
            # numbers in the instrument message are JSON numbers, as Kraken sends them
            text = json.dumps({"channel": "instrument", "type": "snapshot", "data": data})
            for p in self.pairs.values():
                for key in ("qty_increment", "price_increment", "qty_min", "cost_min"):
                    text = text.replace(f'"{key}": "{p.instrument()[key]}"', f'"{key}": {p.instrument()[key]}')
            await ws.send(text)
            return
        if channel != "book":
            await ws.send(json.dumps({"method": method, "error": f"Channel {channel} unsupported",
                                      "success": False, "req_id": req_id}))
            return
        depth = int(params.get("depth", 10))
        subs = self.subscriptions.get(ws, {})
        for symbol in params.get("symbol", []):
            if symbol not in self.pairs:
                await ws.send(json.dumps({"method": method, "error": "Currency pair not supported",
                                          "success": False, "symbol": symbol, "req_id": req_id}))
                continue
            if method == "unsubscribe":
                subs.pop(symbol, None)
                await ws.send(json.dumps({"method": "unsubscribe", "result": {"channel": "book", "depth": depth,
                                          "symbol": symbol}, "success": True, "req_id": req_id}))
                continue
            if symbol in subs:
                await ws.send(json.dumps({"method": "subscribe", "error": "Already subscribed",
                                          "success": False, "symbol": symbol, "req_id": req_id}))
                continue
            if self.refuse_book_subscribes > 0:
                self.refuse_book_subscribes -= 1
                await ws.send(json.dumps({"method": "subscribe", "error": "EGeneral:Internal error",
                                          "success": False, "symbol": symbol, "req_id": req_id}))
                continue
            subs[symbol] = depth
            await ws.send(json.dumps({"method": "subscribe", "result": {"channel": "book", "depth": depth,
                                      "snapshot": True, "symbol": symbol}, "success": True, "req_id": req_id}))
            await ws.send(self._book_frame("snapshot", self.pairs[symbol], depth, *self.pairs[symbol].view(depth)))

    def _book_frame(self, kind: str, pair: FakePair, depth: int, bids, asks, view=None) -> str:
        view_bids, view_asks = view if view is not None else (bids, asks)
        crc = checksum(view_asks, view_bids, pair.pd, pair.qd)
        if kind == "update" and self.corrupt_next_checksums > 0:
            self.corrupt_next_checksums -= 1
            crc ^= 0x5A5A
        return ('{"channel":"book","type":"%s","data":[{"symbol":"%s","bids":[%s],"asks":[%s],"checksum":%d,'
                '"timestamp":"2026-11-22T01:00:00.000000Z"}]}' % (
                    kind, pair.symbol, ",".join(pair.level_json(p, q) for p, q in bids),
                    ",".join(pair.level_json(p, q) for p, q in asks), crc))

    # --- driving the market ---------------------------------------------------------------

    def set_book(self, symbol: str, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> None:
        """Set the venue's book (before anyone subscribes, or followed by a resubscription)."""
        pair = self.pairs[symbol]
        pair.bids = dict(bids)
        pair.asks = dict(asks)

    async def change(self, symbol: str, bids: dict[Decimal, Decimal] | None = None,
                     asks: dict[Decimal, Decimal] | None = None) -> None:
        """Change levels (qty 0 deletes) and send each subscriber what its depth shows, as Kraken does:
        changed levels inside the view, deletes of levels that left the book, the levels that came
        into view; nothing for levels merely pushed out of view."""
        pair = self.pairs[symbol]
        before = {ws: pair.view(depth) for ws, subs in self.subscriptions.items()
                  for s, depth in subs.items() if s == symbol}
        for side, changes in ((pair.bids, bids or {}), (pair.asks, asks or {})):
            for price, qty in changes.items():
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        if self.silent:
            return
        for ws, (old_bids, old_asks) in before.items():
            depth = self.subscriptions.get(ws, {}).get(symbol)
            if depth is None:
                continue
            new_bids, new_asks = pair.view(depth)
            out_bids = self._diff(old_bids, new_bids, pair.bids, bids or {})
            out_asks = self._diff(old_asks, new_asks, pair.asks, asks or {})
            if not out_bids and not out_asks:
                continue
            frame = self._book_frame("update", pair, depth, out_bids, out_asks, view=(new_bids, new_asks))
            try:
                await ws.send(frame)
                self.sent_updates += 1
            except Exception:
                pass

    @staticmethod
    def _diff(before, after, book, changed):
        was = dict(before)
        now = dict(after)
        out = [(p, q) for p, q in after if p not in was or was[p] != q or p in changed]
        out += [(p, Decimal(0)) for p in was if p not in now and p not in book]
        return out

    async def random_updates(self, symbol: str, n: int) -> None:
        """``n`` random changes, mostly near the touch, some deletes, some new best prices."""
        pair = self.pairs[symbol]
        tick = Decimal(1).scaleb(-pair.pd)
        rng = self.rng
        for _ in range(n):
            bid_side = rng.random() < 0.5
            side = pair.bids if bid_side else pair.asks
            keys = sorted(side, reverse=bid_side)
            r = rng.random()
            i = min(int(rng.expovariate(0.3)), len(keys) - 1)
            qty = Decimal(rng.randint(1, 10**9)).scaleb(-pair.qd)
            if rng.random() < 0.05:
                qty = Decimal("0.10000000") if pair.qd == 8 else qty
            if r < 0.6 or len(keys) < 30:
                price = keys[i] if r < 0.6 else keys[-1] + (-tick if bid_side else tick) * rng.randint(1, 3)
                change = {price: qty}
            elif r < 0.8:
                change = {keys[i]: Decimal(0)}
            else:
                best_other = min(pair.asks) if bid_side else max(pair.bids)
                price = keys[0] + (tick if bid_side else -tick)
                if (bid_side and price >= best_other) or (not bid_side and price <= best_other):
                    change = {keys[i]: qty}
                else:
                    change = {price: qty}
            await self.change(symbol, **({"bids": change} if bid_side else {"asks": change}))
            await asyncio.sleep(0)  # one loop: let the client read as a real venue's client would

    # --- faults -------------------------------------------------------------------------

    async def drop(self) -> None:
        """Abort every connection (no close frame), as a network failure would."""
        for ws in list(self.connections):
            ws.transport.abort()

    async def send_raw(self, frame: str) -> None:
        for ws in list(self.connections):
            await ws.send(frame)


def populate(pair: FakePair, levels: int = 60, mid: Decimal = Decimal("30000"), seed: int = 3) -> None:
    rng = random.Random(seed)
    tick = Decimal(1).scaleb(-pair.pd)
    pair.bids.clear()
    pair.asks.clear()
    price = mid - tick
    for _ in range(levels):
        pair.bids[price] = Decimal(rng.randint(1, 10**9)).scaleb(-pair.qd)
        price -= tick * rng.randint(1, 3)
    price = mid + tick
    for _ in range(levels):
        pair.asks[price] = Decimal(rng.randint(1, 10**9)).scaleb(-pair.qd)
        price += tick * rng.randint(1, 3)
    first_ask = min(pair.asks)
    pair.asks[first_ask] = Decimal("12345678.12345678") if pair.qd == 8 else pair.asks[first_ask]


# --- REST --------------------------------------------------------------------------------------


class FakeKrakenREST:
    """``POST /0/private/<Method>`` over plain asyncio HTTP/1.1 (keep-alive), checking API-Sign and nonces."""

    def __init__(self, key: str = API_KEY, secret: str = API_SECRET):
        self.key = key
        self.secret = secret
        self.last_nonce = 0
        self.orders: dict[str, dict] = {}
        """txid -> Kraken order info."""
        self.trades: dict[str, dict] = {}
        self.balances = {"XXBT": "1.0000000000", "ZUSD": "100000.0000", "SOL": "100.0000000000"}
        self.symbols = {"XBTUSD": "BTC/USD"}
        """REST pair name -> WebSocket v2 symbol (what execution reports carry)."""
        self.pair_assets = {"XBTUSD": ("XXBT", "ZUSD")}
        """REST pair name -> its (base, quote) balance keys (where ``BalanceEx`` counts an open order's hold)."""
        self.log: list[tuple[float, str, dict]] = []
        """(loop time, method, params) of every request received."""
        self.rate_limited = False
        self.locked_out = False
        """Every call answers ``EGeneral:Temporary lockout`` (the key is locked out for a while)."""
        self.http_429 = False
        self.lose_add_order = 0
        self.lose_withdraw = 0
        """That many ``Withdraw`` calls are made (the funds leave), then the connection closes before the answer."""
        self.hang_add_order_s = 0.0
        self.queue_add_order_s = 0.0
        """The next AddOrder is queued at Kraken: its connection is lost at once (no answer) and the request reaches
        the matching engine that much later, refused then if its ``deadline`` has passed (``late_add_orders``)."""
        self._late = False
        self.late_add_orders: list[str] = []
        """What each queued AddOrder became when the engine got it: a txid, or Kraken's error."""
        self.fail_dead_man = False
        self.tokens: set[str] = set()
        self.dead_man_calls: list[tuple[float, int]] = []
        """(loop time, timeout) of every CancelAllOrdersAfter call."""
        self.dead_man_fired: list[tuple[float, int]] = []
        """(loop time, orders cancelled) each time the countdown ran out."""
        self._dead_man: asyncio.TimerHandle | None = None
        self.withdraw_keys = {"my-sol-wallet": ("SOL", "WaLLet1111111111111111111111111111111111111")}
        """Withdrawal key name -> (asset, address), as registered in the account."""
        self.withdraw_fees = {"SOL": Decimal("0.01")}
        self.fee_rises_at_withdraw: dict[str, Decimal] = {}
        """Asset -> the fee Kraken moves to just as the next ``Withdraw`` of it arrives (after the ``WithdrawInfo`` the
        caller read its fee from); taken once."""
        self.fee_credits = Decimal(0)
        """KFEE held: Kraken's fee credits (100 KFEE pay 1 USD of fees, Kraken's help on KFEE) pay a USD fee first. The
        trade's execution report then names two fees, the rest in USD and the credits used in KFEE; the trade history
        (``QueryTrades``) states what was charged in USD."""
        self.ledger: list[dict] = []
        """Ledger entries, oldest first (``Ledgers``)."""
        self.ledger_refused = False
        self.ledger_late = False
        self.ledger_held: list[dict] = []
        """KFEE entries written late (``ledger_late``), in the order made."""
        self.withdraw_minimums = {"SOL": Decimal("0.05")}
        self.other_withdraw_methods: dict[str, list[tuple[str, Decimal]]] = {}
        """Asset -> (method, minimum) of methods no key is registered for, listed by ``WithdrawMethods`` too."""
        self.withdraw_limits: dict[str, Decimal] = {}
        """Asset -> the most a withdrawal may deliver now (``WithdrawInfo``'s ``limit``, net of the fee; ``Withdraw``
        refuses more); no entry: the balance."""
        self.deposit_addresses = {("SOL", "Solana"): "KrakenDeposit111111111111111111111111111111"}
        self.deposit_fees: dict[str, Decimal] = {}
        """Asset -> the fee Kraken keeps of each deposit (``DepositMethods``' ``fee``; ``DepositStatus`` lists the
        amount that arrived and this fee; the balance gets the difference); no entry: none."""
        self.deposit_minimums: dict[str, Decimal] = {}
        """Asset -> ``DepositMethods``' ``minimum`` (the least net amount, less the fee, a deposit may bring); no
        entry: 0."""
        self.deposit_limits: dict[str, Decimal] = {}
        """Asset -> ``DepositMethods``' ``limit`` (the most net amount a deposit may bring now); no entry: ``false``, no
        limit."""
        self.withdrawals: list[dict] = []
        self.deposits: list[dict] = []
        self.listeners: list[Callable[[dict], None]] = []
        """Called with every execution report (the private WebSocket's source)."""
        self._txids = itertools.count(1)
        self.server = None
        self.url = ""

    async def start(self) -> FakeKrakenREST:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def close(self) -> None:
        if self._dead_man is not None:
            self._dead_man.cancel()
        self.server.close()
        await self.server.wait_closed()

    def open_orders(self) -> list[str]:
        return [t for t, o in self.orders.items() if o["status"] in ("open", "pending")]

    def _report(self, txid: str, exec_type: str, **fields) -> None:
        order = self.orders[txid]
        report = {"order_id": txid, "exec_type": exec_type, "symbol": order.get("symbol", ""),
                  "side": order["descr"]["type"], "order_type": order["descr"]["ordertype"],
                  "order_qty": Decimal(order["vol"]), "cum_qty": Decimal(order["vol_exec"]),
                  "order_status": {"open": "new", "closed": "filled"}.get(order["status"], order["status"]),
                  "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **fields}
        if order.get("cl_ord_id"):
            report["cl_ord_id"] = order["cl_ord_id"]
        for listener in list(self.listeners):
            listener(report)

    def orders_with(self, cl_ord_id: str) -> list[dict]:
        return [o for o in self.orders.values() if o.get("cl_ord_id") == cl_ord_id]

    def fill(self, txid: str, qty: Decimal, price: Decimal, maker: bool = True) -> str:
        """The venue fills part of an order by itself."""
        order = self.orders[txid]
        tid = f"T{len(self.trades) + 1:05d}-FAKE"
        self.trades[tid] = {"ordertxid": txid, "pair": order["descr"]["pair"], "time": 1700000000.5,
                            "type": order["descr"]["type"], "ordertype": "limit", "price": str(price),
                            "cost": str(price * qty), "fee": str((price * qty * FEE_RATE).quantize(
                                Decimal("0.00001"))), "vol": str(qty), "maker": maker}
        executed = Decimal(order["vol_exec"]) + qty
        order["vol_exec"] = str(executed)
        order["price"] = str(price)
        order["trades"].append(tid)
        trade = self.trades[tid]
        # the fee's asset follows the order's flags: the quote with fciq, the base with fcib, else Kraken's default
        # (the base when selling, the quote when buying); the trade history states it in the quote whatever it is
        flags = order["oflags"].split(",")
        in_base = "fcib" in flags or (order["descr"]["type"] == "sell" and "fciq" not in flags)
        base, quote = order["symbol"].split("/") if "/" in order["symbol"] else ("XBT", "USD")
        fees = ([{"asset": base, "qty": (qty * FEE_RATE).quantize(Decimal("0.00000001"))}] if in_base
                else [{"asset": quote, "qty": Decimal(trade["fee"])}])
        if not in_base and quote == "USD" and self.fee_credits:
            credits = min(self.fee_credits, Decimal(trade["fee"]) * 100)
            self.fee_credits -= credits
            trade["fee"] = str(Decimal(trade["fee"]) - credits / 100)
            fees = [{"asset": quote, "qty": Decimal(trade["fee"])}, {"asset": "KFEE", "qty": credits}]
        for asset, fee in ((f["asset"], f["qty"]) for f in fees):
            if asset == "KFEE":
                self._ledger_entry(tid, trade["time"], "KFEE", Decimal(0), fee)
        sign = 1 if order["descr"]["type"] == "buy" else -1
        base_fee = sum((f["qty"] for f in fees if f["asset"] == base), Decimal(0))
        quote_fee = sum((f["qty"] for f in fees if f["asset"] == quote), Decimal(0))
        self._ledger_entry(tid, trade["time"], base, sign * qty, base_fee)
        self._ledger_entry(tid, trade["time"], quote, -sign * price * qty, quote_fee)
        self._report(txid, "trade", exec_id=tid, trade_id=len(self.trades), last_qty=qty, last_price=price,
                     cost=price * qty, liquidity_ind="m" if maker else "t", order_status="partially_filled",
                     avg_price=price, fees=fees,
                     timestamp=datetime.fromtimestamp(trade["time"], UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        if executed >= Decimal(order["vol"]):
            order["status"] = "closed"
            self._report(txid, "filled", order_status="filled", avg_price=price)
        return tid

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode().split("\r\n")
                _, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
                body = (await reader.readexactly(int(headers.get("content-length", 0)))).decode()
                status, answer, action = await self._handle(path, headers, body)
                if action == "lose":
                    writer.transport.abort()
                    return
                payload = json.dumps(answer).encode()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: "
                             f"{len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
        except Exception:
            writer.transport.abort()
        finally:
            writer.close()

    async def _handle(self, path: str, headers: dict, body: str) -> tuple[int, dict, str]:
        method = path.rsplit("/", 1)[-1]
        params = dict(parse_qsl(body))
        self.log.append((asyncio.get_running_loop().time(), method, params))
        if self.http_429:
            return 429, {"error": ["EAPI:Rate limit exceeded"]}, ""
        if headers.get("api-key") != self.key:
            return 200, {"error": ["EAPI:Invalid key"]}, ""
        digest = hashlib.sha256((params.get("nonce", "") + body).encode()).digest()
        expected = base64.b64encode(hmac.new(base64.b64decode(self.secret), path.encode() + digest,
                                             hashlib.sha512).digest()).decode()
        if headers.get("api-sign") != expected:
            return 200, {"error": ["EAPI:Invalid signature"]}, ""
        nonce = int(params["nonce"])
        if nonce <= self.last_nonce:
            return 200, {"error": ["EAPI:Invalid nonce"]}, ""
        self.last_nonce = nonce
        if self.rate_limited:
            return 200, {"error": ["EAPI:Rate limit exceeded"]}, ""
        if self.locked_out:  # Kraken: too many failed calls lock the key out; every call, refused, still counts
            return 200, {"error": ["EGeneral:Temporary lockout"]}, ""
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, {"error": ["EGeneral:Unknown method"]}, ""
        if method == "AddOrder" and self.queue_add_order_s:
            delay, self.queue_add_order_s = self.queue_add_order_s, 0.0
            asyncio.get_running_loop().call_later(delay, self._late_add_order, params)
            return 0, {}, "lose"
        try:
            result = handler(params)
        except _KrakenError as exc:
            return 200, {"error": [str(exc)]}, ""
        if method == "Withdraw" and self.lose_withdraw > 0:
            self.lose_withdraw -= 1
            return 0, {}, "lose"
        if method == "AddOrder":
            if self.lose_add_order > 0:
                self.lose_add_order -= 1
                return 0, {}, "lose"
            if self.hang_add_order_s:
                await asyncio.sleep(self.hang_add_order_s)
        return 200, {"error": [], "result": result}, ""

    # --- methods ------------------------------------------------------------------------

    def _late_add_order(self, params: dict) -> None:
        self._late = True  # its range was checked on receipt; only the deadline itself matters now
        try:
            self.late_add_orders.append(self._m_AddOrder(params)["txid"][0])
        except _KrakenError as exc:
            self.late_add_orders.append(str(exc))
        finally:
            self._late = False

    def _m_AddOrder(self, p: dict) -> dict:
        for key in ("pair", "type", "ordertype", "volume"):
            if key not in p:
                raise _KrakenError("EGeneral:Invalid arguments")
        if "deadline" in p:  # RFC 3339; the engine refuses the request once it is past, and one too far ahead
            try:
                deadline = datetime.fromisoformat(p["deadline"].replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise _KrakenError("EGeneral:Invalid arguments:deadline") from None
            if deadline > time.time() + 60 or (not self._late and deadline < time.time() + 2):
                raise _KrakenError("EGeneral:Invalid arguments:deadline")  # Kraken: now() + 2 s to now() + 60 s
            if time.time() > deadline:
                raise _KrakenError("EService:Deadline elapsed")
        cl = p.get("cl_ord_id")
        if cl and any(o["status"] in ("open", "pending") for o in self.orders_with(cl)):
            raise _KrakenError("EOrder:Duplicate order")  # unique among open orders only
        usd = Decimal(self.balances["ZUSD"]) + Decimal(self.balances.get("USD.F", "0"))  # .F transacts as its asset
        if Decimal(p["volume"]) * Decimal(p.get("price", "0")) > usd and p["type"] == "buy":
            raise _KrakenError("EOrder:Insufficient funds")
        txid = f"O{next(self._txids):05d}-FAKE-ORDER"
        self.orders[txid] = {
            "refid": None, "userref": 0, "cl_ord_id": cl, "status": "open", "opentm": 1700000000.0 + len(self.orders),
            "descr": {"pair": p["pair"], "type": p["type"], "ordertype": p["ordertype"], "price": p.get("price", "0"),
                      "order": f"{p['type']} {p['volume']} {p['pair']} @ {p['ordertype']} {p.get('price', '')}"},
            "vol": p["volume"], "vol_exec": "0", "cost": "0", "fee": "0", "price": "0",
            "oflags": p.get("oflags", ""), "timeinforce": p.get("timeinforce", "GTC"), "trades": [],
        }
        self.orders[txid]["symbol"] = self.symbols.get(p["pair"], p["pair"])
        self._report(txid, "new", order_status="new", limit_price=Decimal(p.get("price", "0")))
        if p.get("timeinforce") == "IOC":  # no book on this side of the fake: nothing matches, the rest is cancelled
            self.orders[txid]["status"] = "canceled"
            self._report(txid, "canceled", order_status="canceled", reason="Immediate or cancel")
        return {"descr": {"order": self.orders[txid]["descr"]["order"]}, "txid": [txid]}

    def _m_CancelOrder(self, p: dict) -> dict:
        key = p.get("cl_ord_id") or p.get("txid")
        hits = [t for t, o in self.orders.items() if (o.get("cl_ord_id") == key or t == key) and o["status"] == "open"]
        if not hits:
            raise _KrakenError("EOrder:Unknown order")
        for t in hits:
            self.orders[t]["status"] = "canceled"
            self._report(t, "canceled", order_status="canceled", reason="User requested")
        return {"count": len(hits)}

    def _m_WithdrawMethods(self, p: dict) -> list:
        asset = p.get("asset", "")
        if asset not in self.withdraw_minimums:
            return []
        return [{"asset": asset, "method": "Solana", "network": "Solana",
                 "minimum": str(self.withdraw_minimums[asset])}] + [
            {"asset": asset, "method": method, "network": method, "minimum": str(minimum)}
            for method, minimum in self.other_withdraw_methods.get(asset, [])]

    def _m_WithdrawInfo(self, p: dict) -> dict:
        key = self.withdraw_keys.get(p.get("key", ""))
        if key is None or key[0] != p.get("asset"):
            raise _KrakenError("EFunding:Unknown withdraw key")
        limit = self.withdraw_limits.get(key[0], self.balances.get(key[0], "0"))
        return {"method": "Solana", "limit": str(limit), "amount": p["amount"],
                "fee": str(self.withdraw_fees[key[0]])}

    def _m_Withdraw(self, p: dict) -> dict:
        key = self.withdraw_keys.get(p.get("key", ""))
        if key is None or key[0] != p.get("asset"):
            raise _KrakenError("EFunding:Unknown withdraw key")
        if key[0] in self.fee_rises_at_withdraw:  # the venue follows network conditions: between quote and request
            self.withdraw_fees[key[0]] = self.fee_rises_at_withdraw.pop(key[0])
        if "max_fee" in p and self.withdraw_fees[key[0]] > Decimal(p["max_fee"]):
            raise _KrakenError("EFunding:Max fee exceeded")  # Kraken: "withdrawal will fail", nothing is made
        amount = Decimal(p["amount"])
        if amount < self.withdraw_minimums[key[0]]:
            raise _KrakenError("EFunding:Too small")
        if amount > Decimal(self.balances.get(key[0], "0")):
            raise _KrakenError("EFunding:Insufficient funds")
        if key[0] in self.withdraw_limits and amount - self.withdraw_fees[key[0]] > self.withdraw_limits[key[0]]:
            raise _KrakenError("EFunding:Limit exceeded")
        self.balances[key[0]] = str(Decimal(self.balances[key[0]]) - amount)
        refid = f"FTQ{len(self.withdrawals) + 1:04d}-FAKE"
        fee = self.withdraw_fees[key[0]]
        self.withdrawals.append({"method": "Solana", "aclass": "currency", "asset": key[0], "refid": refid,
                                 "txid": f"sig{len(self.withdrawals) + 1}", "info": key[1], "key": p["key"],
                                 "amount": str(amount - fee), "fee": str(fee), "time": time.time(),
                                 "status": "Initial"})
        return {"refid": refid}

    def _m_WithdrawAddresses(self, p: dict) -> list:
        return [{"address": address, "asset": asset, "method": "Solana", "key": key, "verified": True}
                for key, (asset, address) in self.withdraw_keys.items()
                if asset == p.get("asset") and p.get("key", key) == key]

    def _m_WithdrawStatus(self, p: dict) -> list:
        return [w for w in self.withdrawals if w["asset"] == p.get("asset")]

    def _m_DepositMethods(self, p: dict) -> list:
        """Each method with a deposit address for the asset, as documented: ``method``, ``limit`` (a string, or
        ``false``: no limit), ``fee``, ``address-setup-fee``, ``gen-address`` and ``minimum``."""
        asset = p.get("asset", "")
        limit = self.deposit_limits.get(asset)
        return [{"method": method, "limit": False if limit is None else f"{limit:f}",
                 "fee": f"{self.deposit_fees.get(asset, Decimal(0)):.10f}", "address-setup-fee": "0.00000000",
                 "gen-address": True, "minimum": f"{self.deposit_minimums.get(asset, Decimal(0)):f}"}
                for (a, method) in self.deposit_addresses if a == asset]

    def _m_DepositAddresses(self, p: dict) -> list:
        address = self.deposit_addresses.get((p.get("asset", ""), p.get("method", "")))
        return [] if address is None else [{"address": address, "expiretm": "0", "new": False}]

    def _m_DepositStatus(self, p: dict) -> list:
        return [d for d in self.deposits if d["asset"] == p.get("asset")]

    def deposit(self, asset: str, amount: Decimal, txid: str, status: str = "Success") -> None:
        """``amount`` arrives on the account (credited, less the asset's ``deposit_fees``, when ``status`` is
        Success)."""
        fee = self.deposit_fees.get(asset, Decimal(0))
        self.deposits.append({"method": "Solana", "aclass": "currency", "asset": asset, "refid": f"D{txid}",
                              "txid": txid, "info": "", "amount": str(amount), "fee": str(fee), "time": time.time(),
                              "status": status})
        if status == "Success":
            self.balances[asset] = str(Decimal(self.balances.get(asset, "0")) + amount - fee)

    def _m_GetWebSocketsToken(self, p: dict) -> dict:
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return {"token": token, "expires": 900}

    def _m_CancelAllOrdersAfter(self, p: dict) -> dict:
        if "timeout" not in p:
            raise _KrakenError("EGeneral:Invalid arguments")
        if self.fail_dead_man:
            raise _KrakenError("EService:Unavailable")
        timeout = int(p["timeout"])
        loop = asyncio.get_running_loop()
        self.dead_man_calls.append((loop.time(), timeout))
        if self._dead_man is not None:
            self._dead_man.cancel()
            self._dead_man = None
        now = time.time()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if timeout == 0:
            return {"currentTime": stamp, "triggerTime": "0"}
        self._dead_man = loop.call_later(timeout, self._dead_man_fire)
        return {"currentTime": stamp,
                "triggerTime": datetime.fromtimestamp(now + timeout, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _dead_man_fire(self) -> None:
        self._dead_man = None
        hits = self.open_orders()
        for t in hits:
            self.orders[t]["status"] = "canceled"
            self._report(t, "canceled", order_status="canceled", reason="Cancel all orders after timeout")
        self.dead_man_fired.append((asyncio.get_running_loop().time(), len(hits)))

    def _select(self, p: dict, statuses: tuple[str, ...]) -> dict:
        cl = p.get("cl_ord_id")
        out = {}
        for txid, o in self.orders.items():
            if o["status"] in statuses and (cl is None or o.get("cl_ord_id") == cl):
                info = {k: v for k, v in o.items() if k != "symbol"}
                if p.get("trades") != "true":
                    info.pop("trades", None)
                out[txid] = info
        return out

    def _m_OpenOrders(self, p: dict) -> dict:
        return {"open": self._select(p, ("open", "pending"))}

    def _m_ClosedOrders(self, p: dict) -> dict:
        closed = self._select(p, ("closed", "canceled", "expired"))
        return {"closed": closed, "count": len(closed)}

    @staticmethod
    def _txid_list(p: dict, maximum: int) -> list[str]:
        """The call's comma-delimited ``txid`` list; more than Kraken documents for the method is refused as it
        refuses it."""
        txids = p.get("txid", "").split(",")
        if len(txids) > maximum:
            raise _KrakenError("EGeneral:Invalid arguments")
        return txids

    def _m_QueryOrders(self, p: dict) -> dict:
        out = {}
        for txid in self._txid_list(p, QUERY_ORDERS_MAX):
            if txid in self.orders:
                info = {k: v for k, v in self.orders[txid].items() if k != "symbol"}
                if p.get("trades") != "true":
                    info.pop("trades", None)
                out[txid] = info
        return out

    def _ledger_entry(self, refid: str, at: float, asset: str, amount: Decimal, fee: Decimal) -> None:
        entry = {"refid": refid, "time": at, "type": "trade", "subtype": "", "aclass": "currency", "asset": asset,
                 "amount": f"{amount:f}", "fee": f"{fee:f}", "balance": "0"}
        if self.ledger_late and asset == "KFEE":
            self.ledger_held.append(entry)
            return
        self.ledger.append({"id": f"L{len(self.ledger) + 1:05d}-FAKE", **entry})

    def write_ledger(self) -> None:
        """The KFEE entries held back (``ledger_late``) are written now."""
        held, self.ledger_held = self.ledger_held, []
        for entry in held:
            self.ledger.append({"id": f"L{len(self.ledger) + 1:05d}-FAKE", **entry})

    def _m_Ledgers(self, p: dict) -> dict:
        if self.ledger_refused:
            raise _KrakenError("EGeneral:Permission denied")
        assets = set(p["asset"].split(",")) if p.get("asset") not in (None, "", "all") else None
        kind = p.get("type", "all")
        start = float(p["start"]) if p.get("start") else None
        end = float(p["end"]) if p.get("end") else None
        found = [e for e in reversed(self.ledger)
                 if (assets is None or e["asset"] in assets) and kind in ("all", e["type"])
                 and (start is None or e["time"] > start) and (end is None or e["time"] < end)]
        ofs = int(p.get("ofs") or 0)
        return {"ledger": {e["id"]: {k: v for k, v in e.items() if k != "id"} for e in found[ofs:ofs + 50]},
                "count": len(found)}

    def _m_QueryTrades(self, p: dict) -> dict:
        return {t: self.trades[t] for t in self._txid_list(p, QUERY_TRADES_MAX) if t in self.trades}

    def _m_Balance(self, p: dict) -> dict:
        return dict(self.balances)

    def _m_BalanceEx(self, p: dict) -> dict:
        """Kraken's extended balance: ``balance``, ``hold_trade`` (what open spot orders hold), ``credit`` and
        ``credit_used`` (no credit line here), per asset."""
        holds = self.holds()
        return {asset: {"balance": amount, "hold_trade": str(holds.get(asset, Decimal(0))), "credit": "0.0000",
                        "credit_used": "0.0000"} for asset, amount in self.balances.items()}

    def holds(self) -> dict[str, Decimal]:
        """What the open orders hold, by balance asset: a buy its remaining cost at its limit price, plus its fee
        when charged in the quote; a sell its remaining volume, plus its fee when charged in the base."""
        held: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o["status"] not in ("open", "pending"):
                continue
            base, quote = self.pair_assets.get(o["descr"]["pair"], ("XXBT", "ZUSD"))
            left = Decimal(o["vol"]) - Decimal(o["vol_exec"])
            flags = o["oflags"].split(",")
            sell = o["descr"]["type"] == "sell"
            fee_in_base = "fcib" in flags or (sell and "fciq" not in flags)
            if sell:
                amount, asset = left * (1 + FEE_RATE if fee_in_base else 1), base
            else:
                cost = left * Decimal(o["descr"]["price"] or "0")
                amount, asset = cost if fee_in_base else cost * (1 + FEE_RATE), quote
            held[asset] = held.get(asset, Decimal(0)) + amount
        return held


class _KrakenError(Exception):
    pass


def to_json(value) -> str:
    """JSON with Decimals as numbers, the way Kraken's WebSocket v2 writes prices and quantities."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


class FakeKrakenAuthWS:
    """The authenticated WebSocket v2 endpoint (``ws-auth.kraken.com/v2``): the ``executions`` channel."""

    def __init__(self, rest: FakeKrakenREST, heartbeat_s: float = 0.1):
        self.rest = rest
        self.heartbeat_s = heartbeat_s
        self.subscribers: set[ServerConnection] = set()
        self.connections: set[ServerConnection] = set()
        self.requests: list[dict] = []
        self.connection_count = 0
        self.refuse = False
        """New connections are closed at once (the stream stays down)."""
        self.sent_reports: list[dict] = []
        self.server = None
        self.url = ""
        rest.listeners.append(self._on_report)

    async def start(self) -> FakeKrakenAuthWS:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v2"
        return self

    async def close(self) -> None:
        self.rest.listeners.remove(self._on_report)
        self.server.close()
        await self.server.wait_closed()

    async def drop(self) -> None:
        """Abort every connection (no close frame), as a network failure would."""
        for ws in list(self.connections):
            ws.transport.abort()

    async def send_raw(self, frame: str) -> None:
        """Send a frame as it is to every subscriber (a malformed report, say)."""
        for ws in list(self.subscribers):
            await self._send(ws, frame)

    def _on_report(self, report: dict) -> None:
        frame = to_json({"channel": "executions", "type": "update", "data": [report]})
        self.sent_reports.append(report)
        for ws in list(self.subscribers):
            asyncio.get_running_loop().create_task(self._send(ws, frame))

    @staticmethod
    async def _send(ws: ServerConnection, frame: str) -> None:
        try:
            await ws.send(frame)
        except Exception:
            pass

    async def _heartbeats(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await ws.send('{"channel":"heartbeat"}')

    async def _handler(self, ws: ServerConnection) -> None:
        self.connection_count += 1
        if self.refuse:
            ws.transport.abort()
            return
        self.connections.add(ws)
        beats = asyncio.get_running_loop().create_task(self._heartbeats(ws))
        try:
            async for text in ws:
                request = json.loads(text)
                self.requests.append(request)
                params = request.get("params") or {}
                if request.get("method") != "subscribe" or params.get("channel") != "executions":
                    await ws.send(json.dumps({"method": request.get("method"), "success": False,
                                              "error": "Channel unsupported", "req_id": request.get("req_id")}))
                    continue
                if params.get("token") not in self.rest.tokens:
                    await ws.send(json.dumps({"method": "subscribe", "success": False, "error": "EAccount:Invalid "
                                              "token", "req_id": request.get("req_id")}))
                    continue
                await ws.send(json.dumps({"method": "subscribe", "success": True, "req_id": request.get("req_id"),
                                          "result": {"channel": "executions", "snap_orders": True,
                                                     "snap_trades": bool(params.get("snap_trades"))}}))
                snapshot = []
                if params.get("snap_orders", True):
                    for txid in self.rest.open_orders():
                        o = self.rest.orders[txid]
                        item = {"order_id": txid, "symbol": o.get("symbol", ""), "exec_type": "new",
                                "order_status": "new" if Decimal(o["vol_exec"]) == 0 else "partially_filled",
                                "side": o["descr"]["type"], "order_qty": Decimal(o["vol"]),
                                "cum_qty": Decimal(o["vol_exec"])}
                        if o.get("cl_ord_id"):
                            item["cl_ord_id"] = o["cl_ord_id"]
                        snapshot.append(item)
                await ws.send(to_json({"channel": "executions", "type": "snapshot", "data": snapshot}))
                self.subscribers.add(ws)
        except Exception:
            pass
        finally:
            beats.cancel()
            self.subscribers.discard(ws)
            self.connections.discard(ws)
