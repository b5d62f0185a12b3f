"""Testing a plugin against a real bot built in-process, public like :mod:`bot.api`.

::

    bot = build_bot(toml, data_dir=tmp_path, extra=[("mine", my_plugin)])
    await bot.start()
    await wait_for(lambda: bot.order("dip-dip") is not None, what="the dip order")
    await bot.stop()

docs/plugins.md ("Testing") turns it into a pytest fixture. The installed plugins are loaded as
``arbot run`` loads them; ``extra`` adds plugins that are not installed (a module or any object
with ``@hookimpl`` functions), ``entry_points=[]`` leaves the installed ones out.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..app import Bot
from ..bus import EventBus
from ..clock import Clock
from ..config import build_config, parse_toml, resolve_secrets
from ..domain import Order
from ..plugins import collect, load_plugins
from ..settings import unbounded
from ..store import Store
from ._core import CommandDispatcher, Component, Operator

__all__ = ["BotUnderTest", "build_bot", "unbounded", "wait_for"]


async def wait_for(condition: Callable[[], Any], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll the event loop until ``condition()`` is true (no blind sleeps in tests); AssertionError on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.005)


class BotUnderTest:
    """A bot built from a TOML string, with what a test drives and inspects."""

    def __init__(self, bot: Bot):
        self._bot = bot

    @property
    def operator(self) -> Operator:
        """What commands, jobs and services get: read models and control verbs."""
        return self._bot.operator

    @property
    def commands(self) -> CommandDispatcher:
        """``await bot.commands.dispatch(Caller("local", "me", "admin"), "status", [])``."""
        return self._bot.commands

    @property
    def bus(self) -> EventBus:
        """Publish events as a venue would (``bus.publish(BookUpdate(...))``), or subscribe to watch them."""
        return self._bot.bus

    @property
    def clock(self) -> Clock:
        return self._bot.clock

    @property
    def store(self) -> Store:
        return self._bot.store

    @property
    def data_dir(self) -> Path:
        return self._bot.data_dir

    def component(self, kind: str, name: str) -> Component:
        """The running ``exchange``, ``strategy``, ``risk``, ``notifier`` or ``service`` called ``name``."""
        tables: dict[str, dict[str, Component]] = {
            "exchange": dict(self._bot.exchanges), "strategy": dict(self._bot.strategies),
            "notifier": dict(self._bot.notifiers), "risk": {c.name: c for c in self._bot.risk.checks},
            "service": dict(self._bot.services)}
        return tables[kind][name]

    def order(self, client_order_id: str) -> Order | None:
        """The executor's record of an order."""
        return self._bot.executor.order(client_order_id)

    def plugin_errors(self, plugin: str) -> list[str]:
        """What was reported against a plugin (failed hooks, components that did not start, ...)."""
        return list(self._bot.plugins.info(plugin).errors)

    def resolve_secrets(self) -> None:
        """Resolve ``env:``/``file:`` settings as ``arbot run`` does (before :meth:`start`)."""
        resolve_secrets(self._bot.config)

    async def start(self) -> None:
        await self._bot.start()

    async def stop(self) -> None:
        await self._bot.stop()


def build_bot(toml: str, *, data_dir: Path, extra: Iterable[tuple[str, object]] = (),
              entry_points: Iterable[Any] | None = None, clock: Clock | None = None) -> BotUnderTest:
    """A bot (not started) from a config text; ``[bot] data_dir`` is ``data_dir``, the control socket off."""
    text = f'[bot]\ndata_dir = "{data_dir}"\ncontrol_socket = ""\n' + textwrap.dedent(toml)
    kwargs: dict[str, Any] = {"extra": list(extra)}
    if entry_points is not None:
        kwargs["entry_points"] = list(entry_points)
    plugins = load_plugins(**kwargs)
    registry = collect(plugins)
    if registry.conflicts:
        raise ValueError("; ".join(registry.conflicts))
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    return BotUnderTest(Bot(config, plugins, registry, clock=clock))
