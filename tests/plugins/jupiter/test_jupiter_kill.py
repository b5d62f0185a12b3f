"""SIGKILL while a swap is being confirmed, then restart: the signed row was committed before its first send (the
save is awaited on the store writer's thread), so the restarted venue confirms those same bytes and signs nothing:
one signature, one landing, never sent twice as two swaps."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from decimal import Decimal

from bot.domain import Order, OrderReport, OrderStatus, OrderType, Side
from plugins.jupiter.records import IN_FLIGHT, LANDED, load_swap
from tests.helpers.processes import ROOT

CHILD = textwrap.dedent("""
    import asyncio, logging, sys, time
    from decimal import Decimal
    from types import SimpleNamespace
    sys.path.insert(0, {root!r})
    from bot.domain import Order, OrderType, Side
    from bot.store import Store
    from bot.writer import StoreWriter
    from plugins.jupiter.exchange import JupiterExchange
    from plugins.jupiter.settings import JupiterSettings

    async def main():
        store = Store({db_url!r}).open()
        writer = StoreWriter(store)
        clock = SimpleNamespace(time_ns=time.time_ns, monotonic=time.monotonic)
        ctx = SimpleNamespace(name="jupiter", store=store, log=logging.getLogger("child"), clock=clock,
                              bus=SimpleNamespace(publish=lambda e: None), write_later=writer.later,
                              read_later=writer.read_later)
        settings = JupiterSettings(api_url={api_url!r}, rpc_urls=[{rpc_url!r}], keypair_file={keypair_file!r},
                                   rebroadcast_s=0.05, poll_s=0.02, request_timeout_s=1.0)
        exchange = JupiterExchange("jupiter", settings, ctx)
        await exchange.start()
        exchange.place_wait_s = 0.05
        order = Order(client_order_id="kill-1", strategy="s", exchange="jupiter", symbol="SOL/USDC",
                      side=Side.SELL, qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)
        store.insert_order(order)  # the executor stores the order before it places it
        await exchange.place_order(order)
        print("placed", flush=True)
        await asyncio.sleep(3600)  # confirming (rebroadcasting) until killed

    asyncio.run(main())
""")


async def test_a_venue_killed_while_confirming_resumes_the_same_swap(make_exchange, node, jupiter_api, db_url,
                                                                      tmp_path):
    node.land = False
    script = CHILD.format(root=str(ROOT), db_url=db_url, api_url=jupiter_api.url, rpc_url=node.url,
                          keypair_file=str(tmp_path / "id.json"))
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(60):
            while len({s.signature for s in node.sent}) < 1 or len(node.sent) < 3:  # sent, then rebroadcast
                assert child.returncode is None, (await child.stdout.read()).decode()[-3000:]  # type: ignore[union-attr]
                await asyncio.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    [signature] = {s.signature for s in node.sent}
    sends_before = len(node.sent)
    venue = await make_exchange()  # start() finds the swap in flight and confirms it
    row = await asyncio.to_thread(load_swap, venue.ctx.store, "jupiter", "kill-1")
    assert row is not None and row.status == IN_FLIGHT and row.signature == signature  # committed before the send
    node.land = True
    async with asyncio.timeout(10):
        while "kill-1" in venue._confirming:
            await asyncio.sleep(0.01)
    assert venue.signatures_made == 0 and len(node.sent) > sends_before
    assert {s.signature for s in node.sent} == {signature} and len(node.landed) == 1
    row = await asyncio.to_thread(load_swap, venue.ctx.store, "jupiter", "kill-1")
    assert row is not None and row.status == LANDED and row.attempt == 1
    [report] = [e for e in venue.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.FILLED and report.state.exchange_order_id == signature
    again = await venue.place_order(Order(client_order_id="kill-1", strategy="s", exchange="jupiter",
                                          symbol="SOL/USDC", side=Side.SELL, qty=Decimal("0.5"), price=None,
                                          order_type=OrderType.MARKET))
    assert again.status is OrderStatus.FILLED and len(node.landed) == 1 and venue.signatures_made == 0
