"""Shared fixtures: start a real Bot in-process with throwaway plugins and a temporary data dir."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins


@pytest.fixture
async def make_bot(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    """``bot = await make_bot(toml, extra=[("name", plugin)])``: a started Bot, stopped at teardown."""
    started: list[Bot] = []

    async def factory(toml: str, extra: list[tuple[str, object]] = (), start: bool = True, clock=None,
                      control_socket: str = "") -> Bot:
        text = f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "{control_socket}"\n' + textwrap.dedent(toml)
        plugins = load_plugins(extra=list(extra))
        registry = collect(plugins)
        assert not registry.conflicts, registry.conflicts
        config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        bot = Bot(config, plugins, registry, clock=clock)
        if start:
            await bot.start()
            started.append(bot)
        return bot

    yield factory
    for bot in started:
        await bot.stop()
