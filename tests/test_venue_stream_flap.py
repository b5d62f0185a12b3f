"""A private order stream that flaps (lost, back, lost again every few seconds) is alerted once as lost, once as
flapping, and once when it holds again: not a lost/back pair per flap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bot.domain import AlertLevel
from bot.venue import PollingVenue
from tests.helpers.waiting import wait_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class Ctx:
    def __init__(self):
        self.clock = Clock()
        self.alerts: list[tuple[AlertLevel, str, str]] = []
        self.tasks: list[asyncio.Task] = []

    def alert(self, level, kind, message, **fields):
        self.alerts.append((level, kind, message))

    def create_task(self, coro, what):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.append(task)
        return task


class Venue(PollingVenue):
    async def poll_once(self):
        pass


Venue.__abstractmethods__ = frozenset()  # the order calls are not what this test is about


def venue(window_s=0.05):
    ctx = Ctx()
    v = Venue("kraken", SimpleNamespace(fill_poll_s=2.0, stream_poll_s=30.0), ctx)
    v.stream_flap_window_s = window_s
    v.stream_up()
    return v, ctx


def stream_alerts(ctx):
    return [message for _, kind, message in ctx.alerts if kind == "private-stream"]


async def test_a_single_loss_is_alerted_and_its_return_at_once():
    v, ctx = venue()
    v.stream_down("connection reset")
    v.stream_up()
    messages = stream_alerts(ctx)
    assert len(messages) == 2 and "lost" in messages[0] and "back" in messages[1], messages


async def test_a_flapping_stream_is_alerted_once_then_once_when_it_holds():
    v, ctx = venue(window_s=0.1)
    for _ in range(20):  # a flap every 30 ms (the window is 100 ms here, 5 min by default)
        v.stream_down("connection reset")
        ctx.clock.now += 0.01
        v.stream_up()
        ctx.clock.now += 0.02
    messages = stream_alerts(ctx)
    assert len(messages) == 3, messages  # lost, back, then lost again soon after: flapping
    assert "flapping" in messages[2] and "connection reset" in messages[2]
    await wait_for(lambda: len(stream_alerts(ctx)) == 4, what="the note that it holds again")
    held = stream_alerts(ctx)[3]
    assert "holds again" in held and "19 losses" in held, held
    ctx.clock.now += 1
    v.stream_down("timeout")  # a loss long after: a new problem, heard at once
    assert "lost" in stream_alerts(ctx)[4]


async def test_a_flapping_stream_that_stays_down_is_not_reported_as_holding():
    v, ctx = venue(window_s=0.05)
    v.stream_down("a")
    v.stream_up()
    v.stream_down("b")  # flapping
    v.stream_up()
    v.stream_down("c")  # and down it stays
    await asyncio.sleep(0)
    await asyncio.gather(*ctx.tasks, return_exceptions=True)
    assert not any("holds again" in m for m in stream_alerts(ctx)), stream_alerts(ctx)
