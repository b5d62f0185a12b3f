"""Fleet routing in the command layer: ``all`` and ``<bot>:<arg>`` targets, one confirmation, merged replies.

Three real Bots in one process, wired by an in-memory FleetLink (tests.helpers.fleet_kit): what a
fleet service does over NATS, the fake does by calling the target bot's own command table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot import hookimpl
from bot.api import Caller, Command, Reply
from bot.ledger import fleet_totals
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.fleet_kit import start_fleet, stop_fleet
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.store_kit import audit_lines

ADMIN = Caller("test", "root", "admin")
GRID = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
[strategies.s2]
type = "recorder"
"""
ARB = """
[exchanges.v]
type = "scripted"
[strategies.a]
type = "recorder"
"""


async def figures(op, caller, args):
    """A bot's own exact totals, as a ledger would give them (the amount is the bot's first argument)."""
    amount = args[0] if args else "0.1"
    return Reply("Figures", text=amount, data={"summary": {"net": amount}, "totals": {"net": {"USD": amount}}})


class figures_plugin:
    @staticmethod
    @hookimpl
    def register_commands(register):
        register(Command("figures", figures, "viewer", "test figures", fleet=True))


@pytest.fixture
async def fleet(tmp_path):
    fleet = await start_fleet(tmp_path, {"front": "", "grid": GRID, "arb": ARB},
                              extra=[("venue", venue_plugin), ("kit", kit_plugin), ("figures", figures_plugin)],
                              roles={"root": "admin"}, timeout_s=0.5)
    yield fleet
    await stop_fleet(fleet)


def audit(bot) -> list[tuple[str, str, str, str, str]]:
    return [(r.transport, r.user_id, r.command, r.args, r.outcome) for r in reversed(audit_lines(bot))]


async def test_status_all_lists_every_bot_with_a_compact_table_first(fleet):
    front = fleet.bots["front"]
    reply = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert reply.ok and reply.title == "/status on 3 bots: 3 ok"
    assert reply.rows[0] == ("bot", "answer", "mode", "running", "orders", "PnL today")
    assert [r[:4] for r in reply.rows[1:]] == [("arb", "ok", "paper", "1/1"), ("front", "ok", "paper", "0/0"),
                                               ("grid", "ok", "paper", "2/2")]
    text = reply.render_text()
    for bot in ("arb", "front", "grid"):
        assert f"== {bot}: ok" in text
    assert "s2" in text and "running" in text  # the details: each bot's own /status
    # the front audits the routed call; every bot audits its part, the others as forwarded by the front
    assert audit(front)[-1] == ("test", "root", "status", "all", "routed: arb ok, front ok, grid ok")
    assert ("test", "root", "status", "", "ok") in audit(front)
    assert audit(fleet.bots["grid"])[-1] == ("test@front", "root", "status", "", "ok")


async def test_pause_bot_strategy_pauses_exactly_that(fleet):
    front, grid, arb = fleet.bots["front"], fleet.bots["grid"], fleet.bots["arb"]
    reply = await front.commands.dispatch(ADMIN, "pause", ["grid:s2"])
    assert reply.ok and reply.title == "/pause on 1 bot: 1 ok", reply.render_text()
    assert grid.strategies["s2"].paused and not grid.strategies["s"].paused
    assert not arb.strategies["a"].paused
    assert fleet.calls == [("front", "grid", "pause", ["s2"], False)]
    assert audit(grid)[-1] == ("test@front", "root", "pause", "s2", "ok")


async def test_mixed_targets_and_common_arguments(fleet):
    front, grid, arb = fleet.bots["front"], fleet.bots["grid"], fleet.bots["arb"]
    reply = await front.commands.dispatch(ADMIN, "pause", ["grid:s", "arb:"])
    assert reply.ok, reply.render_text()
    assert grid.strategies["s"].paused and not grid.strategies["s2"].paused
    assert arb.strategies["a"].paused  # "arb:" alone: /pause with no argument there, everything
    # a common argument goes to every target; a bot without that strategy says so, the others do it
    # /resume has a confirmation (after a kill): routed, it is asked here once whatever the bots' states
    asked = await front.commands.dispatch(ADMIN, "resume", ["grid:", "arb:", "s"])
    assert asked.title == "/resume on 2 bots (arb, grid)?" and asked.confirm_token
    reply = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert not reply.ok and reply.title == "/resume on 2 bots: 1 ok, 1 refused"
    assert "No strategy named s" in reply.render_text()
    assert not grid.strategies["s"].paused and arb.strategies["a"].paused


