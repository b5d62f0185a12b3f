"""A transfer on its way whose look-up fails (the source's ``withdrawal`` raising: a 502, a refusal, a bug in the venue
plugin) is still followed: the other transfers are tracked in the same pass, it is asked again at the next pass,
never ended nor withdrawn again for it, the first failure of each kind logged (a bug's with its traceback) and the
rest counted, said once an hour; late and overdue alerts still come."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from bot.api import (
    PermanentError,
    Transfer,
    TransferStatus,
    TransferTerms,
    TransferVenue,
    TransientError,
)
from bot.api.kit import ManualClock
from bot.store import Store
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

LOG = "arbot.rebalance"


class _Venue(TransferVenue):
    """A venue whose withdrawals all left and that has credited every transfer; its look-up of ``failing`` raises
    what :attr:`raising` holds, one per look-up, the last one for good."""

    def __init__(self, failing: str = "") -> None:
        self.failing = failing
        self.raising: list[BaseException] = []
        self.asked: list[str] = []
        self.withdrawn: list[str] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return "WaLLet"

    async def withdraw(self, transfer: Transfer) -> str:
        self.withdrawn.append(transfer.transfer_id)
        return "again"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        self.asked.append(transfer.transfer_id)
        if transfer.transfer_id == self.failing and self.raising:
            raise self.raising.pop(0) if len(self.raising) > 1 else self.raising[0]
        return TransferStatus.SENT

    async def credited(self, transfer: Transfer) -> bool:
        return True


def on_its_way(clock: ManualClock, tid: str, source: str, age_s: float) -> Transfer:
    created = clock.time_ns() - int(age_s * 1e9)
    return Transfer(tid, "SOL", D(5), source, "cex", "CexDeposit", D("0.01"), D(0), TransferStatus.SENT, created,
                    created, f"ref-{tid}")


def service(store: Store) -> tuple[RebalanceService, _Venue, ManualClock, list[str]]:
    """A service following transfers from a wallet (whose look-up of ``rb-stuck`` fails) and from Kraken to a CEX."""
    clock = ManualClock()
    wallet = _Venue("rb-stuck")
    venues = {"wallet": wallet, "kraken": _Venue(), "cex": _Venue()}
    operator = SimpleNamespace(exchanges=venues, strategies={}, strategy_state=lambda name: "running")
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=clock, log=logging.getLogger(LOG), operator=operator,
                          alert=lambda level, kind, message, **fields: alerts.append(message))
    settings = RebalanceSettings(enabled=True, overdue_after_s=3600)
    return RebalanceService("rebalance", settings, ctx), wallet, clock, alerts  # type: ignore[arg-type]


def said(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOG and words in r.getMessage()]


@pytest.mark.parametrize("failure", [TransientError("wallet: node answered 502"),
                                     PermanentError("wallet: invalid signature"),
                                     KeyError("meta")], ids=["transient", "permanent", "unexpected"])
async def test_a_failing_look_up_keeps_the_transfer_followed_and_the_others_tracked(db_url, caplog, failure):
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, wallet, clock, alerts = service(store)
        store.save_transfer(on_its_way(clock, "rb-stuck", "wallet", age_s=7200))  # older: asked first
        store.save_transfer(on_its_way(clock, "rb-fine", "kraken", age_s=60))
        wallet.raising = [failure]
        for _ in range(3):
            await rebalancer.track()  # never raises: the pass goes on to the next transfer
            clock.advance(5)
        status = {t.transfer_id: t.status for t in store.transfers()}
        assert status == {"rb-stuck": TransferStatus.SENT, "rb-fine": TransferStatus.CREDITED}, status
        assert wallet.asked == ["rb-stuck"] * 3 and wallet.withdrawn == []  # asked again each pass, never resent
        [first] = said(caplog, "rb-stuck")
        assert first.levelno == logging.WARNING and "wallet's withdrawal" in first.getMessage()
        assert bool(first.exc_info) is isinstance(failure, KeyError), first  # a bug: its traceback, once
        assert [a for a in alerts if "rb-stuck" in a and "overdue_after_s" in a], alerts  # still alerted overdue

        caplog.clear()
        wallet.raising = []
        await rebalancer.track()
        assert {t.transfer_id: t.status for t in store.transfers()}["rb-stuck"] is TransferStatus.CREDITED
        [answered] = said(caplog, "answered after 3 failed look-ups")
        assert answered.levelno == logging.INFO and "rb-stuck" in answered.getMessage()
    finally:
        store.close()


async def test_look_up_failures_are_logged_once_per_kind_then_counted_once_an_hour(db_url, caplog):
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, wallet, clock, alerts = service(store)
        store.save_transfer(on_its_way(clock, "rb-stuck", "wallet", age_s=60))
        wallet.raising = [TransientError("wallet: 502"), TransientError("wallet: 503"), KeyError("meta"),
                          KeyError("meta"), TransientError("wallet: 504")]
        for _ in range(5):
            await rebalancer.track()
            clock.advance(5)
        lines = said(caplog, "rb-stuck")
        assert [(r.levelno, "TransientError" in r.getMessage(), bool(r.exc_info)) for r in lines] == [
            (logging.WARNING, True, False), (logging.WARNING, False, True)], [r.getMessage() for r in lines]

        caplog.clear()
        clock.advance(3600)
        await rebalancer.track()  # a 504 again, an hour on: the count of its kind since the first said
        [summary] = said(caplog, "rb-stuck")
        assert "2 more" in summary.getMessage() and "wallet: 504" in summary.getMessage(), summary.getMessage()
        assert not summary.exc_info
        assert [t.status for t in store.transfers()] == [TransferStatus.SENT] and wallet.withdrawn == []
    finally:
        store.close()
