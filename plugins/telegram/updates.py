"""Updates handled per chat: one chat's in the order they came, different chats at the same time.

python-telegram-bot handles one update at a time by default, so a slow command anywhere (a
``/balance`` waiting on a venue) would hold up every chat, an admin's private ``/kill`` included.
Handling everything at once (``concurrent_updates(True)``) would lose the order within a chat,
where it matters (``/pause`` then ``/resume``). This processor keeps a FIFO lock per chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatOrder(BaseUpdateProcessor):
    """``ApplicationBuilder().concurrent_updates(PerChatOrder())``: per-chat order, chats side by side."""

    def __init__(self, max_concurrent_updates: int = 256):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._queued: dict[int | None, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat is not None else None
        lock = self._locks.setdefault(key, asyncio.Lock())  # asyncio.Lock wakes its waiters in order
        self._queued[key] = self._queued.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[key] -= 1
            if not self._queued[key]:  # nobody else waits on this chat: forget it
                del self._queued[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""
