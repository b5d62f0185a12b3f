"""Orders through the ccxt plugin against the fake Gate.io venue: client ids, lost answers, fills, 429s."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from bot.api import (
    Fill,
    InsufficientFunds,
    Order,
    OrderIntent,
    OrderReport,
    OrderStatus,
    OrderType,
    PermanentError,
    RateLimited,
    Side,
    TimeInForce,
    UnknownOutcome,
)
from bot.api.testing import wait_for
from plugins.ccxt.orders import CLIENT_IDS

from .conftest import SYMBOL


def order(cid: str, qty="0.0100", price="29000.10", side=Side.BUY, tif=TimeInForce.GTC, post_only=False) -> Order:
    return Order(client_order_id=cid, strategy="manual", exchange="gate", symbol=SYMBOL, side=side, qty=D(qty),
                 price=D(price), order_type=OrderType.LIMIT, tif=tif, post_only=post_only)


async def test_place_order_sends_our_client_id_as_gates_text(gate_bot, fake_gate):
    bot, gate = await gate_bot()
    state = await gate.place_order(order("grid-1", tif=TimeInForce.IOC))
    [sent] = fake_gate.orders.values()
    assert sent["text"] == "t-grid-1" and sent["amount"] == "0.01" and sent["price"] == "29000.1"
    assert sent["time_in_force"] == "ioc" and sent["side"] == "buy" and sent["currency_pair"] == "BTC_USDT"
    assert state.status is OrderStatus.CANCELLED and state.exchange_order_id == sent["id"]
    await gate.place_order(order("po-1", post_only=True))
    assert fake_gate.orders_with_text("t-po-1")[0]["time_in_force"] == "poc"


def test_long_client_ids_become_deterministic_digests_within_gates_rule():
    rule = CLIENT_IDS["gate"]
    long_id = "arbitrage-strategy-a1b2c3d4e5f6a7b8c9d0e1f2"
    assert rule.venue_id(long_id) == rule.venue_id(long_id)
    assert rule.venue_id(long_id).startswith("t-") and len(rule.venue_id(long_id)) == 2 + 26
    assert rule.venue_id("grid-1") == "t-grid-1" and rule.venue_id("g rid") != "t-g rid"
    assert rule.venue_id("test-1") == "t-test-1"  # ccxt would not add "t-" to an id starting with "t"
    assert rule.our_id("t-grid-1") == "grid-1" and rule.our_id(rule.venue_id(long_id)) != long_id  # one-way
    assert rule.our_id("web") is None


async def test_an_id_too_long_for_gate_rests_under_its_digest(gate_bot, fake_gate):
    """ccxt's gate refuses a ``text`` longer than 28 characters with its ``t-``: the digest must fit that."""
    bot, gate = await gate_bot()
    long_id = "watcher-0123456789abcdef0123456789abcdef"
    state = await gate.place_order(order(long_id))  # before: PermanentError "... must be up to 28 characters"
    assert state.status is OrderStatus.OPEN and state.client_order_id == long_id
    sent = CLIENT_IDS["gate"].venue_id(long_id)
    assert len(sent) <= 28 and [o["status"] for o in fake_gate.orders_with_text(sent)] == ["open"]
    assert CLIENT_IDS["gate"].venue_id(order(long_id[:26]).client_order_id) == "t-" + long_id[:26]  # fits as it is


async def test_lost_order_answer_is_resolved_by_look_up_200_times(gate_bot, fake_gate):
    bot, gate = await gate_bot(rate_limit_ms=1)
    for i in range(200):
        cid = f"lost-{i}"
        fake_gate.lose_create_order = 1  # created on the venue, then the connection drops before the answer
        with pytest.raises(UnknownOutcome):
            await gate.place_order(order(cid))
        state = await gate.fetch_order(SYMBOL, cid)  # what the executor does before any resend
        assert state is not None and state.status is OrderStatus.OPEN
        assert len(fake_gate.orders_with_text(f"t-{cid}")) == 1
    assert len(fake_gate.orders) == 200
    assert await gate.fetch_order(SYMBOL, "never-sent") is None


