"""Fleet tests: a real nats-server on 127.0.0.1 and real bots built in-process, each with its own store."""

from __future__ import annotations

import importlib.metadata
import itertools
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

import plugins.fleet
from bot.api.testing import BotUnderTest, build_bot
from tests.helpers.nats_server import NatsServer


def fleet_plugin() -> list[tuple[str, object]]:
    """The fleet plugin as an extra when this environment's metadata does not list it (a venv installed before)."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    return [] if "fleet" in installed else [("fleet", plugins.fleet)]


PAPER = """
[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "8"
tick_interval_ms = 20

[strategies.grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 41
order_size = "0.01"
"""


QUICK = {"heartbeat_s": "0.2", "alive_after_s": "2", "reconnect_wait_s": "0.1"}
"""Fleet settings of the test bots unless a test sets them: heartbeats and reconnects in a fraction of a second."""


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", jetstream=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
async def fleet_bot(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    """``bot = await fleet_bot("front", url, fleet="roles = {...}", toml=PAPER)``: a started bot in the fleet
    (``bot_keys``: more ``[bot]`` lines, e.g. a ``db_url`` two bots share; ``start=False``: the test starts it)."""
    started: list[BotUnderTest] = []
    built = itertools.count(1)

    async def factory(name: str, url: str, *, fleet: str = "", toml: str = PAPER, start: bool = True,
                      extra: list[tuple[str, object]] = (), bot_keys: str = "") -> BotUnderTest:
        data_dir = tmp_path / f"{name}.{next(built)}"  # each bot its own store, started or not
        data_dir.mkdir(exist_ok=True)
        # build_bot opens the [bot] table: its first lines are keys of [bot]
        fleet = textwrap.dedent(fleet)
        quick = "".join(f"{key} = {value}\n" for key, value in QUICK.items() if f"{key} =" not in fleet)
        text = (f'name = "{name}"\n{bot_keys}\n[plugins.fleet]\nenabled = true\nnats_url = "{url}"\n{quick}{fleet}'
                + textwrap.dedent(toml))
        bot = build_bot(text, data_dir=data_dir, extra=[*fleet_plugin(), *extra])
        if start:
            bot.resolve_secrets()
            await bot.start()
            started.append(bot)
        return bot

    yield factory
    for bot in reversed(started):
        await bot.stop()

