"""A transfer out of the wallet never waits on the database on the event loop: its row is read and written on the
store writer's thread (``ctx.read_later``/``ctx.write_later``), awaited, so a database that stops answering (a
PostgreSQL server stopped with SIGSTOP) holds that transfer, never the bot. The signed row is still committed before
the first send, and the transfer ends right, recorded once."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from sqlmodel import select

from bot.api import Transfer, TransferStatus
from plugins.jupiter.transfers import JupiterTransferRow
from tests.helpers.pg_stop import stopped_server
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter

STOPPED_S = 1.5
MAX_LAG_S = 0.25
KRAKEN_DEPOSIT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def transfer(tid: str) -> Transfer:
    now = time.time_ns()
    return Transfer(tid, "SOL", Decimal("1.5"), "jupiter", "kraken", KRAKEN_DEPOSIT, Decimal(0),
                    Decimal("0.000005"), TransferStatus.PLANNED, now, now)


def _rows(store, tid: str) -> list[JupiterTransferRow]:
    with store.session() as s:
        return list(s.exec(select(JupiterTransferRow).where(JupiterTransferRow.transfer_id == tid)))


async def test_a_transfer_and_its_status_run_no_statement_on_the_loop(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("rb-loop-1")
    on_loop = OnLoop(ex.ctx.store.engine)
    on_loop.watching = True
    assert await ex.withdrawal(t) is None
    signature = await ex.withdraw(t)
    assert await ex.withdraw(t) == signature
    assert await ex.withdrawal(t) is TransferStatus.SENT
    on_loop.watching = False
    print(f"statements on the loop: {on_loop.statements}")
    assert on_loop.statements == []
    assert node.lamports[KRAKEN_DEPOSIT] == 1_500_000_000


async def test_a_transfer_while_the_server_is_stopped_holds_no_loop(make_exchange, node, keypair, postgresql):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    store = ex.ctx.store
    t = transfer("rb-stopped-1")
    with LagMeter() as lag, stopped_server(store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        sending = asyncio.ensure_future(ex.withdraw(t))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        sent_while_stopped = list(node.sent)
        server.resume()
    signature = await asyncio.wait_for(sending, 10)
    print(f"longest loop stall while the server was stopped {STOPPED_S} s: {lag.worst_s:.3f} s")
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert sent_while_stopped == []  # persist-before-send: nothing left before its row was committed
    assert await ex.withdrawal(t) is TransferStatus.SENT
    assert [r.signature for r in await asyncio.to_thread(_rows, store, "rb-stopped-1")] == [signature]
    assert node.landed.keys() == {signature} and node.signatures_sent() == [signature]
    assert node.lamports[KRAKEN_DEPOSIT] == 1_500_000_000


async def test_a_transfer_status_asked_while_the_server_is_stopped_holds_no_loop(make_exchange, node, keypair,
                                                                                  postgresql):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    store = ex.ctx.store
    t = transfer("rb-stopped-2")
    signature = await ex.withdraw(t)
    with LagMeter() as lag, stopped_server(store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        asking = asyncio.ensure_future(ex.withdrawal(t))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    assert await asyncio.wait_for(asking, 10) is TransferStatus.SENT
    print(f"longest loop stall while the server was stopped {STOPPED_S} s: {lag.worst_s:.3f} s")
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert node.signatures_sent() == [signature]
