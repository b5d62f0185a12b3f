"""The fleet service against a real nats-server: members, commands with the receiver's roles, events, outages."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import nats

from bot.api import (
    FLEET_ORIGIN,
    AlertLevel,
    Caller,
    ExecutionResult,
    Fill,
    FillApplied,
    FleetLink,
    Liquidity,
    Opportunity,
    OrderStatus,
    OrderUpdate,
    Side,
)
from plugins.fleet import running_link
from plugins.fleet.link import flush_written
from plugins.fleet.wire import command_subject, request
from tests.helpers.waiting import wait_for

ADMIN = Caller("telegram", "123", "admin", "555")


def names(bot) -> dict[str, bool]:
    return {m.name: m.alive for m in running_link(bot.operator).members()}


async def test_two_bots_see_each_other_and_a_command_runs_on_the_receiver_with_its_roles(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="")
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n')
    await wait_for(lambda: names(front) == {"front": True, "grid-1": True}, timeout_s=20, what="front to see grid-1")
    await wait_for(lambda: names(grid) == {"front": True, "grid-1": True}, timeout_s=20, what="grid-1 to see front")
    member = {m.name: m for m in front.operator.fleet.members()}["grid-1"]
    assert member.status["strategies"]["grid"]["state"] == "running" and member.status["mode"] == "paper"

    # the front forwards /pause grid for telegram user 123; grid-1 looks the user up in ITS roles
    reply = await front.operator.fleet.call("grid-1", ADMIN, "pause", ["grid"], confirmed=False)
    assert reply.ok, reply
    assert "Paused: grid" in reply.title
    assert grid.operator.strategy_state("grid").startswith("paused")
    await wait_for(lambda: any(e.command == "pause" for e in grid.operator.audit_log()), what="the audit row")
    entry = next(e for e in grid.operator.audit_log() if e.command == "pause")
    assert (entry.transport, entry.user_id, entry.role, entry.outcome) == ("telegram@front", "123", "admin", "ok")
    assert not any(e.command == "pause" for e in front.operator.audit_log())  # audited where it ran


async def test_a_stranger_is_refused_and_audited_by_the_receiving_bot(nats_server, fleet_bot):
    # the front trusts user 999 as admin; grid-1 does not know it: the role on the front never travels
    front = await fleet_bot("front", nats_server.url, toml="", fleet='roles = { "telegram:999" = "admin" }\n')
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n')
    await wait_for(lambda: "grid-1" in names(front), timeout_s=20, what="front to see grid-1")
    stranger = Caller("telegram", "999", "admin", "777")
    reply = await front.operator.fleet.call("grid-1", stranger, "kill", ["now"], confirmed=True)
    assert not reply.ok
    assert grid.operator.strategy_state("grid") == "running"
    await wait_for(lambda: any(e.command == "kill" for e in grid.operator.audit_log()), what="the refusal's audit")
    entry = next(e for e in grid.operator.audit_log() if e.command == "kill")
    assert entry.transport == "telegram@front" and entry.user_id == "999" and "refused" in entry.outcome
    # a viewer may read but not act
    grid_viewer = await fleet_bot("grid-2", nats_server.url, fleet='roles = { "telegram:999" = "viewer" }\n')
    await wait_for(lambda: "grid-2" in names(front), timeout_s=20, what="front to see grid-2")
    assert (await front.operator.fleet.call("grid-2", stranger, "status", [], confirmed=False)).ok
    refused = await front.operator.fleet.call("grid-2", stranger, "pause", [], confirmed=False)
    assert not refused.ok and grid_viewer.operator.strategy_state("grid") == "running"


async def test_calls_to_a_bot_that_is_not_there_answer_not_ok_without_raising(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="", fleet="call_timeout_s = 0.5\n")
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the front on NATS")
    gone = await link.call("nobody", ADMIN, "status", [], confirmed=False)
    assert not gone.ok and "nobody" in gone.title and FleetLink.unanswered(gone)  # "no answer", not "refused"
    assert link.timeout_s == 0.5
    bad = await link.call("no such.bot", ADMIN, "status", [], confirmed=False)
    assert not bad.ok and "not a bot name" in bad.title
    # this bot itself: run here
    me = await link.call("front", ADMIN, "strategies", [], confirmed=False)
    assert me.ok and me.title == "Strategies"


async def test_events_of_each_kind_arrive_on_their_subjects(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url, toml="")
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    nc = await nats.connect(nats_server.url)
    got: dict[str, list[dict]] = {}

    async def on_event(msg):
        got.setdefault(msg.subject, []).append(json.loads(msg.data))

    await nc.subscribe("arbot.grid-1.evt.>", cb=on_event)
    # not nc.flush(): its PING overtakes the SUB waiting in nats-py's buffer, so it returned before the server
    # knew the subscription, and under load the events below could pass it (only heartbeats arrived then)
    await flush_written(nc)
    fill = Fill(exchange="paper", symbol="BTC/USD", client_order_id="g-1", trade_id="t1", side=Side.SELL,
                price=Decimal("30001.50"), qty=Decimal("0.02"), fee=Decimal("0.1"), fee_asset="USD",
                liquidity=Liquidity.TAKER, ts_ns=1)
    bot.bus.publish(OrderUpdate("paper", "BTC/USD", "g-1", "grid", OrderStatus.FILLED, Decimal("0.02"),
                                Decimal("30001.50"), 1))
    bot.bus.publish(FillApplied("grid", fill))
    bot.bus.publish(Opportunity("arb", "SOL/USDC", "cex", "dex", Decimal("150.01"), Decimal("150.50"),
                                Decimal("1.5"), Decimal("12.3"), 2, costs=(("fees", Decimal("0.05")),)))
    bot.bus.publish(ExecutionResult("arb", Decimal("0.61"), Decimal("0.58"), "USDC", 3, "op-1"))
    bot.operator.alert(AlertLevel.WARNING, "risk", "limits: daily loss limit exceeded; action: pause", source="limits")
    kinds = ("order", "fill", "opportunity", "execution", "alert", "risk", "status")
    try:
        await wait_for(lambda: all(f"arbot.grid-1.evt.{k}" in got for k in kinds), timeout_s=20,
                       what=f"every kind (so far {sorted(got)}; link {link.stats()})")
    finally:
        await nc.close()
    fill_event = got["arbot.grid-1.evt.fill"][0]
    assert fill_event["bot"] == "grid-1" and fill_event["kind"] == "fill"
    assert fill_event["data"]["price"] == "30001.50" and fill_event["data"]["strategy"] == "grid"  # exact, a string
    assert got["arbot.grid-1.evt.opportunity"][0]["data"]["costs"] == [["fees", "0.05"]]
    assert got["arbot.grid-1.evt.execution"][0]["data"]["realized_pnl"] == "0.58"
    assert got["arbot.grid-1.evt.risk"][0]["data"]["level"] == "warning"
    status = got["arbot.grid-1.evt.status"][-1]["data"]
    assert status["bot"] == "grid-1" and "pnl_today" in status and status["link"]["connected"] is True
    seqs = [e["seq"] for k in kinds[:-1] for e in got[f"arbot.grid-1.evt.{k}"]]
    assert len(set(seqs)) == len(seqs)


def record_writes(nc) -> list[bytes]:
    """What the client writes to its socket, in order (nats-py's transport, observed, not changed)."""
    written: list[bytes] = []
    transport = nc._transport
    write, writelines = transport.write, transport.writelines

    def on_write(data):
        written.append(bytes(data))
        return write(data)

    def on_writelines(lines):
        lines = [bytes(line) for line in lines]
        written.extend(lines)
        return writelines(lines)

    transport.write, transport.writelines = on_write, on_writelines
    return written


async def test_a_batch_counts_as_published_only_once_the_server_has_read_it(nats_server, fleet_bot):
    # the send loop's confirmation must be a PING the server answers after the batch, not before it
    bot = await fleet_bot("grid-1", nats_server.url, toml="", fleet="heartbeat_s = 30\nalive_after_s = 60\n")
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"] and not link.outbox, timeout_s=20, what="the bot on NATS")
    nc = link.nc
    written = record_writes(nc)
    await nc.publish("arbot.grid-1.evt.order", b'{"n": 1}')  # a batch handed to the client, as the send loop does
    assert await link._confirmed(nc, [("order", 1, 0, {"n": 1}, None)])
    pub = max(i for i, data in enumerate(written) if b"arbot.grid-1.evt.order" in data)
    assert b"PING\r\n" in written[pub + 1:], written  # the PONG that confirmed it answers a PING sent after it


async def test_flush_written_returns_with_the_subscription_known_to_the_server(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        written = record_writes(nc)

        async def nothing(msg):
            pass

        await nc.subscribe("arbot.x.evt.>", cb=nothing)
        await flush_written(nc)
        sub = next(i for i, data in enumerate(written) if data.startswith(b"SUB arbot.x.evt.>"))
        assert b"PING\r\n" in written[sub + 1:], written
    finally:
        await nc.close()


async def test_a_malformed_request_is_answered_counted_and_harmless(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url,
                          fleet='roles = { "cli:alice" = "admin" }\nmax_request_bytes = 1024\n')
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    nc = await nats.connect(nats_server.url)
    try:
        for raw in (b"not json", b"[1, 2]", b'{"caller": "me"}', b"[" * 10_000,
                    json.dumps({"caller": {"transport": "cli", "user_id": "alice"}, "via": "cli", "name": "status",
                                "args": "x"}).encode(),
                    b'{"pad": "' + b"x" * 2000 + b'"}'):
            answer = json.loads((await nc.request(command_subject("grid-1"), raw, timeout=10)).data)
            assert answer["error"].startswith("malformed request"), answer
        assert link.counters["malformed"] == 6
        good = await nc.request(command_subject("grid-1"),
                                request(Caller("cli", "alice", None), "cli", "status", [], False), timeout=10)
        assert json.loads(good.data)["ok"] is True  # the service still answers
    finally:
        await nc.close()


async def test_nats_down_the_bot_trades_buffers_and_catches_up_in_order(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url, fleet="buffer_max = 1000\njetstream = true\n")
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    nats_server.kill()
    await wait_for(lambda: not link.stats()["connected"], timeout_s=20, what="the bot to see NATS gone")
    fills_before = len(bot.operator.fill_history(limit=1000))
    for n in range(50):
        bot.operator.alert(AlertLevel.INFO, "test", f"during the outage {n}", source="test")
    await wait_for(lambda: link.stats()["buffered"] >= 50, what="the outbox to hold the events")
    # trading goes on: the grid's orders keep filling on the paper venue, and their events wait in the outbox
    await wait_for(lambda: len(bot.operator.fill_history(limit=1000)) > fills_before, timeout_s=60,
                   what="a fill during the outage")
    await wait_for(lambda: any(kind == "fill" for kind, *_ in link.outbox), what="its event buffered")
    assert bot.operator.strategy_state("grid") == "running"
    nats_server.start()
    nc = await nats.connect(nats_server.url)
    got: list[str] = []

    async def on_alert(msg):
        got.append(json.loads(msg.data)["data"]["message"])

    # the stream kept them: read it from the start (the bot may have caught up before we subscribed)
    js = nc.jetstream()
    try:
        await wait_for(lambda: link.stats()["connected"] and link.stats()["buffered"] == 0, timeout_s=30,
                       what="the bot to reconnect and flush")
        sub = await js.subscribe("arbot.grid-1.evt.alert", cb=on_alert, deliver_policy="all", ordered_consumer=True)
        await wait_for(lambda: sum(m.startswith("during the outage") for m in got) == 50, timeout_s=20,
                       what="the 50 buffered alerts")
        await sub.unsubscribe()
    finally:
        await nc.close()
    outage = [m for m in got if m.startswith("during the outage")]
    assert outage == [f"during the outage {n}" for n in range(50)]  # in order, none twice
    assert link.counters["dropped"] == 0


async def test_a_full_outbox_drops_the_oldest_and_counts_them_exactly(nats_server, fleet_bot, caplog):
    bot = await fleet_bot("grid-1", nats_server.url, toml="", fleet="buffer_max = 10\njetstream = true\n")
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    nats_server.kill()
    await wait_for(lambda: not link.stats()["connected"], timeout_s=20, what="the bot to see NATS gone")
    seq, dropped, waiting = link.seq, link.counters["dropped"], len(link.outbox)
    with caplog.at_level(logging.WARNING, logger="arbot.fleet"):
        for n in range(25):
            link.publish("order", {"n": n})
        entered = link.seq - seq  # the orders, and the "outbox full" alert the first drop raised
    assert len(link.outbox) == 10
    assert link.counters["dropped"] - dropped == waiting + entered - 10  # what went in = what is left + dropped
    assert [event["n"] for _, _, _, event, _ in link.outbox] == list(range(15, 25))  # the newest kept
    assert sum("outbox full" in r.getMessage() for r in caplog.records) == 1  # warned once
    assert link.status()["link"]["dropped"] == link.counters["dropped"]
    assert bot.operator.fleet.members()[0].status["link"]["dropped"] == link.counters["dropped"]

    nats_server.start()  # the 10 kept are delivered, in order; the stream holds exactly them
    await wait_for(lambda: link.stats()["connected"] and not link.outbox, timeout_s=30, what="the flush")
    nc = await nats.connect(nats_server.url)
    got: list[int] = []

    async def on_order(msg):
        got.append(json.loads(msg.data)["data"]["n"])

    try:
        sub = await nc.jetstream().subscribe("arbot.grid-1.evt.order", cb=on_order, deliver_policy="all",
                                             ordered_consumer=True)
        await wait_for(lambda: len(got) >= 10, timeout_s=20, what="the kept orders")
        await sub.unsubscribe()
    finally:
        await nc.close()
    assert got == list(range(15, 25))


async def test_start_does_not_wait_for_an_unreachable_nats_and_joins_when_it_appears(nats_server, fleet_bot, caplog):
    nats_server.stop()
    with caplog.at_level(logging.WARNING, logger="arbot.fleet"):
        bot = await asyncio.wait_for(fleet_bot("grid-1", nats_server.url), timeout=30)  # start returns at once
        link = running_link(bot.operator)
        assert link is not None and not link.stats()["connected"]
        await wait_for(lambda: any("unreachable" in r.getMessage() for r in caplog.records), timeout_s=20,
                       what="the outage warning")
        assert bot.operator.strategy_state("grid") == "running"
        nats_server.start()
        await wait_for(lambda: link.stats()["connected"], timeout_s=30, what="the bot to join NATS")
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1  # one warning, not one per attempt


async def test_the_front_relays_other_bots_alerts_once_without_loops(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="", fleet="relay_alerts = true\n")
    grid = await fleet_bot("grid-1", nats_server.url, fleet="relay_alerts = true\n")  # two relays: no ping-pong
    await wait_for(lambda: running_link(front.operator).stats()["connected"]
                   and running_link(grid.operator).stats()["connected"], timeout_s=20, what="both on NATS")
    heard: dict[str, list] = {"front": [], "grid-1": []}
    for name, bot in (("front", front), ("grid-1", grid)):
        running_link(bot.operator).ctx.subscribe_alerts(heard[name].append)
    relayed_before = running_link(front.operator).counters["relayed"]  # grid-1's start-up alerts, if any
    grid.operator.alert(AlertLevel.ERROR, "feed", "paper BTC/USD stale for 30 s", source="paper", age="30")
    await wait_for(lambda: any("stale" in a.message for a in heard["front"]), timeout_s=20, what="the relay")
    relayed = next(a for a in heard["front"] if "stale" in a.message)
    assert relayed.message == "[grid-1] paper BTC/USD stale for 30 s" and relayed.level == AlertLevel.ERROR
    assert relayed.source == "grid-1/paper" and relayed.fields[FLEET_ORIGIN] == "grid-1"
    assert relayed.fields["age"] == "30"
    # a marker round trip: once the front's own next alert has reached grid-1, nothing else can still be coming
    front.operator.alert(AlertLevel.INFO, "test", "marker", source="test")
    await wait_for(lambda: any(a.message == "[front] marker" for a in heard["grid-1"]), timeout_s=20, what="marker")
    assert sum("stale" in a.message for a in heard["front"]) == 1
    assert sum("stale" in a.message for a in heard["grid-1"]) == 1  # its own, never relayed back
    relayed_here = [a for a in heard["front"] if FLEET_ORIGIN in a.fields]
    assert running_link(front.operator).counters["relayed"] - relayed_before == len(relayed_here)
    assert {a.fields[FLEET_ORIGIN] for a in relayed_here} == {"grid-1"}


async def test_the_fronts_alert_count_is_its_own_and_relayed_alerts_have_their_own_metric(nats_server, fleet_bot):
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from plugins.metrics import running_exporter

    front = await fleet_bot("front", nats_server.url, toml="[plugins.metrics]\nenabled = true\nport = 0\n",
                            fleet="relay_alerts = true\n")
    grid = await fleet_bot("grid-1", nats_server.url)
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"] and running_link(grid.operator).stats()["connected"],
                   timeout_s=20, what="both on NATS")
    grid.operator.alert(AlertLevel.ERROR, "feed", "paper BTC/USD stale for 30 s", source="paper")
    front.operator.alert(AlertLevel.WARNING, "test", "the front's own", source="test")

    def samples() -> dict[tuple[str, tuple], float]:
        text = generate_latest(running_exporter(front.operator).registry).decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def relayed_of(scraped: dict) -> dict[tuple[str, str, str], float]:
        return {(dict(labels)["origin"], dict(labels)["kind"], dict(labels)["level"]): v
                for (name, labels), v in scraped.items() if name == "arbot_relayed_alerts_total"}

    # the feed alert itself relayed (another of grid-1's alerts, one of its start's, may come first)
    await wait_for(lambda: ("grid-1", "feed", "error") in relayed_of(samples()), timeout_s=20, what="the relay")
    scraped = samples()
    own = {dict(labels)["kind"]: v for (name, labels), v in scraped.items() if name == "arbot_alerts_total"}
    relayed = relayed_of(scraped)
    assert own.get("test") == 1 and "feed" not in own, own  # grid-1's alert is grid-1's to count
    assert relayed[("grid-1", "feed", "error")] == 1
    assert sum(relayed.values()) == link.counters["relayed"]  # the metric and the heartbeat's link.relayed agree
    assert {dict(labels)["bot"] for (_, labels) in scraped} == {"front"}


async def test_jetstream_bucket_holds_each_bots_last_status_and_setup_is_idempotent(nats_server, fleet_bot):
    grid = await fleet_bot("grid-1", nats_server.url, fleet="jetstream = true\n")
    await wait_for(lambda: running_link(grid.operator).stats()["connected"], timeout_s=20, what="grid-1 on NATS")
    await grid.stop()
    # a bot started later knows grid-1 at once from the bucket, before any heartbeat (grid-1 is stopped)
    front = await fleet_bot("front", nats_server.url, toml="",
                            fleet="jetstream = true\nheartbeat_s = 30\nalive_after_s = 60\n"
                                  "stream_max_bytes = 2097152\n")
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="front on NATS")
    member = {m.name: m for m in link.members()}["grid-1"]
    assert member.status["strategies"]["grid"]["state"] == "running" and member.alive
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info("ARBOT_EVENTS")
        assert info.config.max_bytes == 2097152  # the second bot's limits updated the existing stream
        assert "arbot.*.evt.status" not in info.config.subjects and "arbot.*.evt.fill" in info.config.subjects
    finally:
        await nc.close()


