"""Transport-independent command dispatch: roles, confirmations, rate limit, audit.

Every transport (``arbot ctl``, Telegram, Discord) turns a message into
``await table.dispatch(caller, "pause", ["btc-grid"])`` and renders the :class:`Reply`. Deny by
default: a caller without a role gets one refusal line. Every attempt, allowed or not, is audited.

Strangers cannot slow anyone down: in one chat, the first refusal of a minute (of a command or a
Confirm press) is answered and audited; the ones after it are only counted (their
:attr:`Reply.silent` is set, so transports send nothing) and audited as one row with the counts
when the minute is over. Across all chats at most ``[commands] stranger_replies_per_min``
refusals are answered.

A dangerous call (its :attr:`Command.confirm` returns a question) is not run at once: the reply
carries a one-time ``confirm_token``; the transport shows a button, and
``await table.confirm(caller, token)`` runs it, only for the same user on the same transport,
once, within ``[commands] confirm_ttl_s``.

Fleet routing: when a :class:`~bot.api.FleetLink` is attached (``Context.attach_fleet``), a command
registered with ``fleet=True`` accepts targets among its arguments: ``all`` (every live bot, this one
included; after an argument that is no target, "all" is text: ``/kill grid: pull all quotes``),
``<bot>:<arg>`` (that bot, with ``<arg>``) and ``<bot>:`` (that bot, no argument); the
other arguments go to every target; ``<word>:`` naming no bot is text when a target is named, and refused as a
mistyped target when none is (``/kill grdi:`` would otherwise run here); the question of a command running on this
bot alone names this bot, and a member written without its colon (``/kill grid``). A member the link reports not alive
(:attr:`FleetMember.alive`: not heard from within its liveness window) is gone: never a target, refused when
named, and listed as gone in the reply to ``all``. The caller is authorized here first; then this bot's part runs
through the normal path and the other bots' parts through :meth:`FleetLink.call`, concurrently, each
within the link's timeout. A command with a confirmation is confirmed once here, for every target,
and each bot then runs it with ``confirmed=True``. The answers come back as one :class:`Reply`: a
table of the bots (their answer, and the ``summary`` cells of their ``Reply.data``), fleet totals
summed exactly from their ``totals``, then each bot's own answer under its name. The routed call is
audited here with its targets and every bot's outcome; each bot audits its own part. Without a link,
``all`` means this bot alone. A call another bot forwarded (``via``) is never routed again.

The bot's stop: :meth:`CommandTable.close` refuses every command from then on ("the bot is stopping", audited), waits
for the handlers running (each runs in a task of the table's own, awaited by its transport) for a bound, then cancels
the rest: each is audited ``cancelled: the bot stopped`` and its transport answered so. The stop then closes the store:
no command's audit line reaches it after that.

Secrets: every reply that :meth:`CommandTable.dispatch` and :meth:`CommandTable.confirm` return has every
known secret masked (:func:`masked`, with :data:`bot.redact.REDACTOR`), so no transport, and no fleet link
answering another bot, has to mask it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Protocol

from .api import ROLE_RANK, Caller, Command, FleetLink, Operator, Reply
from .clock import Clock
from .config import BOT_NAME, CommandSettings
from .folding import Folding
from .ledger import fleet_totals
from .logs import escape_controls
from .plugins import Registered
from .redact import REDACTOR
from .report import fee_sums_text
from .units import counted, moneys

log = logging.getLogger("arbot.commands")

RATE_WINDOW_S = 60.0
ALL = "all"
"""The fleet target meaning every bot, this one included."""
LINK_GRACE_S = 1.0
"""How long past :attr:`FleetLink.timeout_s` the host waits for a link's own "no answer"."""
CANCEL_GRACE_S = 1.0
"""How long :meth:`CommandTable.close` waits for the commands it cancelled to end (their audit lines handed over)."""


@dataclass
class _Pending:
    transport: str
    user_id: str
    name: str
    args: list[str]
    expires: float
    used: bool = False
    route: _Route | None = None
    """A routed call: every target bot with its arguments."""


@dataclass(frozen=True)
class _Route:
    """Where :meth:`CommandTable._plan` sends a fleet command: each target bot with its arguments, and whether
    the arguments named the whole fleet (``all`` before any free text), which also lists the gone bots."""

    targets: dict[str, list[str]]
    everyone: bool


