"""The ccxt venue remembers the newest orders' ids and trades only; a forgotten one is read again, applied once."""

from __future__ import annotations

from decimal import Decimal as D

from bot.api import FillApplied, OrderIntent, OrderReport, OrderStatus, Side
from bot.api.testing import wait_for
from plugins.ccxt import exchange as ccxt_module

from .conftest import SYMBOL

KEPT = 4


async def filled_order(bot, gate, fake_gate, cid: str, parts: tuple[str, ...] = ("0.0100", "0.0200")) -> None:
    """Place 0.0300 through the executor, fill it in ``parts`` at the venue, poll."""
    bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                    qty=D("0.0300"), price=D("29000.10"), client_order_id=cid))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=20, what=f"{cid} open")
    oid = bot.executor.order(cid).exchange_order_id
    for qty in parts:
        fake_gate.fill(oid, D(qty))
    await gate.poll_once()


async def test_ids_and_trades_are_kept_for_the_newest_orders_and_a_tracked_one(gate_bot, fake_gate, monkeypatch):
    monkeypatch.setattr(ccxt_module, "ORDERS_KEPT", KEPT, raising=False)
    bot, gate = await gate_bot(fill_poll_s=3600.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    await filled_order(bot, gate, fake_gate, "resting", parts=("0.0100",))  # a third filled, still open
    n = 10
    for i in range(n):
        await filled_order(bot, gate, fake_gate, f"c{i}")
    await wait_for(lambda: bot.executor.order(f"c{n - 1}").status is OrderStatus.FILLED, timeout_s=20,
                   what="the last one filled")

    assert len(gate.memory.ids) <= KEPT + 1 and len(gate.memory.trade_ids) <= KEPT + 1  # not one per order ever placed
    assert len(gate.memory.fills) <= 2 * KEPT + 1
    assert "resting" in gate._tracked and "resting" in gate.memory.ids.values() and "resting" in gate.memory.trade_ids
    assert "c0" not in gate.memory.trade_ids and "c0" not in gate.memory.ids.values()
    await wait_for(lambda: len(applied) == 1 + 2 * n, timeout_s=20, what="every fill applied")

    # a forgotten order read again (a reconciliation): its trades are fetched again, none applied twice
    found = await gate.fetch_order(SYMBOL, "c0")
    assert found is not None and found.status is OrderStatus.FILLED and len(found.fills) == 2
    assert not any(bot.executor.apply_fill(f) for f in found.fills)
    bot.executor.handle_report(OrderReport("gate", SYMBOL, found, 0))  # a late report of it
    await bot.executor.flush()
    assert len(applied) == 1 + 2 * n
    assert bot.executor.order("c0").filled_qty == D("0.03")
