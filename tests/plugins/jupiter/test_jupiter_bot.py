"""A live-mode bot with the jupiter exchange on the fakes: an intent goes through the executor to a landed swap."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from solders.keypair import Keypair

from bot.app import Bot
from bot.config import ConfigError, build_config, parse_toml, resolve_secrets
from bot.domain import OrderIntent, OrderStatus, OrderType, Side
from bot.plugins import collect, load_plugins


def bot_toml(tmp_path, node, jupiter_api, mode="live"):
    """A bot's config with one jupiter exchange on the fake node and API (its keypair in $T_JUPITER_KEY)."""
    return (f'mode = "{mode}"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n'
            f'[exchanges.jupiter]\napi_url = "{jupiter_api.url}"\nrpc_urls = ["{node.url}"]\n'
            f'keypair = "env:T_JUPITER_KEY"\nrebroadcast_s = 0.05\npoll_s = 0.02\n')


async def started_bot(text: str, monkeypatch) -> Bot:
    """A started bot of config ``text`` (:func:`bot_toml`), with a fresh keypair in $T_JUPITER_KEY."""
    monkeypatch.setenv("T_JUPITER_KEY", str(Keypair()))
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


async def test_intent_to_landed_swap(tmp_path, node, jupiter_api, monkeypatch):
    bot = await started_bot(bot_toml(tmp_path, node, jupiter_api), monkeypatch)
    try:
        cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="jupiter", symbol="SOL/USDC",
                                              side=Side.SELL, qty=Decimal(1), order_type=OrderType.MARKET,
                                              client_order_id="manual-swap-1"))
        assert cid == "manual-swap-1"
        async with asyncio.timeout(10):
            while (order := bot.executor.order(cid)) is None or order.status is not OrderStatus.FILLED:
                await asyncio.sleep(0.02)
        assert order.filled_qty == Decimal(1) and len(node.landed) == 1
        assert order.exchange_order_id in node.landed
    finally:
        await bot.stop()


def test_refused_outside_live_mode(tmp_path, node, jupiter_api):
    registry = collect(load_plugins())
    grid = ('[strategies.g]\ntype = "grid"\nexchange = "jupiter"\nsymbol = "SOL/USDC"\nlower = "1"\n'
            'upper = "2"\nlevels = 3\norder_size = "1"\n')
    with pytest.raises(ConfigError, match='exchange "jupiter" .type "jupiter". places real orders'):
        build_config(parse_toml(bot_toml(tmp_path, node, jupiter_api, mode="paper") + grid, "t.toml"), registry,
                     "t.toml")


async def test_a_jup_usdc_swaps_sol_network_fee_is_on_its_order(tmp_path, node, jupiter_api, monkeypatch):
    """The swap's fee (``meta.fee``) is in SOL, neither base nor quote of JUP/USDC: the order keeps it per asset
    (``other_fees``, what the Orders page, its CSV and /api/v1/orders show), its quote fee stays 0."""
    from plugins.web.views import order_view

    jup = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
    text = bot_toml(tmp_path, node, jupiter_api) + (
        'symbols = ["JUP/USDC"]\n'
        f'tokens = {{ JUP = "{jup}:6", USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v:6" }}\n')
    bot = await started_bot(text, monkeypatch)
    try:
        cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="jupiter", symbol="JUP/USDC",
                                              side=Side.SELL, qty=Decimal(10), order_type=OrderType.MARKET,
                                              client_order_id="jup-swap-1"))
        async with asyncio.timeout(10):
            while (order := bot.executor.order(cid)) is None or order.status is not OrderStatus.FILLED:
                await asyncio.sleep(0.02)
        await bot.executor.flush()
        [(_, fill)] = bot.store.fills()
        assert fill.fee_asset == "SOL" and fill.fee > 0
        for shown in (order, bot.store.get_order(cid)):
            assert (shown.fee, shown.other_fees) == (Decimal(0), {"SOL": fill.fee})
        view = order_view(bot.store.get_order(cid))
        assert (view["fee"], view["fee_asset"], view["other_fees"]) == ("0", "USDC", {"SOL": str(fill.fee)})
    finally:
        await bot.stop()
