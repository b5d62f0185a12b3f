"""Telegram's sending limits, kept per chat: one chat's limit or 429 never holds up another chat.

python-telegram-bot's ``AIORateLimiter`` pauses *every* request when any one gets 429 (its
``retry_after`` is treated as global), and its leaky bucket lets a group get 20 messages at once
and then one every 3 s, which Telegram's "20 messages per minute in a group" refuses. So a flood
of alerts to one group could stall an admin's private ``/kill`` for a minute. Here:

* a group (negative chat id, or ``@channel``) gets at most ``group_per_min`` messages in any
  sliding minute; a message over it waits in its chat's lane;
* all chats together get at most ``per_s`` requests in any sliding second;
* a 429 (``RetryAfter``) holds up only its chat for ``retry_after`` seconds, then the request is
  tried again (``max_retries`` times); a request without a chat (``answerCallbackQuery``) is
  retried the same way without holding anyone up;
* a server error (5xx: Telegram's front answers 502 Bad Gateway at times) or a refused connection
  is tried again after 1 s, 2 s, 4 s... (``max_retries`` times): nothing was sent, so nothing is sent
  twice. A timeout is not retried: the message may have gone out.

https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
"""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

GROUP_WINDOW_S = 60.0
OVERALL_WINDOW_S = 1.0
SERVER_ERROR_BACKOFF_S = 1.0
"""The wait before retrying a request met by a server error; doubled at each retry."""


class ChatRateLimiter(BaseRateLimiter[int]):
    """Per-chat windows and 429 pauses for PTB's ``Bot`` (``ApplicationBuilder().rate_limiter(...)``)."""

    def __init__(self, *, per_s: float, group_per_min: float, max_retries: int,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.per_s = per_s
        self.group_per_min = group_per_min
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._overall: deque[float] = deque()
        self._groups: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        chat = data.get("chat_id")
        key = None if chat is None else str(chat)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._turn(key)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                wait_s = _seconds(exc) + 0.1
                if key is not None:
                    self._paused_until[key] = self._now() + wait_s
                else:
                    await self._sleep(wait_s)
            except (BadRequest, TimedOut):  # refused for good, or maybe sent: never again
                raise
            except NetworkError:  # a 5xx or no connection: the request never reached the chat
                if attempt == retries:
                    raise
                await self._sleep(SERVER_ERROR_BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _turn(self, key: str | None) -> None:
        """Wait until this chat may send (its 429 pause, its group window) and the overall window allows."""
        while True:
            now = self._now()
            wait_s = self._paused_until.get(key, 0.0) - now if key is not None else 0.0
            if key is not None and _is_group(key):
                window = self._groups.setdefault(key, deque())
                _forget(window, now, GROUP_WINDOW_S)
                if len(window) >= self.group_per_min:
                    wait_s = max(wait_s, window[0] + GROUP_WINDOW_S - now)
            _forget(self._overall, now, OVERALL_WINDOW_S)
            if len(self._overall) >= self.per_s:
                wait_s = max(wait_s, self._overall[0] + OVERALL_WINDOW_S - now)
            if wait_s <= 0:
                break
            await self._sleep(wait_s)
        self._overall.append(now)
        if key is not None and _is_group(key):
            groups = self._groups
            # kept in the order of each group's latest send (a group forgotten meanwhile by another send starts anew)
            groups[key] = window = groups.pop(key) if key in groups else deque()
            window.append(now)
            while groups:  # groups with nothing sent in the last minute are forgotten from the front
                oldest, sent = next(iter(groups.items()))
                if sent and now - sent[-1] < GROUP_WINDOW_S:
                    break
                del groups[oldest]
        if self._paused_until:
            for chat in [c for c, until in self._paused_until.items() if until <= now]:
                del self._paused_until[chat]


def _is_group(key: str) -> bool:
    return key.startswith(("-", "@"))


def _forget(window: deque[float], now: float, span_s: float) -> None:
    while window and now - window[0] >= span_s:
        window.popleft()


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the attribute becomes a timedelta; both are handled
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
