"""Alert mode: a proposal an admin confirms that cannot be sent then (a venue that does not answer) is kept, said
why, and sent by the next ``/rebalance ID``; it never vanishes while the need stays."""

from __future__ import annotations

import logging
import time
from decimal import Decimal as D
from types import SimpleNamespace

from bot.api import Balance, Caller, Transfer, TransferStatus, TransferTerms, TransferVenue, TransientError
from bot.store import Store
from plugins.rebalance import rebalance
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

ADMIN = Caller("local", "ops", "admin")


class _Wallet(TransferVenue):
    """The source: no withdrawal fee, records what it sends."""

    def __init__(self) -> None:
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return TransferTerms(asset, D(0), D(0), D("0.000005"), "SOL", 60.0)

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer: Transfer) -> str:
        self.sent.append(transfer)
        return f"sig{len(self.sent)}"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT if transfer.transfer_id in {t.transfer_id for t in self.sent} else None

    async def credited(self, transfer: Transfer) -> bool:
        return False


class _Cex(_Wallet):
    """The destination, whose deposit address call fails ``failing`` times (a 502)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = 0

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        if self.failing:
            self.failing -= 1
            raise TransientError("cex: 502 Bad Gateway")
        return "CexDeposit"


async def test_a_confirmed_proposal_that_cannot_be_sent_now_is_kept_and_sent_by_the_next_confirmation(db_url):
    store = Store(db_url).open()
    try:
        balances = {"wallet": {"SOL": Balance("SOL", D(80), D(80))}, "cex": {"SOL": Balance("SOL", D(20), D(20))}}

        async def read_balances() -> dict:
            return balances

        wallet, cex = _Wallet(), _Cex()
        strategy = SimpleNamespace(settings=SimpleNamespace(cex="cex", dex="wallet", symbol="SOL/USDC"))
        operator = SimpleNamespace(exchanges={"cex": cex, "wallet": wallet}, strategies={"arb": strategy},
                                   strategy_state=lambda name: "running", balances=read_balances)
        alerts: list[str] = []
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=SimpleNamespace(time_ns=time.time_ns), log=logging.getLogger("arbot.rebalance"),
                              operator=operator, alert=lambda level, kind, message, **fields: alerts.append(message))
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx)  # type: ignore[arg-type]
        op = SimpleNamespace(service=lambda name: service, now_ns=time.time_ns)
        await service.check()
        (pid,) = service.proposals

        cex.failing = 1
        failed = await rebalance(op, ADMIN, [pid])  # type: ignore[arg-type]
        assert not failed.ok and "502 Bad Gateway" in failed.title + failed.text, failed
        assert f"/rebalance {pid}" in failed.title + failed.text, failed  # how to try again
        assert wallet.sent == [] and store.transfers() == []
        await service.check()  # the need is still there: so is its proposal
        assert list(service.proposals) == [pid]

        sent = await rebalance(op, ADMIN, [pid])  # type: ignore[arg-type]
        assert sent.ok and [t.status for t in store.transfers()] == [TransferStatus.SENT], sent
        assert len(wallet.sent) == 1 and service.proposals == {}
    finally:
        store.close()
