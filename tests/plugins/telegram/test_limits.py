"""plugins.telegram.limits: Telegram's limits per chat, on a hand-driven clock."""

from __future__ import annotations

import asyncio

from telegram.error import RetryAfter

from plugins.telegram.limits import ChatRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[tuple[str, float]] = []
        self.who = ""

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append((self.who, round(seconds, 3)))
        self.now += seconds


def limiter(clock: Clock, **kw) -> ChatRateLimiter:
    return ChatRateLimiter(**{"per_s": 30.0, "group_per_min": 2, "max_retries": 2, **kw}, clock=clock,
                           sleep=clock.sleep)


async def send(limits: ChatRateLimiter, clock: Clock, chat: int, result: object = "ok", fail: list | None = None):
    async def call() -> object:
        if fail:
            raise fail.pop()
        return result

    clock.who = str(chat)
    return await limits.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, None)


async def test_a_group_gets_its_per_minute_limit_over_any_sliding_minute_and_private_chats_do_not_wait():
    clock = Clock()
    limits = limiter(clock)
    await send(limits, clock, -5)
    clock.now += 10
    await send(limits, clock, -5)
    assert clock.slept == []
    await send(limits, clock, -5)  # a third within the minute: waits until the first is a minute old
    assert clock.slept == [("-5", 50.0)]
    for _ in range(5):
        await send(limits, clock, 42)
    assert clock.slept == [("-5", 50.0)]


async def test_a_429_holds_up_only_its_chat_then_retries():
    clock = Clock()
    limits = limiter(clock, group_per_min=100)
    assert await send(limits, clock, -5, fail=[RetryAfter(30)]) == "ok"
    assert clock.slept == [("-5", 30.1)]  # this chat waited out its retry_after, then went through
    clock.slept.clear()
    limits._paused_until["-5"] = clock.now + 30  # a chat still paused ...
    assert await send(limits, clock, 42) == "ok" and clock.slept == []  # ... holds up no other chat


async def test_the_overall_rate_is_kept_across_chats():
    clock = Clock()
    limits = limiter(clock, per_s=3)
    await asyncio.gather(*(send(limits, clock, chat) for chat in (1, 2, 3)))
    assert clock.slept == []
    await send(limits, clock, 4)
    assert [s for _, s in clock.slept] == [1.0]
