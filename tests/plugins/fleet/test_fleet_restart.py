"""The fleet across a nats-server restart (same port, JetStream store kept): commands, heartbeats and the KV watch."""

from __future__ import annotations

import nats

from bot.api import Caller
from plugins.fleet import running_link
from tests.helpers.waiting import wait_for

ADMIN = Caller("telegram", "123", "admin", "555")


def names(bot) -> dict[str, bool]:
    return {m.name: m.alive for m in running_link(bot.operator).members()}


async def test_after_a_nats_restart_commands_heartbeats_and_the_bucket_watch_resume(nats_server, fleet_bot):
    roles = 'jetstream = true\nroles = { "telegram:123" = "admin" }\n'
    front = await fleet_bot("front", nats_server.url, toml="", fleet=roles)
    grid = await fleet_bot("grid-1", nats_server.url, fleet=roles)
    front_link, grid_link = running_link(front.operator), running_link(grid.operator)
    await wait_for(lambda: names(front) == {"front": True, "grid-1": True} and front_link.kv is not None,
                   timeout_s=20, what="front to see grid-1")

    nats_server.kill()
    await wait_for(lambda: not front_link.stats()["connected"] and not grid_link.stats()["connected"],
                   timeout_s=20, what="both to see NATS gone")
    nats_server.start()
    await wait_for(lambda: front_link.stats()["connected"] and grid_link.stats()["connected"], timeout_s=30,
                   what="both back on NATS")

    reply = await front.operator.fleet.call("grid-1", ADMIN, "pause", ["grid"], confirmed=False)
    assert reply.ok and "Paused: grid" in reply.title, reply  # grid-1 subscribed to its commands again
    seen = {m.name: m.seen_ns for m in front_link.members()}["grid-1"]
    await wait_for(lambda: {m.name: m.seen_ns for m in front_link.members()}["grid-1"] > seen, timeout_s=20,
                   what="a heartbeat of grid-1 after the restart")

    await grid.stop()  # taken out of the fleet for good: its key deleted; the front's watch must see it
    nc = await nats.connect(nats_server.url)
    try:
        await (await nc.jetstream().key_value("arbot_fleet")).delete("grid-1")
    finally:
        await nc.close()
    await wait_for(lambda: "grid-1" not in names(front), timeout_s=20, what="front to forget grid-1")
