"""Kraken orders over REST against the fake venue: signing, nonces, errors, lost answers, rate limits, fills."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from bot.api import (
    Balance,
    InsufficientFunds,
    OrderNotFound,
    PermanentError,
    PostOnlyWouldCross,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from bot.clock import Clock
from bot.domain import Fill, Order, OrderIntent, OrderReport, OrderStatus, Side, TimeInForce
from plugins.kraken.exchange import rfc3339_ms, venue_client_id
from plugins.kraken.rest import DuplicateClientId, NonceRefused, Nonces, api_sign, classify
from tests.fakes.kraken import API_KEY, API_SECRET
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def test_api_sign_matches_krakens_documented_example():
    # The example of Kraken's "Spot REST Authentication" guide: buy 1.25 XBTUSD at 37500.
    secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    nonce = "1616492376594"
    body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert api_sign(secret, "/0/private/AddOrder", nonce, body) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")


async def test_nonces_strictly_increase_even_when_the_clock_goes_back():
    times = iter([5_000_000, 5_000_000, 4_000_000, 9_000_000])
    nonces = Nonces(lambda: next(times))
    got = [await nonces.next() for _ in range(4)]
    assert got == [5000, 5001, 5002, 9000]


async def test_nonces_keep_increasing_across_a_restart_after_the_clock_went_back(
        kraken_bot, fake_ws, fake_rest, monkeypatch, tmp_path):
    """Kraken remembers the highest nonce of the key; a restart after the clock stepped back an hour must not start
    below it (it would be refused until the clock caught up)."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    await kraken.balances()
    await bot.stop()
    used = fake_rest.last_nonce
    monkeypatch.setattr(Clock, "time_ns", staticmethod(lambda: time.time_ns() - 3_600 * 10**9))
    second_run = len(fake_rest.log)
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    assert kraken.ctx.clock.time_ns() // 1000 < used  # the clock is behind what Kraken has seen
    assert (await kraken.balances())["USD"].total == Decimal("100000")
    assert all(int(p["nonce"]) > used for _, _, p in fake_rest.log[second_run:])  # none refused
    assert API_KEY not in (tmp_path / "kraken-nonces.json").read_text()  # the key's digest names it


