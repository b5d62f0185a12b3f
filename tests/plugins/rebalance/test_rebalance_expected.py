"""A transfer keeps its source's expected settle time: stored with it, shown by ``/rebalance``, and one far past it
(twice) is alerted once, a WARNING, well before ``overdue_after_s``'s ERROR."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

from bot.api import AlertLevel, Balance, Caller, Transfer, TransferStatus, TransferTerms, TransferVenue
from bot.api.testing import build_bot
from bot.store import Store
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

ADMIN = Caller("local", "ops", "admin")


def transfer(tid: str, age_s: float, expected_s: float | None) -> Transfer:
    created = time.time_ns() - int(age_s * 1e9)
    return Transfer(tid, "SOL", Decimal("5"), "kraken", "jupiter", "WaLLet", Decimal("0.01"), Decimal(0),
                    TransferStatus.SENT, created, created, "FTQ1", expected_s=expected_s)


class _Venue(TransferVenue):
    """A source whose withdrawals left (expected within 120 s), a destination that has not credited them yet."""

    def __init__(self) -> None:
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return TransferTerms(asset, Decimal("0.01"), Decimal("0.1"), Decimal(0), asset, 120.0)

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer_: Transfer) -> str:
        self.sent.append(transfer_)
        return "FTQ9"

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT

    async def credited(self, transfer_: Transfer) -> bool:
        return False


def service_on(store: Store, alerts: list, mode: str = "alert") -> tuple[RebalanceService, _Venue]:
    venue = _Venue()
    balances = {"kraken": {"SOL": Balance("SOL", Decimal(90), Decimal(90))},
                "jupiter": {"SOL": Balance("SOL", Decimal(10), Decimal(10))}}

    async def read_balances() -> dict:
        return balances

    strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="jupiter", symbol="SOL/USDC"))
    operator = SimpleNamespace(exchanges={"kraken": venue, "jupiter": venue}, strategies={"arb": strategy},
                               strategy_state=lambda name: "running", balances=read_balances)
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=SimpleNamespace(time_ns=time.time_ns),
                          log=logging.getLogger("arbot.rebalance"), operator=operator,
                          alert=lambda level, kind, message, **fields: alerts.append((level, message)))
    settings = RebalanceSettings(enabled=True, mode=mode, overdue_after_s=3600)  # type: ignore[arg-type]
    return RebalanceService("rebalance", settings, ctx), venue  # type: ignore[arg-type]


async def test_a_transfer_twice_past_its_expected_time_is_alerted_once_as_a_warning(db_url):
    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        service, _ = service_on(store, alerts)
        store.save_transfer(transfer("rb-slow", age_s=100, expected_s=60))  # late, not twice late
        store.save_transfer(transfer("rb-unknown", age_s=1000, expected_s=None))  # stored before 0012
        await service.track()
        assert alerts == []
        store.save_transfer(transfer("rb-stuck", age_s=130, expected_s=60))
        await service.track()
        await service.track()
        [(level, message)] = alerts
        assert level is AlertLevel.WARNING
        assert "rb-stuck" in message and "5 SOL kraken -> jupiter" in message
        assert "expected within 60s" in message and "FTQ1" in message
        assert {t.status for t in store.transfers()} == {TransferStatus.SENT}  # still followed
    finally:
        store.close()


async def test_a_sent_transfer_stores_its_sources_expected_time(db_url):
    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        service, venue = service_on(store, alerts, mode="auto")
        await service.check()
        [stored] = store.transfers()
        assert stored.status is TransferStatus.SENT and stored.expected_s == 120.0
        assert venue.sent[0].expected_s == 120.0
    finally:
        store.close()


async def test_rebalance_shows_each_transfers_expected_time_and_flags_an_overdue_one(tmp_path, db_url):
    paper = '[exchanges.paper]\nsymbols = ["SOL/USDC"]\nstart_price = "150"\nvolatility_bps = 0\n'
    bot = build_bot(f'db_url = "{db_url}"\n' + paper + "\n[plugins.rebalance]\nenabled = true\n", data_dir=tmp_path)
    await bot.start()
    try:
        bot.store.save_transfer(transfer("rb-fine", age_s=30, expected_s=900))
        bot.store.save_transfer(transfer("rb-late", age_s=1000, expected_s=900))
        bot.store.save_transfer(replace(transfer("rb-old", age_s=1100, expected_s=None)))
        listed = dict((await bot.commands.dispatch(ADMIN, "rebalance", [])).rows)
        assert listed["rb-fine"].endswith("; expected within 15m")
        assert listed["rb-late"].endswith("; expected within 15m: OVERDUE")
        assert "expected" not in listed["rb-old"]  # not known: nothing said, nothing flagged
        status = dict((await bot.commands.dispatch(ADMIN, "status", [])).rows)
        assert status["rebalance late transfers"] == "rb-late: 17m old, expected within 15m"
        bot.store.save_transfer(replace(transfer("rb-late", age_s=1000, expected_s=900),
                                        status=TransferStatus.CREDITED))
        status = dict((await bot.commands.dispatch(ADMIN, "status", [])).rows)
        assert "rebalance late transfers" not in status  # none late: no row
    finally:
        await bot.stop()
