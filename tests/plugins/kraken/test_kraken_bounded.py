"""The Kraken venue remembers the newest orders' ids and trades only; a forgotten one is read again, applied once."""

from __future__ import annotations

from decimal import Decimal

from bot.api import FillApplied, OrderIntent, OrderReport, OrderStatus, Side
from plugins.kraken import exchange as kraken_module
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"
KEPT = 5


async def filled_order(bot, kraken, fake_rest, cid: str, parts: tuple[str, ...] = ("0.01", "0.01")) -> str:
    """Place 0.02 through the executor, fill it in ``parts`` at the venue, poll."""
    bot.executor.submit(OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                                    qty=Decimal("0.02"), price=Decimal("29000"), client_order_id=cid))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what=f"{cid} open")
    (txid,) = [t for t, o in fake_rest.orders.items() if o["cl_ord_id"] == kraken_module.venue_client_id(cid)]
    for qty in parts:
        fake_rest.fill(txid, Decimal(qty), Decimal("28999.5"))
    await kraken.poll_once()
    return txid


async def test_ids_and_trades_are_kept_for_the_newest_orders_and_a_tracked_one(kraken_bot, fake_ws, fake_rest,
                                                                              monkeypatch):
    monkeypatch.setattr(kraken_module, "ORDERS_KEPT", KEPT, raising=False)
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=3600.0, stream_poll_s=3600.0,
                                   rest_per_s=10000.0, rest_burst=10000)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    resting = "a-long-resting-order-id"  # not free text: Kraken gets its uuid5
    await filled_order(bot, kraken, fake_rest, resting, parts=("0.01",))  # half filled, still open
    n = 15
    for i in range(n):
        await filled_order(bot, kraken, fake_rest, f"k{i}")
    await wait_for(lambda: bot.executor.order(f"k{n - 1}").status is OrderStatus.FILLED, what="the last one filled")

    assert len(kraken.memory.ids) <= KEPT + 1 and len(kraken.memory.trade_ids) <= KEPT + 1  # not one per order
    assert len(kraken.memory.fills) <= 2 * KEPT + 1
    assert resting in kraken._tracked and kraken_module.venue_client_id(resting) in kraken.memory.ids
    assert resting in kraken.memory.trade_ids  # a tracked order's trades are never forgotten
    assert "k0" not in kraken.memory.trade_ids and "k0" not in kraken.memory.ids.values()
    await wait_for(lambda: len(applied) == 1 + 2 * n, what="every fill applied")

    # a forgotten order read again (a reconciliation): its trades come from QueryTrades, none applied twice
    found = await kraken.fetch_order(SYMBOL, "k0")
    assert found is not None and found.status is OrderStatus.FILLED and len(found.fills) == 2
    assert not any(bot.executor.apply_fill(f) for f in found.fills)
    bot.executor.handle_report(OrderReport("kraken", SYMBOL, found, 0))  # a late report of it
    await bot.executor.flush()
    assert len(applied) == 1 + 2 * n
    assert bot.executor.order("k0").filled_qty == Decimal("0.02")