class _Cut(Exception):
    """A command's handler cancelled by the bot's stop (:meth:`CommandTable.close`)."""


class AuditLog(Protocol):
    def __call__(self, *, transport: str, user_id: str, command: str, args: str, outcome: str, role: str = "",
                 chat_id: str = "", ts_ns: int | None = None) -> None: ...


@dataclass
class _Refusals:
    """What the audit row of a chat's refusal window says (its :attr:`~bot.folding.Fold.note`): the command of the
    stranger answered first, and who the strangers counted after it are."""

    command: str
    users: set[str] = field(default_factory=set)


class CommandTable:
    """The commands plugins registered; handlers and confirmations receive ``operator``."""

    def __init__(self, commands: dict[str, Registered], operator: Operator, *, audit: AuditLog, clock: Clock,
                 settings: CommandSettings):
        self._commands = commands
        self._operator = operator
        self._audit_log = audit
        self._clock = clock
        self._settings = settings
        self._pending: dict[str, _Pending] = {}
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._refusals: Folding[tuple[str, str]] = Folding(RATE_WINDOW_S, monotonic=lambda: self._clock.monotonic())
        """Strangers refused per chat (transport, chat): the first of a minute answered and audited, the rest counted
        and audited as one row once the minute is over."""
        self._refusals_due: asyncio.TimerHandle | None = None
        """Audits the windows once over even if no stranger writes again (:meth:`_refusals_over`)."""
        self._stranger_replies: deque[float] = deque()
        self.fleet: FleetLink | None = None
        """The fleet link a service attached (:meth:`attach_fleet`), or None when this bot is alone."""
        self._running: dict[asyncio.Task[Reply], str] = {}
        """The command handlers running, each as its task (:meth:`_handled`) with what the stop's log calls it."""
        self._cut: set[asyncio.Task[Reply]] = set()
        """The commands :meth:`close` cancelled: their callers get a reply saying so."""
        self._closing = False
        """:meth:`close` was called (the bot stops): every command is refused."""

    def attach_fleet(self, link: FleetLink) -> None:
        if self.fleet is not None and self.fleet is not link:
            raise ValueError("a fleet link is already attached: only one fleet service may run")
        self.fleet = link

    def visible_to(self, caller: Caller) -> list[Command]:
        rank = ROLE_RANK.get(caller.role or "", 0)
        return sorted((r.obj for r in self._commands.values() if ROLE_RANK[r.obj.role] <= rank),
                      key=lambda c: c.name)

    def urgent(self, name: str) -> bool:
        registered = self._commands.get(name.lstrip("/").lower())
        return registered is not None and bool(registered.obj.urgent)

    def urgent_confirmation(self, token: str) -> bool:
        pending = self._pending.get(token)
        return pending is not None and self.urgent(pending.name)

    def halts(self, name: str) -> bool:
        registered = self._commands.get(name.lstrip("/").lower())
        return registered is not None and bool(registered.obj.halts)

    def _audit(self, caller: Caller, name: str, args: list[str], outcome: str) -> None:
        self._audit_log(
            transport=caller.transport, user_id=caller.user_id, chat_id=caller.chat_id, role=caller.role or "",
            command=name, args=escape_controls(" ".join(args)), outcome=outcome, ts_ns=self._clock.time_ns(),
        )

    def _rate_limited(self, caller: Caller) -> bool:
        now = self._clock.monotonic()
        recent = self._recent.setdefault((caller.transport, caller.user_id), deque())
        while recent and now - recent[0] >= RATE_WINDOW_S:
            recent.popleft()
        if len(recent) >= self._settings.per_user_per_min:
            return True
        recent.append(now)
        return False

    def _folded(self, caller: Caller, name: str) -> bool:
        """True when a stranger's refusal is only counted: one of the same chat was answered this minute."""
        self.flush_refusals()
        key = (caller.transport, caller.chat_id or caller.user_id)
        if self._refusals.first(key, _Refusals(name)):
            self._arm_refusals(RATE_WINDOW_S)
            return False
        window = self._refusals.get(key)
        if window is not None:
            window.note.users.add(caller.user_id)
        return True

    def _may_answer_stranger(self) -> bool:
        """Within ``stranger_replies_per_min``, all chats together (takes one from the budget)."""
        now = self._clock.monotonic()
        sent = self._stranger_replies
        while sent and now - sent[0] >= RATE_WINDOW_S:
            sent.popleft()
        if len(sent) >= self._settings.stranger_replies_per_min:
            return False
        sent.append(now)
        return True

    def _refuse_stranger(self, caller: Caller, name: str, args: list[str]) -> Reply:
        """The refusal of a caller without a role, for a command or a Confirm press alike: answered and audited
        as the first of its chat this minute and within ``stranger_replies_per_min``; otherwise only counted."""
        if self._folded(caller, name):
            return Reply("Not authorized.", ok=False, silent=True)
        self._audit(caller, name, args, "refused: no role")
        return Reply("Not authorized.", ok=False, silent=not self._may_answer_stranger())

    def _arm_refusals(self, delay_s: float) -> None:
        """Audit the refusal windows ``delay_s`` from now, unless a timer is armed already."""
        if self._refusals_due is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not on the loop (a test's direct call): the next message or stop audits them
                return
            self._refusals_due = loop.call_later(delay_s, self._refusals_over)

    def _refusals_over(self) -> None:
        """The timer: audit the windows that are over, and wait for the oldest left."""
        self._refusals_due = None
        self.flush_refusals()
        due_in = self._refusals.due_in()
        if due_in is not None:
            self._arm_refusals(max(due_in, 1.0))

    def flush_refusals(self, force: bool = False) -> None:
        """Audit the counts of refusal windows that are over (all of them with ``force``, on stop). A timer does it
        once the oldest window is over too, so a chat's "N more" row does not wait for the next stranger."""
        if force and self._refusals_due is not None:
            self._refusals_due.cancel()
            self._refusals_due = None
        for window in self._refusals.due(force=force):  # the oldest first: a message costs O(windows over)
            transport, chat_id = window.key
            users = sorted(window.note.users)
            shown = ",".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            self._audit_log(transport=transport, user_id=users[0] if len(users) == 1 else "", chat_id=chat_id,
                            command=window.note.command, args=f"users {shown}", ts_ns=self._clock.time_ns(),
                            outcome=f"refused: no role, {window.count} more in this chat, not answered")

    def _authorize(self, caller: Caller, name: str) -> tuple[Registered | Reply, str]:
        """(the command, or the refusal to send back; the audit outcome so far)."""
        if caller.role is None:
            return Reply("Not authorized.", ok=False), "refused: no role"
        if self._rate_limited(caller):
            return Reply("Too many commands; try again in a minute.", ok=False), "refused: rate limit"
        registered = self._commands.get(name)
        if registered is None:
            if caller.transport == "local":  # `arbot ctl`: the command line has no /commands
                return Reply(f"Unknown command {name}. Run `arbot ctl help` for the list.", ok=False), \
                    "unknown command"
            return Reply(f"Unknown command /{name}. Send /help for the list.", ok=False), "unknown command"
        command: Command = registered.obj
        if ROLE_RANK[caller.role] < ROLE_RANK[command.role]:
            return Reply(f"/{name} needs the {command.role} role; you are {caller.role}.", ok=False), \
                f"refused: needs {command.role}"
        return registered, "ok"

    async def dispatch(self, caller: Caller, name: str, args: list[str], *, via: str = "",
                       confirmed: bool = False) -> Reply:
        """Run ``/name args`` for ``caller``, or refuse it, or ask for a confirmation (see
        :meth:`bot.api.CommandDispatcher.dispatch`); the reply comes back :func:`masked`."""
        return masked(await self._dispatch(caller, name, args, via=via, confirmed=confirmed))

    async def _handled(self, caller: Caller, name: str, work: Awaitable[Reply]) -> Reply:
        """Run the handler of ``/name`` (``work``) in a task of its own, known to :meth:`close`; :class:`_Cut` when
        the stop cancelled it (a cancel of the caller's own goes through as such)."""
        task = asyncio.ensure_future(work)
        self._running[task] = f"/{name} ({caller.transport}:{caller.user_id})"
        task.add_done_callback(self._ended)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task not in self._cut or (current is not None and current.cancelling()):
                raise
            raise _Cut() from None
        finally:
            self._cut.discard(task)

    def _ended(self, task: asyncio.Task[Reply]) -> None:
        self._running.pop(task, None)

    async def close(self, timeout_s: float) -> tuple[list[str], list[str]]:
        """The bot's stop: refuse every command from now on, wait ``timeout_s`` at most for the ones running, then
        cancel the rest and wait :data:`CANCEL_GRACE_S` for them to end (each audits ``cancelled: the bot stopped``).
        Returns (the commands cancelled, those of them still running: a handler that ignored its cancel)."""
        self._closing = True
        running = set(self._running)
        if not running:
            return [], []
        _, late = await asyncio.wait(running, timeout=timeout_s)
        if not late:
            return [], []
        labels = {task: self._running.get(task, "?") for task in late}
        self._cut |= late
        for task in late:
            task.cancel()
        _, left = await asyncio.wait(late, timeout=CANCEL_GRACE_S)
        return sorted(labels.values()), sorted(labels[task] for task in left)

    def _refuse_stopping(self, caller: Caller, name: str, args: list[str]) -> Reply:
        self._audit(caller, name, args, "refused: the bot is stopping")
        return Reply(f"The bot is stopping: /{name} not run.", ok=False)

    async def _dispatch(self, caller: Caller, name: str, args: list[str], *, via: str, confirmed: bool) -> Reply:
        name = name.lstrip("/").lower()
        if confirmed and not via:
            raise ValueError("confirmed=True is only for a call forwarded by another bot (via=...)")
        if via:  # audited as e.g. "telegram@front": the transport the user spoke on, at the bot that forwarded it
            caller = Caller(f"{caller.transport}@{via}", caller.user_id, caller.role, caller.chat_id)
        if caller.role is None:
            return self._refuse_stranger(caller, name, args)
        if self._closing:
            return self._refuse_stopping(caller, name, args)
        registered, outcome = self._authorize(caller, name)
        if isinstance(registered, Reply):  # refused
            self._audit(caller, name, args, outcome)
            return registered
        command: Command = registered.obj
        if command.fleet and not via:
            plan = self._plan(args)
            if isinstance(plan, Reply):  # an unknown or gone bot
                self._audit(caller, name, args, f"refused: {plan.data['refused']}")
                return plan
            if isinstance(plan, _Route):
                return await self._route(caller, registered, name, args, plan)
            args = plan  # this bot alone
        question = command.confirm(self._operator, args) if command.confirm and not confirmed else None
        if question and command.fleet and not via and self.fleet is not None:
            question += self._only_here(name, args)
        if question:
            token = secrets.token_urlsafe(12)
            self._expire()
            self._pending[token] = _Pending(caller.transport, caller.user_id, name, list(args),
                                            self._clock.monotonic() + self._settings.confirm_ttl_s)
            self._audit(caller, name, args, "awaiting confirmation")
            ttl = self._settings.confirm_ttl_s
            return Reply(question, text=f"Confirm within {ttl:g} s.", confirm_token=token)
        return await self._run(caller, registered, name, args, f"confirmed at {via}: " if confirmed else "")

    async def confirm(self, caller: Caller, token: str) -> Reply:
        """Run a command waiting for confirmation: same transport and user, once, before it expires. A press
        refused by the rate limit (or a role lowered since) leaves the confirmation unused: it may be pressed
        again in time. The reply comes back :func:`masked`."""
        return masked(await self._confirm(caller, token))

    async def _confirm(self, caller: Caller, token: str) -> Reply:
        pending = self._pending.get(token)
        name = pending.name if pending else "confirm"
        args = pending.args if pending else []
        if caller.role is None:  # a stranger pressing a button (another's, or forged): told nothing about it
            return self._refuse_stranger(caller, name, args)
        if self._closing:  # the confirmation stays unused
            return self._refuse_stopping(caller, name, args)
        if pending is None:
            outcome, reply = "refused: unknown confirmation", Reply("Nothing to confirm.", ok=False)
        elif (pending.transport, pending.user_id) != (caller.transport, caller.user_id):
            outcome, reply = "refused: confirmation of another user", Reply(
                "Only the user who sent the command can confirm it.", ok=False)
        elif pending.used:
            outcome, reply = "refused: confirmation already used", Reply("Already confirmed once.", ok=False)
        elif self._clock.monotonic() > pending.expires:
            outcome, reply = "refused: confirmation expired", Reply(
                f"Confirmation expired; send /{name} again.", ok=False)
        else:
            registered, outcome = self._authorize(caller, name)  # the role may have changed since
            if isinstance(registered, Reply):  # refused (the rate limit too): the press may come again
                self._audit(caller, name, args, outcome)
                return registered
            pending.used = True
            if pending.route is not None:
                return await self._fan_out(caller, registered, name, args, pending.route, confirmed=True)
            return await self._run(caller, registered, name, args, "confirmed: ")
        self._audit(caller, name, args, outcome)
        return reply

    async def _run(self, caller: Caller, registered: Registered, name: str, args: list[str], prefix: str) -> Reply:
        outcome = "ok"
        try:
            command: Command = registered.obj
            reply = await self._handled(caller, name, command.handler(self._operator, caller, args))
            if not reply.ok:
                outcome = "failed"
            return reply
        except _Cut:
            outcome = "cancelled: the bot stopped"
            return Reply(f"/{name} was cancelled: the bot is stopping",
                         text="It may have done part of its work; check once the bot runs again.", ok=False)
        except asyncio.CancelledError:  # the caller's (a transport stopping, a client gone)
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}"
            from .store import ReadRefused
            from .writer import is_store_closed
            if isinstance(exc, ReadRefused) or is_store_closed(exc):  # not the command's bug: said, no traceback
                log.warning("command /%s (plugin %s) could not read the store: %s", name, registered.plugin, exc)
                return Reply(f"/{name} could not read the store", text=str(exc), ok=False)
            log.exception("command /%s (plugin %s) failed", name, registered.plugin)
            return Reply(f"/{name} failed: {type(exc).__name__}. The log has details.", ok=False)
        finally:
            self._audit(caller, name, args, prefix + outcome)

    # --- fleet routing -----------------------------------------------------------------------------

    def _members(self) -> tuple[list[str], dict[str, int]]:
        """The bots a fleet command may reach (this one and every member heard from within the link's liveness
        window, sorted), and the gone ones: members known (a stored status) but not alive, with when each was
        last heard. A gone bot is listed, never sent to."""
        me = self._operator.bot_name
        members = self.fleet.members() if self.fleet is not None else []
        gone = {m.name: m.seen_ns for m in members if not m.alive and m.name != me}
        return sorted({m.name for m in members if m.name not in gone} | {me}), gone

    def _only_here(self, name: str, args: list[str]) -> str:
        """What a question about a fleet command running on this bot alone adds: that it is this bot, and how to
        reach a bot its arguments name without the colon (``/kill grid``: the reason "grid", here)."""
        me = self._operator.bot_name
        members, gone = self._members()
        others = (set(members) | set(gone)) - {me}
        if not others:
            return ""
        said = "".join(f" {arg} is another bot: /{name} {arg}: sends it there." for arg in dict.fromkeys(args)
                       if arg in others)
        return f" This bot ({me}) only.{said}"

    def _plan(self, args: list[str]) -> _Route | list[str] | Reply:
        """Where a fleet command goes: the :class:`_Route` to take, this bot's own args when it is the only
        target (or no target is named), or the refusal of an unknown or gone bot. The only reader of ``all``."""
        me = self._operator.bot_name
        everyone = False
        named: dict[str, list[str]] = {}
        common: list[str] = []
        known: tuple[list[str], dict[str, int]] | None = None
        loose: list[str] = []
        """Words ``<name>:`` that name no bot: text when a target is named, else a mistyped target."""
        for arg in args:
            bot, colon, rest = arg.partition(":")
            if arg.lower() == ALL and not common:  # after free text ("pull all quotes") it is text, not the fleet
                everyone = True
                continue
            if colon and BOT_NAME.fullmatch(bot) and (self.fleet is not None or bot == me):
                if known is None:
                    known = self._members()
                # "<bot>:" names a bot only when it is one; free text such as "market: crash" (a word ending in
                # a colon) stays text, while "<typo>:<arg>" is refused below rather than run here
                if bot in known[0] or bot in known[1] or rest:
                    named.setdefault(bot, []).extend([rest] if rest else [])
                    continue
                loose.append(bot)
            common.append(arg)
        if not everyone and not named and not loose:
            return args
        members, gone = known if known is not None else self._members()
        if not everyone and not named:  # "/kill grdi:" would run here, after a question naming no bot
            return Reply(f"No bot named {', '.join(sorted(set(loose)))} in the fleet. Bots: {', '.join(members)}.",
                         text=f"To send it to this bot as text, name this bot first: {me}: {' '.join(args)}",
                         ok=False, data={"refused": "unknown bot"})
        if gone.keys() & named.keys():
            now = self._clock.time_ns()
            said = ", ".join(f"{bot} (last heard {_ago(now - gone[bot])} ago)" if gone[bot] else bot
                             for bot in sorted(gone.keys() & named.keys()))
            return Reply(f"Gone from the fleet: {said}; not sent. Bots: {', '.join(members)}.", ok=False,
                         data={"refused": "gone bot"})
        unknown = sorted(set(named) - set(members))
        if unknown:
            return Reply(f"No bot named {', '.join(unknown)} in the fleet. Bots: {', '.join(members)}.", ok=False,
                         data={"refused": "unknown bot"})
        targets = {bot: common + named.get(bot, []) for bot in members if everyone or bot in named}
        if list(targets) == [me] and not (everyone and gone):  # gone bots are listed in a routed reply
            return targets[me]
        return _Route(targets, everyone)

    async def _route(self, caller: Caller, registered: Registered, name: str, args: list[str],
                     route: _Route) -> Reply:
        command: Command = registered.obj
        targets = route.targets
        if command.confirm is None:
            return await self._fan_out(caller, registered, name, args, route, confirmed=False)
        me = self._operator.bot_name
        question = f"/{name} on {_bots(len(targets))} ({', '.join(targets)})?"
        local = command.confirm(self._operator, targets[me]) if me in targets else None
        if local:
            question += f" {me}: {local}"
        token = secrets.token_urlsafe(12)
        self._expire()
        self._pending[token] = _Pending(caller.transport, caller.user_id, name, list(args),
                                        self._clock.monotonic() + self._settings.confirm_ttl_s, route=route)
        self._audit(caller, name, args, f"awaiting confirmation for {', '.join(targets)}")
        ttl = self._settings.confirm_ttl_s
        return Reply(question, text=f"Confirm within {ttl:g} s; then each bot runs it without asking again.",
                     confirm_token=token)

    async def _fan_out(self, caller: Caller, registered: Registered, name: str, args: list[str],
                       route: _Route, *, confirmed: bool) -> Reply:
        """Run this bot's part here and the others' through the link, concurrently; one merged reply."""
        me, link, targets = self._operator.bot_name, self.fleet, route.targets

        async def one(bot: str, bot_args: list[str]) -> Reply:
            if bot == me:
                return await self._run(caller, registered, name, bot_args, "confirmed: " if confirmed else "")
            if link is None:  # _plan names other bots only when a link is attached, and links stay
                raise RuntimeError(f"a fleet call to {bot} without a fleet link")
            try:
                return await asyncio.wait_for(link.call(bot, caller, name, bot_args, confirmed=confirmed),
                                              link.timeout_s + LINK_GRACE_S)
            except TimeoutError:
                return FleetLink.no_answer(bot, f"no answer within {link.timeout_s:g} s")
            except Exception as exc:  # the link's bug must not hide the other bots' answers
                log.exception("fleet call /%s to %s failed", name, bot)
                return FleetLink.no_answer(bot, f"the fleet link failed: {type(exc).__name__}")

        replies = dict(zip(targets, await asyncio.gather(*(one(b, a) for b, a in targets.items())), strict=True))
        outcomes = {bot: _answer(reply) for bot, reply in replies.items()}
        # "all" lists the bots it left out as gone (known, not heard from within the link's liveness window);
        # whether the args said "all" is _plan's call ("pull all quotes" is a reason, not the fleet)
        gone = ({bot: seen for bot, seen in self._members()[1].items() if bot not in replies}
                if route.everyone else {})
        self._audit(caller, name, args, "routed: " + ", ".join(
            [f"{bot} {o}" for bot, o in outcomes.items()] + [f"{bot} gone" for bot in gone]))
        return self._merged(name, replies, outcomes, gone)

    def _merged(self, name: str, replies: dict[str, Reply], outcomes: dict[str, str], gone: dict[str, int]) -> Reply:
        counts = [f"{sum(o == kind for o in outcomes.values())} {kind}" for kind in ("ok", "refused", "no answer")
                  if kind in outcomes.values()]
        title = f"/{name} on {_bots(len(replies))}: {', '.join(counts)}"
        if gone:
            title += f"; {len(gone)} gone, not sent"
        columns: list[str] = []
        for reply in replies.values():
            summary = reply.data.get("summary")
            if isinstance(summary, dict):
                columns += [c for c in summary if c not in columns]
        seen = {m.name: m for m in self.fleet.members()} if self.fleet is not None else {}
        rows: list[tuple[str, ...]] = [("bot", "answer", *columns)]  # narrow: a phone shows ~45 columns
        for bot, reply in replies.items():
            summary = reply.data.get("summary") if outcomes[bot] == "ok" else None
            cells = summary if isinstance(summary, dict) else {}
            rows.append((bot, outcomes[bot], *(str(cells.get(c, "-")) for c in columns)))
        rows += [(bot, "gone", *("-" for _ in columns)) for bot in sorted(gone)]
        lines: list[str] = []
        counted = [bot for bot, reply in replies.items()
                   if outcomes[bot] == "ok" and isinstance(reply.data.get("totals"), dict)]
        parts = [replies[bot].data["totals"] for bot in counted]
        data: dict[str, object] = {"bots": {bot: {"answer": outcomes[bot], "text": replies[bot].render_text(),
                                                  "data": dict(replies[bot].data)} for bot in replies},
                                   "gone": {bot: {"seen_ns": seen} for bot, seen in sorted(gone.items())}}
        if parts:
            try:
                summed = fleet_totals(parts)
            except (InvalidOperation, TypeError, AttributeError):
                lines.append("fleet total: not computed (a bot sent a figure that is not a decimal)")
            else:
                missing = [bot for bot in replies if bot not in counted]  # no answer, or no figures sent
                shown = "; ".join(f"{figure} {text}" for figure, text in _totals_text(summed).items())
                if shown:
                    lines.append(f"fleet total ({_bots(len(parts))}"
                                 f"{', without ' + ', '.join(missing) if missing else ''}): {shown}")
                data["totals"] = {figure: {a: str(v) for a, v in sums.items()} for figure, sums in summed.items()}
        for bot, reply in replies.items():
            member = seen.get(bot)
            heard = (f" (last heard {_ago(self._clock.time_ns() - member.seen_ns)} ago)"
                     if outcomes[bot] == "no answer" and member is not None and member.seen_ns else "")
            lines.append(f"\n== {bot}: {outcomes[bot]}{heard}")
            lines.append(reply.render_text())
        now = self._clock.time_ns()
        for bot, seen_ns in sorted(gone.items()):
            heard = f"last heard {_ago(now - seen_ns)} ago" if seen_ns else "never heard"
            lines.append(f"\n== {bot}: gone ({heard}; not sent)")
        return Reply(title, rows=rows, header=True, text="\n".join(lines),
                     ok=all(o == "ok" for o in outcomes.values()), data=data)

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for token in [t for t, p in self._pending.items() if now > p.expires + 3600]:
            del self._pending[token]


