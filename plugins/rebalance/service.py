"""The rebalancing service: watch, propose, and (confirmed or within caps) move funds, once.

Every ``check_every_s`` it reads every venue's balances and plans (:mod:`.planner`) for each need of
the running strategies. A proposal is alerted with its costs; in ``mode = "alert"`` it waits for an
admin's ``/rebalance ID``, in ``mode = "auto"`` it is sent at once if it fits ``max_per_day`` and
``window`` and no transfer of the same asset between the same venues failed since the bot started (a
refusal would fail again every round). Sending is: store the transfer as PLANNED (the intent, before
anything leaves, with the fees quoted), ask the source venue to withdraw, store SENT with the venue's reference and
the transfer's cost as charged (the source's :meth:`~bot.api.TransferVenue.withdrawal_fee`, else the quote, plus the
destination's deposit fee: the one place that figure is settled, what ``/pnl``, ``/risk`` and the limits count); then
every ``track_every_s`` ask the destination whether it credited the funds (CREDITED). A withdrawal its source refused
before anything was done (a :class:`~bot.api.TransientError`: Kraken's fee risen above the ``max_fee`` it was read
at) ends FAILED once the source confirms it never received it: nothing left, nothing is counted, and its need is
quoted again at the next check at the venue's new terms (proposed again in alert mode; never held against auto
mode), alerted once. Each step is alerted; a transfer keeps its source's expected time (``expected_s``), and one not
credited twice that long after its intent is alerted once (WARNING), then once more ``overdue_after_s`` after it
(ERROR): once per transfer, across restarts (the store's ``bot_state`` keeps what was said of each transfer on its
way). On start, a PLANNED transfer is looked up at its source first (a crash may have come after the withdrawal
left): found, it becomes SENT with the source's reference for it; not found, it is sent then. A venue that takes
the transfer id as an idempotency key (the paper venues) makes even a resend harmless. So no transfer is sent twice.

A venue that answers :class:`~bot.api.RateLimited` is asked nothing until the wait it gave is over (:mod:`.pacing`):
its needs are held with their proposals, its transfers are not looked up, and a withdrawal it answered so stays
PLANNED, looked up (then sent if never received) once the wait is over. A venue call that fails (an
:class:`~bot.api.ExchangeError`, a timeout, a bug in a venue plugin) holds only what it was made for, and the rest of
the pass goes on (:meth:`RebalanceService._call_failed`: the first failure of each kind logged, the rest counted): a
need whose terms fail is skipped until they answer (its proposal kept), one that cannot be priced is alerted once; a
look-up of a transfer on its way, or of a stored one's reference at its source, leaves it for the next pass, never
ended nor sent again for it; a withdrawal that raises other than a refusal may have left, so it stays as it is, alerted
once, and its source is asked whether it has it before anything is sent again.

No store call waits on the event loop: every read and write of the transfers (and of what was alerted of them) is
handed to the store writer's thread (``ctx.read_later``, ``ctx.write_later``) and awaited there, in order, so a
database that stops answering (a PostgreSQL server stopped) holds the planner, never the bot. The intent is stored
(its write awaited) before the withdrawal is asked for, as before. What ``/status`` and ``/rebalance`` show of the
transfers on their way is held in memory: read once at start, then each transfer as the store saves it
(``Store.on_transfer_saved``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from bot.api import (
    ORDER_FEATURES,
    ZERO,
    AlertLevel,
    Context,
    ExchangeError,
    PermanentError,
    RateLimited,
    Service,
    Transfer,
    TransferStatus,
    TransferTerms,
    TransferVenue,
    TransientError,
    UnknownOutcome,
)
from bot.api.kit import Folding
from bot.api.ledger import exact_money as money_text

from .pacing import Paced, Waits
from .planner import Need, Proposal, needs, plan
from .settings import RebalanceSettings

T = TypeVar("T")
DAY_NS = 86_400 * 1_000_000_000
SIZING_ROUNDS = 3
"""How many times a proposal is resized for its destination's deposit fee (a fixed fee needs one)."""
OPEN = [TransferStatus.PLANNED, TransferStatus.SENT]
LATE_FACTOR = 2
"""A transfer not credited this many times its expected time (:attr:`Transfer.expected_s`) after its intent is
alerted (WARNING, once per transfer, across restarts): stuck, not merely slow."""
LOOKUP_FAILURES_SAID_S = 3600.0
"""A failing venue call (a transfer's look-up or withdrawal, a need's terms): the first of each kind logged, the rest
counted and said this often, with the count (:meth:`RebalanceService._call_failed`)."""


def is_late(transfer: Transfer, now_ns: int) -> bool:
    """Not credited within its expected time (False when that is not known: stored before 0012)."""
    return transfer.expected_s is not None and now_ns - transfer.created_ns > transfer.expected_s * 1e9


def expected_text(transfer: Transfer, now_ns: int) -> str:
    """``/rebalance``'s words for when a transfer should be credited, flagged once past it ("" when not known)."""
    if transfer.expected_s is None:
        return ""
    from bot.api.ledger import age_text  # the host's report: with the command, not when `arbot plugins` loads this

    return f"; expected within {age_text(seconds_ns(transfer.expected_s))}" + (
        ": OVERDUE" if is_late(transfer, now_ns) else "")


def need_text(need: Need) -> str:
    """A need's words (and its key among the failing calls: :meth:`RebalanceService._call_failed`), the same for
    every strategy that needs it."""
    first, second = sorted(need.venues)
    return f"{need.asset} between {first} and {second}"


def withdraw_text(transfer: Transfer) -> str:
    """What asking ``transfer``'s source to send it is called among the failing calls
    (:meth:`RebalanceService._call_failed`)."""
    return f"{transfer.source}'s withdrawal request"


def is_bug(exc: BaseException) -> bool:
    """Neither a venue's answer (:class:`ExchangeError`) nor no answer in time (:class:`TimeoutError`, which is
    ``asyncio.TimeoutError``): a bug in a venue plugin, logged with its traceback (once)."""
    return not isinstance(exc, ExchangeError | TimeoutError)


