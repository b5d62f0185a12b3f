"""A transfer venue that answers :class:`~bot.api.RateLimited` with a wait (a node's ``Retry-After``) is asked nothing
more until that wait is over: not its withdrawal again, not a look-up, not its terms; what was on its way is picked
up where it was once the wait is over, and sent once."""

from __future__ import annotations

import inspect
import logging
from decimal import Decimal as D
from types import SimpleNamespace

from bot.api import (
    Balance,
    Caller,
    ExchangeError,
    RateLimited,
    Transfer,
    TransferStatus,
    TransferTerms,
    TransferVenue,
)
from bot.api.kit import ManualClock
from bot.store import Store
from plugins.rebalance import rebalance
from plugins.rebalance.pacing import Paced
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

ADMIN = Caller("local", "ops", "admin")
WAIT_S = 60.0


class _Node(TransferVenue):
    """A stand-in transfer venue (a wallet's node) that records every call it gets, with the test clock's time, and
    answers the calls named in :attr:`limited` (as many times as said) with a 429 asking for :data:`WAIT_S`."""

    def __init__(self, clock: ManualClock, address: str, terms: bool = True) -> None:
        self.clock = clock
        self.address = address
        self.terms = terms
        self.calls: list[tuple[float, str]] = []
        self.limited: dict[str, int] = {}
        self.wait: tuple[int, float] | None = None
        """The index in :attr:`calls` of the call answered with a 429, and when its wait ends."""
        self.made: dict[str, str] = {}
        """Withdrawals made, by transfer id: their reference."""
        self.credits = False

    def _call(self, what: str) -> None:
        now = self.clock.monotonic()
        self.calls.append((now, what))
        if self.limited.get(what):
            self.limited[what] -= 1
            self.wait = (len(self.calls) - 1, now + WAIT_S)
            raise RateLimited(f"node {what}: HTTP 429", retry_after_s=WAIT_S)

    def inside_wait(self) -> list[str]:
        """The calls made after the one answered with a 429, while its wait lasted."""
        assert self.wait is not None, "no call was answered with a wait"
        index, ends = self.wait
        return [what for at, what in self.calls[index + 1:] if at < ends]

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        self._call("transfer_terms")
        return TransferTerms(asset, D(0), D("0.1"), D("0.000005"), "SOL", 60.0) if self.terms else None

    async def deposit_address(self, asset: str) -> str:
        self._call("deposit_address")
        return self.address

    async def withdraw(self, transfer: Transfer) -> str:
        self._call("withdraw")
        return self.made.setdefault(transfer.transfer_id, f"sig{len(self.made) + 1}")

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        self._call("withdrawal")
        return TransferStatus.SENT if transfer.transfer_id in self.made else None

    async def credited(self, transfer: Transfer) -> bool:
        self._call("credited")
        return self.credits


def service(store: Store, mode: str) -> tuple[RebalanceService, _Node, _Node, ManualClock, list[str]]:
    """A service moving SOL from a wallet (80) to a CEX (20), on a clock the test moves; its wallet and CEX."""
    clock = ManualClock()
    wallet, cex = _Node(clock, "WaLLet"), _Node(clock, "CexDeposit", terms=False)
    balances = {"wallet": {"SOL": Balance("SOL", D(80), D(80))}, "cex": {"SOL": Balance("SOL", D(20), D(20))}}

    async def read_balances() -> dict:
        return balances

    strategy = SimpleNamespace(settings=SimpleNamespace(cex="cex", dex="wallet", symbol="SOL/USDC"))
    operator = SimpleNamespace(exchanges={"cex": cex, "wallet": wallet}, strategies={"arb": strategy},
                               strategy_state=lambda name: "running", balances=read_balances)
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=clock, log=logging.getLogger("arbot.rebalance"), operator=operator,
                          alert=lambda level, kind, message, **fields: alerts.append(message))
    settings = RebalanceSettings(enabled=True, mode=mode)  # type: ignore[arg-type]
    return RebalanceService("rebalance", settings, ctx), wallet, cex, clock, alerts  # type: ignore[arg-type]


async def a_pass(rebalancer: RebalanceService) -> None:
    """One round of the planner's loop: a check, then tracking; an error out of either is the loop's to log (it
    carries on), as ``RebalanceService._run`` does."""
    for step in (rebalancer.check, rebalancer.track):
        try:
            await step()
        except ExchangeError as exc:
            logging.getLogger("arbot.rebalance").warning("a pass failed: %s", exc)


