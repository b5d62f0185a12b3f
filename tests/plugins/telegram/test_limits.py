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


async def test_groups_quiet_for_a_minute_are_forgotten_and_a_busy_one_is_still_limited():
    """One window per group chat the bot ever wrote to (refusals to strangers in groups included) would grow
    forever: a group with nothing sent in the last minute is forgotten, which is what its window would say."""
    clock = Clock()
    limits = limiter(clock, per_s=1e9)
    for i in range(500):  # a new group every second
        clock.now += 1.0
        await send(limits, clock, -1000 - i)
    assert len(limits._groups) <= 61
    await send(limits, clock, -7)
    await send(limits, clock, -7)
    await send(limits, clock, -7)  # the third in a minute still waits
    assert clock.slept == [("-7", 60.0)]
    assert await send(limits, clock, -8, fail=[RetryAfter(30)]) == "ok"  # a 429 pause, over once waited out
    clock.now += 31
    await send(limits, clock, -9)
    assert not limits._paused_until