async def test_an_invalid_nonce_moves_past_the_refused_one_once_then_says_why(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    fake_rest.last_nonce = time.time_ns() // 1000 + 20 * 10**6  # another client of the key is 20 s ahead
    calls = len(fake_rest.log)
    await kraken.balances()  # refused once, then sent again past the refused nonce
    assert [m for _, m, _ in fake_rest.log[calls:]] == ["BalanceEx", "BalanceEx"]
    fake_rest.last_nonce += 10 * 3_600 * 10**6  # ten hours ahead: no single step gets past it
    calls = len(fake_rest.log)
    with pytest.raises(PermanentError, match="Invalid nonce.*(another client|state)"):
        await kraken.balances()
    assert len(fake_rest.log) - calls == 2


@pytest.mark.parametrize("error, kind", [
    ("EAPI:Rate limit exceeded", RateLimited),
    ("EOrder:Rate limit exceeded", RateLimited),
    ("EOrder:Insufficient funds", InsufficientFunds),
    ("EOrder:Post only order", PostOnlyWouldCross),
    ("EOrder:Unknown order", OrderNotFound),
    ("EOrder:Duplicate order", DuplicateClientId),
    ("EGeneral:Invalid arguments", PermanentError),
    ("EAPI:Invalid signature", PermanentError),
    ("EService:Unavailable", TransientError),
    ("EAPI:Invalid nonce", NonceRefused),
    ("EGeneral:Temporary lockout", RateLimited),
    ("EGeneral:Internal error", UnknownOutcome),
])
def test_kraken_errors_map_to_the_executors_classes(error, kind):
    exc = classify([error], 3.0)
    assert type(exc) is kind
    if kind is RateLimited:
        assert exc.retry_after_s == 3.0


async def test_a_deadline_outside_krakens_range_is_refused_by_the_fake(fake_rest):
    """Kraken takes a ``deadline`` from now() + 2 s to now() + 60 s; the exchange sends 5 to 55 s ahead."""
    base = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01", "price": "30000"}
    now_ns = time.time_ns()
    for ahead_s, accepted in ((1, False), (5, True), (55, True), (61, False)):
        try:
            fake_rest._m_AddOrder({**base, "deadline": rfc3339_ms(now_ns + ahead_s * 10**9)})
        except Exception as exc:
            assert not accepted and "deadline" in str(exc)
        else:
            assert accepted


def test_deadlines_are_rfc3339_utc_to_the_millisecond():
    assert rfc3339_ms(1_795_305_600_123_456_789) == "2026-11-22T00:00:00.123Z"
    assert rfc3339_ms(1_795_305_659_000_000_000) == "2026-11-22T00:00:59.000Z"


def test_long_client_ids_become_deterministic_uuids():
    assert venue_client_id("grid-7-12") == "grid-7-12"
    long_id = "btc-grid-2f9c1e3a4b5d6e7f-000123"
    assert venue_client_id(long_id) == venue_client_id(long_id) != long_id
    assert len(venue_client_id(long_id)) == 36


def order(cid: str, qty="0.01", price="30000", tif=TimeInForce.GTC, post_only=False) -> Order:
    return Order(client_order_id=cid, strategy="test", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                 qty=Decimal(qty), price=Decimal(price), tif=tif, post_only=post_only)


async def test_add_order_sends_what_kraken_expects(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    state = await kraken.place_order(order("ioc-1", tif=TimeInForce.IOC, post_only=True))
    assert state.status is OrderStatus.OPEN and state.exchange_order_id
    _, method, params = fake_rest.log[-1]
    assert method == "AddOrder"
    assert params["pair"] == "XBTUSD" and params["type"] == "buy" and params["ordertype"] == "limit"
    assert params["volume"] == "0.01" and params["price"] == "30000"
    assert params["timeinforce"] == "IOC" and params["oflags"] == "post,fciq" and params["cl_ord_id"] == "ioc-1"


async def test_amounts_go_as_plain_decimal_text_never_with_an_exponent(kraken_bot, fake_ws, fake_rest):
    """str() of a Decimal writes 0.00000050 as "5.0E-7" and a normalized 30000 as "3E+4"."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    await kraken.place_order(order("tiny-1", qty="0.00000050", price="3E+4"))
    _, method, params = fake_rest.log[-1]
    assert (method, params["volume"], params["price"]) == ("AddOrder", "0.00000050", "30000")


async def test_lost_add_order_answer_is_resolved_by_query_200_times(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, rest_per_s=10_000.0, rest_burst=1000)
    for i in range(200):
        cid = f"lost-{i}"
        fake_rest.lose_add_order = 1  # created on the venue, then the connection drops before the answer
        with pytest.raises(UnknownOutcome):
            await kraken.place_order(order(cid))
        state = await kraken.fetch_order(SYMBOL, cid)  # what the executor does before any resend
        assert state is not None and state.status is OrderStatus.OPEN
        assert len(fake_rest.orders_with(cid)) == 1
    assert await kraken.fetch_order(SYMBOL, "never-sent") is None


async def test_late_add_order_answer_is_an_unknown_outcome_then_found(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, request_timeout_s=0.1)
    fake_rest.hang_add_order_s = 0.5
    with pytest.raises(UnknownOutcome):
        await kraken.place_order(order("late-1"))
    fake_rest.hang_add_order_s = 0
    state = await kraken.fetch_order(SYMBOL, "late-1")
    assert state.status is OrderStatus.OPEN
    assert len(fake_rest.orders_with("late-1")) == 1


async def test_executor_adopts_an_order_whose_answer_was_lost(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    fake_rest.lose_add_order = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.01"), price=Decimal("29000"), client_order_id="exec-lost-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what="order adopted after look-up")
    assert len(fake_rest.orders_with("exec-lost-1")) == 1
    assert [m for _, m, _ in fake_rest.log].count("AddOrder") == 1


async def test_a_temporary_lockout_pauses_the_calls_as_a_rate_limit_does(kraken_bot, fake_ws, fake_rest):
    """Kraken locks a key out (about 15 minutes) after too many failed calls, and every call refused meanwhile still
    counts: calling on at full rate keeps the key locked. A lockout answer pauses the calls as a rate limit does."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, rest_per_s=20.0, rest_burst=5, rate_limit_pause_s=0.1)
    fake_rest.locked_out = True
    loop = asyncio.get_running_loop()
    start = loop.time()
    errors = []

    async def hammer():
        while loop.time() - start < 0.6:
            try:
                await kraken.balances()
            except RateLimited as exc:
                errors.append(exc)

    await asyncio.gather(*(hammer() for _ in range(8)))
    elapsed = loop.time() - start
    sent = [t for t, _, _ in fake_rest.log if t >= start]
    assert errors and all("Temporary lockout" in str(e) for e in errors)
    assert len(sent) <= 5 + (elapsed / 0.1 + 1) * 2  # paused after each lockout answer, not at the full 20/s


async def test_rate_limit_storm_keeps_requests_within_the_budget(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, rest_per_s=20.0, rest_burst=5, rate_limit_pause_s=0.1)
    fake_rest.rate_limited = True
    loop = asyncio.get_running_loop()
    start = loop.time()
    errors = []

    async def hammer():
        while loop.time() - start < 0.6:
            try:
                await kraken.balances()
            except RateLimited as exc:
                errors.append(exc)

    await asyncio.gather(*(hammer() for _ in range(8)))
    elapsed = loop.time() - start
    sent = [t for t, _, _ in fake_rest.log if t >= start]
    assert errors and len(sent) <= 5 + 20 * elapsed + 1
    # and every rate-limit answer paused the bucket: far fewer than the budget got through
    assert len(sent) <= 5 + (elapsed / 0.1 + 1) * 2


async def test_http_429_is_rate_limited(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, rate_limit_pause_s=0.01)
    fake_rest.http_429 = True
    with pytest.raises(RateLimited):
        await kraken.balances()


async def test_fills_are_polled_and_published_once(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    fills, reports = [], []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    bot.bus.subscribe(OrderReport, reports.append, owner="test")
    state = await kraken.place_order(order("rest-1", qty="0.02"))
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("29999.5"))
    await kraken.poll_once()
    await kraken.poll_once()  # nothing new: nothing published
    assert len(fills) == 1 and fills[0].qty == Decimal("0.01") and fills[0].price == Decimal("29999.5")
    assert reports[-1].state.status is OrderStatus.OPEN and reports[-1].state.filled_qty == Decimal("0.01")
    fake_rest.fill(state.exchange_order_id, Decimal("0.01"), Decimal("29999.5"))
    await kraken.poll_once()
    assert len(fills) == 2 and reports[-1].state.status is OrderStatus.FILLED
    assert not kraken._tracked
    found = await kraken.fetch_order(SYMBOL, "rest-1")
    assert found.status is OrderStatus.FILLED and len(found.fills) == 2


async def test_an_auto_earn_balance_is_counted_in_its_asset(kraken_bot, fake_ws, fake_rest):
    """Kraken lists what earns in Kraken Rewards apart, as ``ASSET.F`` (read-only: the base asset transacts with both,
    as Kraken documents for ``USDT`` and ``USDT.F``), so the BTC a trade may use is ``XXBT`` plus ``XBT.F``. Staked
    balances (``.S``, ``.M``, ``.B``) are not tradable and stay apart."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    fake_rest.balances.update({"XBT.F": "0.5000000000", "USD.F": "250.0000", "DOT.S": "10.0000000000"})
    sell = Order(client_order_id="earn-sell", strategy="test", exchange="kraken", symbol=SYMBOL, side=Side.SELL,
                 qty=Decimal("0.2"), price=Decimal("31000"))
    await kraken.place_order(sell)
    balances = await kraken.balances()
    assert balances["BTC"] == Balance("BTC", Decimal("1.3"), Decimal("1.5"))
    assert balances["USD"] == Balance("USD", Decimal("100250"), Decimal("100250"))
    assert "XBT.F" not in balances and "USD.F" not in balances
    assert balances["DOT.S"].total == Decimal("10")


async def test_every_legacy_asset_code_is_named_as_the_symbols_name_it(kraken_bot, fake_ws, fake_rest):
    """Kraken's balances use its legacy X/Z codes for the oldest assets (``XXMR``, ``XZEC``, ``XETC``, ``ZAUD``...);
    the WebSocket v2 symbols say ``XMR/USD``: a balance under the code is a balance the market does not see."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    fake_rest.balances.update({"XXMR": "3.0000000000", "XZEC": "2.0000000000", "XETC": "5.0000000000",
                               "XMLN": "1.0000000000", "XREP": "4.0000000000", "ZAUD": "10.0000"})
    balances = await kraken.balances()
    assert {a: balances[a].total for a in ("XMR", "ZEC", "ETC", "MLN", "REP", "AUD")} == {
        "XMR": Decimal(3), "ZEC": Decimal(2), "ETC": Decimal(5), "MLN": Decimal(1), "REP": Decimal(4),
        "AUD": Decimal(10)}