async def test_kill_all_is_confirmed_once_then_runs_on_every_bot(fleet):
    front, grid, arb = fleet.bots["front"], fleet.bots["grid"], fleet.bots["arb"]
    asked = await front.commands.dispatch(ADMIN, "kill", ["all", "drill"])
    assert asked.confirm_token and "arb, front, grid" in asked.title and "front: Kill switch" in asked.title
    assert fleet.calls == [] and not grid.strategies["s"].paused  # nothing happens before the confirmation
    reply = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert reply.ok and reply.title == "/kill on 3 bots: 3 ok", reply.render_text()
    assert all(s.paused for b in (grid, arb) for s in b.strategies.values())
    assert grid.killed("s") and arb.killed("a")
    assert sorted(c[1:] for c in fleet.calls) == [("arb", "kill", ["drill"], True), ("grid", "kill", ["drill"], True)]
    assert audit(grid)[-1] == ("test@front", "root", "kill", "drill", "confirmed at front: ok")
    assert audit(front)[-3:] == [("test", "root", "kill", "all drill", "awaiting confirmation for arb, front, grid"),
                                 ("test", "root", "kill", "drill", "confirmed: ok"),
                                 ("test", "root", "kill", "all drill", "routed: arb ok, front ok, grid ok")]
    again = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert not again.ok and len(fleet.calls) == 2  # once


async def test_a_target_bot_refuses_a_stranger_and_audits_it(fleet):
    front, grid = fleet.bots["front"], fleet.bots["grid"]
    fleet.roles["grid"] = {}  # grid does not know root: the front's word for the role does not count there
    reply = await front.commands.dispatch(ADMIN, "pause", ["all"])
    assert not reply.ok and reply.title == "/pause on 3 bots: 2 ok, 1 refused"
    assert {r[0]: r[1] for r in reply.rows[1:]} == {"arb": "ok", "front": "ok", "grid": "refused"}
    assert not grid.strategies["s"].paused and fleet.bots["arb"].strategies["a"].paused
    assert audit(grid)[-1] == ("test@front", "root", "pause", "", "refused: no role")
    assert audit(front)[-1][4] == "routed: arb ok, front ok, grid refused"


async def test_a_dead_or_slow_bot_shows_as_no_answer_without_blocking_the_others(fleet):
    front = fleet.bots["front"]
    fleet.dead.add("arb")
    fleet.slow.add("grid")
    reply = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert not reply.ok and reply.title == "/status on 3 bots: 1 ok, 2 no answer"
    answers = {r[0]: r[1] for r in reply.rows[1:]}
    assert answers["front"] == "ok"
    assert answers["arb"] == answers["grid"] == "no answer"
    text = reply.render_text()
    assert "no answer within 0.5 s" in text and "arb is not on the bus" in text
    assert "== arb: no answer (last heard " in text  # when its last heartbeat came
    assert audit(front)[-1][4] == "routed: arb no answer, front ok, grid no answer"


async def test_an_unknown_bot_is_refused_with_the_members(fleet):
    front = fleet.bots["front"]
    reply = await front.commands.dispatch(ADMIN, "pause", ["nope:s"])
    assert not reply.ok and reply.title == "No bot named nope in the fleet. Bots: arb, front, grid."
    assert fleet.calls == [] and audit(front)[-1] == ("test", "root", "pause", "nope:s", "refused: unknown bot")


