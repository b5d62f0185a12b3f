"""A venue call that fails (an :class:`~bot.api.ExchangeError`, a timeout, a bug in the venue plugin) holds only what
it was asked for: the need whose terms or price it could not give is skipped (said once, then counted), the transfer
whose withdrawal or reference it could not give waits for the next pass, and the other needs and transfers of the same
pass go on. Nothing is sent twice, nothing is lost: a withdrawal whose fate its source cannot say stays planned and is
looked up before anything is sent again."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from bot.api import (
    Balance,
    PermanentError,
    RateLimited,
    Transfer,
    TransferStatus,
    TransferTerms,
    TransferVenue,
    TransientError,
    UnknownOutcome,
)
from bot.api.kit import ManualClock
from bot.store import Store
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

LOG = "arbot.rebalance"


class _Venue(TransferVenue):
    """A venue that records its calls and answers them, except those named in :attr:`raising`: by (call, asset), the
    exceptions the next calls raise, one each (then it answers again). ``lose`` names assets whose withdrawal is made
    and its answer then lost (the next exception raised after it is made)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.raising: dict[tuple[str, str], list[BaseException]] = {}
        self.lose: set[str] = set()
        self.made: dict[str, str] = {}
        """Withdrawals made, by transfer id: their reference."""
        self.withdraws: list[str] = []
        """The transfer ids of every withdraw call (a resend, or asking a reference, included)."""
        self.credits = False

    def _fail(self, call: str, asset: str) -> None:
        queued = self.raising.get((call, asset))
        if queued:
            raise queued.pop(0)

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        self._fail("transfer_terms", asset)
        return TransferTerms(asset, D("0.01"), D("0.1"), D(0), asset, 600.0)

    async def deposit_address(self, asset: str) -> str:
        self._fail("deposit_address", asset)
        return f"{self.name}-{asset}"

    async def deposit_fee(self, asset: str, amount: D) -> D:
        self._fail("deposit_fee", asset)
        return D(0)

    async def deposit_limit(self, asset: str) -> D | None:
        self._fail("deposit_limit", asset)
        return None

    async def withdraw(self, transfer: Transfer) -> str:
        self.withdraws.append(transfer.transfer_id)
        if transfer.asset in self.lose and self.raising.get(("withdraw", transfer.asset)):
            self.made.setdefault(transfer.transfer_id, f"ref-{transfer.transfer_id}")  # made, its answer lost
        self._fail("withdraw", transfer.asset)
        return self.made.setdefault(transfer.transfer_id, f"ref-{transfer.transfer_id}")

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        self._fail("withdrawal", transfer.asset)
        return TransferStatus.SENT if transfer.transfer_id in self.made else None

    async def credited(self, transfer: Transfer) -> bool:
        return self.credits


def service(store: Store, mode: str = "alert") -> tuple[RebalanceService, dict[str, _Venue], ManualClock, list[str]]:
    """SOL moved from ``cex`` (80) to ``wallet`` (20), ETH from ``kraken`` (80) to ``wallet`` (20); USDC balanced."""
    clock = ManualClock()
    venues = {name: _Venue(name) for name in ("cex", "kraken", "wallet")}
    balances = {"cex": {"SOL": Balance("SOL", D(80), D(80)), "USDC": Balance("USDC", D(1000), D(1000))},
                "kraken": {"ETH": Balance("ETH", D(80), D(80)), "USDC": Balance("USDC", D(1000), D(1000))},
                "wallet": {"SOL": Balance("SOL", D(20), D(20)), "ETH": Balance("ETH", D(20), D(20)),
                           "USDC": Balance("USDC", D(2000), D(2000))}}

    async def read_balances() -> dict:
        return balances

    strategies = {"sol": SimpleNamespace(settings=SimpleNamespace(cex="cex", dex="wallet", symbol="SOL/USDC")),
                  "eth": SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="wallet", symbol="ETH/USDC"))}
    operator = SimpleNamespace(exchanges=venues, strategies=strategies, strategy_state=lambda name: "running",
                               balances=read_balances)
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=clock, log=logging.getLogger(LOG), operator=operator,
                          alert=lambda level, kind, message, **fields: alerts.append(message))
    settings = RebalanceSettings(enabled=True, mode=mode)  # type: ignore[arg-type]
    return RebalanceService("rebalance", settings, ctx), venues, clock, alerts  # type: ignore[arg-type]


