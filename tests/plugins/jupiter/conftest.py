"""Fixtures for the jupiter plugin: a fake Solana node, a fake Jupiter API and an exchange on them."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from solders.keypair import Keypair

from bot.store import Store
from bot.writer import StoreWriter
from plugins.jupiter.exchange import JupiterExchange
from plugins.jupiter.settings import JupiterSettings
from tests.fakes.jupiter_api import FakeJupiterApi
from tests.fakes.solana_rpc import FakeSolanaRpc


class _Clock:
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.fixture
async def jupiter_api(node):
    fake = await FakeJupiterApi(node).start()
    yield fake
    await fake.close()


@pytest.fixture
def keypair(tmp_path):
    kp = Keypair()
    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(kp))))
    os.chmod(path, 0o600)
    return kp


@pytest.fixture
async def make_exchange(tmp_path, db_url, node, jupiter_api, keypair):
    """``ex = await make_exchange(**settings)``: a started exchange on the fakes (same store each call, or
    ``bot_store``: another bot's store of the same database). Its ``ctx.write_later``/``ctx.read_later`` run on a
    store writer's thread of that store, as a bot's do. Requests time out after the settings' default
    ``request_timeout_s`` (5 s): a loaded machine can take over a second to answer one (1 s here timed a mint's
    read out under CI-like load); a test whose fault needs the timeout passes a shorter one."""
    store = Store(db_url).open()
    started: list[JupiterExchange] = []
    writers: dict[int, StoreWriter] = {}

    async def factory(*, rpc_urls=None, bot_store=None, **overrides):
        settings = JupiterSettings(api_url=jupiter_api.url, rpc_urls=rpc_urls or [node.url],
                                   keypair_file=str(tmp_path / "id.json"), rebroadcast_s=0.05, poll_s=0.02)
        settings = replace(settings, **overrides)
        published: list = []
        its_store = bot_store or store
        writer = writers.setdefault(id(its_store), StoreWriter(its_store))  # a bot's: its own thread, as ctx's
        ctx = SimpleNamespace(name="jupiter", store=its_store, log=logging.getLogger("arbot.exchange.jupiter"),
                              clock=_Clock(), bus=SimpleNamespace(publish=published.append),
                              write_later=writer.later, read_later=writer.read_later)
        exchange = JupiterExchange("jupiter", settings, ctx)  # type: ignore[arg-type]
        exchange.published = published  # type: ignore[attr-defined]
        await exchange.start()
        started.append(exchange)
        return exchange

    yield factory
    for exchange in started:
        await exchange.stop()
    for writer in writers.values():
        writer.close()
    store.close()