async def test_a_word_ending_in_a_colon_is_free_text_unless_it_names_a_bot(fleet):
    front = fleet.bots["front"]
    asked = await front.commands.dispatch(ADMIN, "kill", ["all", "market:", "crash"])
    assert asked.confirm_token and "arb, front, grid" in asked.title, asked.title
    reply = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert reply.ok, reply.render_text()
    assert sorted(c[1:] for c in fleet.calls) == [("arb", "kill", ["market:", "crash"], True),
                                                  ("grid", "kill", ["market:", "crash"], True)]
    # a member named with nothing after the colon is still a target; a typo with an argument is refused
    fleet.calls.clear()
    assert (await front.commands.dispatch(ADMIN, "pause", ["grid:"])).ok and [c[1] for c in fleet.calls] == ["grid"]
    refused = await front.commands.dispatch(ADMIN, "pause", ["grd:s"])
    assert not refused.ok and refused.title.startswith("No bot named grd")


async def test_a_mistyped_target_alone_is_refused_not_run_on_this_bot(fleet):
    """``/kill grdi:`` (a typo of ``grid:``, nothing after the colon) named no target: it was text, so the command
    ran on the front itself, after a question that named no bot. It is refused like ``grdi:s``, saying how to send
    such a word as text."""
    front = fleet.bots["front"]
    for args in (["grdi:"], ["grdi:", "exchange", "down"], ["exchange", "down", "grdi:"]):
        refused = await front.commands.dispatch(ADMIN, "kill", args)
        assert not refused.ok and refused.confirm_token is None, refused.render_text()
        assert refused.title.startswith("No bot named grdi in the fleet. Bots: arb, front, grid."), refused.title
        assert "front: " in refused.render_text(), refused.render_text()  # the way to send it here as text
        assert audit(front)[-1] == ("test", "root", "kill", " ".join(args), "refused: unknown bot")
    assert fleet.calls == []
    # named first, this bot takes the word as text
    asked = await front.commands.dispatch(ADMIN, "kill", ["front:", "market:", "crash"])
    assert asked.confirm_token, asked.render_text()
    assert (await front.commands.confirm(ADMIN, asked.confirm_token)).ok
    assert audit(front)[-1] == ("test", "root", "kill", "market: crash", "confirmed: ok") and fleet.calls == []


async def test_a_target_without_its_colon_is_asked_about_on_this_bot_by_name(fleet):
    """``/kill grid`` (the colon forgotten on a phone) runs on this bot with the reason "grid": the question must
    say so, and how to send it to grid, or confirming it kills the bot the operator is talking to."""
    front = fleet.bots["front"]
    asked = await front.commands.dispatch(ADMIN, "kill", ["grid"])
    assert asked.confirm_token, asked.render_text()
    assert "This bot (front) only." in asked.title, asked.title
    assert "grid is another bot: /kill grid: sends it there" in asked.title, asked.title
    plain = await front.commands.dispatch(ADMIN, "kill", ["exchange", "down"])
    assert plain.title.endswith("This bot (front) only.") and "another bot" not in plain.title, plain.title


async def test_all_after_free_text_is_text_not_the_whole_fleet(fleet):
    """``/kill grid: pull all quotes`` kills grid, with its reason: "all" inside the reason is not a target (before,
    the question was "/kill on 3 bots", and a script confirming blindly would have killed every bot)."""
    front = fleet.bots["front"]
    asked = await front.commands.dispatch(ADMIN, "kill", ["grid:", "pull", "all", "quotes"])
    assert asked.title == "/kill on 1 bot (grid)?", asked.title
    reply = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert reply.ok, reply.render_text()
    assert [c[1:] for c in fleet.calls] == [("grid", "kill", ["pull", "all", "quotes"], True)]
    # before any text, "all" is the fleet, wherever the bot-named targets are
    fleet.calls.clear()
    await front.commands.dispatch(ADMIN, "pause", ["grid:s", "all", "s2"])
    assert sorted(c[1:3] + (sorted(c[3]),) for c in fleet.calls) == [("arb", "pause", ["s2"]),
                                                                     ("grid", "pause", ["s", "s2"])]


