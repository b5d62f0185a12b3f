"""Transport-independent command dispatch: roles, refusal, audit.

Every transport (``arbot ctl``, Telegram, Discord) turns a message into
``await table.dispatch(caller, "pause", ["btc-grid"])`` and renders the :class:`Reply`. Deny by
default: a caller without a role gets one refusal line. Every attempt, allowed or not, is audited.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .api import ROLE_RANK, Caller, Command, Reply
from .plugins import Registered

if TYPE_CHECKING:
    from .app import Bot

log = logging.getLogger("arbot.commands")


class CommandTable:
    def __init__(self, commands: dict[str, Registered], bot: Bot):
        self._commands = commands
        self._bot = bot

    def visible_to(self, caller: Caller) -> list[Command]:
        rank = ROLE_RANK.get(caller.role or "", 0)
        return sorted((r.obj for r in self._commands.values() if ROLE_RANK[r.obj.role] <= rank),
                      key=lambda c: c.name)

    async def dispatch(self, caller: Caller, name: str, args: list[str]) -> Reply:
        name = name.lstrip("/").lower()
        registered = self._commands.get(name)
        outcome = "ok"
        try:
            if caller.role is None:
                outcome = "refused: no role"
                return Reply("Not authorized.", ok=False)
            if registered is None:
                outcome = "unknown command"
                return Reply(f"Unknown command /{name}. Send /help for the list.", ok=False)
            command: Command = registered.obj
            if ROLE_RANK[caller.role] < ROLE_RANK[command.role]:
                outcome = f"refused: needs {command.role}"
                return Reply(f"/{name} needs the {command.role} role; you are {caller.role}.", ok=False)
            try:
                reply = await command.handler(self._bot, caller, args)
            except Exception as exc:
                outcome = f"error: {type(exc).__name__}"
                log.exception("command /%s (plugin %s) failed", name, registered.plugin)
                return Reply(f"/{name} failed: {type(exc).__name__}. The log has details.", ok=False)
            if not reply.ok:
                outcome = "failed"
            return reply
        finally:
            self._bot.store.audit(
                transport=caller.transport, user_id=caller.user_id, chat_id=caller.chat_id, role=caller.role or "",
                command=name, args=" ".join(args), outcome=outcome, ts_ns=self._bot.clock.time_ns(),
            )
