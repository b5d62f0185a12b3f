"""A real PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL; :mod:`tests.helpers.pg_stop`) holds none of the
``limits`` check's own store calls on the event loop: the peaks and the limits breached today are written on the
store writer's thread (in order: what a restart loads is the last one), and what the check reads at start (the
peaks, the limits breached today, the fills, the orders of the last minute, the transfer costs) is read there."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from bot.api import Context
from bot.domain import TransferStatus
from plugins.limits.check import Limits
from plugins.limits.peaks import stored_peaks
from plugins.limits.tripped import load_tripped
from tests.helpers.pg_stop import stopped_server
from tests.helpers.risk_kit import book, risk_check, trips
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, PLUGINS, moved

STOPPED_S = 1.5
"""How long the server stays stopped (a loop a store call holds stalls this long)."""
MAX_LAG_S = 0.25
"""Another task keeps running within this while a store call of the check waits."""

LIMITS = CONFIG.replace('max_daily_loss = { USD = "1000", USDC = "1000" }\n',
                        'max_daily_loss = { USD = "1000", USDC = "150" }\n'
                        'max_drawdown = { USD = "1000", USDC = "50" }\n'
                        "max_orders_per_minute = 100\n")


async def _sol_cost_of_100_usdc(bot) -> Limits:
    """A wallet's 1 SOL network fee paid now, SOL at 100 USDC: a day's loss of 100 USDC, a drawdown peak of -100."""
    limits = risk_check(bot, "limits")
    bot.bus.publish(book("100", exchange="w", symbol="SOL/USDC"))
    moved(bot, "t-wallet", "USDC", "0", "1", "SOL", TransferStatus.CREDITED, time.time_ns())
    await wait_for(lambda: limits.equity("USDC") == Decimal(-100)
                   and limits.usage()["max_daily_loss.USDC"].used == 100, what="the SOL cost at 100 USDC")
    await wait_for(lambda: limits._peak.get("USDC") == Decimal(-100), what="the peak")
    return limits


async def test_a_trip_while_the_server_is_stopped_holds_no_loop_and_is_kept(make_bot, postgresql, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.05)
    bot = await make_bot(LIMITS, extra=PLUGINS)  # the real clock: the store writer has its thread
    limits = await _sol_cost_of_100_usdc(bot)

    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        # SOL at 200: the day's loss 200 is past 150 (the breach is kept) and the drawdown 100 past 50 (the peak
        # restarts at the equity and is saved)
        bot.bus.publish(book("200", exchange="w", symbol="SOL/USDC"))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    await wait_for(lambda: len(trips(bot, "limits")) == 2, timeout_s=10, what="both trips stored")
    bot.writer.settle()  # what was handed over before is written
    assert load_tripped(bot.store, "limits", limits._day_start_ns) == {("daily", "USDC")}
    assert stored_peaks(bot.store, "limits").peaks["USDC"] == Decimal(-200)


async def test_the_checks_start_reads_hold_no_loop(make_bot, postgresql, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.05)
    bot = await make_bot(LIMITS, extra=PLUGINS)
    limits = await _sol_cost_of_100_usdc(bot)
    bot.bus.publish(book("200", exchange="w", symbol="SOL/USDC"))  # tripped: kept as breached today
    await wait_for(lambda: len(trips(bot, "limits")) == 2, timeout_s=10, what="both trips stored")
    bot.writer.settle()

    again = Limits("limits", limits.settings, Context(bot, "risk", "limits"))  # a restart's check, same store
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        starting = asyncio.ensure_future(again.start())
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    await asyncio.wait_for(starting, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    # what it read is what the store held: the breach kept (not acted on again), the peak, the costs
    assert again._tripped == {("daily", "USDC")} and again._peak["USDC"] == Decimal(-200)
    assert again.equity("USDC") == Decimal(-200) and len(trips(bot, "limits")) == 2
    await again.stop()
