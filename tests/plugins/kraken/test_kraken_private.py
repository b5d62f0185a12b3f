"""Kraken's private ``executions`` stream and dead-man switch against the fake venue."""

from __future__ import annotations

import json
from decimal import Decimal

from bot.api import FillApplied, OrderIntent, OrderReport, OrderState, OrderStatus, Side
from bot.redact import REDACTOR
from plugins.kraken.private import timestamp_ns
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def intent(cid: str, qty: str = "0.02", side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=side, qty=Decimal(qty),
                       price=Decimal("29000"), client_order_id=cid)


def polls(fake_rest) -> int:
    return sum(1 for _, method, _ in fake_rest.log if method in ("QueryOrders", "QueryTrades"))


async def open_order(bot, fake_rest, cid: str, qty: str = "0.02", side: Side = Side.BUY) -> str:
    bot.executor.submit(intent(cid, qty, side))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what=f"{cid} open")
    (txid,) = [t for t, o in fake_rest.orders.items() if o["cl_ord_id"] == cid]
    return txid


def test_rfc3339_timestamps_become_integer_ns():
    assert timestamp_ns("2023-11-14T22:13:20.500000Z") == 1_700_000_000_500_000_000


async def test_a_fill_arrives_on_the_stream_before_the_next_poll_and_is_applied_once(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    assert fake_auth_ws.requests[0]["params"]["token"] in fake_rest.tokens
    txid = await open_order(bot, fake_rest, "stream-1")
    polled = polls(fake_rest)
    fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))
    await wait_for(lambda: bot.executor.order("stream-1").filled_qty == Decimal("0.01"), what="fill from the stream")
    assert polls(fake_rest) == polled  # no poll ran: the fill came on the stream
    fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))
    await wait_for(lambda: bot.executor.order("stream-1").status is OrderStatus.FILLED, what="filled on the stream")
    assert polls(fake_rest) == polled
    # a poll that read the order between the two fills answers late: it publishes nothing (no going back)
    reports: list[OrderReport] = []
    bot.bus.subscribe(OrderReport, reports.append, owner="test")
    first = kraken.memory.fills[fake_rest.orders[txid]["trades"][0]]
    before = OrderState("stream-1", OrderStatus.OPEN, exchange_order_id=txid)
    late = OrderState("stream-1", OrderStatus.OPEN, exchange_order_id=txid, filled_qty=Decimal("0.01"), fills=(first,))
    kraken.report_change("stream-1", SYMBOL, txid, before, late)
    assert reports == [] and "stream-1" not in kraken._tracked
    # the reconciler reads the same trades by REST (QueryTrades): nothing is applied twice
    kraken.memory.fills.clear()
    found = await kraken.fetch_order(SYMBOL, "stream-1")
    assert len(found.fills) == 2 and not any(bot.executor.apply_fill(f) for f in found.fills)
    await wait_for(lambda: len(applied) >= 2, what="fills applied")
    assert sorted(a.fill.trade_id for a in applied) == sorted(fake_rest.orders[txid]["trades"])
    stored = {a.fill.trade_id: a.fill for a in applied}
    rest_fee = Decimal(fake_rest.trades[fake_rest.orders[txid]["trades"][0]]["fee"])
    assert stored[fake_rest.orders[txid]["trades"][0]].fee == rest_fee


