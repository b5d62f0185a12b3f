"""A dead-man switch whose arming fails on every other refresh is alerted once as failing, once as flapping and once
when arming holds again: not an ERROR and an "armed again" pair every second refresh (the flap rule of
:class:`bot.api.kit.Flapping`)."""

from __future__ import annotations

import asyncio

from bot.domain import AlertLevel
from bot.venue import DeadManSwitch
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


def dead_man_alerts(ctx):
    return [(level, message) for level, kind, message in ctx.alerts if kind == "dead-man"]


async def test_arming_failing_every_other_refresh_is_alerted_once_then_once_when_it_holds():
    ctx = Ctx()
    calls = []

    async def arm(timeout_s):
        calls.append(timeout_s)
        if len(calls) % 2:
            raise ConnectionError("venue timed out")

    switch = DeadManSwitch("kraken", ctx, arm, timeout_s=60, refresh_s=30.0)
    switch.flap.window_s = 0.1
    for _ in range(20):  # a refresh every 10 ms (of the fake clock): fails, succeeds, fails, ...
        await switch.arm()
        ctx.clock.now += 0.01
    alerts = dead_man_alerts(ctx)
    assert [level for level, _ in alerts] == [AlertLevel.ERROR, AlertLevel.WARNING, AlertLevel.ERROR], alerts
    assert "failed" in alerts[0][1] and "armed again" in alerts[1][1], alerts
    assert "flapping" in alerts[2][1] and "venue timed out" in alerts[2][1], alerts
    await wait_for(lambda: len(dead_man_alerts(ctx)) == 4, what="the note that arming holds again")
    held = dead_man_alerts(ctx)[3][1]
    assert "holds again" in held and "9 failures" in held, held
    assert switch.armed


async def test_a_single_failure_and_its_recovery_are_alerted_at_once():
    ctx = Ctx()
    fail = [True]

    async def arm(timeout_s):
        if fail.pop():
            raise ConnectionError("down")

    switch = DeadManSwitch("kraken", ctx, arm, timeout_s=60, refresh_s=30.0)
    fail[:] = [False, True]
    await switch.arm()
    await switch.arm()
    alerts = dead_man_alerts(ctx)
    assert len(alerts) == 2 and "failed" in alerts[0][1] and "armed again" in alerts[1][1], alerts
