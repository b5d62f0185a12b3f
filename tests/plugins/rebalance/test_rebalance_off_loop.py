"""The rebalancer never waits on the database on the event loop: its reads of the transfers and its saves go to the
store writer's thread and are awaited there, so a database that stops answering (a PostgreSQL server stopped with
SIGSTOP) holds the planner, never the bot. The order of effects stays: a transfer is stored (PLANNED, committed)
before its withdrawal is asked for, then stored SENT with the venue's reference."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from types import SimpleNamespace

from bot.api import AlertLevel, Context, Transfer, TransferStatus
from plugins.rebalance.service import RebalanceService
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter

from .test_rebalance_expected import _Venue, service_on

STOPPED_S = 1.5
MAX_LAG_S = 0.25
PAPER = '[exchanges.paper]\nsymbols = ["SOL/USDC"]\nstart_price = "150"\nvolatility_bps = 0\n'


class _Recording(_Venue):
    """Records, with each withdrawal asked for, how the store held that transfer then (read off the loop)."""

    def __init__(self, store) -> None:
        super().__init__()
        self.store = store
        self.stored_when_sent: list[TransferStatus | None] = []

    async def withdraw(self, transfer_: Transfer) -> str:
        stored = {t.transfer_id: t.status for t in await asyncio.to_thread(self.store.transfers)}
        self.stored_when_sent.append(stored.get(transfer_.transfer_id))
        return await super().withdraw(transfer_)


def service_with_writer(bot, alerts: list) -> tuple[RebalanceService, _Recording]:
    """``service_on``'s auto-mode service and venues, on ``bot``'s store and store writer (the real ``ctx``'s)."""
    service, _ = service_on(bot.store, alerts, mode="auto")
    venue = _Recording(bot.store)
    real = Context(bot, "service", "rebalance")
    ctx = service.ctx
    operator = SimpleNamespace(**{**vars(ctx.operator), "exchanges": {"kraken": venue, "jupiter": venue}})
    service.ctx = SimpleNamespace(**{**vars(ctx), "operator": operator, "read_later": real.read_later,  # type: ignore[assignment]
                                     "write_later": real.write_later, "log": logging.getLogger("arbot.rebalance")})
    return service, venue


async def test_sending_and_following_a_transfer_runs_no_statement_on_the_loop(make_bot):
    bot = await make_bot(PAPER)  # the real clock: the store writer has its thread
    alerts: list[tuple[AlertLevel, str]] = []
    service, venue = service_with_writer(bot, alerts)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    await service.check()  # auto mode: 80 SOL drifted to kraken, sent to jupiter
    await service.track()
    on_loop.watching = False
    assert on_loop.statements == []
    [stored] = await asyncio.to_thread(bot.store.transfers)
    assert stored.status is TransferStatus.SENT and stored.venue_ref == "FTQ9"
    assert [t.transfer_id for t in venue.sent] == [stored.transfer_id]
    assert venue.stored_when_sent == [TransferStatus.PLANNED]  # stored before its withdrawal was asked for


async def test_a_transfer_sent_while_the_server_is_stopped_holds_no_loop(make_bot, postgresql):
    bot = await make_bot(PAPER)
    alerts: list[tuple[AlertLevel, str]] = []
    service, venue = service_with_writer(bot, alerts)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        checking = asyncio.ensure_future(service.check())
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        sent_while_stopped = list(venue.sent)
        server.resume()
    await asyncio.wait_for(checking, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert sent_while_stopped == []  # nothing left before its intent was stored
    [stored] = await asyncio.to_thread(bot.store.transfers)
    assert stored.status is TransferStatus.SENT and venue.stored_when_sent == [TransferStatus.PLANNED]
    assert len(venue.sent) == 1


async def test_status_and_rebalance_show_a_transfer_saved_while_running_without_a_read(make_bot):
    bot = await make_bot(PAPER + "\n[plugins.rebalance]\nenabled = true\n")
    service = bot.services["rebalance"]
    on_loop = OnLoop(bot.store.engine)
    then = time.time_ns() - 1000 * 10**9
    late = Transfer("rb-late", "SOL", Decimal(5), "kraken", "jupiter", "WaLLet", Decimal("0.01"), Decimal(0),
                    TransferStatus.SENT, then, then, "FTQ1", expected_s=900)
    await asyncio.to_thread(bot.store.save_transfer, late)  # saved on another thread, taken on the loop
    await wait_for(lambda: service.in_flight() != [], what="the saved transfer taken")
    on_loop.watching = True
    assert service.status() == {"late transfers": "rb-late: 17m old, expected within 15m"}
    assert [t.transfer_id for t in service.in_flight()] == ["rb-late"]
    on_loop.watching = False
    assert on_loop.statements == []
