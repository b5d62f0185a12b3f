"""bot.outbox: one lane per destination, in order; a slow lane holds up only itself; stopping is bounded."""

from __future__ import annotations

import asyncio
import logging

from bot.outbox import Outbox
from tests.helpers.waiting import wait_for

log = logging.getLogger("test.outbox")


async def test_a_slow_destination_holds_up_only_itself_and_each_lane_keeps_its_order():
    outbox, sent, gate = Outbox("t", log), [], asyncio.Event()

    async def send(where: str, what: int, wait: bool = False) -> None:
        if wait:
            await gate.wait()
        sent.append((where, what))

    outbox.put("group", lambda: send("group", 1, wait=True))
    outbox.put("group", lambda: send("group", 2))
    outbox.put("admin", lambda: send("admin", 1))
    await wait_for(lambda: ("admin", 1) in sent, what="the admin's message past the stuck group")
    assert sent == [("admin", 1)] and outbox.pending() == 1
    gate.set()
    await wait_for(lambda: len(sent) == 3, what="the group's messages")
    assert sent[1:] == [("group", 1), ("group", 2)]
    assert await outbox.close(1.0) == 0


async def test_a_failed_send_is_counted_and_the_lane_goes_on():
    outbox, sent = Outbox("t", log), []

    async def fail() -> None:
        raise ConnectionError("refused")

    async def ok() -> None:
        sent.append("ok")

    outbox.put("c", fail)
    outbox.put("c", ok)
    await wait_for(lambda: sent == ["ok"], what="the send after the failed one")
    assert outbox.failed == 1


async def test_a_full_lane_drops_its_oldest_and_close_gives_up_after_its_timeout():
    outbox, never = Outbox("t", log, lane_size=3), asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    outbox.put("c", stuck)
    await asyncio.sleep(0)  # the lane takes it: being sent now
    for _ in range(4):
        outbox.put("c", stuck)
    assert outbox.dropped == 1  # the first is being sent; of the 4 queued behind it, the oldest went
    loop = asyncio.get_running_loop()
    started = loop.time()
    # the 3 queued and the one being sent, cut off: none reached its chat
    assert await outbox.close(0.2) == 4
    assert loop.time() - started < 2.0
    assert outbox.dropped == 1 + 4  # what close gave up on is lost, so counted like a full lane's drop
    outbox.put("c", stuck)  # closed: nothing new is queued
    assert outbox.pending() == 0 and outbox.dropped == 6


async def test_a_full_lane_drops_its_least_urgent_oldest_never_a_more_urgent_item():
    outbox, sent = Outbox("t", log, lane_size=3), []

    def send(label: str):
        async def run() -> None:
            sent.append(label)
        return run

    outbox.put("c", send("critical"), priority=50)
    outbox.put("c", send("info 1"), priority=20)
    outbox.put("c", send("warning"), priority=30)
    outbox.put("c", send("info 2"), priority=20)  # full: "info 1" goes, the oldest of the least urgent
    outbox.put("c", send("debug"), priority=10)  # less urgent than all queued: this one goes
    assert outbox.dropped == 2
    await wait_for(lambda: outbox.pending() == 0, what="the lane to drain")
    assert sent == ["critical", "warning", "info 2"]
