"""An observe-mode bot with the orca exchange on the fake node: pool states reach the bus and the portfolio."""

from __future__ import annotations

from decimal import Decimal

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.domain import FeedState, FeedStatus, PoolUpdate
from bot.plugins import collect, load_plugins
from tests.helpers.risk_kit import trips
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import TICK_DEFAULT, WHIRLPOOL, put_pool, whirlpool_state


async def test_pool_updates_reach_the_bus_and_the_portfolio(tmp_path, node):
    await put_pool(node, TICK_DEFAULT)
    text = (f'mode = "observe"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n'
            f'[exchanges.orca-sol-usdc]\ntype = "orca"\nrpc_urls = ["{node.url}"]\nws_urls = ["{node.ws_url}"]\n'
            f'pools = {{ "SOL/USDC" = "{WHIRLPOOL}" }}\n')
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    seen: list = []
    bot.bus.subscribe(PoolUpdate, seen.append, owner="test", exchange="orca-sol-usdc", symbol="SOL/USDC")
    bot.bus.subscribe(FeedStatus, seen.append, owner="test", exchange="orca-sol-usdc")
    await bot.start()
    try:
        await wait_for(lambda: any(isinstance(e, PoolUpdate) for e in seen), 10, "the first PoolUpdate")
        assert [e.state for e in seen if isinstance(e, FeedStatus)][-1] is FeedState.LIVE
        first = next(e for e in seen if isinstance(e, PoolUpdate))
        # the portfolio marks the market at the pool's mid (at the default 28-digit context)
        assert abs(bot.portfolio.last_price("orca-sol-usdc", "SOL/USDC") - first.mid) < Decimal("1e-20")
        await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK_DEFAULT + 200)))
        await wait_for(lambda: isinstance(seen[-1], PoolUpdate) and seen[-1].pool.tick == TICK_DEFAULT + 200, 10,
                       "the updated pool on the bus")
        assert seen[-1].mid > first.mid
        assert abs(bot.portfolio.last_price("orca-sol-usdc", "SOL/USDC") - seen[-1].mid) < Decimal("1e-20")
    finally:
        await bot.stop()


async def _staleness_bot(tmp_path, node, confirm_after_s: float) -> Bot:
    await put_pool(node, TICK_DEFAULT)
    text = (f'mode = "observe"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n'
            f'[exchanges.orca-sol-usdc]\ntype = "orca"\nrpc_urls = ["{node.url}"]\nws_urls = ["{node.ws_url}"]\n'
            f'pools = {{ "SOL/USDC" = "{WHIRLPOOL}" }}\nconfirm_after_s = {confirm_after_s}\n'
            '[risk.staleness]\nstale_after_s = 0.6\ncheck_every_s = 0.05\n')
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


def _pool_status(bot: Bot) -> str:
    check = next(c for c in bot.risk.checks if c.name == "staleness")
    return check.status().get("orca-sol-usdc SOL/USDC", "")


async def test_a_quiet_pool_proven_current_is_not_stale(tmp_path, node):
    """The pool never changes; the venue's confirming reads are its data, so staleness never trips on it."""
    bot = await _staleness_bot(tmp_path, node, confirm_after_s=0.2)
    try:
        seen: list = []
        bot.bus.subscribe(PoolUpdate, seen.append, owner="test", exchange="orca-sol-usdc", symbol="SOL/USDC")
        await wait_for(lambda: len(seen) >= 5, 10, "five confirmations of the quiet pool (1 s, > stale_after_s)")
        assert _pool_status(bot).startswith("ok") and {e.pool.tick for e in seen} == {TICK_DEFAULT}
        assert trips(bot, "staleness") == []
    finally:
        await bot.stop()


async def test_a_quiet_pool_not_confirmed_goes_stale(tmp_path, node):
    """Without the confirming reads (confirm_after_s = 0) the feed stays LIVE but sends no data: stale."""
    bot = await _staleness_bot(tmp_path, node, confirm_after_s=0)
    try:
        await wait_for(lambda: _pool_status(bot).startswith("STALE"), 10, "the quiet, unconfirmed pool stale")
    finally:
        await bot.stop()
