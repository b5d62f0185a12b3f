"""Urgent commands (:attr:`bot.api.Command.urgent`): the kill switch, its confirmation, /pause, /resume and /status
are reachable while another command hangs, on every transport."""

from __future__ import annotations

import asyncio

from bot import hookimpl
from bot.api import Caller, Command, Reply, Strategy
from bot.builtins import register_commands as host_commands
from bot.control import send_command, send_confirm
from tests.fakes.venue import plugin as venue_plugin

CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "idle"
"""
ADMIN = Caller("test", "root", "admin")


class Idle(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]


class Hanging:
    """A command waiting on a venue that does not answer, and a dangerous one that is not urgent."""

    started = asyncio.Event()
    release = asyncio.Event()

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("idle", Idle)

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def hang(op, caller, args):
            Hanging.started.set()
            await Hanging.release.wait()
            return Reply("Answered at last.")

        async def nuke(op, caller, args):
            return Reply("Nuked.")

        register(Command("hang", hang, "viewer", "a command waiting on a slow venue"))
        register(Command("nuke", nuke, "admin", "not urgent", confirm=lambda op, args: "Nuke?"))


PLUGINS = [("venue", venue_plugin), ("hanging", Hanging)]


def test_the_host_marks_its_kill_pause_resume_and_status_urgent_and_nothing_else():
    commands: list[Command] = []
    host_commands(commands.append)
    assert sorted(c.name for c in commands if c.urgent) == ["kill", "pause", "resume", "status"]
    assert Command("x", Hanging.release.wait, "viewer", "a plugin's").urgent is False  # the default


async def test_the_command_table_says_which_commands_and_confirmations_are_urgent(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    table = bot.commands
    assert table.urgent("kill") and table.urgent("/Kill") and table.urgent("status")
    assert not table.urgent("hang") and not table.urgent("nuke") and not table.urgent("no-such-command")
    kill = await table.dispatch(ADMIN, "kill", ["test"])
    nuke = await table.dispatch(ADMIN, "nuke", [])
    assert kill.confirm_token and nuke.confirm_token
    assert table.urgent_confirmation(kill.confirm_token)  # the press of /kill's Confirm button is urgent too
    assert not table.urgent_confirmation(nuke.confirm_token) and not table.urgent_confirmation("made-up")


async def test_a_hung_command_on_the_control_socket_does_not_hold_up_a_kill(make_bot, tmp_path):
    Hanging.started, Hanging.release = asyncio.Event(), asyncio.Event()
    bot = await make_bot(CONFIG, extra=PLUGINS, control_socket="ctl.sock")
    path = tmp_path / "ctl.sock"
    hung = asyncio.create_task(send_command(path, "hang", [], timeout_s=30))
    await asyncio.wait_for(Hanging.started.wait(), 5)
    asked = await send_command(path, "kill", ["stuck", "venue"], timeout_s=2)
    assert asked["confirm_token"] and not hung.done()
    done = await send_confirm(path, asked["confirm_token"], timeout_s=2)
    assert done["ok"] and bot.killed("s") and bot.strategies["s"].paused
    status = await send_command(path, "status", [], timeout_s=2)
    assert status["ok"] and status["text"].startswith("Status") and not hung.done()
    Hanging.release.set()
    assert (await hung)["text"].startswith("Answered at last.")

