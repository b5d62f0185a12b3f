"""A transfer cost no venue priced at start (a wallet's SOL network fee) moves the drawdown peak at its first price,
once (:mod:`tests.plugins.limits.test_limits_cost_prices`): a restart before that first price keeps it so. The peak
stored before the restart lacks the cost as the equity does; without what is pending stored with it, the next start
took that peak as counting every cost, and the first SOL price showed the cost as a fall past ``max_drawdown``."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.domain import Side, TransferStatus
from bot.store import Store
from plugins.limits.peaks import COUNTS_COSTS, PeakRow, stored_peaks
from tests.helpers.risk_kit import book, fill, risk_check, trips
from tests.test_surfaces_agree import CONFIG, NOW, PLUGINS, moved, order

DRAWDOWN = CONFIG + 'max_drawdown = { USD = "2", USDC = "1000" }\n'


async def _round_trip(bot, buy: str, sell: str, at_ns: int) -> None:
    """+1 USD realized on BTC/USD."""
    await order(bot, "grid", buy, Side.BUY, "1", "100", "BTC/USD", "v")
    await order(bot, "grid", sell, Side.SELL, "1", "101", "BTC/USD", "v")
    bot.bus.publish(fill(buy, Side.BUY, "1", "100", "0", at_ns))
    bot.bus.publish(fill(sell, Side.SELL, "1", "101", "0", at_ns + 1_000_000_000))
    await bot.executor.flush()


def _stored(bot) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]]]:
    store = Store(bot.config.db_url, bot=bot.store.bot)  # a stopped bot's store is closed: read it anew
    try:
        stored = stored_peaks(store, "limits")
        return stored.peaks, {q: dict(costs) for q, costs in stored.unpriced.items()}
    finally:
        store.close()


@pytest.mark.parametrize("peak", ["rebased", "new"])
async def test_a_restart_before_an_unpriced_costs_first_price_keeps_it_out_of_the_drawdown(make_bot, peak, caplog):
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    await _round_trip(first, "A", "B", NOW - 60_000_000_000)
    moved(first, "t-wallet", "USD", "0", "0.01", "SOL", TransferStatus.CREDITED, NOW - 40_000_000_000)
    if peak == "rebased":  # as an older version saved it: the realized total, no transfer cost
        key = f"{first.store.bot}:limits" if first.store.bot else "limits"
        with first.store.session() as s:
            s.add(PeakRow(check_name=key, quote="USD", peak=Decimal(1), updated_ns=NOW - 30_000_000_000))
    await first.stop()

    second = await make_bot(DRAWDOWN, extra=PLUGINS, clock=ManualClock(NOW))  # stopped before any SOL price
    limits = risk_check(second, "limits")
    if peak == "new":  # the peak moves (+1 more realized), so this start's peak is stored
        await _round_trip(second, "C", "D", NOW - 20_000_000_000)
        second.bus.publish(book("101"))
        await second.executor.flush()
    expected = Decimal(1) if peak == "rebased" else Decimal(2)
    assert limits._peak["USD"] == expected and limits.equity("USD") == expected  # SOL not priced: neither counts it
    await second.stop()
    peaks, unpriced = _stored(second)
    assert peaks == {"USD": expected} and unpriced == {"USD": {"SOL": Decimal("0.01")}}

    with caplog.at_level(logging.WARNING, logger="arbot.limits"):
        third = await make_bot(DRAWDOWN, extra=PLUGINS, clock=ManualClock(NOW))
        limits = risk_check(third, "limits")
        assert limits._peak["USD"] == expected
        third.bus.publish(book("300", exchange="v", symbol="SOL/USD"))  # 0.01 SOL is 3 USD: past the limit of 2
        await third.executor.flush()
    assert limits.equity("USD") == expected - 3
    assert limits._peak["USD"] == expected - 3  # moved with the equity at the cost's first price, once
    assert "no venue priced at start, priced now" in caplog.text and "0.01 SOL" in caplog.text
    assert limits.usage()["max_drawdown.USD"].used == 0
    assert not [t for t in trips(third, "limits") if "drawdown" in t.reason]
    third.bus.publish(book("400", exchange="v", symbol="SOL/USD"))  # a move of the price after is a move: 1 USD
    await third.executor.flush()
    assert limits._peak["USD"] == expected - 3 and limits.usage()["max_drawdown.USD"].used == 1
    await third.stop()
    peaks, unpriced = _stored(third)
    assert peaks == {"USD": expected - 3} and unpriced == {}  # priced: nothing pending is stored any more


async def test_peaks_stored_by_the_previous_version_load_with_nothing_pending(make_bot):
    """A database whose peaks row set has no pending cost (every database before this version) loads as before."""
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    key = f"{first.store.bot}:limits" if first.store.bot else "limits"
    with first.store.session() as s:  # as the previous version saved them: counting the costs, none pending
        s.add(PeakRow(check_name=key, quote="USD", peak=Decimal(5), updated_ns=NOW - 30_000_000_000))
        s.add(PeakRow(check_name=key, quote=COUNTS_COSTS, peak=Decimal(0), updated_ns=NOW - 30_000_000_000))
    await first.stop()
    second = await make_bot(DRAWDOWN, extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(second, "limits")
    assert limits._peak["USD"] == Decimal(5) and not limits._unpriced_in_peak
    await second.stop()
    assert _stored(second) == ({"USD": Decimal(5)}, {})
