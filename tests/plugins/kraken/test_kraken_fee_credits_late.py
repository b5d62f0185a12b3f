"""Fee credits (KFEE) the ledger shows only after the poll has read their trade: the trade history states the USD
part of the fee alone, so the credits are looked for again, for a bounded time, and recorded once."""

from __future__ import annotations

from decimal import Decimal

from bot.api import FillApplied, OrderIntent, OrderStatus, Side
from plugins.kraken import exchange as kraken_exchange
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def _intent(cid: str) -> OrderIntent:
    return OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=Side.BUY, qty=Decimal("0.02"),
                       price=Decimal("29000"), client_order_id=cid)


async def _filled_by_the_poll(bot, kraken, fake_rest, cid: str, credits: str = "40") -> str:
    """An order the poll finds filled, its KFEE ledger entry (if it used credits) not written yet; returns the trade
    id."""
    fake_rest.fee_credits = Decimal(credits)
    fake_rest.ledger_late = True
    bot.executor.submit(_intent(cid))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what=f"{cid} open")
    (txid,) = [t for t, o in fake_rest.orders.items() if o["cl_ord_id"] == cid]
    tid = fake_rest.fill(txid, Decimal("0.02"), Decimal("29000"))
    await kraken.poll_once()
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.FILLED, what=f"{cid} filled by the poll")
    return tid


def _ledger_reads(fake_rest) -> int:
    return sum(1 for _, method, _ in fake_rest.log if method == "Ledgers")


async def test_a_fee_credit_written_after_the_poll_read_its_trade_is_recorded_once(
        kraken_bot, fake_ws, fake_rest, monkeypatch):
    monkeypatch.setattr(kraken_exchange, "FEE_CREDITS_RETRY_S", 0.05)
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0, stream_poll_s=60.0)
    applied: list[FillApplied] = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    tid = await _filled_by_the_poll(bot, kraken, fake_rest, "late-kfee-1")
    assert [a.fill.fee_asset for a in applied] == ["USD"]  # the ledger had no credits yet

    fake_rest.write_ledger()  # Kraken writes the KFEE entry now
    await wait_for(lambda: len(applied) >= 2, what="the late fee credits applied")  # before: never
    credit = applied[1].fill
    assert (credit.trade_id, credit.qty, credit.fee, credit.fee_asset) == (
        f"{tid}:fee:KFEE", Decimal(0), Decimal("40"), "KFEE")
    order = bot.executor.order("late-kfee-1")
    assert order.fees == {"USD": Decimal("0.528"), "KFEE": Decimal("40")}
    # found: not looked for again
    reads = _ledger_reads(fake_rest)
    await kraken.look_for_late_fee_credits()
    assert _ledger_reads(fake_rest) == reads and not kraken.fee_credits_due

    # a restart reads the order again (its trade and the ledger): nothing applied twice
    kraken.memory.fills.clear()
    found = await kraken.fetch_order(SYMBOL, "late-kfee-1")
    assert {f.trade_id for f in found.fills} == {tid, f"{tid}:fee:KFEE"}
    assert not any(bot.executor.apply_fill(f) for f in found.fills)
    assert len(applied) == 2 and bot.executor.order("late-kfee-1").fees["KFEE"] == Decimal("40")


async def test_the_look_back_for_late_fee_credits_is_bounded(kraken_bot, fake_ws, fake_rest, monkeypatch):
    """A trade that used no credits is not looked at for ever: once the look-back is over, the ledger is not read
    for it again."""
    monkeypatch.setattr(kraken_exchange, "FEE_CREDITS_RETRY_S", 3600.0)  # the test drives the look-ups itself
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0, stream_poll_s=60.0)
    tid = await _filled_by_the_poll(bot, kraken, fake_rest, "late-kfee-2", credits="0")
    assert set(kraken.fee_credits_due) == {tid}
    reads = _ledger_reads(fake_rest)
    await kraken.look_for_late_fee_credits()  # within the look-back: read, nothing yet, still due
    assert _ledger_reads(fake_rest) == reads + 1 and set(kraken.fee_credits_due) == {tid}

    monkeypatch.setattr(kraken_exchange, "FEE_CREDITS_LATE_S", 0.0)  # the look-back is over
    await kraken.look_for_late_fee_credits()  # one last read, then given up
    assert not kraken.fee_credits_due
    reads = _ledger_reads(fake_rest)
    await kraken.look_for_late_fee_credits()
    assert _ledger_reads(fake_rest) == reads
    assert bot.executor.order("late-kfee-2").fees == {"USD": Decimal("0.928")}