async def test_the_front_authorizes_first(fleet):
    front = fleet.bots["front"]
    viewer = Caller("test", "eye", "viewer")
    reply = await front.commands.dispatch(viewer, "kill", ["all"])
    assert not reply.ok and "needs the admin role" in reply.title and fleet.calls == []
    stranger = Caller("test", "who", None)
    assert not (await front.commands.dispatch(stranger, "status", ["all"])).ok and fleet.calls == []


async def test_fleet_totals_are_exact_sums_of_the_bots_own_figures(fleet):
    front = fleet.bots["front"]
    reply = await front.commands.dispatch(ADMIN, "figures", ["front:0.1", "grid:0.2", "arb:0.000000000000000001"])
    assert reply.ok
    assert reply.data["totals"] == {"net": {"USD": "0.300000000000000001"}}  # floats would say 0.30000000000000004
    assert "fleet total (3 bots): net 0.30 USD" in reply.text
    fleet.dead.add("arb")
    reply = await front.commands.dispatch(ADMIN, "figures", ["all"])
    assert reply.data["totals"] == {"net": {"USD": "0.2"}} and "(2 bots, without arb)" in reply.text
    # a bot whose answer carries no figures (a link that drops Reply.data) is named, not silently left out
    reply = await front.commands.dispatch(ADMIN, "figures", ["front:", "grid:"])
    assert "(2 bots)" in reply.text
    fleet.dead.discard("arb")
    fleet.strip_data.add("grid")
    reply = await front.commands.dispatch(ADMIN, "figures", ["all"])
    assert reply.data["totals"] == {"net": {"USD": "0.2"}} and "(2 bots, without grid)" in reply.text
    assert fleet_totals([{"net": {"USD": "1.5", "EUR": "2"}}, {"net": {"USD": "-0.5"}, "fees": {"USD": "0.01"}}]) == {
        "net": {"USD": Decimal("1.0"), "EUR": Decimal("2")}, "fees": {"USD": Decimal("0.01")}}


async def test_pnl_all_gives_each_bots_figures_and_a_fleet_total(fleet):
    reply = await fleet.bots["front"].commands.dispatch(ADMIN, "pnl", ["all", "week"])
    assert reply.ok and reply.rows[0] == ("bot", "answer", "fills", "net", "unrealized")
    assert "PnL this week" in reply.text and "fleet total" not in reply.text and reply.data["totals"] == {
        "realized": {}, "fees": {}, "other_fees": {}, "net": {}, "unrealized": {}, "transfer_costs": {},
        "net_after_transfer_costs": {}}
    # what moving funds cost each bot is in the fleet total, as in each bot's own
    from decimal import Decimal

    from bot.domain import Transfer, TransferStatus

    for name, fee in (("arb", "0.5"), ("grid", "0.25")):
        bot = fleet.bots[name]
        now = bot.operator.now_ns()
        bot.store.save_transfer(Transfer(f"t-{name}", "USD", Decimal(5), "a", "b", "addr", Decimal(fee),
                                         Decimal("0.000005"), TransferStatus.SENT, now, now, network_fee_asset="SOL"))
    reply = await fleet.bots["front"].commands.dispatch(ADMIN, "pnl", ["all", "week"])
    assert reply.data["totals"]["transfer_costs"] == {"SOL": "0.000010", "USD": "0.75"}
    assert reply.data["totals"]["net_after_transfer_costs"] == {"SOL": "-0.000010", "USD": "-0.75"}
    # worded as the other figures are, never a raw key name
    assert ("transfer costs 0.00001 SOL, 0.75 USD; net after transfer costs -0.00001 SOL, -0.75 USD"
            in reply.text), reply.text
    assert "transfer_costs" not in reply.text and "net_after" not in reply.text


async def test_help_shows_the_fleet_targets(fleet, make_bot):
    reply = await fleet.bots["front"].commands.dispatch(ADMIN, "help", [])
    rows = dict(reply.rows)
    assert "/pause [strategy...] [all | BOT:ARG]" in rows and "/plugins" in rows and "BOT:ARG" in reply.text
    alone = await make_bot("")
    assert "/pause [strategy...]" in dict((await alone.commands.dispatch(ADMIN, "help", [])).rows)