async def test_a_late_answer_is_an_unknown_outcome_then_found(gate_bot, fake_gate):
    bot, gate = await gate_bot(request_timeout_s=0.2)
    fake_gate.hang_create_order_s = 1.0
    with pytest.raises(UnknownOutcome):
        await gate.place_order(order("late-1"))
    fake_gate.hang_create_order_s = 0
    state = await gate.fetch_order(SYMBOL, "late-1")
    assert state is not None and state.status is OrderStatus.OPEN and len(fake_gate.orders_with_text("t-late-1")) == 1


async def test_a_wrong_secret_is_refused_by_the_fakes_signature_check_as_permanent(gate_bot, fake_gate, monkeypatch):
    monkeypatch.setenv("FAKE_GATE_SECRET", "not-the-secret")
    bot, gate = await gate_bot()
    with pytest.raises(PermanentError, match="INVALID_SIGNATURE"):
        await gate.balances()
    with pytest.raises(PermanentError, match="INVALID_SIGNATURE"):
        await gate.place_order(order("auth-1"))
    assert not fake_gate.orders


async def test_executor_adopts_an_order_whose_answer_was_lost(gate_bot, fake_gate):
    bot, gate = await gate_bot()
    fake_gate.lose_create_order = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=D("0.01"), price=D("29000"), client_order_id="exec-lost-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=20, what="order adopted after look-up")
    assert len(fake_gate.orders_with_text("t-exec-lost-1")) == 1
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/spot/orders") == 1


async def test_a_finished_order_is_found_by_client_id_in_the_finished_list(gate_bot, fake_gate):
    bot, gate = await gate_bot()
    state = await gate.place_order(order("done-1"))
    fake_gate.fill(state.exchange_order_id, D("0.01"))  # Gate answers by text only while the order rests
    found = await gate.fetch_order(SYMBOL, "done-1")
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_qty == D("0.01")
    assert ("GET", "/spot/orders", {"currency_pair": "BTC_USDT", "status": "finished", "limit": "100"}) in [
        (m, p, {k: v for k, v in q.items() if k != "account"}) for m, p, q in fake_gate.rest_log]


async def test_http_429_is_rate_limited_and_holds_the_next_calls(gate_bot, fake_gate):
    bot, gate = await gate_bot(rate_limit_pause_s=30.0)
    fake_gate.http_429 = 1
    with pytest.raises(RateLimited):
        await gate.place_order(order("rl-1"))
    calls = len(fake_gate.rest_log)
    with pytest.raises(RateLimited) as held:
        await gate.balances()
    assert len(fake_gate.rest_log) == calls and held.value.retry_after_s > 20  # never sent: the pause holds it
    assert not fake_gate.orders


async def test_fills_are_polled_and_published_once_with_exact_figures(gate_bot, fake_gate):
    bot, gate = await gate_bot()
    fills, reports = [], []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    bot.bus.subscribe(OrderReport, reports.append, owner="test")
    state = await gate.place_order(order("fill-1", qty="0.0300"))
    fake_gate.fill(state.exchange_order_id, D("0.0100"))
    await wait_for(lambda: len(fills) == 1, timeout_s=20, what="the first fill")
    fake_gate.fill(state.exchange_order_id, D("0.0200"), maker=False, price=D("29000.05"))
    await wait_for(lambda: len(fills) == 2 and reports and reports[-1].state.status is OrderStatus.FILLED,
                   timeout_s=20, what="the second fill and the final state")
    first, second = fills
    assert (first.price, first.qty, first.fee, first.fee_asset) == (D("29000.1"), D("0.01"), D("0.00001"), "BTC")
    assert (second.price, second.qty, second.fee) == (D("29000.05"), D("0.02"), D("0.00004"))
    assert first.client_order_id == "fill-1" and first.trade_id != second.trade_id
    assert reports[-1].state.filled_qty == D("0.03")
    assert len({f.trade_id for f in fills}) == 2


