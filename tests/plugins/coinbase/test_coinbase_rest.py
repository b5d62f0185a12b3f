"""Coinbase orders over REST against the fake venue: JWTs, errors, lost answers, reused ids, 429s, fills."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from decimal import Decimal

import pytest

import plugins.coinbase.exchange as coinbase_exchange
from bot.api import (
    FillApplied,
    InsufficientFunds,
    OrderNotFound,
    PermanentError,
    PostOnlyWouldCross,
    RateLimited,
    UnknownOutcome,
)
from bot.domain import Fill, Order, OrderIntent, OrderReport, OrderStatus, Side, TimeInForce
from plugins.coinbase.exchange import rfc3339_ns
from plugins.coinbase.rest import JwtSigner, classify_order_failure
from tests.fakes.coinbase import KEY_NAME, PRIVATE_KEY_PEM, new_private_key_pem, public_key_of, verify_jwt
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def order(cid: str, qty="0.01", price="29000", side=Side.BUY, tif=TimeInForce.GTC, post_only=False) -> Order:
    return Order(client_order_id=cid, strategy="test", exchange="coinbase", symbol=SYMBOL, side=side,
                 qty=Decimal(qty), price=Decimal(price), tif=tif, post_only=post_only, created_ns=time.time_ns())


def test_jwt_has_the_documented_shape_and_verifies():
    signer = JwtSigner(KEY_NAME, PRIVATE_KEY_PEM, lambda: 1_700_000_000)
    token = signer.token("GET api.coinbase.com/api/v3/brokerage/accounts")
    head, claims, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    body = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert header["alg"] == "ES256" and header["kid"] == KEY_NAME and header["typ"] == "JWT" and header["nonce"]
    assert body == {"sub": KEY_NAME, "iss": "cdp", "nbf": 1_700_000_000, "exp": 1_700_000_120,
                    "uri": "GET api.coinbase.com/api/v3/brokerage/accounts"}
    assert len(base64.urlsafe_b64decode(sig + "==")) == 64  # JOSE r || s, not DER
    public = public_key_of(PRIVATE_KEY_PEM)
    uri = "GET api.coinbase.com/api/v3/brokerage/accounts"
    assert verify_jwt(token, public, KEY_NAME, uri, now=1_700_000_001) is None
    assert verify_jwt(token, public, KEY_NAME, "POST api.coinbase.com/api/v3/brokerage/orders",
                      now=1_700_000_001) is not None
    assert verify_jwt(token, public, KEY_NAME, uri, now=1_700_000_200) == "expired or not yet valid"
    assert verify_jwt(token, public_key_of(new_private_key_pem()), KEY_NAME, uri, now=1_700_000_001) == "bad signature"
    assert "PRIVATE" not in repr(signer) and "uri" not in signer.token()  # WebSocket JWTs carry no uri


def test_a_key_that_is_not_p256_is_refused():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="P-256"):
        JwtSigner(KEY_NAME, pem, time.time)


@pytest.mark.parametrize("error, kind", [
    ({"error": "INSUFFICIENT_FUND", "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND"}, InsufficientFunds),
    ({"error": "INVALID_LIMIT_PRICE_POST_ONLY"}, PostOnlyWouldCross),
    ({"error": "UNKNOWN_FAILURE_REASON", "preview_failure_reason": "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"},
     PostOnlyWouldCross),
    ({"error": "INVALID_ARGUMENT", "message": "bad size"}, PermanentError),
    ({"error": "UNSUPPORTED_ORDER_CONFIGURATION"}, PermanentError),
])
def test_order_failures_map_to_the_executors_classes(error, kind):
    assert type(classify_order_failure(error)) is kind


async def test_requests_are_signed_and_a_wrong_key_is_refused(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    balances = await coinbase.balances()
    assert balances["BTC"].total == Decimal("1.00000000") and balances["USD"].free == Decimal("100000.00")
    assert fake_rest.auth_failures == []
    bot2, wrong = await coinbase_bot(fake_ws, fake_rest, key_pem=new_private_key_pem())
    refused_at_start = len(fake_rest.auth_failures)  # the start's balance snapshot asked with the wrong key too
    with pytest.raises(PermanentError, match="401"):
        await wrong.balances()
    assert fake_rest.auth_failures[refused_at_start:] == ["bad signature"]
    assert set(fake_rest.auth_failures) == {"bad signature"}


async def test_create_order_sends_what_coinbase_expects(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    state = await coinbase.place_order(order("gtc-1", post_only=True))
    assert state.status is OrderStatus.OPEN and state.exchange_order_id
    venue = fake_rest.orders_with("gtc-1")[0]
    assert venue["order_configuration"] == {"limit_limit_gtc": {"base_size": "0.01", "limit_price": "29000",
                                                                "post_only": True}}
    assert venue["product_id"] == "BTC-USD" and venue["side"] == "BUY"
    state = await coinbase.place_order(order("ioc-1", tif=TimeInForce.IOC))
    assert "sor_limit_ioc" in fake_rest.orders_with("ioc-1")[0]["order_configuration"]
    assert (await coinbase.fetch_order(SYMBOL, "ioc-1")).status is OrderStatus.CANCELLED


async def test_reused_client_order_id_is_answered_with_the_existing_order(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    first = await coinbase.place_order(order("same-1"))
    again = await coinbase.place_order(order("same-1", qty="0.5"))
    assert again.exchange_order_id == first.exchange_order_id
    assert len(fake_rest.orders_with("same-1")) == 1


async def test_lost_create_order_answer_is_resolved_by_query_200_times(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    for i in range(200):
        cid = f"lost-{i}"
        fake_rest.lose_create_order = 1  # created on the venue, then the connection drops before the answer
        with pytest.raises(UnknownOutcome):
            await coinbase.place_order(order(cid))
        state = await coinbase.fetch_order(SYMBOL, cid)  # what the executor does before any resend
        assert state is not None and state.status is OrderStatus.OPEN
        assert len(fake_rest.orders_with(cid)) == 1
    assert await coinbase.fetch_order(SYMBOL, "never-sent") is None


async def test_a_lost_create_answer_is_looked_up_in_the_orders_created_since_the_intent(
        coinbase_bot, fake_ws, fake_rest):
    """An account with a long history: the look-up after a lost answer asks List Orders for the orders created
    since the intent (``start_date``), one page, not the product's whole history."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    fake_rest.add_history(3000, "BTC-USD", "2026-01-02T03:04:05.000000Z")
    fake_rest.lose_create_order = 1
    placed = order("lost-in-history")
    with pytest.raises(UnknownOutcome):
        await coinbase.place_order(placed)
    fake_rest.list_queries.clear()
    state = await coinbase.fetch_order(SYMBOL, "lost-in-history")
    assert state is not None and state.status is OrderStatus.OPEN
    [query] = fake_rest.list_queries
    assert rfc3339_ns(query["start_date"][0]) <= placed.created_ns


