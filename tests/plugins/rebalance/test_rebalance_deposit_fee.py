"""The destination's deposit fee in the plan: the poorer venue ends on its target after every fee, or the proposal
says by how much it falls short and why."""

from __future__ import annotations

import logging
import time
from decimal import Decimal as D
from types import SimpleNamespace

from bot.api import Balance, Transfer, TransferStatus, TransferTerms, TransferVenue
from bot.store import Store
from plugins.rebalance.planner import Need, plan
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

NEED = Need("arb", "SOL", ("wallet", "kraken"))
WALLET_TERMS = TransferTerms("SOL", D("0"), D("0"), D("0.000005"), "SOL", 60.0)


def test_the_move_is_sized_so_the_destination_ends_on_its_target_after_its_deposit_fee():
    held = {"wallet": D("80"), "kraken": D("20")}
    p = plan(NEED, held, {"wallet": WALLET_TERMS, "kraken": None}, D("0.25"), None, deposit_fee=D("0.02"))
    assert p is not None and p.amount == D("30.02") and p.deposit_fee == D("0.02")
    assert held["kraken"] + p.amount - p.deposit_fee == D("50")  # the target, half of 100
    assert p.shortfall() == 0 and "short of its target" not in p.describe()


def test_a_capped_move_says_by_how_much_the_destination_falls_short_and_why():
    held = {"wallet": D("80"), "kraken": D("20")}
    capped = plan(NEED, held, {"wallet": WALLET_TERMS}, D("0.25"), D("10"), deposit_fee=D("0.02"))
    assert capped is not None and capped.amount == D("10")
    assert capped.shortfall() == D("20.02")  # 50 - (20 + 10 - 0.02)
    assert "kraken ends 20.02 SOL short of its target (max_per_transfer 10 SOL)" in capped.describe()
    poor = plan(NEED, held, {"wallet": WALLET_TERMS}, D("0.25"), None, free={"wallet": D("12")},
                deposit_fee=D("0.02"))
    assert poor is not None and poor.amount == D("11.999995")
    assert "short of its target (what wallet holds free of open orders, less its fees)" in poor.describe()
    limited = plan(NEED, held, {"wallet": TransferTerms("SOL", D("0"), D("0"), D("0"), "SOL", 60.0,
                                                        maximum=D("7"))}, D("0.25"), None)
    assert limited is not None and "short of its target (wallet's withdrawal limit 7 SOL)" in limited.describe()


class _Wallet(TransferVenue):
    """The source: no withdrawal fee, records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return WALLET_TERMS

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer: Transfer) -> str:
        self.sent.append(transfer)
        return f"sig{len(self.sent)}"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT if transfer.transfer_id in {t.transfer_id for t in self.sent} else None

    async def credited(self, transfer: Transfer) -> bool:
        return False


class _Kraken(_Wallet):
    """The destination: keeps 0.02 SOL of each deposit."""

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return "KrakenDeposit"

    async def deposit_fee(self, asset: str, amount: D) -> D:
        return D("0.02")

    async def credited(self, transfer: Transfer) -> bool:
        return True


async def test_the_service_sizes_the_move_with_the_destinations_deposit_fee(db_url):
    """Alert mode, then auto mode: the proposal and the transfer sent carry 30.02 SOL, so Kraken ends at 50 after
    keeping its 0.02; the transfer's fee records that deposit fee."""
    store = Store(db_url).open()
    try:
        alerts: list[str] = []
        balances = {"wallet": {"SOL": Balance("SOL", D(80), D(80))}, "kraken": {"SOL": Balance("SOL", D(20), D(20))}}

        async def read_balances() -> dict:
            return balances

        wallet, kraken = _Wallet(), _Kraken()
        strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="wallet", symbol="SOL/USDC"))
        operator = SimpleNamespace(exchanges={"kraken": kraken, "wallet": wallet}, strategies={"arb": strategy},
                                   strategy_state=lambda name: "running", balances=read_balances)
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=SimpleNamespace(time_ns=time.time_ns),
                              log=logging.getLogger("arbot.rebalance"), operator=operator,
                              alert=lambda level, kind, message, **fields: alerts.append(message))
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx)  # type: ignore[arg-type]
        [proposal] = [p for p in await service.check() if p.asset == "SOL"]
        assert (proposal.amount, proposal.deposit_fee) == (D("30.02"), D("0.02"))
        assert any("move 30.02 SOL wallet -> kraken" in a and "deposit fee 0.02 SOL at kraken" in a
                   for a in alerts), alerts

        auto = RebalanceService("rebalance", RebalanceSettings(enabled=True, mode="auto"), ctx)  # type: ignore[arg-type]
        await auto.check()
        [sent] = wallet.sent
        assert (sent.amount, sent.fee) == (D("30.02"), D("0.02"))
        assert D(20) + sent.amount - D("0.02") == D(50)
        alerts.clear()
        await auto.track()  # credited: 30.02 reached Kraken, 30 of it is on Kraken's books
        assert [t.status for t in store.transfers()] == [TransferStatus.CREDITED]
        [credited] = [a for a in alerts if "credited" in a]
        assert "30.02 SOL reached kraken" in credited and "now on" not in credited, credited
    finally:
        store.close()


class _PercentKraken(_Kraken):
    """A destination keeping 0.1 % of each deposit: the fee grows with the amount sized for it."""

    async def deposit_fee(self, asset: str, amount: D) -> D:
        return amount / 1000


async def test_a_deposit_fee_that_grows_with_the_amount_is_sized_for_within_the_planners_rounding(db_url):
    store = Store(db_url).open()
    try:
        balances = {"wallet": {"SOL": Balance("SOL", D(80), D(80))}, "kraken": {"SOL": Balance("SOL", D(20), D(20))}}

        async def read_balances() -> dict:
            return balances

        strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="wallet", symbol="SOL/USDC"))
        operator = SimpleNamespace(exchanges={"kraken": _PercentKraken(), "wallet": _Wallet()},
                                   strategies={"arb": strategy}, strategy_state=lambda name: "running",
                                   balances=read_balances)
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=SimpleNamespace(time_ns=time.time_ns),
                              log=logging.getLogger("arbot.rebalance"), operator=operator,
                              alert=lambda level, kind, message, **fields: None)
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx)  # type: ignore[arg-type]
        [proposal] = [p for p in await service.check() if p.asset == "SOL"]
        assert proposal.amount == D("30.03003")  # 30 / 0.999 = 30.030030..., rounded down to the planner's quantum
        assert D(0) <= proposal.shortfall() < D("0.000001") and "short of its target" not in proposal.describe()
    finally:
        store.close()


def test_the_destinations_deposit_limit_is_a_cap_named_when_it_is_the_one_that_holds():
    held = {"wallet": D("80"), "kraken": D("20")}
    terms = {"wallet": WALLET_TERMS}
    limited = plan(NEED, held, terms, D("0.25"), D("10"), deposit_fee=D("0.02"), deposit_limit=D("4"))
    assert limited is not None and limited.amount == D("4.02")  # 4 credited after the 0.02 fee
    assert limited.limited_by == "kraken's deposit limit 4 SOL"
    capped = plan(NEED, held, terms, D("0.25"), D("3"), deposit_fee=D("0.02"), deposit_limit=D("4"))
    assert capped is not None and capped.limited_by == "max_per_transfer 3 SOL"  # the lower cap holds
    roomy = plan(NEED, held, terms, D("0.25"), None, deposit_fee=D("0.02"), deposit_limit=D("100"))
    assert roomy is not None and roomy.amount == D("30.02") and roomy.limited_by == ""
