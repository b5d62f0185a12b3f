"""The ``/hello`` command and the ``example-heartbeat`` job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.api import Caller, Command, Job, Reply

if TYPE_CHECKING:
    from bot.app import Bot

log = logging.getLogger("arbot.example")

HEARTBEAT_EVERY_S = 5.0


async def hello(bot: Bot, caller: Caller, args: list[str]) -> Reply:
    """Greet the caller (or the names given) and say what is running: facts, no chat formatting."""
    who = " ".join(args) or caller.user_id
    return Reply(
        "Hello",
        rows=[("mode", bot.config.mode), ("strategies", ", ".join(bot.strategies) or "none")],
        text=f"Hello, {who}! You are {caller.role} on {caller.transport}.",
    )


async def heartbeat(bot: Bot) -> None:
    """Log that the bot is alive, with two figures."""
    log.info("heartbeat: %d strategies, %d open orders", len(bot.strategies), len(bot.executor.open_orders()))


HELLO = Command("hello", hello, "viewer", "a greeting, and what is running", usage="[name]")
HEARTBEAT = Job("example-heartbeat", heartbeat, every_s=HEARTBEAT_EVERY_S)