async def test_a_look_up_without_a_creation_window_stops_at_its_page_bound(coinbase_bot, fake_ws, fake_rest):
    """After a restart the intent's time is not known here: the product's orders are read newest first, a bounded
    number of pages, and an order not found in them is an unknown outcome, not "never placed"."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    fake_rest.add_history(3000, "BTC-USD", "2026-01-02T03:04:05.000000Z")
    with pytest.raises(UnknownOutcome, match="pages"):
        await coinbase.fetch_order(SYMBOL, "from-an-earlier-run")
    assert len(fake_rest.list_queries) == coinbase_exchange.LOOKUP_PAGES_MAX


async def test_recovery_after_a_restart_finds_an_order_behind_a_thousand_newer_ones(coinbase_bot, fake_ws, fake_rest):
    """An order of an earlier run with more than the look-up's pages of newer orders on its product: recovery looks
    it up in the orders created around its stored ``created_ns``, and adopts it rather than leaving it UNKNOWN."""
    first, _ = await coinbase_bot(fake_ws, fake_rest, bot_settings='on_shutdown = "keep"')
    cid = first.executor.submit(OrderIntent(strategy="manual", exchange="coinbase", symbol=SYMBOL, side=Side.BUY,
                                            qty=Decimal("0.01"), price=Decimal("29000")))
    await wait_for(lambda: (o := first.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what="the order resting")
    created_ns = first.executor.order(cid).created_ns
    await first.stop()
    later = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(created_ns // 1_000_000_000 + 86_400))
    fake_rest.add_history(coinbase_exchange.LOOKUP_PAGES_MAX * coinbase_exchange.LOOKUP_PAGE + 10, "BTC-USD", later)
    second, _ = await coinbase_bot(fake_ws, fake_rest)
    order_now = second.executor.order(cid)
    assert order_now is not None and order_now.status is OrderStatus.OPEN  # before: UNKNOWN, for good
    assert order_now.exchange_order_id == fake_rest.orders_with(cid)[0]["order_id"]
    assert all("start_date" in q and "end_date" in q for q in fake_rest.list_queries[-1:])


async def test_late_create_order_answer_is_an_unknown_outcome_then_found(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, request_timeout_s=0.1)
    fake_rest.hang_create_order_s = 0.5
    with pytest.raises(UnknownOutcome):
        await coinbase.place_order(order("late-1"))
    fake_rest.hang_create_order_s = 0
    assert (await coinbase.fetch_order(SYMBOL, "late-1")).status is OrderStatus.OPEN
    assert len(fake_rest.orders_with("late-1")) == 1


async def test_executor_adopts_an_order_whose_answer_was_lost(fake_ws, fake_rest, coinbase_bot):
    # the fakes first: the bot stops before they close, its open order cancelled on a venue still there (after
    # them, its stop would retry the cancel against a closed venue until its deadline)
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    fake_rest.lose_create_order = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="coinbase", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.01"), price=Decimal("29000"), client_order_id="exec-lost-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what="order adopted after look-up")
    assert len(fake_rest.orders_with("exec-lost-1")) == 1
    assert [(m, p) for _, m, p in fake_rest.log].count(("POST", "/api/v3/brokerage/orders")) == 1


async def test_429_storm_keeps_requests_within_the_budget(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, rest_per_s=20.0, rest_burst=5, rate_limit_pause_s=0.1)
    fake_rest.http_429 = True
    loop = asyncio.get_running_loop()
    start = loop.time()
    errors = []

    async def hammer():
        while loop.time() - start < 0.6:
            try:
                await coinbase.balances()
            except RateLimited as exc:
                errors.append(exc)

    await asyncio.gather(*(hammer() for _ in range(8)))
    elapsed = loop.time() - start
    sent = fake_rest.requests_since(start)
    assert errors and all(e.retry_after_s == 0.1 for e in errors)
    assert len(sent) <= 5 + 20 * elapsed + 1
    # every 429 paused the bucket: far fewer than the budget got through
    assert len(sent) <= 5 + (elapsed / 0.1 + 1) * 2


async def test_venue_refusals_are_raised_as_mapped(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    with pytest.raises(InsufficientFunds):
        await coinbase.place_order(order("big-1", qty="100"))
    best_ask = min(fake_rest.products["BTC-USD"].asks)
    with pytest.raises(PostOnlyWouldCross):
        await coinbase.place_order(order("cross-1", price=str(best_ask), post_only=True))
    with pytest.raises(PermanentError):
        await coinbase.place_order(order("both-1", tif=TimeInForce.IOC, post_only=True))


async def test_fills_are_polled_and_published_once(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    fills, reports = [], []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    bot.bus.subscribe(OrderReport, reports.append, owner="test")
    state = await coinbase.place_order(order("rest-1", qty="0.02"))
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("28999.50"))
    await coinbase.poll_once()
    await coinbase.poll_once()  # nothing new: nothing published
    assert len(fills) == 1 and fills[0].qty == Decimal("0.01") and fills[0].price == Decimal("28999.50")
    assert reports[-1].state.status is OrderStatus.OPEN and reports[-1].state.filled_qty == Decimal("0.01")
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("28999.50"))
    await coinbase.poll_once()
    assert len(fills) == 2 and reports[-1].state.status is OrderStatus.FILLED
    assert not coinbase._tracked
    found = await coinbase.fetch_order(SYMBOL, "rest-1")
    assert found.status is OrderStatus.FILLED and len(found.fills) == 2
    assert found.avg_fill_price == Decimal("28999.50")


async def test_a_fill_is_stamped_with_its_trade_time_not_the_time_it_was_read(coinbase_bot, fake_ws, fake_rest):
    """List Fills gives each fill's ``trade_time``: the ledger orders fills and assigns them to days by ``ts_ns``, so a
    fill read a poll (or a restart) later must still carry the time it was made."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    state = await coinbase.place_order(order("timed-1", qty="0.02"))
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("28999.50"))
    fake_rest.fills[-1]["trade_time"] = "2026-11-21T23:59:59.123456Z"  # made before midnight, read after it
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("28999.50"))
    fake_rest.fills[-1]["trade_time"] = "2026-11-22T00:00:00.5Z"
    found = await coinbase.fetch_order(SYMBOL, "timed-1")
    assert [f.ts_ns for f in found.fills] == [1_795_305_599_123_456_000, 1_795_305_600_500_000_000]


