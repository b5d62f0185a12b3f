"""Kraken as the destination of a rebalance: its deposit limit caps the move (as ``max_per_transfer`` does) instead of
refusing it, and one round asks Kraken's ``DepositMethods`` once."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from types import SimpleNamespace

from bot.api import AlertLevel, Balance, Transfer, TransferStatus, TransferTerms, TransferVenue
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

WALLET_TERMS = TransferTerms("SOL", Decimal("0"), Decimal("0"), Decimal("0.000005"), "SOL", 60.0)


class _Wallet(TransferVenue):
    """The source: holds 80 SOL, no withdrawal fee, records what it sends."""

    def __init__(self) -> None:
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return WALLET_TERMS if asset == "SOL" else None

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer: Transfer) -> str:
        self.sent.append(transfer)
        return f"sig{len(self.sent)}"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT if transfer.transfer_id in {t.transfer_id for t in self.sent} else None

    async def credited(self, transfer: Transfer) -> bool:
        return False


def rebalancer(bot, kraken, mode: str) -> tuple[RebalanceService, _Wallet, list[tuple[AlertLevel, str]]]:
    wallet = _Wallet()
    balances = {"wallet": {"SOL": Balance("SOL", Decimal(80), Decimal(80))},
                "kraken": {"SOL": Balance("SOL", Decimal(20), Decimal(20))}}

    async def read_balances() -> dict:
        return balances

    alerts: list[tuple[AlertLevel, str]] = []
    strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="wallet", symbol="SOL/USDC"))
    operator = SimpleNamespace(exchanges={"kraken": kraken, "wallet": wallet}, strategies={"arb": strategy},
                               strategy_state=lambda name: "running", balances=read_balances)
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later,
                          store=bot.store, clock=SimpleNamespace(time_ns=time.time_ns),
                          log=logging.getLogger("arbot.rebalance"), operator=operator,
                          alert=lambda level, kind, message, **fields: alerts.append((level, message)))
    settings = RebalanceSettings(enabled=True, mode=mode)  # type: ignore[arg-type]
    return RebalanceService("rebalance", settings, ctx), wallet, alerts  # type: ignore[arg-type]


async def test_krakens_deposit_limit_caps_the_move_and_the_proposal_names_it(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    fake_rest.deposit_fees["SOL"] = Decimal("0.02")
    fake_rest.deposit_limits["SOL"] = Decimal("4")  # Kraken credits at most 4 SOL (net of its fee) now
    service, wallet, alerts = rebalancer(bot, kraken, "alert")
    [proposal] = await service.check()
    assert (proposal.amount, proposal.deposit_fee) == (Decimal("4.02"), Decimal("0.02"))  # 4 net: the limit
    assert proposal.limited_by == "kraken's deposit limit 4 SOL"
    [(level, message)] = alerts
    assert level is AlertLevel.WARNING and "rebalance proposal 1" in message
    assert "move 4.02 SOL wallet -> kraken; kraken ends 26 SOL short of its target (kraken's " \
           "deposit limit 4 SOL)" in message, message

    auto, wallet, alerts = rebalancer(bot, kraken, "auto")
    await auto.check()
    [sent] = wallet.sent
    assert sent.amount == Decimal("4.02") and sent.status is TransferStatus.PLANNED
    assert [level for level, _ in alerts if level >= AlertLevel.ERROR] == []  # not refused


async def test_one_auto_round_asks_krakens_deposit_methods_once(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    fake_rest.deposit_fees["SOL"] = Decimal("0.02")
    auto, wallet, _ = rebalancer(bot, kraken, "auto")
    fake_rest.log.clear()
    await auto.check()
    assert [t.amount for t in wallet.sent] == [Decimal("30.02")]  # sized for the fee: 50 after it
    assert [method for _, method, _ in fake_rest.log].count("DepositMethods") == 1


async def test_krakens_deposit_figures_are_read_again_once_their_time_is_up(kraken_bot, fake_ws, fake_rest,
                                                                           monkeypatch):
    from plugins.kraken import transfers

    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    assert await kraken.deposit_limit("SOL") is None  # false: no limit
    fake_rest.deposit_limits["SOL"] = Decimal("4")
    assert await kraken.deposit_limit("SOL") is None  # within DEPOSIT_METHODS_TTL_S: the answer read
    read_at = time.monotonic()
    monkeypatch.setattr(transfers, "time", SimpleNamespace(monotonic=lambda: read_at + transfers.DEPOSIT_METHODS_TTL_S))
    assert await kraken.deposit_limit("SOL") == Decimal("4")