async def test_a_sells_fee_is_in_the_quote_on_the_stream_as_in_the_trade_history(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """Kraken charges a sell's fee in the base unless the order asks for the quote (fciq), and its trade history
    states a fee in the quote: every order asks, so a fill is recorded alike whichever path sees it first."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    fake_rest.balances["XXBT"] = "1"
    txid = await open_order(bot, fake_rest, "sell-1", side=Side.SELL)
    assert "fciq" in fake_rest.orders[txid]["oflags"].split(",")
    fake_rest.fill(txid, Decimal("0.02"), Decimal("29000"))
    await wait_for(lambda: bot.executor.order("sell-1").status is OrderStatus.FILLED, what="filled on the stream")
    [fill] = [f for f in kraken.memory.fills.values() if f.client_order_id == "sell-1"]
    trade = fake_rest.trades[fill.trade_id]
    assert (fill.fee_asset, fill.fee) == ("USD", Decimal(trade["fee"]))


async def test_a_trade_with_fees_in_two_assets_keeps_each_fee_in_its_own_asset(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """Fee credits (KFEE) pay part of a fee: the report names a USD fee and a KFEE one. The trade's fill carries the
    USD fee; the KFEE one is a fee-only entry (quantity 0) in KFEE, never added to the dollars."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    fake_rest.fee_credits = Decimal("40")  # 0.40 USD of fees; the trade's fee is 0.928 USD
    txid = await open_order(bot, fake_rest, "kfee-1")
    polled = polls(fake_rest)
    tid = fake_rest.fill(txid, Decimal("0.02"), Decimal("29000"))
    await wait_for(lambda: bot.executor.order("kfee-1").status is OrderStatus.FILLED, what="filled on the stream")
    await wait_for(lambda: len(applied) >= 2, what="both fees applied")
    assert polls(fake_rest) == polled  # the stream's report, not the trade history
    by_asset = {a.fill.fee_asset: a.fill for a in applied}
    assert set(by_asset) == {"USD", "KFEE"} and len(applied) == 2
    trade, credit = by_asset["USD"], by_asset["KFEE"]
    assert (trade.trade_id, trade.qty, trade.fee) == (tid, Decimal("0.02"), Decimal("0.528"))
    assert trade.fee == Decimal(fake_rest.trades[tid]["fee"])  # as the trade history states it
    assert (credit.qty, credit.fee, credit.client_order_id) == (Decimal(0), Decimal("40"), "kfee-1")
    assert credit.trade_id != tid
    assert bot.executor.order("kfee-1").filled_qty == Decimal("0.02")


async def test_fee_credits_are_recorded_when_the_poll_reads_the_trade_before_the_stream(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """The stream down, the poll reads a trade KFEE paid part of the fee of: the trade history states only the USD
    part, the ledger names the credits. Both fees are recorded as the stream records them, and its report coming
    after applies nothing again."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    fake_rest.fee_credits = Decimal("40")
    txid = await open_order(bot, fake_rest, "kfee-poll-1")
    held = []
    fake_rest.listeners.insert(0, held.append)  # the stream's report is held back: the poll reads the trade first
    stream = fake_rest.listeners[1:]
    fake_rest.listeners[1:] = []
    try:
        tid = fake_rest.fill(txid, Decimal("0.02"), Decimal("29000"))
        await kraken.poll_once()
        await wait_for(lambda: bot.executor.order("kfee-poll-1").status is OrderStatus.FILLED,
                       what="filled by the poll")
        await wait_for(lambda: len(applied) >= 2, what="both fees applied")  # before: only the USD fee, never KFEE
    finally:
        fake_rest.listeners[:] = stream
    by_asset = {a.fill.fee_asset: a.fill for a in applied}
    assert set(by_asset) == {"USD", "KFEE"} and len(applied) == 2
    assert (by_asset["USD"].trade_id, by_asset["USD"].fee) == (tid, Decimal("0.528"))
    assert (by_asset["KFEE"].qty, by_asset["KFEE"].fee, by_asset["KFEE"].trade_id) == (
        Decimal(0), Decimal("40"), f"{tid}:fee:KFEE")
    kraken.memory.fills.clear()  # a restart's poll reads the trade again: nothing applied twice
    found = await kraken.fetch_order(SYMBOL, "kfee-poll-1")
    assert {f.trade_id for f in found.fills} == {tid, f"{tid}:fee:KFEE"}
    assert not any(bot.executor.apply_fill(f) for f in found.fills)
    kraken.memory.fills.clear()
    for report in held:  # the stream is back with its reports: the same two fills, applied once
        for listener in stream:
            listener(report)
    await wait_for(lambda: tid in kraken.memory.fills, what="the stream's report read")
    assert len(applied) == 2 and bot.executor.order("kfee-poll-1").filled_qty == Decimal("0.02")


async def test_the_poll_keeps_the_trade_history_fee_when_the_ledger_cannot_be_read(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """A key without the ledger permission: the poll records the trade's fee as the trade history states it, and
    goes on polling."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0, stream_poll_s=60.0)
    fake_rest.ledger_refused = True
    fake_rest.fee_credits = Decimal("40")
    txid = await open_order(bot, fake_rest, "kfee-poll-2")
    tid = fake_rest.fill(txid, Decimal("0.02"), Decimal("29000"))
    found = await kraken.fetch_order(SYMBOL, "kfee-poll-2")
    assert [(f.trade_id, f.fee, f.fee_asset) for f in found.fills] == [(tid, Decimal("0.528"), "USD")]


async def test_the_stream_dropping_falls_back_to_polling_with_an_alert_and_nothing_missed(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=0.3, stream_poll_s=60.0)
    alerts = []
    bot.subscribe_alerts(alerts.append, owner="test")
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    txid = await open_order(bot, fake_rest, "drop-1", qty="0.03")

    fake_auth_ws.refuse = True
    await fake_auth_ws.drop()
    await wait_for(lambda: any(a.kind == "private-stream" and "lost" in a.message for a in alerts),
                   what="the drop alerted")
    fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))  # nobody streams this one
    await wait_for(lambda: bot.executor.order("drop-1").filled_qty == Decimal("0.01"), timeout_s=10,
                   what="fill found by polling")
    assert not kraken.private.up

    fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))  # while down, just before the stream returns
    fake_auth_ws.refuse = False
    await wait_for(lambda: kraken.private.up, timeout_s=10, what="stream back")
    await wait_for(lambda: any(a.kind == "private-stream" and "back" in a.message for a in alerts),
                   what="the return alerted")
    await wait_for(lambda: bot.executor.order("drop-1").filled_qty == Decimal("0.02"), timeout_s=10,
                   what="the fill made while down")
    fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))
    await wait_for(lambda: bot.executor.order("drop-1").status is OrderStatus.FILLED, what="last fill")
    await wait_for(lambda: len(applied) >= 3, what=f"three fills applied {applied} {fake_rest.orders[txid]}")
    assert sorted(a.fill.trade_id for a in applied) == sorted(fake_rest.orders[txid]["trades"])
    await wait_for(lambda: len(bot.store.fills()) == 3, what="three fills stored")