async def test_a_bot_known_only_from_the_bucket_is_gone_after_the_window_and_forgotten_when_deleted(nats_server,
                                                                                                  fleet_bot):
    grid = await fleet_bot("grid-1", nats_server.url, fleet="jetstream = true\n")
    await wait_for(lambda: running_link(grid.operator).kv is not None and running_link(grid.operator).stats()[
        "connected"], timeout_s=20, what="grid-1 on NATS with its bucket")
    await grid.stop()  # its last status stays in the bucket
    front = await fleet_bot("front", nats_server.url, toml="",
                            fleet='jetstream = true\nalive_after_s = 1\nroles = { "telegram:123" = "admin" }\n')
    link = running_link(front.operator)
    await wait_for(lambda: link.stats()["connected"] and "grid-1" in names(front), timeout_s=20,
                   what="front to read grid-1 from the bucket")
    await wait_for(lambda: names(front) == {"front": True, "grid-1": False}, timeout_s=20,
                   what="grid-1 past the liveness window")
    # /status all reaches the live bots only and lists grid-1 as gone; named, grid-1 is refused, nothing sent
    reply = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert reply.ok and reply.title == "/status on 1 bot: 1 ok; 1 gone, not sent", reply.render_text()
    assert {row[0]: row[1] for row in reply.rows[1:]} == {"front": "ok", "grid-1": "gone"}
    refused = await front.commands.dispatch(ADMIN, "pause", ["grid-1:grid"])
    assert not refused.ok and refused.title.startswith("Gone from the fleet: grid-1"), refused.title
    # its key deleted (a bot taken out of the fleet for good): the running front forgets it
    nc = await nats.connect(nats_server.url)
    try:
        await (await nc.jetstream().key_value("arbot_fleet")).delete("grid-1")
    finally:
        await nc.close()
    await wait_for(lambda: names(front) == {"front": True}, timeout_s=20, what="front to forget grid-1")
    assert (await front.commands.dispatch(ADMIN, "status", ["all"])).title == "Status"  # this bot alone