async def test_cancel_open_orders_balances_and_errors(gate_bot, fake_gate):
    bot, gate = await gate_bot()
    await gate.place_order(order("c-1"))
    [resting] = await gate.open_orders(SYMBOL)
    assert resting.client_order_id == "c-1" and resting.status is OrderStatus.OPEN
    gate.memory.ids.clear()  # a restarted bot: the id is read back from the venue's text
    assert [o.client_order_id for o in await gate.open_orders(SYMBOL)] == ["c-1"]
    cancelled = await gate.cancel_order(SYMBOL, "c-1")
    assert cancelled.status is OrderStatus.CANCELLED
    assert await gate.open_orders() == []
    balances = await gate.balances()
    assert balances["USDT"].free == D("1000000") and balances["BTC"].total == D("10")
    with pytest.raises(InsufficientFunds):
        await gate.place_order(order("big-1", qty="100", price="30000"))
    with pytest.raises(PermanentError, match="lot"):
        await gate.place_order(order("odd-1", qty="0.00001"))  # ccxt would truncate it to 0.0000


async def test_market_data_only_without_keys(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    with pytest.raises(PermanentError, match="market data only"):
        await gate.place_order(order("nokey-1"))


async def test_the_secret_never_reaches_a_log_line(gate_bot, fake_gate, caplog):
    from tests.fakes.gate import API_SECRET

    bot, gate = await gate_bot()
    fake_gate.http_429 = 1
    with pytest.raises(RateLimited):
        await gate.place_order(order("log-1"))
    assert API_SECRET not in caplog.text and API_SECRET not in repr(gate.settings)


async def test_ccxt_leaves_the_bots_decimal_context_as_it_was(gate_bot, fake_gate):
    """ccxt's decimal_to_precision (create_order's amount and price) sets ROUND_HALF_UP and traps Underflow on the
    decimal context it runs in, for good. Run on the bot's, it would change how every later Decimal rounds (the
    ledger, the strategies' figures: one arbitrage report's last digit moved after the ccxt tests had run)."""
    import decimal

    ours = decimal.getcontext()  # the context the bot's tasks share from here
    before = (ours.rounding, ours.prec, ours.traps[decimal.Underflow])
    bot, gate = await gate_bot()
    await gate.place_order(order("ctx-1"))
    bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                    qty=D("0.0100"), price=D("29000.10"), client_order_id="ctx-2"))
    await wait_for(lambda: (o := bot.executor.order("ctx-2")) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=20, what="ctx-2 open")
    await gate.poll_once()
    now = decimal.getcontext()
    assert now is ours and (now.rounding, now.prec, now.traps[decimal.Underflow]) == before


@pytest.mark.parametrize("status,label",
                         [(502, "SERVER_ERROR"), (429, "TOO_MANY_REQUESTS"), (400, "INVALID_PARAM_VALUE")])
async def test_an_order_placed_whose_trades_cannot_be_read_is_never_sent_again(gate_bot, fake_gate, status, label):
    """create_order was answered (the order is on the venue, filled at once); reading its trades then failed. That
    failure says nothing about the order: place_order must not answer as if the order were not sent (a retry would
    send it twice) or refused (the executor would mark a live order REJECTED)."""
    bot, gate = await gate_bot(rate_limit_pause_s=0.2)
    fake_gate.fill_on_create = D("0.5")
    fake_gate.fail_next["/spot/my_trades"] = [(status, label, "trades unavailable")]
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=D("0.0100"), price=D("29000.10"), client_order_id=f"tr-{status}"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.filled_qty == D("0.005"),
                   timeout_s=10, what="the order adopted with its fill")
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/spot/orders") == 1
    assert bot.executor.order(cid).status not in (OrderStatus.REJECTED, OrderStatus.FAILED)


async def test_an_answer_cut_short_is_an_unknown_outcome_and_the_order_is_adopted(gate_bot, fake_gate):
    """The connection closes half-way through create_order's answer: ccxt raises a plain ExchangeError (from
    aiohttp's ClientPayloadError), which reads like the venue's refusal. The order is on the venue."""
    bot, gate = await gate_bot()
    fake_gate.cut_create_order = 1
    with pytest.raises(UnknownOutcome):
        await gate.place_order(order("cut-1"))
    fake_gate.cut_create_order = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=D("0.01"), price=D("29000"), client_order_id="cut-2"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=20, what="the order adopted after look-up")
    assert len(fake_gate.orders_with_text("t-cut-2")) == 1


