"""A read handed to the store writer's thread is no write: one the database does not answer raises no write-stall
alarm (the CRITICAL "store cannot be written" and refused orders), while a write that waits as long still does.

Before, the only path a plugin had to the writer thread was ``ctx.write_later``, which counted whatever it ran as a
write: the limits' transfer-cost read waiting on a stopped PostgreSQL server raised the alarm though nothing was
being written. Plugins now read with ``ctx.read_later``."""

from __future__ import annotations

import asyncio
import threading

from bot.domain import AlertLevel, TransferStatus
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.pg_stop import stopped_server
from tests.helpers.risk_kit import risk_check
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import CONFIG, MAX_LAG_S, LagMeter, Stalls, quiet_plugin
from tests.test_surfaces_agree import CONFIG as LIMITS_CONFIG
from tests.test_surfaces_agree import NOW, PLUGINS, moved

STALL_S = 0.3
"""The write-stall alarm's threshold in these tests (``writer.WRITE_STALL_S``)."""


def _store_alarms(alerts: list) -> list:
    return [a for a in alerts if a.kind == "store" and a.level is AlertLevel.CRITICAL]


async def test_a_plugin_read_the_store_does_not_answer_raises_no_write_alarm(make_bot, monkeypatch):
    """Every statement waits 1.5 s (five times the alarm's threshold): a plugin's read handed over with
    ``ctx.read_later`` raises no alarm and lands; a write handed over with ``ctx.write_later`` raises it."""
    from bot import writer

    monkeypatch.setattr(writer, "WRITE_STALL_S", STALL_S)
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx = bot.strategies["s"].ctx
    await ctx.write_later(ctx.store.set_state, "read-me", "1")
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")
    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        read = ctx.read_later(ctx.store.get_state, "read-me")
        assert await read == "1"  # 1.5 s, the loop's watch looking every 0.25 s meanwhile
        assert _store_alarms(alerts) == []
        assert bot.executor.store_error is None
        written = ctx.write_later(ctx.store.set_state, "written", "1")
        await wait_for(lambda: _store_alarms(alerts), timeout_s=5, what="the alarm for the write")
        stalls.blocked = False
        stalls.watching = False
        await written
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    await wait_for(lambda: bot.executor.store_error is None, timeout_s=5, what="the store writable again")


async def test_the_limits_cost_reads_on_a_stopped_server_raise_no_write_alarm(make_bot, postgresql, monkeypatch):
    """The limits' transfer-cost reads (every 0.05 s here, and ``/risk``) waiting on a PostgreSQL server stopped with
    SIGSTOP for five times the alarm's threshold: no alarm, no order refused for it (before: the CRITICAL "store
    cannot be written" alert about 0.3 s into the stop)."""
    import plugins.limits.check as check
    from bot import writer

    monkeypatch.setattr(writer, "WRITE_STALL_S", STALL_S)  # after the postgresql fixture's 30 s
    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.05)
    config = LIMITS_CONFIG + 'max_drawdown = { USD = "1000", USDC = "1000" }\n'
    bot = await make_bot(config, extra=PLUGINS)
    limits = risk_check(bot, "limits")
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    await bot.writer.drained()
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")
    with stopped_server(bot.store.engine, max_s=3.5) as server:
        for _ in range(30):  # 1.5 s: the watcher reads meanwhile, and /risk is asked
            await asyncio.sleep(0.05)
            limits.status()
        stopped_alarms = _store_alarms(alerts)
        server.resume()
    await bot.writer.drained()
    assert stopped_alarms == [], [a.fields for a in stopped_alarms]
    assert bot.executor.store_error is None