def failure_text(exc: BaseException) -> str:
    """``exc`` named by its kind, for a log line or an alert (a timeout's message is empty)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def seconds_ns(seconds: float) -> int:
    """``seconds`` in nanoseconds, as :func:`bot.api.ledger.age_text` takes a duration."""
    return round(seconds * 1_000_000_000)


class RebalanceService(Service[RebalanceSettings]):
    """Runs the planner and the transfers while the bot runs (``[plugins.rebalance]``)."""

    Settings = RebalanceSettings

    def __init__(self, name: str, settings: RebalanceSettings, ctx: Context) -> None:
        super().__init__(name, settings, ctx)
        self.proposals: dict[str, Proposal] = {}
        """Waiting for an admin (alert mode), by id."""
        self._ids = itertools.count(1)
        self._alerted: set[tuple[str, str, str]] = set()
        """(asset, source, destination) of proposals already alerted (until the need goes away)."""
        self._lock = asyncio.Lock()
        self._failing: set[tuple[str, str, str]] = set()
        """(asset, source, destination) of needed transfers that could not be priced or sent, alerted once."""
        self._said: dict[str, set[str]] | None = None
        """What was alerted of each transfer on its way ("late", "overdue"), in this run or one before it (kept in
        the store's ``bot_state``: :meth:`_alert_once`); None until read."""
        self.checks = 0
        self._started_ns = 0
        self._round_fees: dict[tuple[str, str, Decimal], Decimal] | None = None
        """Each destination's deposit fee by (destination, asset, amount) during a :meth:`check`; None outside one."""
        self._open: dict[str, Transfer] = {}
        """The bot's transfers on their way (PLANNED or SENT) by id, as last stored: what ``/status`` and
        ``/rebalance`` show without a read (read once at start, then kept by :meth:`_took_saved`)."""
        self._heard: dict[str, Transfer] | None = None
        """The transfers saved while the start's read of those on their way runs (newer than what it finds); None
        once it is taken."""
        self._unhear: Callable[[], None] | None = None
        self._requote: set[str] = set()
        """Transfers refused before anything was sent (:meth:`_not_sent`): failed, never held against auto mode."""
        self._deposit_fees: dict[str, Decimal] = {}
        """The destination's deposit fee each transfer sent in this run was stored with, by id, until the fee its
        source charged is recorded with it (:meth:`_charged`)."""
        self._waits = Waits(lambda: self.ctx.clock.monotonic(), min(settings.track_every_s, settings.check_every_s))
        """The venues that asked to be left alone (:class:`~bot.api.RateLimited`), until when: every venue is reached
        through :class:`.pacing.Paced`, which asks nothing of one inside its wait."""
        self._lookups_failing: Folding[tuple[str, str, str]] = Folding(
            LOOKUP_FAILURES_SAID_S, monotonic=lambda: self.ctx.clock.monotonic(), renew=True)
        """(transfer id or need, what was asked, kind of failure) of the venue calls that failed since they last
        answered (its note: the last error): a transfer's look-up or withdrawal, a need's terms. The first of each
        kind logged, then a count every :data:`LOOKUP_FAILURES_SAID_S` (:meth:`_call_failed`)."""

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._started_ns = self.ctx.clock.time_ns()
        self._heard = {}  # heard from before the read: a transfer saved while it runs is not missed
        self._unhear = self.ctx.store.on_transfer_saved(self._took_saved, asyncio.get_running_loop())
        for name in sorted({v for need in self.needs() for v in need.venues}):
            venue = self.ctx.operator.exchanges.get(name)
            if venue is not None and type(venue).lacks(venue.settings, ("withdraw",)):  # e.g. ccxt's gemini
                self.ctx.alert(AlertLevel.WARNING, "rebalance", f"{name} cannot withdraw ({ORDER_FEATURES['withdraw']}"
                               "): rebalancing never moves funds out of it; move them by hand")
        self.ctx.create_task(self._run(), "rebalance planner")

    async def stop(self) -> None:
        """Take no more of the transfers the store saves."""
        if self._unhear is not None:
            self._unhear()
            self._unhear = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        resumed = False
        while self._heard is not None:  # what /status shows, before anything is settled or planned
            try:
                self._took_open(await self._transfers(OPEN))
            except Exception as exc:
                self.ctx.log.warning("rebalance: the transfers on their way cannot be read (%s); trying again", exc)
                await asyncio.sleep(self.settings.track_every_s)
        while True:
            if not resumed:  # nothing new is planned before every stored intent is settled
                try:
                    resumed = await self._resume()  # a look-up that failed is logged there, once per kind
                except Exception as exc:
                    self.ctx.log.warning("rebalance: settling stored transfers failed (%s); trying again", exc)
                if not resumed:
                    await asyncio.sleep(self.settings.track_every_s)
                    continue
            if loop.time() >= next_check:
                next_check = loop.time() + self.settings.check_every_s
                try:
                    await self.check()
                except ExchangeError as exc:
                    self.ctx.log.warning("rebalance check failed: %s", exc)
                except Exception:  # a bug must not end the planner: logged, tried again next time
                    self.ctx.log.exception("rebalance check failed")
            try:
                await self.track()
            except ExchangeError as exc:
                self.ctx.log.warning("rebalance tracking failed: %s", exc)
            except Exception:
                self.ctx.log.exception("rebalance tracking failed")
            await asyncio.sleep(min(self.settings.track_every_s, self.settings.check_every_s))

    def status(self) -> dict[str, str]:
        """``/status``'s row naming the transfers on their way past their expected time (none late: no row)."""
        now = self.ctx.clock.time_ns()
        late = [t for t in self.in_flight() if is_late(t, now)]
        if not late:
            return {}
        from bot.api.ledger import age_text

        return {"late transfers": "; ".join(
            f"{t.transfer_id}: {age_text(now - t.created_ns)} old, expected within "
            f"{age_text(seconds_ns(t.expected_s or 0))}" for t in late)}

    def in_flight(self) -> list[Transfer]:
        """The bot's transfers on their way, oldest first, as last stored (held in memory: no read)."""
        return sorted(self._open.values(), key=lambda t: (t.created_ns, t.transfer_id))

    def _took_saved(self, transfer: Transfer) -> None:
        """The bot's store saved ``transfer`` (``Store.on_transfer_saved``, handed to the loop: at once when saved
        there, else next)."""
        if self._heard is not None:
            self._heard[transfer.transfer_id] = transfer
        if transfer.status in OPEN:
            self._open[transfer.transfer_id] = transfer
        else:
            self._open.pop(transfer.transfer_id, None)

    def _took_open(self, transfers: list[Transfer]) -> None:
        """Hold the transfers on their way the start's read found, with those saved since it was handed over."""
        heard, self._heard = self._heard or {}, None
        self._open = {t.transfer_id: t for t in transfers}
        for transfer in heard.values():
            self._took_saved(transfer)

    async def _transfers(self, statuses: list[TransferStatus] | None = None, since_ns: int = 0) -> list[Transfer]:
        """The stored transfers (``Store.transfers``), read on the store writer's thread."""
        return await self._read(self.ctx.store.transfers, statuses, since_ns)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, a store read, on the store writer's thread: in order after the writes handed over before."""
        return await self.ctx.read_later(fn, *args)

    def _venue(self, name: str) -> TransferVenue | None:
        """The transfer venue configured as ``name``, asked nothing while its wait lasts (:class:`.pacing.Paced`)."""
        venue = self.ctx.operator.exchanges.get(name)
        return Paced(name, venue, self._waits) if isinstance(venue, TransferVenue) else None

    def _waiting(self, *names: str) -> bool:
        """One of the venues ``names`` asked to be left alone and its wait is not over."""
        return any(self._waits.left_s(name) > 0 for name in names)

    # --- planning ---------------------------------------------------------------------------

    def needs(self) -> list[Need]:
        op = self.ctx.operator
        return needs({name: s.settings for name, s in op.strategies.items() if op.strategy_state(name) == "running"})

    async def check(self) -> list[Proposal]:
        """Compare balances with the targets once; alert (and in auto mode send) what drifted."""
        self._round_fees = {}  # each destination's deposit fee for an amount is asked once this round
        try:
            return await self._check()
        finally:
            self._round_fees = None

    async def _check(self) -> list[Proposal]:
        self.checks += 1
        balances = await self.ctx.operator.balances()
        open_transfers = await self._transfers(OPEN)
        proposals = []
        wanted: set[tuple[str, str, str]] = set()
        for need in self.needs():
            if any(t.asset == need.asset and {t.source, t.destination} == set(need.venues) for t in open_transfers):
                continue  # one transfer at a time per asset and pair of venues
            if self._held(need, wanted):
                continue
            held, free = {}, {}
            for v in need.venues:
                balance = balances.get(v, {}).get(need.asset)
                held[v] = balance.total if balance is not None else ZERO
                free[v] = balance.free if balance is not None else ZERO
            terms: dict[str, TransferTerms | None] = {}
            subject, asking = need_text(need), ""
            try:
                for v in need.venues:
                    venue = self._venue(v)
                    asking = f"{v}'s transfer terms"
                    terms[v] = await venue.transfer_terms(need.asset) if venue is not None else None
            except RateLimited:  # its wait starts now: held until it is over
                self._held(need, wanted)
                continue
            except Exception as exc:  # a 502, a timeout, a bug in the venue plugin: this need alone waits
                self._call_failed(subject, subject, asking, exc, "this need is skipped until it answers (a proposal "
                                  "of it kept), the other needs checked")
                self._keep(need, wanted)
                continue
            self._call_answered(subject, subject, {f"{v}'s transfer terms" for v in need.venues})
            if any(self._venue(v) is None for v in need.venues):
                continue
            cap = self.settings.max_per_transfer.get(need.asset)
            replan: Callable[..., Proposal | None] = partial(plan, need, held, terms, self.settings.threshold,
                                                            Decimal(cap) if cap else None, free)
            proposal = replan()
            if proposal is None:
                continue
            key = (proposal.asset, proposal.source, proposal.destination)
            wanted.add(key)
            refusal = None
            try:
                if self.settings.mode == "auto" or key not in self._alerted:  # the amount sent or shown
                    proposal, replan = await self._limited(proposal, replan)
                    proposal = await self._sized(proposal, replan)
                refusal = await self._auto_refusal(proposal) if self.settings.mode == "auto" else None
                if self.settings.mode == "auto" and refusal is None:
                    proposals.append(proposal)
                    await self.send(proposal)  # priced for the destination there
                    continue
                if key not in self._alerted:  # shown with what it costs to send to the destination's address
                    proposal = await self._priced(proposal)
            except RateLimited:  # a venue's wait, not a refusal: nothing stored nor sent, held until it is over
                self._held(need, wanted)
                continue
            except Exception as exc:  # nothing left (a deposit address, a price): the trader is told, once; a
                # timeout or a bug in a venue plugin too (not an ExchangeError): this need alone, the others go on
                if key not in self._failing:
                    self._failing.add(key)
                    if is_bug(exc):  # its traceback, once
                        self.ctx.log.warning("rebalance: %s %s -> %s cannot be priced or sent", proposal.asset,
                                             proposal.source, proposal.destination, exc_info=exc)
                    self.ctx.alert(AlertLevel.ERROR if isinstance(exc, PermanentError) else AlertLevel.WARNING,
                                   "rebalance", "rebalance needed but it cannot be sent: "
                                   f"{money_text(proposal.amount, proposal.asset)} {proposal.source} -> "
                                   f"{proposal.destination}: "
                                   f"{exc if isinstance(exc, ExchangeError) else failure_text(exc)}")
                continue
            self._failing.discard(key)
            proposals.append(proposal)
            if self.settings.mode == "auto":
                if key not in self._alerted:
                    self._alerted.add(key)
                    self.ctx.alert(AlertLevel.WARNING, "rebalance", f"rebalance needed but not sent ({refusal}): "
                                   f"{proposal.describe()}")
                continue
            if key not in self._alerted:
                self._alerted.add(key)
                pid = str(next(self._ids))
                self.proposals[pid] = proposal
                self.ctx.alert(AlertLevel.WARNING, "rebalance", f"rebalance proposal {pid}: {proposal.describe()}. "
                               f"An admin sends it with /rebalance {pid}", proposal=pid)
        self._alerted &= wanted
        self._failing &= wanted
        for pid, p in list(self.proposals.items()):
            if (p.asset, p.source, p.destination) not in wanted:
                del self.proposals[pid]
        return proposals

    def _held(self, need: Need, wanted: set[tuple[str, str, str]]) -> bool:
        """True while a venue of ``need`` asked to be left alone (:class:`~bot.api.RateLimited`): nothing is asked of
        it until its wait is over, and the need's proposal and what was alerted of it are kept (``wanted``), not
        proposed or alerted again when the wait ends."""
        if not self._waiting(*need.venues):
            return False
        self._keep(need, wanted)
        return True

    def _keep(self, need: Need, wanted: set[tuple[str, str, str]]) -> None:
        """Keep ``need``'s proposal and what was alerted of it through a check that skips it (a venue's wait, a call
        that failed): not dropped, nor proposed and alerted again once it answers."""
        pair = set(need.venues)
        keys = self._alerted | self._failing | {(p.asset, p.source, p.destination) for p in self.proposals.values()}
        wanted.update(k for k in keys if k[0] == need.asset and {k[1], k[2]} == pair)

    async def _auto_refusal(self, proposal: Proposal) -> str | None:
        now = self.ctx.clock.time_ns()
        moment = datetime.fromtimestamp(now // 1_000_000_000, UTC)
        if not self.settings.in_window(moment.hour * 60 + moment.minute):
            return f"outside the window {self.settings.window} UTC"
        recent = await self._transfers(since_ns=now - DAY_NS)
        same = (proposal.asset, proposal.source, proposal.destination)
        failed = [t for t in recent if t.status is TransferStatus.FAILED and t.created_ns >= self._started_ns
                  and (t.asset, t.source, t.destination) == same and t.transfer_id not in self._requote]
        if failed:  # a refusal (an address off a whitelist, a minimum) would fail again, every round
            return (f"transfer {failed[-1].transfer_id} of the same kind failed ({failed[-1].reason}); not retried "
                    "automatically until the bot restarts")
        cap = self.settings.max_per_day.get(proposal.asset)
        if cap is not None:
            sent = sum((t.amount for t in recent
                        if t.asset == proposal.asset and t.status is not TransferStatus.FAILED), ZERO)
            if sent + proposal.amount > Decimal(cap):
                return f"max_per_day {cap} {proposal.asset}: {sent} moved in the last 24 h"
        return None

    # --- sending and tracking ---------------------------------------------------------------

    async def confirm(self, pid: str) -> Transfer | None:
        """An admin confirmed proposal ``pid``: send it (None if there is no such proposal).

        Taken out of :attr:`proposals` while it is sent (a second confirmation meanwhile finds nothing: never two
        transfers); put back when it could not be sent (an :class:`ExchangeError` raised here comes before its
        intent is stored: a deposit address or a fee the venue did not give), so the next ``/rebalance ID`` sends it.
        Dropped, it would never be proposed again while the need stays (each need is alerted once)."""
        proposal = self.proposals.pop(pid, None)
        if proposal is None:
            return None
        try:
            return await self.send(proposal)
        except ExchangeError:
            key = (proposal.asset, proposal.source, proposal.destination)
            if key in self._alerted:  # still needed (a check since did not drop it): it waits again
                self.proposals.setdefault(pid, proposal)
            raise

    async def send(self, proposal: Proposal) -> Transfer:
        """Store the intent, then withdraw at the source; alerted at each step. Raises only before the withdrawal is
        asked for (nothing sent; the intent's own write may be what failed): after it, the transfer is returned as it
        was last stored."""
        async with self._lock:
            source, destination = self._venue(proposal.source), self._venue(proposal.destination)
            if source is None or destination is None:
                raise ExchangeError(f"{proposal.source} or {proposal.destination} cannot transfer funds")
            now = self.ctx.clock.time_ns()
            address = await destination.deposit_address(proposal.asset)
            proposal = await self._priced(proposal, address)  # the cost recorded is the cost to this address
            transfer = Transfer(f"rb-{uuid.uuid4().hex[:20]}", proposal.asset, proposal.amount, proposal.source,
                                proposal.destination, address, proposal.terms.fee + proposal.deposit_fee,
                                proposal.terms.network_fee,
                                TransferStatus.PLANNED, now, now,
                                network_fee_asset=proposal.terms.network_fee_asset,
                                expected_s=proposal.terms.expected_s)
            await self._save(transfer)
            self._deposit_fees[transfer.transfer_id] = proposal.deposit_fee
            self.ctx.alert(AlertLevel.INFO, "rebalance", f"transfer {transfer.transfer_id}: sending "
                           f"{money_text(transfer.amount, transfer.asset)} {transfer.source} -> "
                           f"{transfer.destination} ({proposal.costs()})")
            try:
                return await self._withdraw(source, transfer)
            except Exception as exc:  # the venue's answers are taken there: a write of what it answered failed. The
                # intent is stored: it stays planned, settled against its source (never "cannot be sent": it may
                # have left, and a move sent again by hand would go twice)
                self.ctx.log.warning("rebalance: transfer %s: what %s answered could not be recorded",
                                     transfer.transfer_id, transfer.source, exc_info=exc)
                self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id}: what "
                               f"{transfer.source} answered could not be recorded ({failure_text(exc)}); it stays "
                               f"planned and {transfer.source} is asked whether it has it before anything is sent "
                               "again")
                return transfer

    async def _limited(self, proposal: Proposal, replan: Callable[..., Proposal | None]
                       ) -> tuple[Proposal, Callable[..., Proposal | None]]:
        """``proposal`` capped by its destination's deposit limit (:meth:`TransferVenue.deposit_limit`), and the
        ``replan`` that keeps that cap; an :class:`ExchangeError` when the limit leaves nothing worth sending."""
        destination = self._venue(proposal.destination)
        limit = None if destination is None else await destination.deposit_limit(proposal.asset)
        if limit is None:
            return proposal, replan
        replan = partial(replan, deposit_limit=limit)
        capped = replan(proposal.deposit_fee)
        if capped is None:
            raise ExchangeError(f"{proposal.destination}'s deposit limit {limit} {proposal.asset} leaves less than "
                                f"{proposal.source}'s withdrawal minimum {proposal.terms.minimum} {proposal.asset}")
        return capped, replan

    async def _deposit_fee(self, name: str, venue: TransferVenue, asset: str, amount: Decimal) -> Decimal:
        """``venue.deposit_fee(asset, amount)``, asked once per destination, asset and amount in a round
        (:meth:`check`): sizing a move and sending it ask the same figure again (each a private call at Kraken)."""
        if self._round_fees is None:
            return await venue.deposit_fee(asset, amount)
        key = (name, asset, amount)
        if key not in self._round_fees:
            self._round_fees[key] = await venue.deposit_fee(asset, amount)
        return self._round_fees[key]

    async def _sized(self, proposal: Proposal, replan: Callable[..., Proposal | None]) -> Proposal:
        """``proposal`` sized with its destination's deposit fee (``replan(fee)``), so the destination ends on its
        target once it has kept it; a fee that depends on the amount is asked again for the new amount (a few
        times at most: what is left over the proposal says as a shortfall)."""
        destination = self._venue(proposal.destination)
        if destination is None:
            return proposal
        for _ in range(SIZING_ROUNDS):
            fee = await self._deposit_fee(proposal.destination, destination, proposal.asset, proposal.amount)
            if fee == proposal.deposit_fee:
                break
            resized = replan(fee)
            if resized is None:  # cannot happen (a fee only adds to the amount wanted); kept as planned
                break
            proposal = resized
        return proposal

    async def _priced(self, proposal: Proposal, address: str | None = None) -> Proposal:
        """``proposal`` at its source's terms for the destination's deposit address (``address``, else asked of the
        destination): what sending there costs (a wallet pays the rent of a token account the transfer creates), and
        what the destination keeps of the deposit (raising, naming it, for an amount below its deposit minimum)."""
        source, destination = self._venue(proposal.source), self._venue(proposal.destination)
        if source is None or destination is None:
            return proposal
        if address is None:
            address = await destination.deposit_address(proposal.asset)
        terms = await source.transfer_terms_to(proposal.asset, address)
        deposit_fee = await self._deposit_fee(proposal.destination, destination, proposal.asset, proposal.amount)
        return replace(proposal, terms=proposal.terms if terms is None else terms, deposit_fee=deposit_fee)

    async def _withdraw(self, source: TransferVenue, transfer: Transfer) -> Transfer:
        """Ask ``source`` to send ``transfer`` (stored before); stored and alerted as it answers. Whatever it raises,
        the transfer is neither sent twice nor lost: an answer that may hide a withdrawal made (an
        :class:`UnknownOutcome`, a timeout, a bug in the venue plugin) leaves it as it is, asked of the source before
        anything is sent again (:meth:`_resume`, :meth:`track`)."""
        asking = withdraw_text(transfer)
        try:
            ref = await source.withdraw(transfer)
        except UnknownOutcome as exc:  # it may have gone out: stays PLANNED, settled against the source
            return self._unanswered(transfer, exc)
        except RateLimited as exc:  # not taken now: stays PLANNED, looked up (then sent if never received) once the
            # source's wait is over (:meth:`_resume`); asked nothing before
            wait_s = self._waits.left_s(transfer.source)
            self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id}: {transfer.source} "
                           f"asked to wait {wait_s:.0f} s ({exc}); it is asked then whether it has the withdrawal, "
                           "and sends it if not")
            return transfer
        except TransientError as exc:  # refused before anything was done (a fee risen since it was read): re-quoted
            return await self._not_sent(source, transfer, exc)
        except ExchangeError as exc:
            failed = self._with(transfer, TransferStatus.FAILED, reason=str(exc))
            await self._save(failed)
            self._deposit_fees.pop(transfer.transfer_id, None)
            self._lookup_answered(transfer)
            self.ctx.alert(AlertLevel.ERROR, "rebalance", f"transfer {transfer.transfer_id} failed at "
                           f"{transfer.source}: {exc}")
            return failed
        except Exception as exc:  # a timeout (not an ExchangeError), a bug in the venue plugin: it may have gone out
            return self._unanswered(transfer, exc)
        self._call_answered(transfer.transfer_id, f"transfer {transfer.transfer_id}", {asking})
        sent = await self._charged(source, self._with(transfer, TransferStatus.SENT, venue_ref=ref))
        await self._save(sent)
        self.ctx.alert(AlertLevel.INFO, "rebalance", f"transfer {transfer.transfer_id} sent by {transfer.source} "
                       f"(reference {ref}){self._fee_moved(transfer, sent)}; waiting for {transfer.destination} to "
                       "credit it")
        return sent

    def _unanswered(self, transfer: Transfer, exc: Exception) -> Transfer:
        """``transfer``'s withdrawal answered ``exc``, which may hide a withdrawal made: it stays as it is, its source
        asked whether it has it before anything is sent again. Alerted once while it fails so at each pass (then
        counted: :meth:`_call_failed`)."""
        if self._call_failed(transfer.transfer_id, f"transfer {transfer.transfer_id}", withdraw_text(transfer), exc,
                             f"it may have left: {transfer.source} is asked whether it has it before anything is "
                             "sent again"):
            self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id}: no answer from "
                           f"{transfer.source} ({failure_text(exc)}); it may have left: asking it again before "
                           "anything is resent")
        return transfer

    async def _not_sent(self, source: TransferVenue, transfer: Transfer, exc: TransientError) -> Transfer:
        """``transfer``'s withdrawal refused with a :class:`TransientError` (certainly not made: Kraken's fee risen
        above the ``max_fee`` it was read at). Once its source confirms it never received it, the transfer ends FAILED
        (nothing left, nothing paid) and is not held against auto mode: its need is quoted again at the next check, at
        the venue's new terms, and proposed again in alert mode. Alerted once while the need lasts (then logged).
        A source that cannot say, or knows the withdrawal, leaves it PLANNED, settled as an unknown outcome is: whatever
        its look-up raises (an :class:`ExchangeError`, its wait a :class:`RateLimited` starts, a timeout, a bug in the
        venue plugin), the transfer is neither ended (quoted and sent again: twice if the source had it) nor lost."""
        try:
            made = await source.withdrawal(transfer)
        except Exception as look_up:  # cannot say: it may have it
            if is_bug(look_up):
                self.ctx.log.warning("rebalance: transfer %s: %s's withdrawal look-up failed after it refused it",
                                     transfer.transfer_id, transfer.source, exc_info=look_up)
            made, exc = TransferStatus.PLANNED, TransientError(f"{exc}; its look-up: {failure_text(look_up)}")
        if made is not None:
            self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id}: {transfer.source} "
                           f"refused it ({exc}) but may have it; asking it again before anything is resent")
            return transfer
        failed = self._with(transfer, TransferStatus.FAILED, reason=f"not sent: {exc}")
        await self._save(failed)
        self._deposit_fees.pop(transfer.transfer_id, None)
        self._requote.add(transfer.transfer_id)
        key = (transfer.asset, transfer.source, transfer.destination)
        self._alerted.discard(key)  # proposed again (alert mode) at the next check, at the new terms
        message = (f"transfer {transfer.transfer_id} not sent: {exc}; "
                   f"{money_text(transfer.amount, transfer.asset)} {transfer.source} -> {transfer.destination} is "
                   "quoted again at the next check")
        if key in self._failing:
            self.ctx.log.warning("rebalance: %s", message)
        else:
            self._failing.add(key)
            self.ctx.alert(AlertLevel.WARNING, "rebalance", message)
        return failed

    async def _charged(self, source: TransferVenue, sent: Transfer) -> Transfer:
        """``sent`` (its withdrawal made) with its cost as charged: the withdrawal fee its source says it charged
        (:meth:`TransferVenue.withdrawal_fee`) plus the destination's deposit fee, and the network fee its source paid
        (:meth:`TransferVenue.network_fee_paid`). The one place a transfer's cost is settled when it is sent: the fees
        quoted before sending (what ``sent`` was stored with) stay where the source does not say, or cannot be asked
        now (logged: the withdrawal is made all the same, and recorded SENT); what the destination kept is settled
        when it credits the transfer (:meth:`_settled`)."""
        sent = await self._network_paid(source, sent)
        try:
            charged = await source.withdrawal_fee(sent)
        except Exception as exc:  # the withdrawal is made: its record must not be lost for a fee
            self.ctx.log.warning("rebalance: transfer %s: %s did not say what it charged (%s); the quoted fee %s %s "
                                 "is recorded", sent.transfer_id, sent.source, exc, sent.fee, sent.asset,
                                 exc_info=is_bug(exc))  # a bug: its traceback
            return sent
        if charged is None:
            return sent
        deposit_fee = self._deposit_fees.get(sent.transfer_id)
        if deposit_fee is None:  # stored by a run before this one: the destination is asked again
            destination = self._venue(sent.destination)
            try:
                if destination is None:
                    raise ExchangeError(f"{sent.destination} is not a transfer venue in this run")
                deposit_fee = await self._deposit_fee(sent.destination, destination, sent.asset, sent.amount)
            except Exception as exc:
                self.ctx.log.warning("rebalance: transfer %s: %s's deposit fee cannot be read (%s); the quoted fees "
                                     "%s %s are recorded, not %s's charged %s", sent.transfer_id, sent.destination,
                                     exc, sent.fee, sent.asset, sent.source, charged)
                return sent
            self._deposit_fees[sent.transfer_id] = deposit_fee  # what the fee recorded holds, until it is credited
        return replace(sent, fee=charged + deposit_fee)

    async def _network_paid(self, source: TransferVenue, transfer: Transfer) -> Transfer:
        """``transfer`` with the network fee its source paid (:meth:`TransferVenue.network_fee_paid`: a wallet's landed
        transaction), else as it is (not known yet, or the look-up failed: logged)."""
        try:
            paid = await source.network_fee_paid(transfer)
        except Exception as exc:
            self.ctx.log.warning("rebalance: transfer %s: %s did not say what its transaction paid (%s); the network "
                                 "fee %s %s is kept", transfer.transfer_id, transfer.source, exc, transfer.network_fee,
                                 transfer.network_fee_asset, exc_info=is_bug(exc))
            return transfer
        return transfer if paid is None else replace(transfer, network_fee=paid)

    async def _settled(self, source: TransferVenue, destination: TransferVenue, credited: Transfer) -> Transfer:
        """``credited`` with its costs as the venues' records give them once it arrived: the network fee its source
        paid (:meth:`_network_paid`: a transaction not yet confirmed when it was sent), and the deposit fee the
        destination kept (:meth:`TransferVenue.deposit_fee_charged`) in place of the one quoted. Set once, when it is
        stored CREDITED; a destination that does not say keeps the quote, and one that cannot be asked, or a transfer
        whose quoted deposit fee this run does not know and whose source does not say its withdrawal fee, keeps what
        was recorded (logged)."""
        credited = await self._network_paid(source, credited)
        quoted = self._deposit_fees.pop(credited.transfer_id, None)
        try:
            kept = await destination.deposit_fee_charged(credited)
            if kept is None:
                return credited
            if quoted is not None:
                return replace(credited, fee=credited.fee - quoted + kept)
            withdrawn = await source.withdrawal_fee(credited)  # stored by a run before this one: the other part
            if withdrawn is None:
                raise ExchangeError(f"the deposit fee it was recorded with is not known in this run and "
                                    f"{credited.source} does not say its withdrawal fee")
        except Exception as exc:
            self.ctx.log.warning("rebalance: transfer %s: what %s kept of it is not recorded (%s); the fees %s %s "
                                 "recorded when it was sent are kept", credited.transfer_id, credited.destination, exc,
                                 credited.fee, credited.asset, exc_info=is_bug(exc))
            return credited
        return replace(credited, fee=withdrawn + kept)

    @staticmethod
    def _fee_moved(quoted: Transfer, charged: Transfer) -> str:
        """The sent alert's words when the source charged another fee, or paid another network fee, than the one
        quoted ("" when the same)."""
        words = ""
        if charged.fee != quoted.fee:
            words += (f"; fees {money_text(charged.fee, charged.asset)} as charged, not the "
                      f"{money_text(quoted.fee, quoted.asset)} quoted")
        if charged.network_fee != quoted.network_fee and charged.network_fee_asset:
            unit = charged.network_fee_asset
            words += (f"; network fee {money_text(charged.network_fee, unit)} as paid, not the "
                      f"{money_text(quoted.network_fee, unit)} quoted")
        return words

    async def track(self) -> None:
        """Follow each transfer on its way: its source's status first, then whether the destination credited it.

        The source may know the end (a CEX reports its withdrawal completed), or that it failed, or that
        it never went out (a wallet transaction that expired unlanded): then it is sent again, once. A look-up that
        fails (:meth:`_lookup_failed`), or a venue that asked to be left alone, leaves the transfer as it is until
        the next pass (still alerted late or overdue): never ended, never sent again, and the others tracked.
        """
        async with self._lock:  # a withdrawal whose answer was lost: what the source knows of it
            await self._resume()
        for transfer in await self._transfers([TransferStatus.SENT]):
            source, destination = self._venue(transfer.source), self._venue(transfer.destination)
            if source is None or destination is None:
                continue
            if self._waiting(transfer.source, transfer.destination):  # asked nothing until the wait is over
                await self._alert_slow(transfer)
                continue
            withdrawal = asking = f"{transfer.source}'s withdrawal"
            try:
                status = await source.withdrawal(transfer)
                if status not in (None, TransferStatus.FAILED, TransferStatus.CREDITED):
                    asking = f"{transfer.destination}'s deposit"
                    if await destination.credited(transfer):
                        status = TransferStatus.CREDITED
            except Exception as exc:  # a bug in a venue plugin too: this transfer waits, the others go on
                self._lookup_failed(transfer, asking, exc)
                await self._alert_slow(transfer)
                continue
            self._lookup_answered(transfer, withdrawal, asking)  # not a resend's failures: said once, until it answers
            if status is None:
                if not self._call_failing(transfer.transfer_id, withdraw_text(transfer)):  # else said, and counted
                    self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id} never left "
                                   f"{transfer.source} (expired unsent): sending it again")
                await self._withdraw(source, transfer)
                continue
            self._lookup_answered(transfer)  # it ends, or goes on its way: what failed before it is over
            if status is TransferStatus.FAILED:
                await self._save(self._with(transfer, TransferStatus.FAILED, reason=f"failed at {transfer.source}"))
                self.ctx.alert(AlertLevel.ERROR, "rebalance", f"transfer {transfer.transfer_id} failed at "
                               f"{transfer.source}")
                continue
            if status is not TransferStatus.CREDITED:
                await self._alert_slow(transfer)
                continue
            credited = await self._settled(source, destination, self._with(transfer, TransferStatus.CREDITED))
            await self._save(credited)
            moved = ("" if credited.fee == transfer.fee else f"; {transfer.destination} kept another deposit fee than "
                     f"quoted: fees {money_text(credited.fee, transfer.asset)}, not the "
                     f"{money_text(transfer.fee, transfer.asset)} recorded when it was sent")
            self.ctx.alert(AlertLevel.INFO, "rebalance", f"transfer {transfer.transfer_id} credited: "
                           f"{money_text(transfer.amount, transfer.asset)} reached {transfer.destination} (fees "
                           f"{money_text(credited.fee, transfer.asset)} in all: what it keeps of a deposit is not on "
                           f"it){moved}")

    def _lookup_failed(self, transfer: Transfer, asking: str, exc: Exception) -> bool:
        """``asking`` (a venue's look-up of ``transfer``) raised ``exc``: the transfer is asked again at the next pass,
        said once per kind then counted (:meth:`_call_failed`). True when this one is said."""
        return self._call_failed(transfer.transfer_id, f"transfer {transfer.transfer_id}", f"{asking} look-up", exc,
                                 "asked again at the next pass, the transfer still followed and nothing sent again")

    def _lookup_answered(self, transfer: Transfer, *asking: str) -> None:
        """``transfer``'s look-ups ``asking`` answered (every call of it when none is named: it ended, or is SENT)."""
        self._call_answered(transfer.transfer_id, f"transfer {transfer.transfer_id}",
                            {f"{what} look-up" for what in asking} or None)

    def _call_failed(self, subject_id: str, subject: str, asking: str, exc: Exception, then: str) -> bool:
        """``asking`` (a venue call made for ``subject``: a transfer, a need) raised ``exc``; ``then`` says what
        follows. The first failure of each kind (its exception's class) is logged, a bug's with its traceback; the
        next ones of that kind are counted and said every :data:`LOOKUP_FAILURES_SAID_S` with the count
        (:class:`Folding`): a venue that fails at every pass does not fill the log. True when this one is said (the
        caller alerts it then, if it alerts)."""
        from bot.api.ledger import age_text  # as expected_text does

        kind = type(exc).__name__
        error = failure_text(exc)
        key = (subject_id, asking, kind)
        failing = self._lookups_failing
        if (said := failing.due_of(key)) is not None:
            now = self.ctx.clock.monotonic()
            self.ctx.log.warning("rebalance: %s: %s failed %d more time(s) in the last %s, %d since the first %s ago "
                                 "(last: %s); still asked at every pass", subject, asking, said.count,
                                 age_text(seconds_ns(now - said.started)), said.total,
                                 age_text(seconds_ns(now - said.since)), said.note)
        if failing.first(key, error):
            self.ctx.log.warning("rebalance: %s: %s failed (%s); %s (further %s failures are counted, said every %s)",
                                 subject, asking, error, then, kind, age_text(seconds_ns(LOOKUP_FAILURES_SAID_S)),
                                 exc_info=is_bug(exc))  # its traceback, once
            return True
        if (counting := failing.get(key)) is not None:
            counting.note = error  # the last error, said with the count
        return False

    def _call_failing(self, subject_id: str, asking: str) -> bool:
        """A failure of ``asking`` for ``subject_id`` is being counted (:meth:`_call_failed`): it was said."""
        return any(key[0] == subject_id and key[1] == asking for key in self._lookups_failing)

    def _call_answered(self, subject_id: str, subject: str, asking: set[str] | None = None) -> None:
        """The venue calls ``asking`` made for ``subject`` answered (every one when None): their failures forgotten (a
        failure after this is said again), and how many there were said."""
        if not self._lookups_failing:
            return
        failed = [fold for key in list(self._lookups_failing) if key[0] == subject_id
                  if asking is None or key[1] in asking if (fold := self._lookups_failing.forget(key)) is not None]
        if failed:
            from bot.api.ledger import age_text

            since = min(fold.since for fold in failed)
            asked = sorted({str(fold.key[1]) for fold in failed})
            self.ctx.log.info("rebalance: %s: %s answered after %d failed %s over %s", subject, ", ".join(asked),
                              sum(f.total for f in failed),
                              "look-ups" if all(a.endswith(" look-up") for a in asked) else "calls",
                              age_text(seconds_ns(self.ctx.clock.monotonic() - since)))

    async def _alert_slow(self, transfer: Transfer) -> None:
        """A transfer on its way, not known credited: alerted late (:meth:`_alert_late`), then overdue
        (:meth:`_alert_overdue`), each once."""
        await self._alert_late(transfer)
        await self._alert_overdue(transfer)

    async def _alert_late(self, transfer: Transfer) -> None:
        """Alert (WARNING, once per transfer: :meth:`_alert_once`) a transfer not credited :data:`LATE_FACTOR` times
        its expected time after its intent: stuck well before ``overdue_after_s`` says so. A transfer without an
        expected time (stored before 0012) is left to ``overdue_after_s``."""
        age_ns = self.ctx.clock.time_ns() - transfer.created_ns
        if transfer.expected_s is None or age_ns <= LATE_FACTOR * transfer.expected_s * 1_000_000_000:
            return
        await self._alert_once(transfer, "late", AlertLevel.WARNING, f"transfer {transfer.transfer_id}: "
                         f"{money_text(transfer.amount, transfer.asset)} {transfer.source} -> {transfer.destination} "
                         f"(reference {transfer.venue_ref or 'unknown'}) is not credited after "
                         f"{age_ns // 1_000_000_000} s, expected within {transfer.expected_s:g}s; still followed")

    async def _alert_overdue(self, transfer: Transfer) -> None:
        """Alert (ERROR, once per transfer: :meth:`_alert_once`) a transfer sent and not credited ``overdue_after_s``
        after its intent: funds that left a venue and have not arrived are never a silent hole (a deposit the
        destination holds back, an address that is not the destination's)."""
        age_ns = self.ctx.clock.time_ns() - transfer.created_ns
        if age_ns < self.settings.overdue_after_s * 1_000_000_000:
            return
        await self._alert_once(transfer, "overdue", AlertLevel.ERROR, f"transfer {transfer.transfer_id}: "
                         f"{money_text(transfer.amount, transfer.asset)} {transfer.source} -> {transfer.destination} "
                         f"left {transfer.source} (reference {transfer.venue_ref or 'unknown'}) and is not credited "
                         f"by {transfer.destination} after {age_ns // 60_000_000_000} min (overdue_after_s "
                         f"{self.settings.overdue_after_s:g} s); check the deposit at {transfer.destination} (address "
                         f"{transfer.address}); it is still followed")

    @property
    def _said_key(self) -> str:
        return f"{self.name}:alerted"

    async def _alert_once(self, transfer: Transfer, kind: str, level: AlertLevel, message: str) -> None:
        """Alert ``message`` unless ``kind`` was alerted of ``transfer`` already, in this run or one before it: the
        store's ``bot_state`` keeps, for each transfer on its way, what was said of it (those that ended are left
        out at the next write). Alerted, then recorded: a crash between the two says it twice, never not
        at all."""
        if self._said is None:
            self._said = await self._read_said()
        if kind in self._said.get(transfer.transfer_id, ()):
            return
        self.ctx.alert(level, "rebalance", message, transfer=transfer.transfer_id)
        self._said.setdefault(transfer.transfer_id, set()).add(kind)
        try:
            on_way = {t.transfer_id for t in await self._transfers(OPEN)}
            self._said = {tid: kinds for tid, kinds in self._said.items() if tid in on_way}
            kept = {tid: sorted(kinds) for tid, kinds in self._said.items()}
            await self.ctx.write_later(self.ctx.store.set_state, self._said_key, json.dumps(kept, sort_keys=True),
                                       self.ctx.clock.time_ns())
        except Exception:  # said once in this run all the same; a restart would say it again
            self.ctx.log.exception("rebalance: could not record that transfer %s was alerted as %s",
                                   transfer.transfer_id, kind)

    async def _read_said(self) -> dict[str, set[str]]:
        """What earlier runs alerted of the transfers on their way (empty when unreadable: said again, not lost)."""
        try:
            text = await self._read(self.ctx.store.get_state, self._said_key)
            kept = json.loads(text) if text else {}
            return {str(tid): {str(kind) for kind in kinds} for tid, kinds in kept.items()}
        except Exception:
            self.ctx.log.exception("rebalance: what was alerted of the transfers on their way could not be read; "
                                   "a late or overdue one is alerted again")
            return {}

    async def _resume(self) -> bool:
        """Settle every PLANNED transfer against its source: after a restart before anything new, and while
        running for a withdrawal whose answer was lost (:class:`UnknownOutcome`) or that its source asked to wait for
        (:class:`RateLimited`). False when one is left for the next pass: its source's wait is not over, or its
        look-up failed (:meth:`_lookup_failed`); it is never sent before its source has said it does not have it."""
        settled = True
        for transfer in await self._transfers([TransferStatus.PLANNED]):
            source = self._venue(transfer.source)
            if source is None:
                continue
            if self._waiting(transfer.source):
                settled = False
                continue
            asking = f"{transfer.source}'s withdrawal"
            try:
                status = await source.withdrawal(transfer)
            except Exception as exc:
                self._lookup_failed(transfer, asking, exc)
                settled = False
                continue
            self._lookup_answered(transfer, asking)
            if status is None:
                if not self._call_failing(transfer.transfer_id, withdraw_text(transfer)):  # else said, and counted
                    self.ctx.alert(AlertLevel.WARNING, "rebalance", f"transfer {transfer.transfer_id} was stored but "
                                   f"never reached {transfer.source}: sending it now")
                await self._withdraw(source, transfer)
            elif status is TransferStatus.FAILED:
                await self._save(self._with(transfer, TransferStatus.FAILED, reason=f"failed at {transfer.source}"))
                self._deposit_fees.pop(transfer.transfer_id, None)
                self._lookup_answered(transfer)
                self.ctx.alert(AlertLevel.ERROR, "rebalance", f"transfer {transfer.transfer_id} had reached "
                               f"{transfer.source} and failed there")
            else:  # its reference, kept with it: a venue that stops listing it still knows it left by that
                asking = f"{transfer.source}'s withdrawal reference"
                try:  # asked again for a withdrawal it made: its reference, no send
                    ref = await source.withdraw(transfer)
                except Exception as exc:  # this transfer waits for the next pass; the others are settled now
                    self._lookup_failed(transfer, asking, exc)
                    settled = False
                    continue
                self._lookup_answered(transfer)  # SENT now: what failed before it is over
                sent = await self._charged(source, self._with(transfer, TransferStatus.SENT, venue_ref=ref))
                await self._save(sent)
                self.ctx.alert(AlertLevel.INFO, "rebalance", f"transfer {transfer.transfer_id} had reached "
                               f"{transfer.source} already ({status.value}, reference {ref}): not sent again"
                               f"{self._fee_moved(transfer, sent)}")
        return settled

    def _with(self, transfer: Transfer, status: TransferStatus, venue_ref: str | None = None,
              reason: str | None = None) -> Transfer:
        return replace(transfer, status=status, updated_ns=self.ctx.clock.time_ns(),
                       venue_ref=transfer.venue_ref if venue_ref is None else venue_ref,
                       reason=transfer.reason if reason is None else reason)

    async def _save(self, transfer: Transfer) -> None:
        """Store ``transfer`` on the store writer's thread and wait until it is committed: each step is stored before
        the next one starts (the intent before its withdrawal is asked for: a crash never sends it twice), but a
        database that does not answer holds this step, not the loop. A write that fails raises here, as before."""
        await self.ctx.write_later(self.ctx.store.save_transfer, transfer)
