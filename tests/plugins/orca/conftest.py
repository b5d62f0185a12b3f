"""Fixtures for the orca exchange: a fake Solana node and started exchanges on it."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from plugins.orca.exchange import OrcaExchange
from plugins.orca.settings import OrcaSettings
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.plugins.orca.orca_pools import WHIRLPOOL


class Clock:
    def time_ns(self) -> int:
        return time.time_ns()


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.fixture
async def make_orca(node):
    """``ex = await make_orca(**settings)``: a started orca exchange on the fake node."""
    started: list[OrcaExchange] = []

    async def factory(**overrides):
        settings = OrcaSettings(rpc_urls=[node.url], ws_urls=[node.ws_url], pools={"SOL/USDC": WHIRLPOOL},
                                reconnect_initial_s=0.02, reconnect_max_s=0.2, request_timeout_s=2.0,
                                start_timeout_s=10.0)
        settings = replace(settings, **overrides)
        published: list = []
        ctx = SimpleNamespace(name="orca", log=logging.getLogger("arbot.exchange.orca"), clock=Clock(),
                              bus=SimpleNamespace(publish=published.append))
        exchange = OrcaExchange("orca", settings, ctx)  # type: ignore[arg-type]
        exchange.published = published  # type: ignore[attr-defined]
        await exchange.start()
        started.append(exchange)
        return exchange

    yield factory
    for exchange in started:
        await exchange.stop()