def test_binances_execution_status_unknown_is_an_unknown_outcome_as_ccxt_raises_it():
    """Binance answers -1006 ("unexpected response from the message bus. Execution status unknown") and -1007
    ("Timeout waiting for response from backend server. Send status unknown; execution status unknown"); ccxt raises
    a plain OperationFailed for the first: neither is the venue's refusal of an order that may be live."""
    import json

    import ccxt

    from plugins.ccxt.orders import translate

    api = ccxt.binance()
    for code in (-1006, -1007):
        body = json.dumps({"code": code, "msg": "Execution status unknown."})
        with pytest.raises(ccxt.BaseError) as raised:
            api.handle_errors(400, "Bad Request", "https://api.binance.com/api/v3/order", "POST", {}, body,
                              json.loads(body), {}, "")
        assert isinstance(translate(raised.value, "create order", sent=True, pause_s=0), UnknownOutcome), code
        assert not isinstance(translate(raised.value, "look-up", sent=False, pause_s=0), PermanentError), code
    refused = ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}')
    assert type(translate(refused, "create order", sent=True, pause_s=0)) is PermanentError


async def test_a_fee_paid_in_gt_is_the_fills_fee(gate_bot, fake_gate):
    """With Gate's GT deduction on, a trade's ``fee`` is 0 and ``gt_fee`` holds what was charged; ccxt then gives two
    entries in ``fees`` and no single ``fee``. The fill must carry the GT charged, not a fee of 0."""
    bot, gate = await gate_bot()
    state = await gate.place_order(order("gt-1"))
    fake_gate.fill(state.exchange_order_id, D("0.0100"), gt_fee=D("0.0123"))
    found = await gate.fetch_order(SYMBOL, "gt-1")
    assert found is not None
    [fill] = found.fills
    assert (fill.fee, fill.fee_asset) == (D("0.0123"), "GT")


@pytest.mark.parametrize("exchange_id", ["gate", "okx", "bitget", "mexc", "cryptocom"])
async def test_the_client_id_reaches_the_venues_create_order_request_through_the_real_ccxt(exchange_id):
    """What the plugin passes to ccxt's create_order must come out in the request ccxt makes (caught before it
    leaves; the venues whose create_order makes no other call first). ccxt's cryptocom omits ``clientOrderId`` and
    sets no ``client_oid``: an order sent so carries no id, and a lost answer cannot be looked up."""
    import ccxt.async_support as ccxt_async

    from plugins.ccxt.orders import CLIENT_IDS

    api = getattr(ccxt_async, exchange_id)({"apiKey": "key-123456", "secret": "c2VjcmV0c2VjcmV0", "password": "pw-1"})
    api.set_markets([{"id": "BTCUSDT", "symbol": SYMBOL, "base": "BTC", "quote": "USDT", "baseId": "BTC",
                      "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
                      "future": False, "option": False, "contract": False, "active": True,
                      "precision": {"amount": "0.0001", "price": "0.01"}, "limits": {}, "info": {}}])
    sent: list[str] = []

    async def fetch(url, method="GET", headers=None, body=None):
        sent.append(f"{url} {body}")
        raise ccxt_async.NetworkError("caught before it left")

    api.fetch = fetch
    rule = CLIENT_IDS[exchange_id]
    vid = rule.venue_id("grid-7")
    try:
        with pytest.raises(ccxt_async.NetworkError, match="caught"):
            await api.create_order(SYMBOL, "limit", "buy", "0.01", "30000.01", {rule.param: vid})
    finally:
        await api.close()
    assert sent and vid in sent[-1], sent  # the order request: the last one made


async def test_an_order_below_the_markets_minimums_is_refused_before_it_is_sent(gate_bot, fake_gate):
    """ccxt's markets give Gate's min_base_amount (0.0001 BTC) and min_quote_amount (1 USDT) as the limits; ccxt
    does not check them in create_order. An order below either is refused here, naming the minimum."""
    bot, gate = await gate_bot()
    info = gate.market(SYMBOL)
    assert (info.min_qty, info.min_notional) == (D("0.0001"), D("1"))
    with pytest.raises(PermanentError, match="minimum order value 1"):
        await gate.place_order(order("tiny-1", qty="0.0001", price="5000.00"))  # 0.5 USDT
    assert not [p for m, p, _ in fake_gate.rest_log if m == "POST"]
    state = await gate.place_order(order("small-1", qty="0.0001", price="10000.00"))  # exactly 1 USDT
    assert state.status is OrderStatus.OPEN


