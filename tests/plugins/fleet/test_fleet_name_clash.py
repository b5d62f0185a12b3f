"""Two processes under one bot name on a real nats-server: the first holder keeps the name, the newcomer takes no
routed command (and says so loudly, with both processes), until the holder is gone."""

from __future__ import annotations

import asyncio

from bot.api import AlertLevel, Caller
from plugins.fleet import running_link
from tests.helpers.waiting import wait_for

ADMIN = Caller("telegram", "123", "admin", "555")
ROLES = 'roles = { "telegram:123" = "admin" }\n'


def paused(bot) -> bool:
    return bot.operator.strategy_state("grid").startswith("paused")


async def test_the_first_holder_keeps_the_name_and_the_newcomer_takes_no_routed_command(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="", fleet=ROLES)
    first = await fleet_bot("twin", nats_server.url, fleet=ROLES)  # each bot its own store: "twin.1", "twin.2"
    first_link = running_link(first.operator)
    await wait_for(lambda: first_link.ready, timeout_s=20, what="the first twin on NATS")
    second = await fleet_bot("twin", nats_server.url, fleet=ROLES, start=False)
    second.resolve_secrets()
    await second.start()
    try:
        second_link = running_link(second.operator)
        heard = []
        second_link.ctx.subscribe_alerts(heard.append)  # before it is on NATS: its probe needs a round trip
        await wait_for(lambda: second_link.ready, timeout_s=20, what="the second twin on NATS")
        assert first_link.holds_name and not second_link.holds_name

        # a routed command reaches the holder only, whatever the fleet's members table says of the name
        await wait_for(lambda: {m.name for m in running_link(front.operator).members()} >= {"twin"}, timeout_s=20,
                       what="twin heard by the front")
        for _ in range(3):
            reply = await front.commands.dispatch(ADMIN, "pause", ["twin:grid"])
            assert reply.ok, reply.render_text()
        assert paused(first) and not paused(second)
        assert [e for e in second.operator.audit_log() if e.command == "pause"] == []  # it never saw them
        assert len([e for e in first.operator.audit_log() if e.command == "pause"]) == 3

        # the newcomer says so loudly, naming both processes, once
        await wait_for(lambda: any(a.level >= AlertLevel.CRITICAL for a in heard), timeout_s=20,
                       what="the newcomer's alert")
        loud = [a for a in heard if "another bot named twin" in a.message]
        assert len(loud) == 1 and loud[0].level == AlertLevel.CRITICAL
        assert loud[0].fields["other_instance"] == first_link.instance
        assert loud[0].fields["this_instance"] == second_link.instance
        assert "takes no fleet commands" in loud[0].message

        # the clash is in both statuses (heartbeats, the console's fleet page) and in /status all
        await wait_for(lambda: [c["instance"] for c in first_link.status()["name_clash"]] == [second_link.instance],
                       timeout_s=20, what="the holder seeing the newcomer")
        clash = second_link.status()["name_clash"]
        assert [(c["instance"], c["holds_name"]) for c in clash] == [(first_link.instance, True)]
        assert second_link.status()["holds_name"] is False and first_link.status()["holds_name"] is True
        merged = await front.commands.dispatch(ADMIN, "status", ["all"])
        assert "name clash" in merged.rows[0]
        assert "name clash" in merged.render_text() and second_link.instance in merged.render_text()

        # the holder gone (its heartbeats stopped for alive_after_s): the newcomer takes the name
        await first.stop()
        await wait_for(lambda: second_link.holds_name, timeout_s=20, what="the newcomer taking the name")
        assert second_link.status()["name_clash"] == []
        reply = await front.commands.dispatch(ADMIN, "pause", ["twin:grid"])
        assert reply.ok, reply.render_text()
        assert paused(second)
        assert any("answers the fleet's commands for twin now" in a.message for a in heard)
    finally:
        await second.stop()


async def test_two_processes_claiming_the_name_at_once_end_with_one_holder(nats_server, fleet_bot):
    one, two = await asyncio.gather(fleet_bot("pair", nats_server.url, toml=""),
                                    fleet_bot("pair", nats_server.url, toml=""))
    links = [running_link(one.operator), running_link(two.operator)]
    await wait_for(lambda: all(link.ready for link in links) and all(link.status()["name_clash"] for link in links)
                   and sum(link.holds_name for link in links) == 1, timeout_s=20, what="one holder")
    holder = next(link for link in links if link.holds_name)
    assert holder.claim == min(link.claim for link in links)  # the earliest claim keeps it, as both agree