async def test_cancel_open_orders_and_balances(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    await kraken.place_order(order("keep-1"))
    await kraken.place_order(order("gone-1"))
    cancelled = await kraken.cancel_order(SYMBOL, "gone-1")
    assert cancelled.status is OrderStatus.CANCELLED
    assert [s.client_order_id for s in await kraken.open_orders(SYMBOL)] == ["keep-1"]
    with pytest.raises(OrderNotFound):
        await kraken.cancel_order(SYMBOL, "nobody")
    balances = await kraken.balances()
    assert balances["BTC"].total == Decimal("1.0000000000") and balances["USD"].total == Decimal("100000.0000")


async def test_balances_leave_out_what_resting_orders_hold(kraken_bot, fake_ws, fake_rest):
    """BalanceEx: total is the balance, free the balance less what open orders hold (``hold_trade``); a fill and a
    cancel release their part."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0)
    buy = await kraken.place_order(order("held-buy", qty="0.01", price="29000"))
    sell = Order(client_order_id="held-sell", strategy="test", exchange="kraken", symbol=SYMBOL, side=Side.SELL,
                 qty=Decimal("0.2"), price=Decimal("31000"))
    await kraken.place_order(sell)
    balances = await kraken.balances()
    # the buy holds its cost and its fee in the quote (every order asks for the fee in the quote: fciq)
    assert balances["USD"] == Balance("USD", Decimal("100000") - Decimal("290.464"), Decimal("100000"))
    assert balances["BTC"] == Balance("BTC", Decimal("0.8"), Decimal("1"))
    assert [m for _, m, _ in fake_rest.log][-1] == "BalanceEx"
    fake_rest.fill(buy.exchange_order_id, Decimal("0.005"), Decimal("29000"))
    assert (await kraken.balances())["USD"].free == Decimal("100000") - Decimal("145.232")
    await kraken.cancel_order(SYMBOL, "held-sell")
    assert (await kraken.balances())["BTC"] == Balance("BTC", Decimal("1"), Decimal("1"))


async def test_venue_errors_are_raised_as_mapped(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    with pytest.raises(InsufficientFunds):
        await kraken.place_order(order("big-1", qty="100"))
    assert kraken.market(SYMBOL).tick_size == Decimal("0.1")
    assert kraken.market(SYMBOL).lot_size == Decimal("1E-8")


async def test_the_secret_never_reaches_a_log_line(kraken_bot, fake_ws, fake_rest, caplog):
    """The lines of a refused call and of the stop after it (whose balance snapshot is refused too). The stop waits out
    the rate-limit block, and then the bucket's next token, as a stop must (within ``[bot] shutdown_timeout_s``; a
    request sent sooner would count against the key): a short block and a fast bucket keep that to a moment here."""
    caplog.set_level(logging.DEBUG)
    bot, kraken = await kraken_bot(fake_ws, fake_rest, rate_limit_pause_s=0.05, rest_per_s=50)
    fake_rest.rate_limited = True
    with pytest.raises(RateLimited):
        await kraken.balances()
    await bot.stop()  # before the fake venue closes: the snapshot is refused by it, not by a closed port
    assert 'balances of exchange "kraken" not stored at stop: RateLimited' in caplog.text
    assert API_SECRET not in caplog.text and API_KEY not in caplog.text
    assert API_SECRET not in repr(kraken.rest) and API_SECRET not in repr(kraken.settings)


async def test_add_order_refused_as_a_duplicate_takes_the_order_already_open(kraken_bot, fake_ws, fake_rest):
    """Kraken refuses a ``cl_ord_id`` one of the account's open orders carries. Ours is derived from the client order
    id, so that order is this one, from an earlier attempt Kraken took after its answer was lost (and after the
    look-up that found nothing): it must be taken and tracked, never reported rejected while it rests and fills."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    earlier = fake_rest._m_AddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "volume": "0.01",
                                     "price": "30000", "oflags": "fciq", "cl_ord_id": "dup-1"})["txid"][0]
    state = await kraken.place_order(order("dup-1"))
    assert state.status is OrderStatus.OPEN and state.exchange_order_id == earlier
    assert len(fake_rest.orders_with("dup-1")) == 1
    fills = []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    fake_rest.fill(earlier, Decimal("0.01"), Decimal("30000"))
    await kraken.poll_once()
    await wait_for(lambda: fills, what="the fill of the order taken over")
    assert fills[0].client_order_id == "dup-1" and fills[0].qty == Decimal("0.01")