@pytest.mark.parametrize("text, ns", [
    ("2026-11-22T00:00:00Z", 1_795_305_600_000_000_000),
    ("2026-11-22T00:00:00.000000001Z", 1_795_305_600_000_000_001),
    ("2026-11-22T02:00:00.25+02:00", 1_795_305_600_250_000_000),
    ("yesterday", None),
    ("2026-11-22T00:00:00.1234567891Z", None),
])
def test_rfc3339_times_are_read_exactly(text, ns):
    assert rfc3339_ns(text) == ns


async def test_fills_past_the_first_page_are_read_and_applied_once(coinbase_bot, fake_ws, fake_rest):
    """List Fills answers a page at a time (``limit``, then the answer's ``cursor`` until it is empty): an order
    with more fills than a page holds has every one read, by the poll and by a look-up after a restart, and each
    applied once."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    fake_rest.fills_page_max = 2
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="coinbase", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.05"), price=Decimal("29000"), client_order_id="paged-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what="order open")
    order_id = fake_rest.by_client[cid]
    entries = [fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50")) for _ in range(5)]
    await coinbase.poll_once()
    await coinbase.poll_once()  # nothing new: nothing applied again
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.FILLED, what="filled")
    assert sorted(a.fill.trade_id for a in applied) == entries
    assert bot.executor.order(cid).filled_qty == Decimal("0.05")
    coinbase._fills.clear()  # a restarted venue remembers nothing: the look-up reads every page again
    coinbase._fills_by_order.clear()
    found = await coinbase.fetch_order(SYMBOL, cid)
    assert found.status is OrderStatus.FILLED and sorted(f.trade_id for f in found.fills) == entries
    assert not any(bot.executor.apply_fill(f) for f in found.fills)  # every one applied already
    await wait_for(lambda: len(bot.store.fills()) == 5, what="five fills stored, once each")


async def test_a_fills_cursor_that_never_ends_is_followed_a_bounded_number_of_pages(
        coinbase_bot, fake_ws, fake_rest, monkeypatch):
    from plugins.coinbase import exchange as cb_exchange

    monkeypatch.setattr(cb_exchange, "FILL_PAGES_MAX", 5)
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    fake_rest.fills_page_max = 1
    state = await coinbase.place_order(order("stuck-1", qty="0.02"))
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("28999.50"))
    fake_rest.fills_cursor_stuck = True  # every answer names another page, with nothing new in it
    found = await coinbase.fetch_order(SYMBOL, "stuck-1")
    assert [f.trade_id for f in found.fills] == [fake_rest.fills[0]["entry_id"]]
    assert [p for _, _, p in fake_rest.log].count("/api/v3/brokerage/orders/historical/fills") == 5


async def test_cancel_batch_and_open_orders(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    for cid in ("keep-1", "gone-1", "gone-2"):
        await coinbase.place_order(order(cid))
    results = await coinbase.cancel_orders(SYMBOL, ["gone-1", "gone-2", "nobody"])
    assert [r.status for r in results[:2]] == [OrderStatus.CANCELLED, OrderStatus.CANCELLED]
    assert isinstance(results[2], OrderNotFound)
    assert [p for _, _, p in fake_rest.log].count("/api/v3/brokerage/orders/batch_cancel") == 1
    assert [s.client_order_id for s in await coinbase.open_orders(SYMBOL)] == ["keep-1"]
    with pytest.raises(OrderNotFound):
        await coinbase.cancel_order(SYMBOL, "nobody")


async def test_the_key_never_reaches_a_log_line(coinbase_bot, fake_ws, fake_rest, caplog):
    caplog.set_level(logging.DEBUG)
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    fake_rest.http_429 = True
    with pytest.raises(RateLimited):
        await coinbase.balances()
    body = PRIVATE_KEY_PEM.splitlines()[1]
    assert body not in caplog.text
    assert body not in repr(coinbase.rest) and body not in repr(coinbase.settings) and body not in repr(coinbase.signer)


async def test_fills_are_kept_by_order_for_the_newest_orders_and_an_open_one_keeps_its_own(monkeypatch):
    """The venue remembers fills (and Coinbase order ids) for the newest ORDERS_KEPT orders, found by order, not
    by walking every fill it ever saw; an older one is read from the venue again if asked for, as after a
    restart, and an order still tracked is never forgotten."""
    from bot.domain import Liquidity
    from plugins.coinbase import exchange as cb_exchange

    monkeypatch.setattr(cb_exchange, "ORDERS_KEPT", 10)
    venue = object.__new__(cb_exchange.CoinbaseExchange)  # only its memory of orders and fills is exercised
    venue._fills, venue._fills_by_order, venue._order_ids, venue._tracked = {}, {}, {}, {}
    venue._tracked["o3"] = ("BTC/USD", "x3", None)  # still open

    def fill(cid: str, tid: str) -> Fill:
        return Fill("coinbase", "BTC/USD", cid, tid, Side.BUY, Decimal(1), Decimal("0.01"), Decimal(0), "USD",
                    Liquidity.MAKER, 0)

    for i in range(30):
        venue._remember_id(f"o{i}", f"x{i}")
        for leg in range(2):
            f = venue._fills[f"t{i}-{leg}"] = fill(f"o{i}", f"t{i}-{leg}")
            venue._fills_by_order.setdefault(f"o{i}", []).append(f)
        venue._forget_old_fills()
    assert len(venue._order_ids) == 10 and list(venue._order_ids)[0] == "o20"
    assert "o3" in venue._fills_by_order and len(venue._fills_by_order) <= 11
    assert set(venue._fills) == {f.trade_id for fs in venue._fills_by_order.values() for f in fs}
    # a read of a kept order's fills is its own, in the order they came, without a request (filled in full)
    got = await venue._fills_of("o25", "BTC/USD", "x25", Decimal("0.02"))
    assert [f.trade_id for f in got] == ["t25-0", "t25-1"]


def test_amounts_go_as_plain_decimal_text_never_with_an_exponent():
    """str() of a Decimal writes 0.00000050 as "5.0E-7" and a normalized 30000 as "3E+4"."""
    from plugins.coinbase.exchange import order_configuration

    config = order_configuration(order("tiny-1", qty="0.00000050", price="3E+4"))
    assert config == {"limit_limit_gtc": {"base_size": "0.00000050", "limit_price": "30000", "post_only": False}}
