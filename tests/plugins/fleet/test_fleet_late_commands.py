"""A command the sender gave up on (no answer within its call_timeout_s) is not run later by the receiver, unless it
only stops trading (``Command.halts``: the kill switch, /pause)."""

from __future__ import annotations

import asyncio

from bot import hookimpl
from bot.api import Caller, Command, Reply
from plugins.fleet import running_link
from plugins.fleet.link import MAX_CONCURRENT_COMMANDS
from tests.helpers.waiting import wait_for

ADMIN = Caller("telegram", "123", "admin", "555")


class SlowCommands:
    """``/slow``: a command that waits until the test lets it finish (a venue answering slowly)."""

    release = asyncio.Event()
    started = 0

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def slow(bot, caller, args):
            SlowCommands.started += 1
            await SlowCommands.release.wait()
            return Reply("Done slowly.")

        register(Command("slow", slow, "viewer", "a command that waits"))


async def test_a_command_that_waited_past_the_senders_timeout_is_not_run_later(nats_server, fleet_bot):
    SlowCommands.release = asyncio.Event()
    SlowCommands.started = 0
    front = await fleet_bot("front", nats_server.url, toml="", fleet="call_timeout_s = 1\n")
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n',
                           extra=[("slowcmds", SlowCommands)])
    await wait_for(lambda: "grid-1" in {m.name for m in front.operator.fleet.members()}, timeout_s=20,
                   what="front to see grid-1")
    link = front.operator.fleet
    slow = [asyncio.create_task(link.call("grid-1", ADMIN, "slow", [], confirmed=False))
            for _ in range(MAX_CONCURRENT_COMMANDS)]  # every turn grid-1 has for fleet commands is taken
    await wait_for(lambda: SlowCommands.started == MAX_CONCURRENT_COMMANDS, what="grid-1 busy")
    loop = asyncio.get_running_loop()
    asked = loop.time()
    reply = await link.call("grid-1", ADMIN, "orders", ["grid"], confirmed=False)
    assert not reply.ok and "no answer" in reply.render_text().lower(), reply  # the front told the user so
    # grid-1 counts the request's wait from when it would have come by the shortest trip it has seen (a heartbeat's,
    # or from its arrival before it has heard one): on a loaded machine that is up to a few tenths of a second after
    # the front sent it, and released as soon as the front gave up, the request had waited 0.9 s by grid-1's count
    # and was run. Held until it has waited twice its sender's patience, it is past it by any count.
    await asyncio.sleep(max(0.0, asked + 2 * 1.0 - loop.time()))
    SlowCommands.release.set()
    await asyncio.gather(*slow)
    # the marker goes behind them on grid-1: once it is answered, the late one was run or refused
    assert (await link.call("grid-1", ADMIN, "strategies", [], confirmed=False)).ok
    # the user was told "no answer": it did not run behind their back, and grid-1 audits the refusal like any other
    refused = [e for e in grid.operator.audit_log() if e.command == "orders"]
    assert [(e.transport, e.user_id, e.role, e.args) for e in refused] == [("telegram@front", "123", "admin", "grid")]
    assert refused[0].outcome.startswith("refused: waited "), refused[0].outcome
    assert refused[0].outcome.endswith("for a turn, longer than its sender waits (1 s)"), refused[0].outcome
    assert running_link(grid.operator).counters["expired"] == 1


async def test_a_bot_stopping_answers_the_command_it_is_running_before_it_leaves_nats(nats_server, fleet_bot):
    SlowCommands.release = asyncio.Event()
    SlowCommands.started = 0
    front = await fleet_bot("front", nats_server.url, toml="", fleet="call_timeout_s = 5\n")
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n',
                           extra=[("slowcmds", SlowCommands)], start=False)
    grid.resolve_secrets()
    await grid.start()
    await wait_for(lambda: "grid-1" in {m.name for m in front.operator.fleet.members()}, timeout_s=20,
                   what="front to see grid-1")
    call = asyncio.create_task(front.operator.fleet.call("grid-1", ADMIN, "slow", [], confirmed=False))
    await wait_for(lambda: SlowCommands.started == 1, what="grid-1 running the command")
    stopping = asyncio.create_task(grid.stop())
    await asyncio.sleep(0.2)
    SlowCommands.release.set()  # the command ends while grid-1 stops: its answer must still reach the front
    reply = await call
    await stopping
    assert reply.ok and reply.title == "Done slowly.", reply.render_text()


async def test_a_command_refused_as_busy_is_audited_like_any_other_refusal(nats_server, fleet_bot, monkeypatch):
    """A bot with every pending place taken answers "busy" at once: who asked, what and why are in its audit log,
    as a refusal for no role or for waiting too long is."""
    import plugins.fleet.link

    monkeypatch.setattr(plugins.fleet.link, "MAX_PENDING_COMMANDS", 2)
    SlowCommands.release = asyncio.Event()
    SlowCommands.started = 0
    front = await fleet_bot("front", nats_server.url, toml="", fleet="call_timeout_s = 5\n")
    grid = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "telegram:123" = "admin" }\n',
                           extra=[("slowcmds", SlowCommands)])
    await wait_for(lambda: "grid-1" in {m.name for m in front.operator.fleet.members()}, timeout_s=20,
                   what="front to see grid-1")
    link = front.operator.fleet
    slow = [asyncio.create_task(link.call("grid-1", ADMIN, "slow", [], confirmed=False)) for _ in range(2)]
    await wait_for(lambda: SlowCommands.started == 2, what="grid-1 busy")
    reply = await link.call("grid-1", ADMIN, "orders", ["grid"], confirmed=False)
    assert not reply.ok and "busy" in reply.render_text(), reply.render_text()
    SlowCommands.release.set()
    await asyncio.gather(*slow)
    refused = [e for e in grid.operator.audit_log() if e.command == "orders"]
    assert [(e.transport, e.user_id, e.role, e.chat_id, e.args) for e in refused] == \
        [("telegram@front", "123", "admin", "555", "grid")]
    assert refused[0].outcome == "refused: busy: 2 commands waiting", refused[0].outcome
    assert running_link(grid.operator).counters["refused_busy"] == 1
