"""Urgent commands (``Command.urgent``: the kill switch, /pause, /resume, /status) routed to a bot whose every turn
for ordinary fleet commands is taken by commands hanging on its venue: they get turns of their own."""

from __future__ import annotations

import asyncio

from bot import hookimpl
from bot.api import Caller, Command, Reply
from plugins.fleet import running_link
from plugins.fleet.link import MAX_CONCURRENT_COMMANDS
from tests.helpers.waiting import wait_for

ADMIN = Caller("telegram", "123", "admin", "555")
ROLES = 'roles = { "telegram:123" = "admin" }\n'


class HangingCommands:
    """``/hang`` (ordinary) and ``/stuck`` (urgent, as a plugin may mark one): fleet commands that wait until the
    test lets them finish (a venue that does not answer)."""

    release = asyncio.Event()
    started: list[str] = []

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def hang(bot, caller, args):
            HangingCommands.started.append("hang")
            await HangingCommands.release.wait()
            return Reply("Done at last.")

        async def stuck(bot, caller, args):
            HangingCommands.started.append("stuck")
            await HangingCommands.release.wait()
            return Reply("Unstuck.")

        register(Command("hang", hang, "viewer", "a command waiting on the venue", fleet=True))
        register(Command("stuck", stuck, "viewer", "an urgent command waiting on the venue", fleet=True,
                         urgent=True))


def fresh() -> None:
    HangingCommands.release = asyncio.Event()
    HangingCommands.started = []


async def two_bots(nats_server, fleet_bot, timeout_s: int):
    front = await fleet_bot("front", nats_server.url, fleet=f"call_timeout_s = {timeout_s}\n",
                            extra=[("hanging", HangingCommands)])
    grid = await fleet_bot("grid-1", nats_server.url, fleet=ROLES, extra=[("hanging", HangingCommands)])
    await wait_for(lambda: "grid-1" in {m.name for m in front.operator.fleet.members()}, timeout_s=20,
                   what="front to see grid-1")
    return front, grid


async def test_a_kill_routed_to_a_bot_busy_with_hanging_commands_is_run_at_once(nats_server, fleet_bot):
    fresh()
    front, grid = await two_bots(nats_server, fleet_bot, timeout_s=2)
    hanging = [asyncio.create_task(front.commands.dispatch(ADMIN, "hang", ["grid-1:"]))
               for _ in range(MAX_CONCURRENT_COMMANDS)]  # every ordinary turn grid-1 has is taken
    await wait_for(lambda: len(HangingCommands.started) == MAX_CONCURRENT_COMMANDS, what="grid-1 busy")
    try:
        asked = await front.commands.dispatch(ADMIN, "kill", ["grid-1:"])
        assert asked.confirm_token, asked.render_text()
        killed = await front.commands.confirm(ADMIN, asked.confirm_token)
        assert killed.ok, killed.render_text()  # answered within the sender's 2 s, not "no answer"
        assert "no answer" not in killed.render_text().lower(), killed.render_text()
        assert all(grid.operator.killed(name) for name in grid.operator.strategies)
        status = await front.commands.dispatch(ADMIN, "status", ["grid-1:"])
        assert status.ok and "no answer" not in status.render_text().lower(), status.render_text()
    finally:
        HangingCommands.release.set()
        await asyncio.gather(*hanging)
    assert running_link(grid.operator).counters["expired"] == 0


async def test_late_only_a_command_that_stops_trading_still_runs(nats_server, fleet_bot):
    """Urgent commands hanging on the venue hold every urgent turn: a /pause and a /kill that waited past their
    sender's timeout still run (stopping late is still wanted, twice is once: ``Command.halts``); a /resume that late
    does not (it would restart trading its user was told nothing about)."""
    fresh()
    front, grid = await two_bots(nats_server, fleet_bot, timeout_s=1)
    link = front.operator.fleet
    stuck = [asyncio.create_task(link.call("grid-1", ADMIN, "stuck", [], confirmed=False))
             for _ in range(MAX_CONCURRENT_COMMANDS)]  # more than every turn, whichever lane they take
    await wait_for(lambda: HangingCommands.started, what="grid-1 running the stuck ones")
    for name, args in (("pause", ["grid"]), ("kill", ["late"]), ("resume", ["grid"])):
        late = await link.call("grid-1", ADMIN, name, args, confirmed=True)
        assert not late.ok and "no answer" in late.render_text().lower(), late.render_text()
    HangingCommands.release.set()
    await asyncio.gather(*stuck)
    assert (await link.call("grid-1", ADMIN, "status", [], confirmed=False)).ok  # behind them: they are done

    def outcome(command: str) -> list[str]:
        return [e.outcome for e in grid.operator.audit_log() if e.command == command]

    await wait_for(lambda: outcome("kill") and outcome("pause") and outcome("resume"), what="their audit rows")
    assert outcome("pause") == ["confirmed at front: ok"] and outcome("kill") == ["confirmed at front: ok"]
    assert [o.startswith("refused: waited ") for o in outcome("resume")] == [True], outcome("resume")
    assert all(grid.operator.killed(name) for name in grid.operator.strategies)  # still stopped: nothing resumed


async def test_strangers_sending_urgent_commands_take_no_urgent_turn(nats_server, fleet_bot, monkeypatch):
    """The urgent lane is bounded on its own, and a caller this bot gives no role never gets into it: strangers
    filling the ordinary lane are answered "busy" while an operator's /kill still runs."""
    import plugins.fleet.link

    monkeypatch.setattr(plugins.fleet.link, "MAX_PENDING_COMMANDS", 2)
    fresh()
    front, grid = await two_bots(nats_server, fleet_bot, timeout_s=5)
    link = front.operator.fleet
    hanging = [asyncio.create_task(link.call("grid-1", ADMIN, "hang", [], confirmed=False)) for _ in range(2)]
    await wait_for(lambda: len(HangingCommands.started) == 2, what="grid-1's ordinary lane full")
    try:
        stranger = Caller("telegram", "666", None, "666")
        refused = await link.call("grid-1", stranger, "kill", [], confirmed=True)
        assert not refused.ok and "busy" in refused.render_text(), refused.render_text()
        killed = await link.call("grid-1", ADMIN, "kill", [], confirmed=True)
        assert killed.ok, killed.render_text()
    finally:
        HangingCommands.release.set()
        await asyncio.gather(*hanging)
    assert running_link(grid.operator).counters["refused_busy"] == 1
