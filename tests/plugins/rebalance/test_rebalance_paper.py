"""Rebalancing in a paper run: the arbitrage keeps selling SOL on the DEX until the planner moves SOL back."""

from __future__ import annotations

from decimal import Decimal

from bot.api import Caller, TransferStatus
from bot.api.testing import build_bot, wait_for

from .rebalance_kit import config, rebalance_plugins

ADMIN = Caller("local", "ops", "admin")


async def dex_sol(bot) -> Decimal:
    return (await bot.component("exchange", "dex").balances())["SOL"].total


async def test_alert_mode_proposes_a_transfer_with_its_costs_before_the_strategy_starves(tmp_path, db_url):
    bot = build_bot(config(mode="alert", db_url=db_url), data_dir=tmp_path, extra=rebalance_plugins())
    await bot.start()
    try:
        service = bot.component("service", "rebalance")
        alerts = []
        service.ctx.subscribe_alerts(alerts.append)
        low_at_proposal = []

        def proposed() -> bool:
            found = [a for a in alerts if a.kind == "rebalance" and "proposal" in a.message]
            return bool(found)

        await wait_for(lambda: proposed() or any("less than the" in a.message for a in alerts), timeout_s=60,
                       what="a proposal (or the strategy starving first)")
        low_at_proposal.append(await dex_sol(bot))
        assert proposed(), [a.message for a in alerts]
        assert not any(a.kind == "arb" and "less than the" in a.message for a in alerts)  # not starving yet
        proposal = next(a for a in alerts if a.kind == "rebalance" and "proposal" in a.message)
        assert "paper -> dex" in proposal.message and "withdrawal fee 0.01 SOL (minimum 0.1)" in proposal.message
        assert "expected in ~1 s" in proposal.message and low_at_proposal[0] >= Decimal("0.1")
        assert bot.store.transfers() == []  # alert mode: nothing moves without an admin

        (pid,) = service.proposals
        asked = await bot.commands.dispatch(ADMIN, "rebalance", [pid])
        assert asked.confirm_token and "Send this transfer?" in asked.title + asked.text
        done = await bot.commands.confirm(ADMIN, asked.confirm_token)
        assert done.ok, done
        await wait_for(lambda: [t.status for t in bot.store.transfers()] == [TransferStatus.CREDITED], timeout_s=20,
                       what="the transfer credited")
        # alerted once its save is committed: the save runs on the store writer's thread, the alert on the loop after
        await wait_for(lambda: any(a.kind == "rebalance" and "credited" in a.message for a in alerts), timeout_s=5,
                       what="the credit alerted")
        steps = [a.message for a in alerts if a.kind == "rebalance"]
        assert any("sending" in m for m in steps) and any(" sent by paper" in m for m in steps)
        assert any("credited" in m for m in steps)
    finally:
        await bot.stop()


async def test_auto_mode_sends_once_and_the_arbitrage_keeps_trading(tmp_path, db_url):
    bot = build_bot(config(mode="auto", db_url=db_url), data_dir=tmp_path, extra=rebalance_plugins())
    await bot.start()
    try:
        await wait_for(lambda: any(t.status is TransferStatus.CREDITED for t in bot.store.transfers()), timeout_s=60,
                       what="an automatic transfer credited")
        (transfer, *more) = bot.store.transfers()
        assert transfer.asset == "SOL" and (transfer.source, transfer.destination) == ("paper", "dex")
        assert transfer.network_fee_asset == "SOL"  # the source's terms say what its network fee is paid in
        cex = bot.component("exchange", "paper")
        dex = bot.component("exchange", "dex")
        assert dex._transfer_file().transfer(transfer.transfer_id, "out") is None
        assert cex._transfer_file().transfer(transfer.transfer_id, "out")[1] == transfer.amount
        assert dex._transfer_file().transfer(transfer.transfer_id, "in")[1] == transfer.amount
        trades_then = len([o for o in bot.store.orders() if o.exchange == "dex" and o.filled_qty > 0])
        await wait_for(lambda: len([o for o in bot.store.orders() if o.exchange == "dex" and o.filled_qty > 0])
                       >= trades_then + 3, timeout_s=60, what="the arbitrage trading on after the transfer")
    finally:
        await bot.stop()
