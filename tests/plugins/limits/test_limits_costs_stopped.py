"""A real PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL; :mod:`tests.helpers.pg_stop`) holds no read of
the transfer costs on the event loop: the 10 s watcher and ``/risk`` read them on the store writer's thread."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import TransferStatus
from tests.helpers.pg_stop import stopped_server
from tests.helpers.risk_kit import risk_check
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, NOW, PLUGINS, moved

STOPPED_S = 1.5
"""How long the server stays stopped (a loop a read holds stalls this long)."""
MAX_LAG_S = 0.25
"""Another task keeps running within this while a cost read waits."""


async def test_a_transfer_cost_read_waiting_on_a_stopped_server_holds_no_loop(make_bot, postgresql, monkeypatch):
    import plugins.limits.check as check

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.05)
    config = CONFIG + 'max_drawdown = { USD = "1000", USDC = "1000" }\n'
    bot = await make_bot(config, extra=PLUGINS)  # the real clock: the store writer has its thread
    limits = risk_check(bot, "limits")
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    limits.status()  # /risk: a read off the loop
    await wait_for(lambda: limits.equity("USD") == Decimal("-0.5"), what="the first cost read")

    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        for _ in range(round(STOPPED_S / 0.05)):  # the watcher reads meanwhile, and /risk is asked
            await asyncio.sleep(0.05)
            limits.status()
            limits.usage()
        server.resume()
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    # the reads that waited land once the server answers: a cost stored now is counted
    moved(bot, "t-cex2", "USD", "1", "0", "USD", TransferStatus.SENT, NOW - 40_000_000_000)
    await wait_for(lambda: limits.equity("USD") == Decimal("-1.5"), timeout_s=10,
                   what="the costs read after the server answered")
    assert limits.usage()["max_drawdown.USD"].used == 1  # the peak was the first cost's equity
    assert "transfer costs 1.50 USD" in limits.status()["drawdown USD"]
