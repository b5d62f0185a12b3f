"""Transfers on their way are shown (``/status``, ``arbot report``) and one never credited is alerted, not forgotten."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from types import SimpleNamespace

from bot.api import AlertLevel, Caller, Transfer, TransferStatus, TransferTerms, TransferVenue
from bot.api.testing import build_bot
from bot.report import report_reply
from bot.store import Store
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

ADMIN = Caller("local", "ops", "admin")
PAPER = """
    [exchanges.paper]
    symbols = ["SOL/USDC"]
    start_price = "150"
    volatility_bps = 0
"""


def transfer(tid: str, status: TransferStatus, age_s: float = 90.0) -> Transfer:
    created = time.time_ns() - int(age_s * 1e9)
    return Transfer(tid, "SOL", Decimal("5"), "kraken", "jupiter", "WaLLet", Decimal("0.01"), Decimal(0), status,
                    created, created, "FTQ1" if status is not TransferStatus.PLANNED else "")


async def test_status_and_the_report_show_the_transfers_on_their_way(tmp_path, db_url):
    bot = build_bot(f'db_url = "{db_url}"\n' + PAPER, data_dir=tmp_path)
    await bot.start()
    try:
        bot.store.save_transfer(transfer("rb-moving", TransferStatus.SENT))
        bot.store.save_transfer(transfer("rb-intent", TransferStatus.PLANNED, age_s=10))
        bot.store.save_transfer(transfer("rb-done", TransferStatus.CREDITED))
        reply = await bot.commands.dispatch(ADMIN, "status", [])
        rows = dict(reply.rows)
        assert rows["transfer rb-moving"].startswith("sent 5 SOL kraken -> jupiter (fee 0.01 SOL, ref FTQ1), ")
        assert rows["transfer rb-intent"].startswith("planned 5 SOL kraken -> jupiter (fee 0.01 SOL), ")
        assert "transfer rb-done" not in rows
        text = report_reply(bot.store).text
        assert "Transfers on their way" in text and "rb-moving  sent 5 SOL kraken -> jupiter" in text
        assert "rb-intent" in text and "rb-done" not in text
    finally:
        await bot.stop()


class _Venue(TransferVenue):
    """A source that says its withdrawal left, and a destination that never credits it."""

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer_: Transfer) -> str:
        raise AssertionError("nothing is sent again")

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT

    async def credited(self, transfer_: Transfer) -> bool:
        return False


async def test_a_transfer_not_credited_in_time_is_alerted_once(db_url):
    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=SimpleNamespace(time_ns=time.time_ns),
                              log=logging.getLogger("arbot.rebalance"),
                              alert=lambda level, kind, message, **fields: alerts.append((level, message)),
                              operator=SimpleNamespace(exchanges={"kraken": _Venue(), "jupiter": _Venue()}))
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True, overdue_after_s=60), ctx)  # type: ignore[arg-type]
        store.save_transfer(transfer("rb-fresh", TransferStatus.SENT, age_s=30))
        await service.track()
        assert alerts == []
        store.save_transfer(transfer("rb-late", TransferStatus.SENT, age_s=90))
        await service.track()
        await service.track()
        [(level, message)] = alerts
        assert level is AlertLevel.ERROR
        assert "rb-late" in message and "5 SOL kraken -> jupiter" in message and "not credited" in message
        assert "FTQ1" in message and "overdue_after_s" in message
        assert [t.status for t in store.transfers()] == [TransferStatus.SENT, TransferStatus.SENT]  # still followed
    finally:
        store.close()


class _NoDeposits(_Venue):
    """A source with terms, and a destination that cannot give a deposit address (its config lacks the method)."""

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return TransferTerms(asset, Decimal("0.01"), Decimal("0.1"), Decimal(0), asset, 60.0)

    async def deposit_address(self, asset: str) -> str:
        from bot.api import PermanentError
        raise PermanentError(f"jupiter: no deposit address for {asset}")


async def test_a_needed_transfer_that_cannot_be_sent_is_alerted_once_not_only_logged(db_url):
    """Auto mode, the CEX holds the SOL the DEX needs, but the transfer cannot be made (no deposit address): the
    trader is told once, with the reason; the other assets are still planned."""
    from bot.api import Balance

    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        balances = {"kraken": {"SOL": Balance("SOL", Decimal(90), Decimal(90))},
                    "jupiter": {"SOL": Balance("SOL", Decimal(10), Decimal(10))}}

        async def read_balances() -> dict:
            return balances

        strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="jupiter", symbol="SOL/USDC"))
        operator = SimpleNamespace(exchanges={"kraken": _NoDeposits(), "jupiter": _NoDeposits()},
                                   strategies={"arb": strategy}, strategy_state=lambda name: "running",
                                   balances=read_balances)
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=SimpleNamespace(time_ns=time.time_ns),
                              log=logging.getLogger("arbot.rebalance"), operator=operator,
                              alert=lambda level, kind, message, **fields: alerts.append((level, message)))
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True, mode="auto"), ctx)  # type: ignore[arg-type]
        await service.check()
        await service.check()
        [(level, message)] = alerts
        assert level is AlertLevel.ERROR and "SOL kraken -> jupiter" in message
        assert "no deposit address for SOL" in message
        assert store.transfers() == []
    finally:
        store.close()


async def test_rebalance_lists_the_transfers_on_their_way_as_status_words_them(tmp_path, db_url):
    """``/rebalance`` reads the transfers on their way through ``op.transfers_in_flight()`` (the domain Transfers,
    oldest first) and words each as ``/status`` and ``arbot report`` do."""
    bot = build_bot(f'db_url = "{db_url}"\n' + PAPER + "\n[plugins.rebalance]\nenabled = true\n", data_dir=tmp_path)
    await bot.start()
    try:
        bot.store.save_transfer(transfer("rb-moving", TransferStatus.SENT))
        bot.store.save_transfer(transfer("rb-intent", TransferStatus.PLANNED, age_s=10))
        bot.store.save_transfer(transfer("rb-done", TransferStatus.CREDITED))
        moving = bot.operator.transfers_in_flight()
        assert [(t.transfer_id, t.status) for t in moving] == [("rb-moving", TransferStatus.SENT),
                                                             ("rb-intent", TransferStatus.PLANNED)]
        assert all(isinstance(t, Transfer) for t in moving)
        status = dict((await bot.commands.dispatch(ADMIN, "status", [])).rows)
        listed = dict((await bot.commands.dispatch(ADMIN, "rebalance", [])).rows)
        for tid in ("rb-moving", "rb-intent"):
            words = status[f"transfer {tid}"].rsplit(", ", 1)[0]  # its age: read a moment apart
            assert listed[tid].rsplit(", ", 1)[0] == words, (listed[tid], words)
        assert listed["rb-moving"].startswith("sent 5 SOL kraken -> jupiter (fee 0.01 SOL, ref FTQ1), ")
        assert "rb-done" not in listed
    finally:
        await bot.stop()


def test_a_transfers_network_fee_is_shown_with_its_unit_or_says_the_unit_is_unknown():
    from dataclasses import replace

    from bot.report import transfer_text

    wallet = Transfer("rb-w", "USDC", Decimal("5"), "jupiter", "kraken", "DePosit", Decimal(0),
                      Decimal("0.00204428"), TransferStatus.SENT, 0, 0, "sig", network_fee_asset="SOL")
    assert "(fee 0.00 USDC, network fee 0.00204428 SOL, ref sig)" in transfer_text(wallet, 1)
    stored_before = replace(wallet, network_fee_asset=None)  # a row of an old build that charged a fee in ?
    assert "network fee 0.00204428 (unit unknown)" in transfer_text(stored_before, 1)
