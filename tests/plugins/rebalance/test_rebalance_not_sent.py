"""A withdrawal its source refused before anything was done (:class:`TransientError`: Kraken's fee risen above the
``max_fee`` it was read at) is not SENT and costs nothing; its need is quoted again at the next check, in alert mode
proposed again; a source that may have it keeps it PLANNED (never sent twice)."""

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


class _Cex(TransferVenue):
    """The source: its fee is ``fee``; ``refusals`` withdrawals are refused (nothing made) for a fee that rose."""

    def __init__(self) -> None:
        self.fee = D("0.01")
        self.refusals = 0
        self.made = False
        """A refused withdrawal the venue nonetheless lists (``withdrawal`` answers SENT)."""
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return TransferTerms(asset, self.fee, D("0.1"), D(0), asset, 600.0)

    async def deposit_address(self, asset: str) -> str:
        return "CexDeposit"

    async def withdraw(self, transfer: Transfer) -> str:
        if self.refusals:
            self.refusals -= 1
            self.fee = D("0.0135")
            raise TransientError("cex: withdrawal fee rose from 0.01 SOL to 0.0135 SOL: nothing was sent")
        if self.made:  # asked again for the withdrawal it lists: its reference, nothing sent
            return "ref-made"
        self.sent.append(transfer)
        return f"ref{len(self.sent)}"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        sent = transfer.transfer_id in {t.transfer_id for t in self.sent}
        return TransferStatus.SENT if sent or self.made else None

    async def credited(self, transfer: Transfer) -> bool:
        return False


class _Wallet(_Cex):
    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"


def service(store: Store, cex: _Cex, mode: str) -> tuple[RebalanceService, list[str]]:
    balances = {"cex": {"SOL": Balance("SOL", D(80), D(80))}, "wallet": {"SOL": Balance("SOL", D(20), D(20))}}

    async def read_balances() -> dict:
        return balances

    strategy = SimpleNamespace(settings=SimpleNamespace(cex="cex", dex="wallet", symbol="SOL/USDC"))
    operator = SimpleNamespace(exchanges={"cex": cex, "wallet": _Wallet()}, strategies={"arb": strategy},
                               strategy_state=lambda name: "running", balances=read_balances)
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=SimpleNamespace(time_ns=time.time_ns), log=logging.getLogger("arbot.rebalance"),
                          operator=operator, alert=lambda level, kind, message, **fields: alerts.append(message))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True, mode=mode), ctx), alerts  # type: ignore[arg-type]


async def test_alert_mode_a_confirmed_transfer_refused_for_its_fee_is_proposed_again_at_the_new_fee(db_url):
    store = Store(db_url).open()
    try:
        cex = _Cex()
        rebalancer, alerts = service(store, cex, "alert")
        op = SimpleNamespace(service=lambda name: rebalancer, now_ns=time.time_ns)
        await rebalancer.check()
        (pid,) = rebalancer.proposals
        cex.refusals = 1
        reply = await rebalance(op, ADMIN, [pid])  # type: ignore[arg-type]
        assert not reply.ok and "fee rose from 0.01 SOL to 0.0135 SOL" in reply.text, reply
        (refused,) = store.transfers()
        assert refused.status is TransferStatus.FAILED and cex.sent == []
        assert [a for a in alerts if "not sent" in a and "quoted again at the next check" in a], alerts

        alerts.clear()
        await rebalancer.check()  # the need is still there: proposed again, at the fee the venue asks now
        (again,) = rebalancer.proposals
        assert again != pid and rebalancer.proposals[again].terms.fee == D("0.0135")
        assert [a for a in alerts if f"rebalance proposal {again}" in a and "withdrawal fee 0.0135 SOL" in a], alerts
        sent = await rebalance(op, ADMIN, [again])  # type: ignore[arg-type]
        assert sent.ok and len(cex.sent) == 1, sent
    finally:
        store.close()


async def test_auto_mode_quotes_it_again_next_check_and_alerts_the_refusal_once(db_url):
    store = Store(db_url).open()
    try:
        cex = _Cex()
        rebalancer, alerts = service(store, cex, "auto")
        cex.refusals = 1
        await rebalancer.check()
        assert cex.sent == [] and [t.status for t in store.transfers()] == [TransferStatus.FAILED]
        await rebalancer.check()  # not "failed: not retried automatically until the bot restarts"
        assert len(cex.sent) == 1 and cex.sent[0].fee == D("0.0135"), alerts
        assert not [a for a in alerts if "until the bot restarts" in a], alerts
        assert len([a for a in alerts if "not sent" in a]) == 1, alerts
    finally:
        store.close()


async def test_a_refusal_from_a_source_that_lists_the_withdrawal_all_the_same_keeps_it_planned(db_url):
    """The source refused but says it has the withdrawal: never ended, never sent again, settled as an unknown
    outcome is."""
    store = Store(db_url).open()
    try:
        cex = _Cex()
        rebalancer, alerts = service(store, cex, "auto")
        cex.refusals, cex.made = 1, True
        await rebalancer.check()
        assert [t.status for t in store.transfers()] == [TransferStatus.PLANNED], alerts
        await rebalancer.track()
        assert [t.status for t in store.transfers()] == [TransferStatus.SENT], alerts
        assert cex.sent == []  # found at the source, not sent
    finally:
        store.close()