async def test_only_the_chosen_kinds_are_published_and_the_publisher_pays_no_json(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url, toml="", fleet='events = ["status", "fill"]\n')
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    before = link.seq
    bot.bus.publish(OrderUpdate("paper", "BTC/USD", "g-1", "grid", OrderStatus.OPEN, Decimal(0), None, 1))
    bot.operator.alert(AlertLevel.WARNING, "risk", "limits: tripped", source="limits")
    assert link.seq == before  # neither an order nor an alert is queued
    applied = FillApplied("grid", Fill(exchange="paper", symbol="BTC/USD", client_order_id="g-1", trade_id="t9",
                                       side=Side.BUY, price=Decimal("29999.5"), qty=Decimal("0.01"),
                                       fee=Decimal("0.03"), fee_asset="USD", liquidity=Liquidity.MAKER, ts_ns=5))
    link.ready = False  # hold the send loop: what sits in the outbox is the event object, not its JSON
    bot.bus.publish(applied)
    kind, _, _, event, _ = link.outbox[-1]
    assert event is applied and kind == "fill"
    link.ready = True
    link._wake.set()
    await wait_for(lambda: not link.outbox, what="the fill sent")


async def test_jetstream_asked_of_a_server_without_it_warns_once_and_the_bus_still_works(tmp_path, fleet_bot,
                                                                                         caplog):
    from tests.helpers.nats_server import NatsServer

    plain = NatsServer(tmp_path / "plain", jetstream=False)
    plain.start()
    try:
        with caplog.at_level(logging.WARNING, logger="arbot.fleet"):
            front = await fleet_bot("front", plain.url, toml="", fleet="jetstream = true\n")
            grid = await fleet_bot("grid-1", plain.url,
                                   fleet='jetstream = true\nroles = { "telegram:123" = "admin" }\n')
            await wait_for(lambda: "grid-1" in names(front), timeout_s=30, what="heartbeats without JetStream")
        assert any("JetStream unavailable" in r.getMessage() for r in caplog.records)
        reply = await front.operator.fleet.call("grid-1", ADMIN, "strategies", [], confirmed=False)
        assert reply.ok and reply.rows[1][0] == "grid" and grid.operator.strategy_state("grid") == "running"
    finally:
        plain.close()