def masked(reply: Reply) -> Reply:
    """``reply`` with every known secret masked in its title, rows, text and data (a copy; ``reply`` itself when
    nothing is to be masked).

    Every reply leaves through :meth:`CommandTable.dispatch` or :meth:`CommandTable.confirm`: a chat transport's
    (first-party or not), ``arbot ctl``'s, and a fleet link's answer to another bot. Masking here, once, covers
    them all, whatever a command put in its reply (a venue's error text quoting a key, a failed strategy's
    exception). The image of a reply (a chart) is not read."""
    parts = (reply.title, reply.rows, reply.text, reply.data)
    clean = REDACTOR.redact_data(parts)
    if clean is parts:
        return reply
    title, rows, text, data = clean
    return replace(reply, title=title, rows=rows, text=text, data=data)


def _totals_text(summed: dict[str, dict[str, Decimal]]) -> dict[str, str]:
    """Each fleet total as shown, named in words (``transfer_costs`` as "transfer costs", as each bot's own text
    words it): ``fees`` as a bot's fees column shows them (those in a quote asset, then ``+`` each paid in another
    asset, the ``other_fees`` part of them, not shown apart); the others per asset."""
    other = summed.get("other_fees", {}) if "fees" in summed else None
    return {figure.replace("_", " "): fee_sums_text(sums, other or {}) if figure == "fees" else moneys(sums)
            for figure, sums in summed.items() if sums and not (figure == "other_fees" and other is not None)}


def _bots(n: int) -> str:
    return counted(n, "bot")


def _answer(reply: Reply) -> str:
    """How one bot answered a routed call: ``ok``, ``refused`` (or failed) or ``no answer``."""
    if FleetLink.unanswered(reply):
        return "no answer"
    return "ok" if reply.ok else "refused"


def _ago(ns: int) -> str:
    seconds = max(0, ns) // 1_000_000_000
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"