async def test_an_add_order_kraken_takes_late_is_never_placed_twice(kraken_bot, fake_ws, fake_rest):
    """An AddOrder whose answer is lost may still be queued on Kraken's side: a look-up that finds nothing right
    after is not proof it never arrives. An IOC closes at once, so Kraken's open-order uniqueness of ``cl_ord_id``
    does not catch a resend: the queued request would trade a second time. AddOrder's ``deadline`` makes the engine
    refuse the request once it is past, and until then the look-up must not answer "never placed"."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, request_timeout_s=0.5)
    loop = asyncio.get_running_loop()
    fake_rest.queue_add_order_s = 5.5  # reaches the engine 5.5 s later, past a deadline 5 s ahead (the least sent)
    ioc = order("queued-1", tif=TimeInForce.IOC)
    with pytest.raises(UnknownOutcome):
        await kraken.place_order(ioc)
    start = loop.time()
    while True:  # what the executor does: look it up, and send again only once it is known never to have arrived
        try:
            state = await kraken.fetch_order(SYMBOL, "queued-1")
        except UnknownOutcome:
            await asyncio.sleep(0.1)
            continue
        if state is None:
            await kraken.place_order(ioc)
        break
    await wait_for(lambda: fake_rest.late_add_orders, timeout_s=10, what="the queued request at the engine")
    assert loop.time() - start > 5.0
    assert len(fake_rest.orders_with("queued-1")) == 1, fake_rest.late_add_orders
    assert fake_rest.late_add_orders == ["EService:Deadline elapsed"]
    _, method, params = next(entry for entry in fake_rest.log if entry[1] == "AddOrder")
    assert params["deadline"].endswith("Z")  # what made the engine refuse the late one


async def test_the_executor_resends_a_queued_ioc_only_once_it_can_no_longer_trade(kraken_bot, fake_ws, fake_rest):
    """The same through the executor: its look-ups after the lost answer are inconclusive until the deadline has
    passed (its retries may run out first: the order is UNKNOWN and reconciliation asks on), and it sends again only
    after that; at most one order reaches the engine in all."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, request_timeout_s=0.5)
    fake_rest.queue_add_order_s = 5.5
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.01"), price=Decimal("29000"), tif=TimeInForce.IOC,
                                          client_order_id="exec-queued-1"))
    await wait_for(lambda: fake_rest.late_add_orders, timeout_s=10, what="the queued request at the engine")
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None
                   and (o.status.terminal or o.status is OrderStatus.UNKNOWN), timeout_s=30, what="the order settled")
    await asyncio.sleep(1.0)  # a resend, if any, has reached the fake
    assert fake_rest.late_add_orders == ["EService:Deadline elapsed"]
    assert len(fake_rest.orders_with("exec-queued-1")) <= 1  # a resend's only: an IOC that found nothing
    assert [m for _, m, _ in fake_rest.log].count("AddOrder") <= 2