async def test_a_withdrawal_answered_with_a_wait_is_asked_nothing_until_it_is_over_then_sent_once(db_url):
    store = Store(db_url).open()
    try:
        rebalancer, wallet, cex, clock, alerts = service(store, "auto")
        wallet.limited["withdraw"] = 1
        await a_pass(rebalancer)  # the wallet's node answers the withdrawal with a 429: wait 60 s
        for _ in range(5):  # 50 s of the planner's passes inside that wait
            clock.advance(10)
            await a_pass(rebalancer)
        assert wallet.inside_wait() == [], wallet.calls
        [planned] = store.transfers()
        assert planned.status is TransferStatus.PLANNED, planned  # not ended: looked up once the wait is over
        assert [a for a in alerts if "asked to wait" in a and planned.transfer_id in a], alerts

        clock.advance(11)  # the wait is over: looked up first (never received), then sent, once
        await a_pass(rebalancer)
        [sent] = store.transfers()
        assert sent.status is TransferStatus.SENT and sent.transfer_id == planned.transfer_id
        assert [what for _, what in wallet.calls].count("withdraw") == 2 and list(wallet.made) == [sent.transfer_id]
    finally:
        store.close()


async def test_a_look_up_answered_with_a_wait_is_not_asked_again_inside_it(db_url):
    store = Store(db_url).open()
    try:
        rebalancer, wallet, cex, clock, alerts = service(store, "alert")
        now = clock.time_ns()
        store.save_transfer(Transfer("rb-on-its-way", "SOL", D(30), "wallet", "cex", "CexDeposit", D(0), D(0),
                                     TransferStatus.SENT, now, now, "sig0"))
        wallet.made["rb-on-its-way"] = "sig0"
        wallet.limited["withdrawal"] = 1
        await a_pass(rebalancer)
        for _ in range(5):
            clock.advance(10)
            await a_pass(rebalancer)
        assert wallet.inside_wait() == [], wallet.calls
        cex.credits = True
        clock.advance(11)
        await a_pass(rebalancer)
        [credited] = store.transfers()
        assert credited.status is TransferStatus.CREDITED, credited
    finally:
        store.close()


async def test_terms_answered_with_a_wait_hold_the_need_and_keep_its_proposal(db_url):
    store = Store(db_url).open()
    try:
        rebalancer, wallet, cex, clock, alerts = service(store, "alert")
        await a_pass(rebalancer)
        (pid,) = rebalancer.proposals
        wallet.limited["transfer_terms"] = 1
        clock.advance(1)
        await a_pass(rebalancer)  # the check's terms answered with a 429
        for _ in range(5):
            clock.advance(10)
            await a_pass(rebalancer)
        assert wallet.inside_wait() == [], wallet.calls
        assert list(rebalancer.proposals) == [pid]  # kept under its id while the wait lasts, not proposed anew
        clock.advance(11)
        await a_pass(rebalancer)
        assert list(rebalancer.proposals) == [pid]
        assert len([a for a in alerts if "rebalance proposal" in a]) == 1, alerts
        assert not [a for a in alerts if "cannot be sent" in a], alerts  # a wait is not a refusal
    finally:
        store.close()


async def test_a_confirmation_inside_the_wait_asks_the_venue_nothing_and_keeps_the_proposal(db_url):
    store = Store(db_url).open()
    try:
        rebalancer, wallet, cex, clock, alerts = service(store, "alert")
        op = SimpleNamespace(service=lambda name: rebalancer, now_ns=clock.time_ns)
        await a_pass(rebalancer)
        (pid,) = rebalancer.proposals
        wallet.limited["transfer_terms"] = 1
        clock.advance(1)
        await a_pass(rebalancer)
        clock.advance(10)
        reply = await rebalance(op, ADMIN, [pid])  # type: ignore[arg-type]
        assert not reply.ok and "wallet asked to be left alone" in reply.title, reply
        assert f"/rebalance {pid}" in reply.text, reply
        assert wallet.inside_wait() == [] and store.transfers() == [], wallet.calls
        clock.advance(WAIT_S)
        sent = await rebalance(op, ADMIN, [pid])  # type: ignore[arg-type]
        assert sent.ok and [t.status for t in store.transfers()] == [TransferStatus.SENT], sent
    finally:
        store.close()


def test_paced_forwards_every_call_a_transfer_venue_takes():
    """A call :class:`Paced` did not forward would reach the interface's default, not the venue: its override
    never asked (a venue's deposit fee read as 0)."""
    calls = {name for name, member in vars(TransferVenue).items() if inspect.iscoroutinefunction(member)}
    assert calls and calls <= set(vars(Paced)), calls - set(vars(Paced))
