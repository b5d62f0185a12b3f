"""A drawdown peak the start sets anew (no peak stored for a quote: ``max_drawdown`` just added to the config, or a
quote first traded) is stored at once, as every other peak that moves: it lived in memory only, and was never stored
while the equity only fell from it (a peak is saved when it changes), so a restart, after a kill or a clean stop
alike, measured the drawdown from the lower realized total of the next start and a real fall from the high did not
trip ``max_drawdown``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.domain import Side
from bot.store import Store
from plugins.limits.peaks import stored_peaks
from tests.helpers.risk_kit import fill, risk_check, trips
from tests.test_surfaces_agree import CONFIG, NOW, PLUGINS, order

DRAWDOWN = CONFIG + 'max_drawdown = { USD = "2", USDC = "1000" }\n'


async def _round_trip(bot, buy: str, sell: str, sell_at: str, at_ns: int) -> None:
    """1 BTC bought at 100 and sold at ``sell_at`` on BTC/USD, no fee."""
    await order(bot, "grid", buy, Side.BUY, "1", "100", "BTC/USD", "v")
    await order(bot, "grid", sell, Side.SELL, "1", sell_at, "BTC/USD", "v")
    bot.bus.publish(fill(buy, Side.BUY, "1", "100", "0", at_ns))
    bot.bus.publish(fill(sell, Side.SELL, "1", sell_at, "0", at_ns + 1_000_000_000))
    await bot.executor.flush()


def _stored(bot) -> dict[str, Decimal]:
    store = Store(bot.config.db_url, bot=bot.store.bot)  # a stopped bot's store is closed: read it anew
    try:
        return stored_peaks(store, "limits").peaks
    finally:
        store.close()


@pytest.mark.parametrize("end", ["killed", "stopped"])
async def test_a_peak_the_start_sets_anew_is_stored_and_a_fall_from_it_across_a_restart_trips(make_bot, end):
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))  # no max_drawdown yet: no peak stored
    await _round_trip(first, "A", "B", "110", NOW - 60_000_000_000)  # +10 USD realized
    await first.stop()

    second = await make_bot(DRAWDOWN, extra=PLUGINS, clock=ManualClock(NOW))  # max_drawdown added: 2 USD
    limits = risk_check(second, "limits")
    assert limits._peak["USD"] == 10
    await second.writer.drained()  # what the start handed to the store writer (PostgreSQL) is written
    assert _stored(second) == {"USD": Decimal(10)}  # stored at start, not only when it moves again
    await _round_trip(second, "C", "D", "98.5", NOW - 20_000_000_000)  # a fall of 1.5 from 10: under the limit
    assert limits.equity("USD") == Decimal("8.5") and not trips(second, "limits")
    if end == "killed":  # the process dies: the check saves nothing more (no stop, no 10 s save)
        async def killed() -> None:
            limits._stop_hearing()
        limits.stop = killed
    await second.stop()

    third = await make_bot(DRAWDOWN, extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(third, "limits")
    assert limits._peak["USD"] == 10  # the high of the last run, not this start's realized total (8.5)
    await _round_trip(third, "E", "F", "98.5", NOW - 10_000_000_000)  # 1.5 more: 3 from the high, past 2
    assert limits.equity("USD") == 7
    assert [t.reason for t in trips(third, "limits")] == ["drawdown from peak equity exceeded"]


async def test_a_check_without_max_drawdown_stores_no_peak_at_start(make_bot):
    """No drawdown limit, no peak to keep: the start stores none (one stored would be taken as the peak, counting the
    transfer costs, when ``max_drawdown`` is set later)."""
    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    await _round_trip(first, "A", "B", "110", NOW - 60_000_000_000)
    await first.stop()
    second = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    await second.stop()
    assert _stored(second) == {}
