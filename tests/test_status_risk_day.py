"""/status's risk row says since when each daily limit counts, as /risk's "daily loss day" and /pnl's title do: with
``daily_reset_at = "08:00"`` the limits' day is not /pnl day's, and the two must not seem to disagree."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.domain import Side
from tests.helpers.risk_kit import fill
from tests.test_surfaces_agree import BEFORE_MIDNIGHT, CONFIG, NOW, PLUGINS, VIEWER, order

LIMITS = CONFIG.replace("[risk.limits]\n", '[risk.limits]\nmax_orders_per_minute = 100\nstrategy_max_daily_loss = '
                                           '{ grid = "50" }\n')


async def _rows(bot) -> dict[str, str]:
    status = await bot.commands.dispatch(VIEWER, "status", [])
    return dict(status.rows)


async def test_status_says_since_when_the_daily_loss_counts_with_a_reset_at_0800(make_bot):
    bot = await make_bot(LIMITS.replace("[risk.limits]\n", '[risk.limits]\ndaily_reset_at = "08:00"\n'),
                         extra=PLUGINS, clock=ManualClock(NOW))
    await order(bot, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(bot, "grid", "B", Side.SELL, "1", "99", "BTC/USD", "v")
    bot.bus.publish(fill("A", Side.BUY, "1", "100", "0", BEFORE_MIDNIGHT))
    bot.bus.publish(fill("B", Side.SELL, "1", "99", "0", NOW - 7 * 3600 * 1_000_000_000))  # 06:00 in Berlin
    await bot.executor.flush()
    rows = await _rows(bot)
    assert rows["PnL today"].startswith("grid realized -1.00 USD")  # /pnl day's: since midnight
    risk = rows["risk limits"]
    # the limits' day began at 08:00: the 1 USD lost at 06:00 is not in it, and the row says so
    assert "max_daily_loss.USD 0.00 / 1000.00 USD since Wed 08:00;" in risk
    assert "max_daily_loss.USDC 0.00 / 1000.00 USDC since Wed 08:00;" in risk
    assert "max_orders_per_minute 2 / 100 orders" in risk and "orders since" not in risk  # no day of its own


async def test_status_says_the_days_start_at_midnight_too_and_a_strategys_limit_counts_the_same_day(make_bot):
    bot = await make_bot(LIMITS, extra=PLUGINS, clock=ManualClock(NOW))
    await order(bot, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(bot, "grid", "B", Side.SELL, "1", "99", "BTC/USD", "v")
    bot.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 3_600_000_000_000))
    bot.bus.publish(fill("B", Side.SELL, "1", "99", "0", NOW - 1_800_000_000_000))
    await bot.executor.flush()
    risk = (await _rows(bot))["risk limits"]
    assert "max_daily_loss.USD 1.00 / 1000.00 USD since Wed 00:00;" in risk
    assert "strategy_max_daily_loss.grid.USD 1.00 / 50.00 USD since Wed 00:00" in risk
