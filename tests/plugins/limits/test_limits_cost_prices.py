"""A transfer cost priced in another asset (a wallet's SOL network fee at the SOL/USDC mid) moves the loss limits
when that price moves: the move alone re-checks them, as a tick in a held market does. And a drawdown peak stored
before the peak counted transfer costs is rebased once at load, so an upgrade alone never trips ``max_drawdown``."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.clock import ManualClock
from bot.domain import Side, TransferStatus
from bot.store import Store
from plugins.limits.peaks import PeakRow, stored_peaks
from tests.helpers.risk_kit import book, fill, risk_check, trips
from tests.helpers.waiting import wait_for
from tests.test_surfaces_agree import CONFIG, NOW, PLUGINS, moved, order

SOL_FEE = "1"  # SOL, paid as a wallet's network fee on a USDC transfer


def _limits(daily: str = '{ USD = "1000", USDC = "1000" }', drawdown: str | None = None) -> str:
    config = CONFIG.replace('max_daily_loss = { USD = "1000", USDC = "1000" }\n', f"max_daily_loss = {daily}\n")
    return config + (f"max_drawdown = {drawdown}\n" if drawdown else "")


async def _sol_cost_counted(bot, key: str) -> None:
    bot.bus.publish(book("100", exchange="w", symbol="SOL/USDC"))
    moved(bot, "t-wallet", "USDC", "0", SOL_FEE, "SOL", TransferStatus.CREDITED, NOW - 100_000_000_000)
    limits = risk_check(bot, "limits")
    counted = (lambda: limits.usage()["max_daily_loss.USDC"].used) if key == "max_daily_loss" else \
        (lambda: -limits.equity("USDC"))
    await wait_for(lambda: counted() == Decimal("100"), what="the SOL cost at 100 USDC")
    assert not trips(bot, "limits")


async def test_a_move_of_the_price_a_cost_converts_at_re_checks_the_daily_loss(make_bot, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.01)
    bot = await make_bot(_limits(daily='{ USD = "1000", USDC = "150" }'), extra=PLUGINS, clock=ManualClock(NOW))
    await _sol_cost_counted(bot, "max_daily_loss")
    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 3600.0)  # no cost read re-checks it meanwhile
    await wait_for(lambda: True)
    bot.bus.publish(book("200", exchange="w", symbol="SOL/USDC"))  # 1 SOL now costs 200 USDC: past 150
    await wait_for(lambda: trips(bot, "limits"), timeout_s=2, what="the daily loss tripped by the SOL price")
    [trip] = trips(bot, "limits")
    assert "daily" in trip.reason and '"loss": "200' in (trip.details or "")


async def test_a_move_of_the_price_a_cost_converts_at_re_checks_the_drawdown(make_bot, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.01)
    bot = await make_bot(_limits(drawdown='{ USD = "1000", USDC = "50" }'), extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(bot, "limits")
    await _sol_cost_counted(bot, "max_drawdown")
    assert limits._peak["USDC"] == Decimal("-100")  # no USDC fill: its peak starts with the cost
    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 3600.0)
    bot.bus.publish(book("160", exchange="w", symbol="SOL/USDC"))  # a fall of 60: past 50
    await wait_for(lambda: trips(bot, "limits"), timeout_s=2, what="the drawdown tripped by the SOL price")
    [trip] = trips(bot, "limits")
    assert "drawdown" in trip.reason and '"drawdown": "60' in (trip.details or "")


async def _old_peak_bot(make_bot) -> None:
    """A bot of an older version: +1 USD realized, then a 3 USD withdrawal fee, its peak stored as 1 (no costs)."""
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    await order(first, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(first, "grid", "B", Side.SELL, "1", "101", "BTC/USD", "v")
    first.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 60_000_000_000))
    first.bus.publish(fill("B", Side.SELL, "1", "101", "0", NOW - 50_000_000_000))
    await first.executor.flush()
    moved(first, "t-cex", "USD", "3", "0", "USD", TransferStatus.SENT, NOW - 40_000_000_000)
    key = f"{first.store.bot}:limits" if first.store.bot else "limits"
    with first.store.session() as s:  # as the older version saved it: the realized total, no transfer cost
        s.add(PeakRow(check_name=key, quote="USD", peak=Decimal(1), updated_ns=NOW - 30_000_000_000))
    await first.stop()


async def test_a_peak_stored_before_peaks_counted_transfer_costs_is_rebased_once_not_tripped(make_bot, caplog):
    await _old_peak_bot(make_bot)
    config = CONFIG + 'max_drawdown = { USD = "2", USDC = "1000" }\n'
    with caplog.at_level(logging.WARNING, logger="arbot.limits"):
        second = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(second, "limits")
    assert limits.equity("USD") == Decimal("-2")  # realized 1, less the 3 USD withdrawal fee
    assert limits._peak["USD"] == Decimal("-2")  # the old peak less the costs paid up to it
    assert "rebased" in caplog.text and "3" in caplog.text
    assert limits.usage()["max_drawdown.USD"].used == 0
    second.bus.publish(book("100"))
    await second.executor.flush()
    assert not [t for t in trips(second, "limits") if "drawdown" in t.reason]
    await second.stop()
    stored = Store(second.config.db_url, bot=second.store.bot)  # a stopped bot's store is closed: read it anew
    try:
        peaks, _, counted, _ = stored_peaks(stored, "limits")
    finally:
        stored.close()
    assert peaks == {"USD": Decimal("-2")} and counted  # stored as counting them: never rebased again
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="arbot.limits"):
        third = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    assert risk_check(third, "limits")._peak["USD"] == Decimal("-2") and "rebased" not in caplog.text


async def test_a_cost_the_rebase_could_not_price_at_start_rebases_the_old_peak_when_its_price_comes(make_bot, caplog):
    """The rebase runs at start, before any venue has sent a price (risk checks start before the exchanges): a cost
    in another asset (a wallet's SOL network fee) paid before the old peak was saved is priced only at the first
    SOL/USD tick. It then moves the peak with the equity (both lacked it), once, never as a fall of its own."""
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    await order(first, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(first, "grid", "B", Side.SELL, "1", "101", "BTC/USD", "v")
    first.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 60_000_000_000))
    first.bus.publish(fill("B", Side.SELL, "1", "101", "0", NOW - 50_000_000_000))
    await first.executor.flush()
    moved(first, "t-wallet", "USD", "0", "0.01", "SOL", TransferStatus.CREDITED, NOW - 40_000_000_000)
    key = f"{first.store.bot}:limits" if first.store.bot else "limits"
    with first.store.session() as s:  # as the older version saved it: the realized total, no transfer cost
        s.add(PeakRow(check_name=key, quote="USD", peak=Decimal(1), updated_ns=NOW - 30_000_000_000))
    await first.stop()

    config = CONFIG + 'max_drawdown = { USD = "2", USDC = "1000" }\n'
    second = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(second, "limits")
    assert limits.equity("USD") == Decimal(1) and limits._peak["USD"] == Decimal(1)  # SOL not priced yet
    with caplog.at_level(logging.WARNING, logger="arbot.limits"):
        second.bus.publish(book("300", exchange="v", symbol="SOL/USD"))  # 0.01 SOL is 3 USD: past the limit of 2
        await second.executor.flush()
    assert limits.equity("USD") == Decimal(-2)
    assert limits._peak["USD"] == Decimal(-2)  # the old peak less the cost paid before it, now priced
    assert "rebased" in caplog.text and "0.01 SOL" in caplog.text
    assert limits.usage()["max_drawdown.USD"].used == 0
    assert not [t for t in trips(second, "limits") if "drawdown" in t.reason]
    second.bus.publish(book("400", exchange="v", symbol="SOL/USD"))  # a move of the price after is a move: 1 USD
    await second.executor.flush()
    assert limits._peak["USD"] == Decimal(-2) and limits.usage()["max_drawdown.USD"].used == 1


async def test_a_first_starts_peak_counts_a_cost_no_venue_priced_at_start_when_its_price_comes(make_bot):
    """A quote with no stored peak starts from its realized total less the costs counted in it: one in another asset
    that no venue priced at start moves that peak at its first price, as it moves the equity (no fall of its own)."""
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))  # no max_drawdown: no peak kept
    await order(first, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(first, "grid", "B", Side.SELL, "1", "101", "BTC/USD", "v")
    first.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 60_000_000_000))
    first.bus.publish(fill("B", Side.SELL, "1", "101", "0", NOW - 50_000_000_000))
    await first.executor.flush()
    moved(first, "t-wallet", "USD", "0", "0.01", "SOL", TransferStatus.CREDITED, NOW - 40_000_000_000)
    await first.stop()

    second = await make_bot(CONFIG + 'max_drawdown = { USD = "2", USDC = "1000" }\n', extra=PLUGINS,
                            clock=ManualClock(NOW))
    limits = risk_check(second, "limits")
    second.bus.publish(book("300", exchange="v", symbol="SOL/USD"))  # 0.01 SOL is 3 USD: past the limit of 2
    await second.executor.flush()
    assert limits.equity("USD") == Decimal(-2) and limits._peak["USD"] == Decimal(-2)
    assert not [t for t in trips(second, "limits") if "drawdown" in t.reason]
