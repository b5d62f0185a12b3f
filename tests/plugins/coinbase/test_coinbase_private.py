"""Coinbase's authenticated ``user`` channel against the fake venue: order changes as they happen."""

from __future__ import annotations

from decimal import Decimal

from bot.api import FillApplied, OrderIntent, OrderStatus, Side
from bot.redact import REDACTOR
from tests.fakes.coinbase import user_order
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def polls(fake_rest) -> int:
    return sum(1 for _, method, path in fake_rest.log if method == "GET" and "/orders/historical/" in path)


async def open_order(bot, fake_rest, cid: str, qty: str) -> str:
    bot.executor.submit(OrderIntent(strategy="manual", exchange="coinbase", symbol=SYMBOL, side=Side.BUY,
                                    qty=Decimal(qty), price=Decimal("29000"), client_order_id=cid))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what=f"{cid} open")
    return fake_rest.by_client[cid]


async def test_a_fill_is_read_on_the_user_event_before_the_next_poll_and_applied_once(
        coinbase_bot, fake_ws, fake_rest, fake_user_ws):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, user_ws=fake_user_ws, fill_poll_s=60.0,
                                       stream_poll_s=60.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await wait_for(lambda: coinbase.streaming, what="user channel subscribed")
    assert fake_user_ws.jwt_results and all(r is None for r in fake_user_ws.jwt_results)
    order_id = await open_order(bot, fake_rest, "cb-stream-1", "0.02")
    fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50"))
    await wait_for(lambda: bot.executor.order("cb-stream-1").filled_qty == Decimal("0.01"), what="fill on the event")
    fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50"))
    await wait_for(lambda: bot.executor.order("cb-stream-1").status is OrderStatus.FILLED, what="filled")
    coinbase._fills.clear()  # the reconciler reads the same fills again by REST: none is applied twice
    found = await coinbase.fetch_order(SYMBOL, "cb-stream-1")
    assert len(found.fills) == 2 and not any(bot.executor.apply_fill(f) for f in found.fills)
    await wait_for(lambda: len(applied) >= 2, what="fills applied")
    assert sorted(a.fill.trade_id for a in applied) == [f["entry_id"] for f in fake_rest.fills]


async def test_the_user_channel_dropping_falls_back_to_polling_with_an_alert_and_nothing_missed(
        coinbase_bot, fake_ws, fake_rest, fake_user_ws):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, user_ws=fake_user_ws, fill_poll_s=0.3,
                                       stream_poll_s=60.0)
    alerts = []
    bot.subscribe_alerts(alerts.append, owner="test")
    await wait_for(lambda: coinbase.streaming, what="user channel subscribed")
    order_id = await open_order(bot, fake_rest, "cb-drop-1", "0.03")
    fake_user_ws.refuse = True
    await fake_user_ws.drop()
    await wait_for(lambda: any(a.kind == "private-stream" and "lost" in a.message for a in alerts), what="drop alerted")
    fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50"))
    await wait_for(lambda: bot.executor.order("cb-drop-1").filled_qty == Decimal("0.01"), timeout_s=10,
                   what="fill found by polling")
    assert not coinbase.streaming
    fake_user_ws.refuse = False
    await wait_for(lambda: coinbase.streaming, timeout_s=10, what="stream back")
    await wait_for(lambda: any(a.kind == "private-stream" and "back" in a.message for a in alerts),
                   what="return alerted")
    fake_rest.fill(order_id, Decimal("0.02"), Decimal("28999.50"))
    await wait_for(lambda: bot.executor.order("cb-drop-1").status is OrderStatus.FILLED, what="filled")
    await wait_for(lambda: len(bot.store.fills()) == 2, what="two fills stored, once each")


async def test_every_websocket_jwt_is_masked(coinbase_bot, fake_ws, fake_rest, fake_user_ws):
    """A JWT is a credential for its two minutes: each one the market data and user channels send is known to the
    redactor from when it is made (a venue's error quoting a subscription would show it)."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, user_ws=fake_user_ws)
    await wait_for(lambda: coinbase.streaming and SYMBOL in coinbase.books.tickers, what="both channels subscribed")
    sent = fake_ws.jwts + fake_user_ws.jwts
    assert fake_ws.jwts and fake_user_ws.jwts
    assert all(REDACTOR.redact(f"refused: {jwt}") == "refused: ***" for jwt in sent), sent


async def test_a_malformed_order_event_is_counted_and_the_channel_stays_up(
        coinbase_bot, fake_ws, fake_rest, fake_user_ws):
    """An order of a ``user`` event whose fields cannot be read (a quantity that is not a number) is counted and
    logged; the connection and the event's other orders are kept, and a poll reads what it may have announced."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, user_ws=fake_user_ws, fill_poll_s=60.0,
                                       stream_poll_s=60.0)
    await wait_for(lambda: coinbase.streaming, what="user channel subscribed")
    order_id = await open_order(bot, fake_rest, "cb-garbled-1", "0.02")
    connections = fake_user_ws.connection_count
    fake_rest.listeners.remove(fake_user_ws._on_order)  # the fill happens; the channel carries a garbled copy
    fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50"))
    fake_rest.listeners.append(fake_user_ws._on_order)
    garbled = {**user_order(fake_rest.orders[order_id]), "cumulative_quantity": "a hundredth"}
    other = {"order_id": "someone-else", "client_order_id": "not-ours", "status": "OPEN",
             "cumulative_quantity": "0"}
    updates_before = coinbase.private.updates
    for conn in list(fake_user_ws.conns.values()):
        if conn.subs["user"]:
            await fake_user_ws._send(conn, "user", [{"type": "update", "orders": [garbled, other]}])
    await wait_for(lambda: coinbase.private.updates == updates_before + 2, what="both orders read")
    assert coinbase.private.malformed == 1
    await wait_for(lambda: bot.executor.order("cb-garbled-1").filled_qty == Decimal("0.01"), timeout_s=10,
                   what="the fill read by the poll the bad event asked for")
    assert fake_user_ws.connection_count == connections and coinbase.streaming


async def test_a_sequence_gap_on_the_user_channel_reads_the_orders_at_once(
        coinbase_bot, fake_ws, fake_rest, fake_user_ws):
    """Every message of a connection carries ``sequence_num``, one more than the last: a gap is a message lost on the
    way, maybe the event of a fill. The tracked orders are read then, not at the next reconciling poll."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest, user_ws=fake_user_ws, fill_poll_s=60.0,
                                       stream_poll_s=60.0)
    await wait_for(lambda: coinbase.streaming, what="user channel subscribed")
    order_id = await open_order(bot, fake_rest, "cb-gap-1", "0.02")
    fake_rest.listeners.remove(fake_user_ws._on_order)  # the fill's event is lost on the way...
    fake_rest.fill(order_id, Decimal("0.01"), Decimal("28999.50"))
    fake_rest.listeners.append(fake_user_ws._on_order)
    fake_user_ws.skip_sequence = 1  # ...which the next message (a heartbeat) shows as a gap
    await wait_for(lambda: bot.executor.order("cb-gap-1").filled_qty == Decimal("0.01"), timeout_s=5,
                   what="the fill read after the gap")
    assert coinbase.private.sequence_gaps == 1