async def test_forwarded_calls_are_never_routed_again(fleet):
    grid = fleet.bots["grid"]
    reply = await grid.commands.dispatch(ADMIN, "pause", ["arb:a"], via="front")
    assert not reply.ok and "No strategy named arb:a" in reply.title and fleet.calls == []


async def test_without_a_link_all_means_this_bot(make_bot):
    bot = await make_bot(GRID, extra=[("venue", venue_plugin), ("kit", kit_plugin)])
    reply = await bot.commands.dispatch(ADMIN, "pause", ["all", "s"])
    assert reply.ok and bot.strategies["s"].paused and not bot.strategies["s2"].paused
    assert (await bot.commands.dispatch(ADMIN, "status", ["all"])).title == "Status"
    assert audit(bot)[-2:] == [("test", "root", "pause", "s", "ok"), ("test", "root", "status", "", "ok")]


async def test_a_gone_bot_is_listed_as_gone_and_never_sent_to(fleet):
    # arb's heartbeats stopped longer ago than the link's liveness window: it is not a target any more
    front = fleet.bots["front"]
    fleet.gone.add("arb")
    reply = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert reply.ok and reply.title == "/status on 2 bots: 2 ok; 1 gone, not sent", reply.title
    assert {r[0]: r[1] for r in reply.rows[1:]} == {"front": "ok", "grid": "ok", "arb": "gone"}
    assert "== arb: gone (last heard " in reply.render_text() and set(reply.data["gone"]) == {"arb"}
    assert [c[1] for c in fleet.calls] == ["grid"]
    assert audit(front)[-1][4] == "routed: front ok, grid ok, arb gone"
    # /kill all asks about the live bots only and reaches only them
    fleet.calls.clear()
    asked = await front.commands.dispatch(ADMIN, "kill", ["all", "test"])
    assert asked.confirm_token and "(front, grid)" in asked.title, asked.title
    killed = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert killed.ok and [c[1] for c in fleet.calls] == ["grid"]
    assert not fleet.bots["arb"].strategies["a"].paused
    # named, it is refused as gone (not "no bot named"), and nothing is sent
    fleet.calls.clear()
    refused = await front.commands.dispatch(ADMIN, "pause", ["arb:a"])
    assert not refused.ok and refused.title.startswith("Gone from the fleet: arb (last heard "), refused.title
    assert fleet.calls == [] and audit(front)[-1] == ("test", "root", "pause", "arb:a", "refused: gone bot")
    # heard from again, it is a target again
    fleet.gone.discard("arb")
    assert (await front.commands.dispatch(ADMIN, "pause", ["arb:a"])).ok and fleet.bots["arb"].strategies["a"].paused


async def test_all_with_every_other_bot_gone_still_says_which_are_gone(fleet):
    front = fleet.bots["front"]
    fleet.gone.update({"arb", "grid"})
    reply = await front.commands.dispatch(ADMIN, "status", ["all"])
    assert reply.ok and reply.title == "/status on 1 bot: 1 ok; 2 gone, not sent", reply.title
    assert fleet.calls == []


async def test_all_in_free_text_does_not_list_gone_bots(fleet):
    """``/kill grid: pull all quotes`` with arb gone: "all" in the reason is text (``_plan`` says so), so the reply
    does not list arb as "gone, not sent" either (before, ``_fan_out`` looked for "all" anywhere in the args)."""
    front = fleet.bots["front"]
    fleet.gone.add("arb")
    asked = await front.commands.dispatch(ADMIN, "kill", ["grid:", "pull", "all", "quotes"])
    assert asked.title == "/kill on 1 bot (grid)?", asked.title
    reply = await front.commands.confirm(ADMIN, asked.confirm_token)
    assert reply.ok and reply.title == "/kill on 1 bot: 1 ok", reply.title
    assert "gone" not in reply.render_text() and reply.data["gone"] == {}
    assert audit(front)[-1][4] == "routed: grid ok"
    # "all" as the target still lists it
    status = await front.commands.dispatch(ADMIN, "status", ["grid:", "all"])
    assert status.title == "/status on 2 bots: 2 ok; 1 gone, not sent", status.title