def said(caplog: pytest.LogCaptureFixture, *words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOG and all(w in r.getMessage() for w in words)]


def by_asset(store: Store) -> dict[str, Transfer]:
    return {t.asset: t for t in store.transfers()}


FAILURES = [TransientError("cex: HTTP 502"), PermanentError("cex: asset suspended"), TimeoutError(), KeyError("fee")]
FAILURE_IDS = ["transient", "permanent", "timeout", "bug"]


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
async def test_a_need_whose_terms_fail_is_skipped_alone_said_once_then_counted(db_url, caplog, failure):
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store)
        venues["cex"].raising[("transfer_terms", "SOL")] = [failure] * 3
        for _ in range(3):
            proposals = await rebalancer.check()  # never raises: the ETH need is checked all the same
            assert [(p.asset, p.source) for p in proposals] == [("ETH", "kraken")], proposals
            clock.advance(30)
        [first] = said(caplog, "SOL", "cex's transfer terms")  # said once, the next two counted
        assert first.levelno == logging.WARNING and type(failure).__name__ in first.getMessage(), first.getMessage()
        assert bool(first.exc_info) is isinstance(failure, KeyError)  # a bug: its traceback, once
        assert [p.asset for p in rebalancer.proposals.values()] == ["ETH"]

        caplog.clear()
        venues["cex"].raising[("transfer_terms", "SOL")] = [failure]
        clock.advance(3600)
        await rebalancer.check()  # an hour on: the count since the first, said once
        [summary] = said(caplog, "SOL", "cex's transfer terms")
        assert "2 more" in summary.getMessage() and not summary.exc_info, summary.getMessage()

        caplog.clear()
        await rebalancer.check()  # answered: the need is planned again, and that is said
        assert sorted(p.asset for p in rebalancer.proposals.values()) == ["ETH", "SOL"]
        assert said(caplog, "SOL", "answered after 4 failed")
        assert len([a for a in alerts if "rebalance proposal" in a]) == 2, alerts
        assert store.transfers() == []
    finally:
        store.close()


async def test_a_waiting_proposal_is_kept_under_its_id_while_its_terms_fail(db_url):
    """A need skipped for a failing call is not dropped: its proposal waits under its id and is not alerted again."""
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store)
        await rebalancer.check()
        ids = {p.asset: pid for pid, p in rebalancer.proposals.items()}
        assert sorted(ids) == ["ETH", "SOL"]
        venues["cex"].raising[("transfer_terms", "SOL")] = [TransientError("cex: HTTP 502")] * 2
        for _ in range(3):  # two failing checks, then one that answers
            clock.advance(30)
            await rebalancer.check()
            assert {p.asset: pid for pid, p in rebalancer.proposals.items()} == ids
        assert len([a for a in alerts if "rebalance proposal" in a]) == 2, alerts
    finally:
        store.close()


@pytest.mark.parametrize("call", ["deposit_address", "deposit_fee", "deposit_limit"])
@pytest.mark.parametrize("failure", [TimeoutError(), KeyError("fee")], ids=["timeout", "bug"])
async def test_a_need_whose_pricing_raises_is_alerted_once_and_the_others_proposed(db_url, caplog, call, failure):
    """Not an ExchangeError (a timeout, a venue plugin's bug): the need cannot be priced, said as an ExchangeError is,
    once; the other needs of the check are proposed."""
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store)
        venues["wallet"].raising[(call, "SOL")] = [failure] * 3
        for _ in range(3):
            await rebalancer.check()
            clock.advance(30)
        assert [p.asset for p in rebalancer.proposals.values()] == ["ETH"]
        failing = [a for a in alerts if "cannot be sent" in a]
        assert len(failing) == 1 and "cex -> wallet" in failing[0], alerts
        assert type(failure).__name__ in failing[0], failing
        assert len([r for r in said(caplog, "SOL") if r.exc_info]) == isinstance(failure, KeyError)
        await rebalancer.check()
        assert sorted(p.asset for p in rebalancer.proposals.values()) == ["ETH", "SOL"]
    finally:
        store.close()