async def test_each_websocket_token_is_masked_while_it_can_be_used(kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """The executions token is a credential (valid 15 minutes, and for as long as a subscription made with it
    lasts): each one is known to the redactor from when it is made, the one replaced too."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    [first] = fake_rest.tokens
    assert REDACTOR.redact(f"subscribe refused for token {first}") == "subscribe refused for token ***"
    await fake_auth_ws.drop()
    await wait_for(lambda: len(fake_rest.tokens) >= 2 and kraken.private.up, what="subscribed again")
    assert all(REDACTOR.redact(token) == "***" for token in fake_rest.tokens), fake_rest.tokens


async def test_a_replaced_token_is_forgotten_once_it_could_no_longer_start_a_subscription(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws, monkeypatch):
    """Tokens that Kraken says are valid 0 s more (``expires``): the one in use stays masked, a replaced one is
    forgotten at once, so a stream reconnecting for days does not grow the redactor."""
    made = fake_rest._m_GetWebSocketsToken
    monkeypatch.setattr(fake_rest, "_m_GetWebSocketsToken", lambda p: {**made(p), "expires": 0})
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    [first] = fake_rest.tokens
    assert REDACTOR.redact(first) == "***"  # in use
    await fake_auth_ws.drop()
    await wait_for(lambda: len(fake_rest.tokens) >= 2 and kraken.private.up, what="subscribed again")
    assert REDACTOR.redact(first) == first
    assert [REDACTOR.redact(t) for t in fake_rest.tokens - {first}].count("***") == 1  # the one in use


async def test_a_malformed_report_is_counted_and_the_stream_stays_up(kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """A report of the documented channel whose fields cannot be read (a number that is not one) is counted and
    logged, the connection and the frame's other reports are kept, and a poll reads the trade it may have carried."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    txid = await open_order(bot, fake_rest, "garbled-1")
    connections = fake_auth_ws.connection_count
    fake_rest.listeners.remove(fake_auth_ws._on_report)  # the trade happens; the stream carries a garbled copy
    tid = fake_rest.fill(txid, Decimal("0.01"), Decimal("28999.5"))
    fake_rest.listeners.append(fake_auth_ws._on_report)
    reports_before = kraken.private.reports
    garbled = {"order_id": txid, "cl_ord_id": "garbled-1", "exec_type": "trade", "exec_id": tid, "symbol": SYMBOL,
               "side": "buy", "last_qty": "0.01", "last_price": "twenty-nine thousand", "cum_qty": 0.01,
               "order_status": "partially_filled", "timestamp": "2026-11-22T01:00:00.000000Z"}
    status = {"order_id": "OTHER-CLIENT-ORDER", "exec_type": "new", "order_status": "new", "symbol": SYMBOL}
    await fake_auth_ws.send_raw(json.dumps({"channel": "executions", "type": "update", "data": [garbled, status]}))
    await wait_for(lambda: kraken.private.reports == reports_before + 2, what="both reports read")
    assert kraken.private.malformed == 1
    await wait_for(lambda: bot.executor.order("garbled-1").filled_qty == Decimal("0.01"), timeout_s=10,
                   what="the trade read by the poll the bad report asked for")
    assert fake_auth_ws.connection_count == connections and kraken.private.up  # the stream was not torn down


async def test_a_fill_the_stream_reports_before_the_add_orders_answer_is_in_the_state_it_answers(
        kraken_bot, fake_ws, fake_rest, fake_auth_ws):
    """The executions stream is faster than REST: the order's trade comes before AddOrder's answer. The answer
    (the order open) must count that fill, not say nothing filled until the next poll."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fake_auth_ws, fill_poll_s=60.0, stream_poll_s=60.0)
    await wait_for(lambda: kraken.private.up, what="executions subscribed")
    fake_rest.hang_add_order_s = 0.3  # the order is made at once; its answer leaves later

    def fill_on_arrival(report: dict) -> None:
        if report["exec_type"] == "new":
            fake_rest.fill(report["order_id"], Decimal("0.005"), Decimal("29000"))

    fake_rest.listeners.append(fill_on_arrival)
    bot.executor.submit(intent("early-1"))
    await wait_for(lambda: bot.executor.order("early-1").status is OrderStatus.OPEN, what="the answer")
    order = bot.executor.order("early-1")
    assert (order.filled_qty, order.avg_fill_price) == (Decimal("0.005"), Decimal("29000"))
