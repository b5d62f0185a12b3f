"""Transport-independent command dispatch: roles, confirmations, rate limit, audit.

Every transport (``arbot ctl``, Telegram, Discord) turns a message into
``await table.dispatch(caller, "pause", ["btc-grid"])`` and renders the :class:`Reply`. Deny by
default: a caller without a role gets one refusal line. Every attempt, allowed or not, is audited.

Strangers cannot slow anyone down: in one chat, the first refusal of a minute is answered and
audited; the ones after it are only counted (their :attr:`Reply.silent` is set, so transports
send nothing) and audited as one row with the counts when the minute is over. Across all chats
at most ``[commands] stranger_replies_per_min`` refusals are answered.

A dangerous call (its :attr:`Command.confirm` returns a question) is not run at once: the reply
carries a one-time ``confirm_token``; the transport shows a button, and
``await table.confirm(caller, token)`` runs it, only for the same user on the same transport,
once, within ``[commands] confirm_ttl_s``.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from .api import ROLE_RANK, Caller, Command, FleetLink, Operator, Reply
from .clock import Clock
from .config import CommandSettings
from .plugins import Registered

log = logging.getLogger("arbot.commands")

RATE_WINDOW_S = 60.0


@dataclass
class _Pending:
    transport: str
    user_id: str
    name: str
    args: list[str]
    expires: float
    used: bool = False


class AuditLog(Protocol):
    def __call__(self, *, transport: str, user_id: str, command: str, args: str, outcome: str, role: str = "",
                 chat_id: str = "", ts_ns: int | None = None) -> None: ...


@dataclass
class _Refusals:
    """Strangers refused in one chat within one window: the first was answered, the rest are counted."""

    started: float
    command: str
    count: int = 0
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
        self._refusals: dict[tuple[str, str], _Refusals] = {}
        self._stranger_replies: deque[float] = deque()
        self.fleet: FleetLink | None = None
        """The fleet link a service attached (:meth:`attach_fleet`), or None when this bot is alone."""

    def attach_fleet(self, link: FleetLink) -> None:
        if self.fleet is not None and self.fleet is not link:
            raise ValueError("a fleet link is already attached: only one fleet service may run")
        self.fleet = link

    def visible_to(self, caller: Caller) -> list[Command]:
        rank = ROLE_RANK.get(caller.role or "", 0)
        return sorted((r.obj for r in self._commands.values() if ROLE_RANK[r.obj.role] <= rank),
                      key=lambda c: c.name)

    def _audit(self, caller: Caller, name: str, args: list[str], outcome: str) -> None:
        self._audit_log(
            transport=caller.transport, user_id=caller.user_id, chat_id=caller.chat_id, role=caller.role or "",
            command=name, args=" ".join(args), outcome=outcome, ts_ns=self._clock.time_ns(),
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
        now = self._clock.monotonic()
        self.flush_refusals()
        key = (caller.transport, caller.chat_id or caller.user_id)
        window = self._refusals.get(key)
        if window is None:
            self._refusals[key] = _Refusals(now, name)
            return False
        window.count += 1
        window.users.add(caller.user_id)
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

    def flush_refusals(self, force: bool = False) -> None:
        """Audit the counts of refusal windows that are over (all of them with ``force``, on stop)."""
        now = self._clock.monotonic()
        for (transport, chat_id), window in list(self._refusals.items()):
            if not force and now - window.started < RATE_WINDOW_S:
                continue
            del self._refusals[(transport, chat_id)]
            if window.count:
                users = sorted(window.users)
                shown = ",".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
                self._audit_log(transport=transport, user_id=users[0] if len(users) == 1 else "", chat_id=chat_id,
                                command=window.command, args=f"users {shown}", ts_ns=self._clock.time_ns(),
                                outcome=f"refused: no role, {window.count} more in this chat, not answered")

    def _authorize(self, caller: Caller, name: str) -> tuple[Registered | Reply, str]:
        """(the command, or the refusal to send back; the audit outcome so far)."""
        if caller.role is None:
            return Reply("Not authorized.", ok=False), "refused: no role"
        if self._rate_limited(caller):
            return Reply("Too many commands; try again in a minute.", ok=False), "refused: rate limit"
        registered = self._commands.get(name)
        if registered is None:
            return Reply(f"Unknown command /{name}. Send /help for the list.", ok=False), "unknown command"
        command: Command = registered.obj
        if ROLE_RANK[caller.role] < ROLE_RANK[command.role]:
            return Reply(f"/{name} needs the {command.role} role; you are {caller.role}.", ok=False), \
                f"refused: needs {command.role}"
        return registered, "ok"

    async def dispatch(self, caller: Caller, name: str, args: list[str], *, via: str = "",
                       confirmed: bool = False) -> Reply:
        name = name.lstrip("/").lower()
        if confirmed and not via:
            raise ValueError("confirmed=True is only for a call forwarded by another bot (via=...)")
        if via:  # audited as e.g. "telegram@front": the transport the user spoke on, at the bot that forwarded it
            caller = Caller(f"{caller.transport}@{via}", caller.user_id, caller.role, caller.chat_id)
        if caller.role is None:
            if self._folded(caller, name):
                return Reply("Not authorized.", ok=False, silent=True)
            self._audit(caller, name, args, "refused: no role")
            return Reply("Not authorized.", ok=False, silent=not self._may_answer_stranger())
        registered, outcome = self._authorize(caller, name)
        if isinstance(registered, Reply):  # refused
            self._audit(caller, name, args, outcome)
            return registered
        command: Command = registered.obj
        question = command.confirm(self._operator, args) if command.confirm and not confirmed else None
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
        """Run a command waiting for confirmation: same transport and user, once, before it expires."""
        pending = self._pending.get(token)
        name = pending.name if pending else "confirm"
        if caller.role is None and self._folded(caller, name):  # a stranger pressing again and again
            return Reply("Not authorized.", ok=False, silent=True)
        args = pending.args if pending else []
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
            pending.used = True
            registered, outcome = self._authorize(caller, name)  # the role may have changed since
            if isinstance(registered, Reply):  # refused
                self._audit(caller, name, args, outcome)
                return registered
            return await self._run(caller, registered, name, args, "confirmed: ")
        self._audit(caller, name, args, outcome)
        return reply

    async def _run(self, caller: Caller, registered: Registered, name: str, args: list[str], prefix: str) -> Reply:
        outcome = "ok"
        try:
            command: Command = registered.obj
            reply = await command.handler(self._operator, caller, args)
            if not reply.ok:
                outcome = "failed"
            return reply
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}"
            log.exception("command /%s (plugin %s) failed", name, registered.plugin)
            return Reply(f"/{name} failed: {type(exc).__name__}. The log has details.", ok=False)
        finally:
            self._audit(caller, name, args, prefix + outcome)

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for token in [t for t, p in self._pending.items() if now > p.expires + 3600]:
            del self._pending[token]