async def test_a_look_up_by_client_id_the_venue_refuses_falls_back_to_the_order_lists(gate_bot, fake_gate):
    """MEXC answers a look-up of an unknown client id with -2013 "Order does not exist.", which ccxt raises as a plain
    ExchangeError, not OrderNotFound: the look-up must not fail for good (the executor would leave the order UNKNOWN
    and never resolve it), but search the order lists as for a venue without look-up by client id."""
    import json

    import ccxt

    body = json.dumps({"code": -2013, "msg": "Order does not exist."})
    with pytest.raises(ccxt.ExchangeError) as raised:
        ccxt.mexc().handle_errors(400, "", "https://api.mexc.com/api/v3/order", "GET", {}, body, json.loads(body),
                                  {}, "")
    assert not isinstance(raised.value, ccxt.OrderNotFound)

    bot, gate = await gate_bot()
    state = await gate.place_order(order("lk-1"))
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    for cid in ("lk-1", "lk-never-sent"):  # the same refusal, as Gate's fake answers it here
        fake_gate.fail_next[f"/spot/orders/t-{cid}"] = [(400, "INVALID_PARAM_VALUE", "Order does not exist.")]
    found = await gate.fetch_order(SYMBOL, "lk-1")
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_qty == D("0.01")
    assert await gate.fetch_order(SYMBOL, "lk-never-sent") is None


async def test_a_finished_order_whose_trades_lag_its_state_gets_every_fill(gate_bot, fake_gate):
    """An IOC order filled in part is finished at once; if the venue's trade list does not show its trade yet, the
    answer has the filled amount without the fill. The order is final, so nothing polled it again and the fill (and
    the position it makes) was never applied. It is polled until its trades add up to what it filled."""
    bot, gate = await gate_bot()
    fills: list[Fill] = []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    fake_gate.fill_on_create = D("0.5")
    fake_gate.stale_trades = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=D("0.0100"), price=D("29000.10"), tif=TimeInForce.IOC,
                                          client_order_id="lag-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.CANCELLED,
                   timeout_s=10, what="the IOC order finished")
    await wait_for(lambda: len(fills) == 1, timeout_s=10, what="its fill, once the trade list shows it")
    assert fills[0].qty == D("0.005") and fills[0].client_order_id == "lag-1"
    assert not gate._tracked


@pytest.mark.parametrize("exchange_id,status,body", [
    ("okx", 200, {"code": "1", "msg": "All operations failed",
                  "data": [{"clOrdId": "grid7", "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId"}]}),
    ("bybit", 200, {"retCode": 170141, "retMsg": "Duplicate clientOrderId.", "result": {}, "time": 1}),
    ("binance", 400, {"code": -2010, "msg": "Duplicate order sent."}),
])
def test_a_duplicate_client_id_answer_to_an_order_is_an_unknown_outcome(exchange_id, status, body):
    """The venue already has an order with this client id (a resend after a look-up that missed it): ccxt raises
    InvalidOrder, which read as a refusal would mark REJECTED an order that is live. It is an unknown outcome: the
    look-up finds the order."""
    import json

    import ccxt

    from plugins.ccxt.orders import CLIENT_IDS, translate

    text = json.dumps(body, separators=(",", ":"))
    with pytest.raises(ccxt.InvalidOrder) as raised:
        getattr(ccxt, exchange_id)().handle_errors(status, "", "https://venue/order", "POST", {}, text,
                                                   json.loads(text), {}, "")
    duplicate = CLIENT_IDS[exchange_id].duplicate
    assert isinstance(translate(raised.value, "create order", sent=True, pause_s=0, duplicate=duplicate),
                      UnknownOutcome)
    other = ccxt.InvalidOrder(f'{exchange_id} {{"code":-1013,"msg":"Filter failure: LOT_SIZE"}}')
    assert type(translate(other, "create order", sent=True, pause_s=0, duplicate=duplicate)) is PermanentError