@pytest.mark.parametrize("failure", [TimeoutError(), KeyError("txid"), RateLimited("cex: 429", retry_after_s=60)],
                         ids=["timeout", "bug", "rate-limited"])
async def test_a_refused_withdrawal_whose_look_up_raises_stays_planned_and_is_sent_once(db_url, failure):
    """:meth:`RebalanceService._not_sent`: the source refused the withdrawal (its fee rose), then could not say
    whether it has it. Not ended (a FAILED transfer is quoted and sent again: twice if the source had it), not lost
    (PLANNED: looked up, then sent if never received), and the check goes on to the ETH need."""
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store, "auto")
        cex = venues["cex"]
        cex.raising[("withdraw", "SOL")] = [TransientError("cex: withdrawal fee rose: nothing was sent")]
        cex.raising[("withdrawal", "SOL")] = [failure]
        await rebalancer.check()
        transfers = by_asset(store)
        assert transfers["SOL"].status is TransferStatus.PLANNED, transfers
        assert transfers["ETH"].status is TransferStatus.SENT, transfers
        assert [a for a in alerts if "refused it" in a and "may have it" in a], alerts

        clock.advance(61)  # past a rate limit's wait: looked up (never received), then sent, once
        await rebalancer.track()
        sol = by_asset(store)["SOL"]
        assert sol.status is TransferStatus.SENT and list(cex.made) == [sol.transfer_id], by_asset(store)
    finally:
        store.close()


@pytest.mark.parametrize("lost", [True, False], ids=["made-then-lost", "not-made"])
@pytest.mark.parametrize("failure", [TimeoutError(), KeyError("txid"), UnknownOutcome("cex: connection reset")],
                         ids=["timeout", "bug", "unknown-outcome"])
async def test_a_withdrawal_that_raises_stays_planned_said_once_and_is_made_once(db_url, caplog, failure, lost):
    """``withdraw`` raising other than an ExchangeError may have sent the funds (a timeout after the request left):
    kept PLANNED as an unknown outcome is, and looked up before any resend; the check and the passes go on to the
    other needs and transfers. Alerted once while it fails again at each pass (an unknown outcome too), not at every
    pass."""
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store, "auto")
        cex, wallet = venues["cex"], venues["wallet"]
        if lost:
            cex.lose.add("SOL")
        cex.raising[("withdraw", "SOL")] = [failure] * (1 if lost else 3)
        await rebalancer.check()  # the ETH need is sent in the same check
        transfers = by_asset(store)
        assert transfers["SOL"].status is TransferStatus.PLANNED, transfers
        assert transfers["ETH"].status is TransferStatus.SENT, transfers
        sol = transfers["SOL"].transfer_id
        wallet.credits = True
        for _ in range(3):  # not made: each pass finds it never received and asks again (raising twice more)
            clock.advance(5)
            await rebalancer.track()
        transfers = by_asset(store)
        assert transfers["ETH"].status is TransferStatus.CREDITED, transfers
        assert transfers["SOL"].status in (TransferStatus.SENT, TransferStatus.CREDITED), transfers
        assert transfers["SOL"].venue_ref == f"ref-{sol}" and list(cex.made) == [sol], cex.made
        assert len([a for a in alerts if sol in a and "no answer" in a]) == 1, alerts
        assert not [a for a in alerts if sol in a and "never reached" in a], alerts
        assert len([r for r in said(caplog, sol) if r.exc_info]) == isinstance(failure, KeyError)
    finally:
        store.close()