async def test_a_bot_stops_cleanly_while_nats_is_gone(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url, fleet="jetstream = true\n")
    link = running_link(bot.operator)
    await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot on NATS")
    nats_server.stop()  # and the bot stops while its client is busy reconnecting
    await asyncio.wait_for(bot.stop(), timeout=30)  # nats-py's close raising from inside does not escape
    assert bot.plugin_errors("fleet") == []


async def test_status_all_on_the_front_merges_every_bots_answer_over_nats(nats_server, fleet_bot):
    front = await fleet_bot("front", nats_server.url, toml="", fleet='roles = { "telegram:123" = "admin" }\n')
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n')
    await wait_for(lambda: names(front) == {"front": True, "grid-1": True}, timeout_s=20, what="the fleet")
    direct = await front.operator.fleet.call("grid-1", ADMIN, "status", [], confirmed=False)
    assert direct.ok and direct.data["summary"]["mode"] == "paper"  # Reply.data crosses the bus
    merged = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert merged.ok, merged.render_text()
    assert {row[0]: row[1] for row in merged.rows[1:]} == {"front": "ok", "grid-1": "ok"}
    def steady(summary: dict) -> dict:  # grid-1 keeps trading between the two calls: drop what moves
        return {k: v for k, v in summary.items() if k not in ("orders", "PnL today")}

    assert steady(merged.data["bots"]["grid-1"]["data"]["summary"]) == steady(direct.data["summary"])
    assert set(merged.data["bots"]["grid-1"]["data"]["summary"]) == set(direct.data["summary"])
    paused = await front.commands.dispatch(ADMIN, "pause", ["grid-1:grid"])
    assert paused.ok and grid.operator.strategy_state("grid").startswith("paused")


async def test_two_processes_with_one_name_are_said_loudly(nats_server, fleet_bot, caplog):
    first = await fleet_bot("twin", nats_server.url, toml="")
    heard = []
    running_link(first.operator).ctx.subscribe_alerts(heard.append)
    with caplog.at_level(logging.ERROR, logger="arbot.fleet"):
        await fleet_bot("twin", nats_server.url, toml="")
        await wait_for(lambda: any("another bot named twin" in a.message for a in heard), timeout_s=20,
                       what="the clash alert")
    assert sum("another bot named twin" in a.message for a in heard) == 1  # once, not every heartbeat
    assert any("give each bot its own [bot] name" in r.getMessage() for r in caplog.records)