async def test_a_look_up_ccxt_itself_fails_on_falls_back_to_the_order_lists(gate_bot, fake_gate):
    """ccxt's bitget fetch_order by client id, for an order Bitget does not have (``data: []``), fails in its own
    code: it joins the order id it was not given (None) into its OrderNotFound message, a TypeError. Taken for a
    transient failure, every look-up failed and the executor left the order UNKNOWN for good. Such a failure of
    ccxt's own is searched for in the order lists, as a refusal is."""
    import ccxt.async_support as ccxt_async

    api = ccxt_async.bitget({"apiKey": "key-123456", "secret": "s", "password": "pw-123456"})
    api.set_markets([{"id": "BTCUSDT", "symbol": SYMBOL, "base": "BTC", "quote": "USDT", "baseId": "BTC",
                      "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
                      "future": False, "option": False, "contract": False, "active": True,
                      "precision": {"amount": "0.0001", "price": "0.01"}, "limits": {}, "info": {}}])

    async def fetch(url, method="GET", headers=None, body=None):
        if "orderInfo" in url:
            return {"code": "00000", "msg": "success", "requestTime": 1, "data": []}
        raise ccxt_async.NetworkError("not this one")

    api.fetch = fetch
    try:
        with pytest.raises(TypeError):
            await api.fetch_order(None, SYMBOL, {"clientOrderId": "grid-7"})
    finally:
        await api.close()

    bot, gate = await gate_bot()
    state = await gate.place_order(order("bug-1"))
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    real = gate.api.fetch_order

    async def failing(*args, **kwargs):
        raise TypeError('can only concatenate str (not "NoneType") to str')

    gate.api.fetch_order = failing
    try:
        found = await gate.fetch_order(SYMBOL, "bug-1")
        assert found is not None and found.status is OrderStatus.FILLED
        assert await gate.fetch_order(SYMBOL, "bug-never-sent") is None
    finally:
        gate.api.fetch_order = real
    fake_gate.http_429 = 1  # a real transient failure of the look-up still fails it (the lists may be partial)
    with pytest.raises(RateLimited):
        await gate.fetch_order(SYMBOL, "bug-1")


async def test_an_orders_trades_beyond_the_newest_page_are_read_where_the_venue_lists_no_order_trades(
        gate_bot, fake_gate):
    """Bitget, Gemini and Crypto.com have no fetchOrderTrades: the order's trades came from one call of
    fetchMyTrades with no ``since``, the newest page only. An order whose first fill had 250 other trades after it
    showed its last fill only. Its trades are read from its creation time on, page after page, until they add up
    to what it filled."""
    bot, gate = await gate_bot()
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("deep-1"))
    [mine] = fake_gate.orders.values()
    other = fake_gate._create({"currency_pair": "BTC_USDT", "side": "sell", "amount": "1", "price": "40000"})
    start = int(time.time()) - 1000
    mine.update(create_time=str(start), create_time_ms=start * 1000)

    def at(trade: dict, second: int) -> None:
        trade.update(create_time=str(start + second), create_time_ms=f"{(start + second) * 1000}.000")

    at(fake_gate.fill(mine["id"], D("0.004")), 1)
    for i in range(250):
        at(fake_gate.fill(other["id"], D("0.0001")), 2 + i)
    at(fake_gate.fill(mine["id"], D("0.006")), 300)
    state = await gate.fetch_order(SYMBOL, "deep-1")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.01")
    assert [f.qty for f in state.fills] == [D("0.004"), D("0.006")]


async def test_a_venues_order_filter_on_its_trade_list_is_sent(gate_bot, fake_gate, monkeypatch):
    """Where fetchMyTrades takes an order filter (Bitget's ``orderId``: here Gate's ``order_id`` stands for it),
    one page holds the order's trades however many other trades the account made since."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_ORDER_PARAMS", {"gate": "order_id"})
    monkeypatch.setattr(exchange, "TRADE_PAGES", 1)
    bot, gate = await gate_bot()
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("filt-1"))
    [mine] = fake_gate.orders.values()
    other = fake_gate._create({"currency_pair": "BTC_USDT", "side": "sell", "amount": "1", "price": "40000"})
    fake_gate.fill(mine["id"], D("0.004"))
    for _ in range(150):
        fake_gate.fill(other["id"], D("0.0001"))
    fake_gate.fill(mine["id"], D("0.006"))
    state = await gate.fetch_order(SYMBOL, "filt-1")
    assert sorted(f.qty for f in state.fills) == [D("0.004"), D("0.006")]
