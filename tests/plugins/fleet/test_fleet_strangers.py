"""A stranger on the fleet's bus (real nats-server): unreadable or forged heartbeats and alerts are refused, counted."""

from __future__ import annotations

import json

import nats

from bot.api import FLEET_ORIGIN, AlertLevel
from plugins.fleet import running_link
from plugins.fleet.link import flush_written
from plugins.fleet.wire import event
from tests.helpers.waiting import wait_for


async def test_unreadable_and_forged_heartbeats_and_alerts_are_refused_and_counted(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="", fleet="relay_alerts = true\n")
    grid = await fleet_bot("grid-1", nats_server.url)
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"] and running_link(grid.operator).stats()["connected"]
                   and "grid-1" in {m.name for m in link.members()}, timeout_s=20, what="both on NATS")
    heard: list = []
    link.ctx.subscribe_alerts(heard.append)
    before = link.counters["refused"]
    alert = {"level": "critical", "kind": "risk", "source": "limits", "message": "kill switch engaged", "fields": {}}
    stranger = await nats.connect(nats_server.url)
    try:
        await stranger.publish("arbot.ghost.evt.status", b"not json")
        # a heartbeat claiming another bot's name on its own subject: whose status is it?
        await stranger.publish("arbot.ghost.evt.status", event("grid-1", "status", 1, 1, {"mode": "live"}))
        await stranger.publish("arbot.ghost.evt.alert", b"{")
        # an alert claiming to come from grid-1, on the subject of ghost
        await stranger.publish("arbot.ghost.evt.alert", event("grid-1", "alert", 1, 1, alert))
        await flush_written(stranger)
    finally:
        await stranger.close()
    grid.operator.alert(AlertLevel.INFO, "test", "marker", source="test")  # after the stranger's, on the server
    await wait_for(lambda: any(a.message == "[grid-1] marker" for a in heard), timeout_s=20, what="the marker")
    assert not any("kill switch" in a.message for a in heard)  # the forged alert never reached the front's chat
    assert {a.fields[FLEET_ORIGIN] for a in heard if FLEET_ORIGIN in a.fields} == {"grid-1"}
    assert "ghost" not in {m.name for m in link.members()}
    assert link.counters["refused"] - before == 4
    assert link.stats()["refused"] == link.counters["refused"]


async def test_an_alert_sent_again_after_a_reconnection_is_relayed_once(nats_server, fleet_bot):
    # a bot sends an unconfirmed batch again once reconnected, each event with the same Nats-Msg-Id: JetStream
    # drops the copy, but the front's live subscription sees both; its chat must get the alert once
    front = await fleet_bot("front", nats_server.url, toml="", fleet="relay_alerts = true\n")
    grid = await fleet_bot("grid-1", nats_server.url, toml="")  # no strategy: no fill alerts to coalesce
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"] and running_link(grid.operator).stats()["connected"],
                   timeout_s=20, what="both on NATS")
    heard: list = []
    link.ctx.subscribe_alerts(heard.append)
    relayed_before = link.counters["relayed"]
    alert = {"level": "critical", "kind": "risk", "source": "limits", "message": "kill switch engaged", "fields": {}}
    payload = event("grid-1", "alert", 7, 1, alert)
    sender = await nats.connect(nats_server.url)  # as grid-1's link sends it: the same bytes, the same id
    try:
        for _ in range(2):
            await sender.publish("arbot.grid-1.evt.alert", payload, headers={"Nats-Msg-Id": "grid-1.1000.7"})
        await flush_written(sender)
    finally:
        await sender.close()
    grid.operator.alert(AlertLevel.INFO, "test", "marker", source="test")
    await wait_for(lambda: any(a.message == "[grid-1] marker" for a in heard), timeout_s=20, what="the marker")
    assert sum("kill switch engaged" in a.message for a in heard) == 1
    # relayed once: the copy is not counted as a second kill switch (nor summarised as a repeat by coalescing)
    relayed_here = [a for a in heard if FLEET_ORIGIN in a.fields]  # grid-1's start-up alert too, if late
    assert link.counters["relayed"] - relayed_before == len(relayed_here)
    assert link.counters["repeated"] == 1


async def test_an_oversized_heartbeat_or_alert_is_refused_unread_and_counted(nats_server, fleet_bot):
    # parsing a status of most of NATS's 1 MiB payload takes tens of ms of the bot's loop (its trading loop):
    # a stranger sending them would slow every bot of the fleet, each of which reads every heartbeat
    front = await fleet_bot("front", nats_server.url, toml="", fleet="relay_alerts = true\n")
    grid = await fleet_bot("grid-1", nats_server.url, toml="")
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"] and running_link(grid.operator).stats()["connected"]
                   and "grid-1" in {m.name for m in link.members()}, timeout_s=20, what="both on NATS")
    heard: list = []
    link.ctx.subscribe_alerts(heard.append)
    before = link.counters["refused"]
    padding = "x" * 200_000  # more than max_event_bytes (128 KiB by default), far less than NATS's 1 MiB
    status = event("ghost", "status", 1, 1, {"mode": "live", "padding": padding})
    alert = {"level": "critical", "kind": "risk", "source": "s", "message": "huge", "fields": {"padding": padding}}
    stranger = await nats.connect(nats_server.url)
    try:
        await stranger.publish("arbot.ghost.evt.status", status)
        await stranger.publish("arbot.ghost.evt.alert", event("ghost", "alert", 1, 1, alert))
        await flush_written(stranger)
    finally:
        await stranger.close()
    grid.operator.alert(AlertLevel.INFO, "test", "marker", source="test")
    await wait_for(lambda: any(a.message == "[grid-1] marker" for a in heard), timeout_s=20, what="the marker")
    assert "ghost" not in {m.name for m in link.members()}
    assert not any("huge" in a.message for a in heard)
    assert link.counters["refused"] - before == 2
    # a bot's own heartbeat is far below the limit: the other bots take it
    assert len(json.dumps(link.status())) < link.settings.max_event_bytes // 10 < 200_000 // 10


async def test_heartbeats_under_many_names_do_not_grow_the_member_table_without_bound(nats_server, fleet_bot):
    """A stranger sending heartbeats under hundreds of names: the table keeps at most MAX_PEERS other bots, the
    oldest heard forgotten first (counted), so ``/status all`` never sends to every forged name; a real bot that
    was pushed out is back with its next heartbeat."""
    from plugins.fleet.link import MAX_PEERS

    front = await fleet_bot("front", nats_server.url, toml="")
    grid = await fleet_bot("grid-1", nats_server.url, toml="")
    link = running_link(front.operator)
    await wait_for(lambda: "grid-1" in {m.name for m in link.members()}, timeout_s=20, what="front to see grid-1")
    forged = MAX_PEERS + 100
    stranger = await nats.connect(nats_server.url)
    try:
        for n in range(forged):
            await stranger.publish(f"arbot.ghost-{n}.evt.status", event(f"ghost-{n}", "status", 1, 1, {}))
        await flush_written(stranger)
    finally:
        await stranger.close()
    await wait_for(lambda: f"ghost-{forged - 1}" in link.peers, timeout_s=20, what="the last forged heartbeat")
    assert len(link.peers) == MAX_PEERS and len(link.members()) == MAX_PEERS + 1
    assert "ghost-0" not in link.peers  # heard first, forgotten first
    assert link.stats()["forgotten"] >= forged - MAX_PEERS
    await wait_for(lambda: "grid-1" in link.peers, timeout_s=20, what="grid-1 back with its next heartbeat")
    assert len(link.peers) == MAX_PEERS
    assert running_link(grid.operator).stats()["connected"]
