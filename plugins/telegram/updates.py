"""Updates handled per chat: one chat's in the order they came, different chats at the same time, and a chat's
urgent commands beside its ordinary ones.

python-telegram-bot handles one update at a time by default, so a slow command anywhere (a
``/balance`` waiting on a venue) would hold up every chat, an admin's private ``/kill`` included.
Handling everything at once (``concurrent_updates(True)``) would lose the order within a chat,
where it matters (``/pause`` then ``/resume``). This processor keeps a FIFO lock per chat, and a second one per
chat for the updates ``urgent`` picks (a command the host marks :attr:`bot.api.Command.urgent`, the press of its
Confirm button): a ``/kill`` sent in the chat where a command hangs on a slow venue is answered at once, and the
urgent commands of a chat keep their order among themselves, as the ordinary ones do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Lane = tuple[int | None, bool]
"""(the chat's id, or None for an update of no chat; whether it is the chat's urgent lane)."""


class PerChatOrder(BaseUpdateProcessor):
    """``ApplicationBuilder().concurrent_updates(PerChatOrder(urgent))``: per-chat order, chats side by side, a chat's
    urgent updates (``urgent(update)`` is true) in a lane of their own."""

    def __init__(self, urgent: Callable[[Update], bool] = lambda update: False, max_concurrent_updates: int = 256):
        super().__init__(max_concurrent_updates)
        self._urgent = urgent
        self._locks: dict[Lane, asyncio.Lock] = {}
        self._queued: dict[Lane, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        key = (chat.id if chat is not None else None, isinstance(update, Update) and self._urgent(update))
        lock = self._locks.setdefault(key, asyncio.Lock())  # asyncio.Lock wakes its waiters in order
        self._queued[key] = self._queued.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[key] -= 1
            if not self._queued[key]:  # nobody else waits in this lane: forget it
                del self._queued[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""
