"""The ``limits`` check's transfer costs are current: a transfer the bot's store saves (as the rebalancer saves one,
on the loop) is counted as it is saved, so ``/risk`` shows the costs ``/pnl`` shows at that moment, without reading
the store (a PostgreSQL server that stops answering holds no ``/risk``), and a cost alone trips a loss limit at
once, not at the next read of the transfers."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from bot.domain import TransferStatus
from tests.helpers.pg_stop import stopped_server
from tests.helpers.risk_kit import book, risk_check, trips
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, PLUGINS, moved

LIMITS = CONFIG.replace('max_daily_loss = { USD = "1000", USDC = "1000" }\n',
                        'max_daily_loss = { USD = "1000", USDC = "150" }\n'
                        'max_drawdown = { USD = "1000", USDC = "1000" }\n')


async def _bot(make_bot, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 3600.0)  # no read of the transfers counts them meanwhile
    bot = await make_bot(LIMITS, extra=PLUGINS)  # the real clock: a transfer of today is today's
    bot.bus.publish(book("100", exchange="w", symbol="SOL/USDC"))
    await wait_for(lambda: bot.operator.last_price("w", "SOL/USDC") is not None, what="the SOL price")
    return bot, risk_check(bot, "limits")


async def test_risk_shows_the_transfer_costs_pnl_shows_as_soon_as_a_transfer_is_saved(make_bot, monkeypatch):
    bot, limits = await _bot(make_bot, monkeypatch)
    op = bot.operator
    for n, fee in enumerate(("0.2", "0.3")):
        moved(bot, f"t-{n}", "USDC", "0", fee, "SOL", TransferStatus.CREDITED, time.time_ns())
        pnl_day = op.ledger().transfer_costs(since_ns=op.period_start_ns("day"))
        pnl_all = op.ledger().transfer_costs()
        assert pnl_day == pnl_all == {"SOL": Decimal("0.2") * (n + 1) + Decimal("0.1") * n}
        sol = pnl_day["SOL"]
        # /risk asked right then: the same costs, no read started to show them later
        assert limits.usage()["max_daily_loss.USDC"].used == sol * 100
        assert limits.equity("USDC") == -sol * 100
        assert f"{sol} SOL at 100" in limits.status()["daily loss USDC"]


async def test_a_transfer_cost_alone_trips_the_daily_loss_when_it_is_saved(make_bot, monkeypatch):
    bot, limits = await _bot(make_bot, monkeypatch)
    moved(bot, "t-big", "USDC", "0", "2", "SOL", TransferStatus.CREDITED, time.time_ns())  # 200 USDC: past 150
    await wait_for(lambda: trips(bot, "limits"), timeout_s=2, what="the daily loss tripped by the cost")
    [trip] = trips(bot, "limits")
    assert "daily" in trip.reason and '"transfer_costs": "200' in (trip.details or "")


async def test_risk_on_a_stopped_server_shows_the_costs_saved_before_without_a_read(make_bot, postgresql, monkeypatch):
    bot, limits = await _bot(make_bot, monkeypatch)
    moved(bot, "t-0", "USDC", "0", "0.5", "SOL", TransferStatus.CREDITED, time.time_ns())
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=3.5) as server:
        await asyncio.sleep(0.05)  # the meter runs
        used = limits.usage()["max_daily_loss.USDC"].used
        shown = limits.status()["daily loss USDC"]
        await asyncio.sleep(0.3)
        server.resume()
    assert lag.worst_s < 0.25, f"the loop stalled {lag.worst_s:.2f} s"
    assert used == 50 and "0.5 SOL at 100" in shown


async def test_a_check_that_failed_to_start_takes_no_transfer_saved_after(make_bot, monkeypatch):
    import plugins.limits.check as check

    def unreadable(*args):
        raise OSError("the store cannot be read")

    monkeypatch.setattr(check, "read_start", unreadable)
    bot = await make_bot(LIMITS, extra=PLUGINS)
    failed = risk_check(bot, "limits")
    assert not isinstance(failed, check.Limits)  # the gate holds a stand-in that vetoes every order
    assert not bot.store._transfer_listeners  # the half-started check hears no transfer saved from now on
    moved(bot, "t-big", "USDC", "200", "0", None, TransferStatus.CREDITED, time.time_ns())  # past 150: its trip's
    assert not trips(bot, "limits")
