"""Two processes under one bot name on a real nats-server: the first holder keeps the name, the newcomer takes no
routed command (and says so loudly, with both processes), until the holder is gone."""

from __future__ import annotations

from bot.api import AlertLevel, Caller
from plugins.fleet import running_link, wire
from plugins.fleet.link import NatsFleet
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


async def test_two_processes_that_both_took_the_name_end_with_the_earlier_claim_holding_it(nats_server, fleet_bot,
                                                                                          monkeypatch):
    """Both asked before either held the name (started at the same instant): both took it; their heartbeats tell
    them apart, the earlier claim keeps it, and from then on a routed command runs once."""
    async def nobody_holds_it(self, nc):
        return None

    monkeypatch.setattr(NatsFleet, "_probe", nobody_holds_it)
    front = await fleet_bot("front", nats_server.url, toml="", fleet=ROLES)
    one = await fleet_bot("pair", nats_server.url, fleet=ROLES)
    two = await fleet_bot("pair", nats_server.url, fleet=ROLES)
    links = [running_link(one.operator), running_link(two.operator)]
    await wait_for(lambda: all(link.ready and link.holds_name for link in links) or any(link.rivals for link in links),
                   timeout_s=20, what="both on NATS")
    await wait_for(lambda: all(link.rivals for link in links) and sum(link.holds_name for link in links) == 1,
                   timeout_s=20, what="one holder")
    holder = next(link for link in links if link.holds_name)
    assert holder.claim == min(link.claim for link in links)  # the earliest claim keeps it, as both agree
    await wait_for(lambda: "pair" in {m.name for m in running_link(front.operator).members()}, timeout_s=20,
                   what="pair heard by the front")
    reply = await front.commands.dispatch(ADMIN, "pause", ["pair:grid"])
    assert reply.ok, reply.render_text()
    assert [paused(bot) for bot in (one, two)] == [link.holds_name for link in links]


def test_a_holder_of_an_older_version_answering_the_claim_as_a_malformed_command_holds_the_name():
    assert wire.parse_holder(wire.error("malformed request: ...")) == wire.UNKNOWN_HOLDER
    me = {"instance": "a1", "host": "h", "pid": 7, "claimed_ns": 5}
    assert wire.parse_claim(wire.claim(me)) == me
    assert wire.parse_holder(wire.holder(me)) == me
    assert wire.parse_claim(b'{"caller": {}}') is None  # a command is not a claim
    assert wire.claim_order(wire.UNKNOWN_HOLDER) < wire.claim_order(me)
