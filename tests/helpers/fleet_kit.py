"""An in-memory fleet: several started Bots in one process, wired by a :class:`bot.api.FleetLink` fake.

``MemoryLink.call`` does what a real fleet link's receiving side does: the target bot decides the
caller's role from its own role map (a bot that does not know the user sees a stranger) and runs the
call through its own command table with ``via=`` the calling bot. A bot in ``fleet.dead`` answers
nothing (``FleetLink.no_answer`` at once, like NATS "no responders") though still alive by its last
heartbeat (it just went); one in ``fleet.slow`` never answers (the link's timeout gives the "no
answer"); one in ``fleet.gone`` is not alive (its heartbeats stopped longer ago than the liveness
window) and answers nothing either.
"""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.api import Caller, FleetLink, FleetMember, Reply, Role
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import collect, load_plugins


class MemoryFleet:
    def __init__(self) -> None:
        self.bots: dict[str, Bot] = {}
        self.roles: dict[str, dict[str, Role]] = {}
        """bot -> user id -> role: who each bot lets do what (its own config, not the caller's word)."""
        self.dead: set[str] = set()
        self.slow: set[str] = set()
        self.gone: set[str] = set()
        self.strip_data: set[str] = set()
        """Bots whose answers lose their ``Reply.data`` on the way (a link that does not carry it)."""
        self.calls: list[tuple[str, str, str, list[str], bool]] = []
        """(from, to, command, args, confirmed) of every forwarded call."""
        self.seen_ns = 1_700_000_000_000_000_000

    def link(self, me: str, timeout_s: float = 5.0) -> MemoryLink:
        return MemoryLink(self, me, timeout_s)


class MemoryLink(FleetLink):
    def __init__(self, fleet: MemoryFleet, me: str, timeout_s: float) -> None:
        self.fleet = fleet
        self.me = me
        self.timeout_s = timeout_s

    def members(self) -> list[FleetMember]:
        return [FleetMember(name, self.fleet.seen_ns, name not in self.fleet.gone, heartbeat(bot))
                for name, bot in sorted(self.fleet.bots.items())]

    async def call(self, bot: str, caller: Caller, name: str, args: list[str], *, confirmed: bool) -> Reply:
        self.fleet.calls.append((self.me, bot, name, list(args), confirmed))
        if bot in self.fleet.dead or bot in self.fleet.gone or bot not in self.fleet.bots:
            return self.no_answer(bot, f"{bot} is not on the bus")
        if bot in self.fleet.slow:
            try:
                await asyncio.wait_for(asyncio.Event().wait(), self.timeout_s)
            except TimeoutError:
                return self.no_answer(bot, f"no answer within {self.timeout_s:g} s")
        role = self.fleet.roles.get(bot, {}).get(caller.user_id)
        target = self.fleet.bots[bot]
        reply = await target.commands.dispatch(Caller(caller.transport, caller.user_id, role, caller.chat_id), name,
                                               list(args), via=self.me, confirmed=confirmed)
        return replace(reply, data={}) if bot in self.fleet.strip_data else reply


def heartbeat(bot: Bot) -> dict[str, Any]:
    """A status summary shaped as the fleet plugin's heartbeat carries one."""
    op = bot.operator
    return {"mode": op.mode, "strategies": {n: {"type": op.strategy_type(n), "state": op.strategy_state(n)}
                                            for n in op.strategies},
            "open_orders": len(op.open_orders()), "pnl_today": {"net": {}}}


async def start_fleet(tmp_path: Path, bots: dict[str, str], *, extra: list[tuple[str, object]] = (),
                      roles: dict[str, Role] | None = None, timeout_s: float = 5.0) -> MemoryFleet:
    """Start one Bot per ``{name: toml}`` (each with its own SQLite store under ``tmp_path/name``), every
    one attached to the fleet; ``roles`` (user id -> role) is every bot's role map unless changed later."""
    fleet = MemoryFleet()
    for name, toml in bots.items():
        data = tmp_path / name
        data.mkdir()
        text = (f'[bot]\nname = "{name}"\ndata_dir = "{data}"\ndb_url = "sqlite:///{data}/arbot.db"\n'
                f'control_socket = ""\n' + textwrap.dedent(toml))
        plugins = load_plugins(extra=list(extra))
        registry = collect(plugins)
        config = build_config(parse_toml(text, f"{name}.toml"), registry, f"{name}.toml")
        resolve_secrets(config)
        bot = Bot(config, plugins, registry)
        await bot.start()
        fleet.bots[name] = bot
        fleet.roles[name] = dict(roles or {})
        bot.attach_fleet(fleet.link(name, timeout_s))
    return fleet


async def stop_fleet(fleet: MemoryFleet) -> None:
    for bot in fleet.bots.values():
        await bot.stop()


def link_heartbeat(op: Any, name: str = "b") -> dict[str, Any]:
    """What the fleet link's heartbeat carries for a bot whose operator is ``op``: a real, unconnected
    ``NatsFleet`` (default settings, no server) asked for its ``status()``, so a test comparing surfaces reads
    the heartbeat as it is built, whatever fields the link adds."""
    import time
    from types import SimpleNamespace

    from plugins.fleet.link import NatsFleet
    from plugins.fleet.settings import FleetSettings

    ctx = SimpleNamespace(bot_name=name, operator=op, clock=SimpleNamespace(monotonic=time.monotonic),
                          create_task=asyncio.ensure_future)
    return NatsFleet(FleetSettings(), ctx).status()  # type: ignore[arg-type]
