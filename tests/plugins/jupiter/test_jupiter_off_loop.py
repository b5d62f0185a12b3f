"""The Jupiter venue never waits on the database on the event loop: its swap rows are read and written on the store
writer's thread (``ctx.read_later``/``ctx.write_later``) and awaited there, so a database that stops answering (a
PostgreSQL server stopped with SIGSTOP) holds that swap, never the bot. The signed row is still committed before its
first send (persist-before-send), and the outcome is still recorded and reported once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import Order, OrderReport, OrderStatus, OrderType, Side
from plugins.jupiter.records import LANDED, load_swap
from tests.helpers.pg_stop import stopped_server
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter

STOPPED_S = 1.5
MAX_LAG_S = 0.25


def _order(cid: str = "offloop-1") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _settle(exchange, cid: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while cid in exchange._confirming:
            await asyncio.sleep(0.01)


async def test_a_swap_from_signing_to_its_report_runs_no_statement_on_the_loop(make_exchange, node):
    exchange = await make_exchange()
    on_loop = OnLoop(exchange.ctx.store.engine)
    on_loop.watching = True
    state = await exchange.place_order(_order())  # signed, stored, sent, confirmed, read back
    again = await exchange.place_order(_order())  # the stored answer
    fetched = await exchange.fetch_order("SOL/USDC", "offloop-1")
    still_open = await exchange.open_orders()
    on_loop.watching = False
    assert on_loop.statements == []
    assert state.status is again.status is OrderStatus.FILLED and fetched is not None
    assert fetched.status is OrderStatus.FILLED and still_open == []
    assert len(node.landed) == 1


async def test_an_outcome_reported_in_the_background_reads_no_row_on_the_loop(make_exchange, node):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    on_loop = OnLoop(exchange.ctx.store.engine)
    on_loop.watching = True
    node.land = True  # the next rebroadcast lands: the confirmation stores it and reports it (no call waits)
    await _settle(exchange, "offloop-1")
    on_loop.watching = False
    assert on_loop.statements == []
    [report] = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.FILLED


async def test_a_swap_confirmed_while_the_server_is_stopped_holds_no_loop(make_exchange, node, postgresql):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN  # stored, sent, rebroadcast
    store = exchange.ctx.store
    with LagMeter() as lag, stopped_server(store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        node.land = True  # it lands now: the confirmation records it while the server is stopped
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    await _settle(exchange, "offloop-1")
    print(f"longest loop stall while the server was stopped {STOPPED_S} s: {lag.worst_s:.3f} s")
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    row = await asyncio.to_thread(load_swap, store, "jupiter", "offloop-1")
    assert row is not None and row.status == LANDED and row.attempt == 1
    reports = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert [r.state.status for r in reports] == [OrderStatus.FILLED]  # reported once
    assert len(node.landed) == 1 and exchange.signatures_made == 1


async def test_a_swap_signed_while_the_server_is_stopped_is_sent_only_once_stored(make_exchange, node, postgresql):
    exchange = await make_exchange()
    store = exchange.ctx.store
    with LagMeter() as lag, stopped_server(store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        placing = asyncio.ensure_future(exchange.place_order(_order()))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        sent_while_stopped = list(node.sent)
        server.resume()
    state = await asyncio.wait_for(placing, 10)
    print(f"longest loop stall while the server was stopped {STOPPED_S} s: {lag.worst_s:.3f} s")
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert sent_while_stopped == []  # persist-before-send: nothing left before its row was committed
    assert state.status is OrderStatus.FILLED and len(node.landed) == 1