def planned(clock: ManualClock, tid: str, asset: str, source: str, age_s: float) -> Transfer:
    created = clock.time_ns() - int(age_s * 1e9)
    return Transfer(tid, asset, D(5), source, "wallet", f"wallet-{asset}", D("0.01"), D(0), TransferStatus.PLANNED,
                    created, created)


@pytest.mark.parametrize("failure", [TransientError("cex: HTTP 502"), TimeoutError(), KeyError("refid")],
                         ids=["transient", "timeout", "bug"])
async def test_a_resumed_transfer_whose_reference_fails_waits_and_the_others_are_resumed(db_url, caplog, failure):
    """At a restart a PLANNED transfer its source has is asked its reference (``withdraw`` again: nothing sent). One
    that raises waits for the next pass (logged once, then counted), and the transfers after it are resumed and
    tracked in the same pass."""
    caplog.set_level(logging.INFO, LOG)
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store)
        cex, kraken, wallet = venues["cex"], venues["kraken"], venues["wallet"]
        store.save_transfer(planned(clock, "rb-stuck", "SOL", "cex", age_s=120))  # older: resumed first
        store.save_transfer(planned(clock, "rb-fine", "ETH", "kraken", age_s=60))
        cex.made["rb-stuck"], kraken.made["rb-fine"] = "ref-stuck", "ref-fine"  # both left before the restart
        cex.raising[("withdraw", "SOL")] = [failure] * 3
        wallet.credits = True
        for _ in range(3):
            await rebalancer.track()  # never raises: the pass goes on to rb-fine
            clock.advance(5)
        status = {t.transfer_id: t.status for t in store.transfers()}
        assert status == {"rb-stuck": TransferStatus.PLANNED, "rb-fine": TransferStatus.CREDITED}, status
        assert cex.made == {"rb-stuck": "ref-stuck"} and cex.withdraws == ["rb-stuck"] * 3  # asked, never resent
        [first] = said(caplog, "rb-stuck")
        assert first.levelno == logging.WARNING and "cex's withdrawal reference" in first.getMessage(), first
        assert bool(first.exc_info) is isinstance(failure, KeyError)

        caplog.clear()
        await rebalancer.track()
        stuck = {t.transfer_id: t for t in store.transfers()}["rb-stuck"]
        assert stuck.status is TransferStatus.CREDITED and stuck.venue_ref == "ref-stuck", stuck
        assert said(caplog, "rb-stuck", "answered after 3 failed")
    finally:
        store.close()


async def test_a_sent_withdrawal_whose_record_fails_is_not_called_unsent_and_the_check_goes_on(db_url):
    """The store write after a withdrawal was made fails (a database gone): the check goes on to the ETH need, the
    trader is not told the SOL move "cannot be sent" (it left: sending it by hand would move it twice), and the
    stored intent is settled against its source at the next pass: SENT, one withdrawal."""
    store = Store(db_url).open()
    try:
        rebalancer, venues, clock, alerts = service(store, "auto")
        failed: list[Transfer] = []

        def write_later(fn, *args):
            transfer = args[0] if args else None
            if isinstance(transfer, Transfer) and transfer.asset == "SOL" and transfer.status is TransferStatus.SENT \
                    and not failed:
                failed.append(transfer)
                fn = _raise(OSError("database gone"))
            return inline_later(fn, *args)

        rebalancer.ctx.write_later = write_later
        await rebalancer.check()
        transfers = by_asset(store)
        assert failed and transfers["SOL"].status is TransferStatus.PLANNED, transfers
        assert transfers["ETH"].status is TransferStatus.SENT, transfers
        assert not [a for a in alerts if "cannot be sent" in a], alerts
        assert [a for a in alerts if "could not be recorded" in a and transfers["SOL"].transfer_id in a], alerts
        await rebalancer.track()
        sol = by_asset(store)["SOL"]
        assert sol.status is TransferStatus.SENT and venues["cex"].made == {sol.transfer_id: f"ref-{sol.transfer_id}"}
    finally:
        store.close()


def _raise(exc: Exception):
    def fail(*args):
        raise exc
    return fail
