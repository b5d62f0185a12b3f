"""Browser tests of the web console: Debian's Chromium driven by Playwright against a real bot.

One bot per test module (in-process, paper venues trading the demo, a fake Kraken feeding a
market-data-only venue, the ``web`` service on 127.0.0.1 port 0) and one headless Chromium per
module, all on the module's event loop: the bot, the server and the Playwright driver share it,
so a test awaits the browser and the bot keeps trading meanwhile.

Screenshots go to ``$ARBOT_SCREENSHOTS`` when set (else a pytest temp folder): they are for a
person to look at, never committed. Without ``/usr/bin/chromium`` the tests are skipped with the
reason, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.api.testing import build_bot
from tests.fakes.kraken import FakeKrakenWS, FakePair, populate
from tests.helpers.processes import arbot

from .browser_kit import ROLES, TOKENS, Console

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # the test machine has no internet: without these Chromium keeps trying to reach Google and stalls
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        return  # in CI the browser tests must run: launching fails loudly instead
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install --no-install-recommends chromium)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


def demo_toml(kraken_url: str) -> str:
    """The embedded demo (grid on BTC/USD, SOL/USDC arbitrage), livelier so that it trades within
    seconds, plus a market-data-only Kraken venue whose silence the System page must show."""
    users = ", ".join(f'{n} = {{ role = "{ROLES[n]}", token = "env:ARBOT_WEB_TEST_{n.upper()}" }}' for n in TOKENS)
    return textwrap.dedent(f"""\
        [exchanges.paper]
        symbols = ["BTC/USD"]
        start_price = "30000"
        volatility_bps = "8"
        tick_interval_ms = 50

        [exchanges.sol-cex]
        type = "paper"
        symbols = ["SOL/USDC"]
        start_price = "150"
        tick_size = "0.01"
        lot_size = "0.001"
        min_qty = "0.01"
        spread_ticks = 2
        level_step_ticks = 1
        level_qty = "25"
        volatility_bps = "2"
        tick_interval_ms = 100
        maker_fee_bps = "5"
        taker_fee_bps = "10"
        initial_balances = {{ SOL = "100", USDC = "15000" }}
        latency_ms = 20
        seed = 11
        state_file = "paper-sol-cex.db"

        [exchanges.sol-pool]
        type = "paper-dex"
        symbol = "SOL/USDC"
        anchor = "sol-cex"
        start_price = "150"
        tvl = "2000000"
        fee_bps = 4
        reversion = "0.3"
        volatility_bps = "1"
        dislocation_probability = "0.05"
        dislocation_min_bps = "40"
        dislocation_max_bps = "90"
        tick_interval_ms = 100
        latency_ms = 30
        initial_balances = {{ SOL = "100", USDC = "10" }}  # too little to buy 0.1 SOL: a low-inventory warning
        seed = 7
        state_file = "paper-sol-pool.db"

        [exchanges.kraken]
        symbols = ["BTC/USD"]
        depth = 10
        ws_url = "{kraken_url}"
        silence_timeout_s = 1.0
        reconnect_initial_s = 0.2
        reconnect_max_s = 1.0

        [strategies.btc-grid]
        type = "grid"
        exchange = "paper"
        symbol = "BTC/USD"
        lower = "28500"
        upper = "31500"
        levels = 21
        order_size = "0.01"
        out_of_range = "shift"

        [strategies.sol-arb]
        type = "arb"
        cex = "sol-cex"
        dex = "sol-pool"
        symbol = "SOL/USDC"
        min_edge_bps = "10"
        max_notional = "300"
        size_step = "0.1"
        min_size = "0.1"

        [risk.limits]
        max_order_notional = {{ USD = "2000", USDC = "2000" }}
        max_position = {{ BTC = "0.5", SOL = "100" }}
        max_open_orders = 60
        max_orders_per_minute = 600
        max_daily_loss = {{ USD = "500", USDC = "500" }}
        max_drawdown = {{ USD = "300", USDC = "300" }}

        [risk.staleness]
        stale_after_s = 2
        check_every_s = 0.5

        [plugins.web]
        enabled = true
        port = 0
        users = {{ {users} }}
        """)


def web_plugins() -> list[tuple[str, object]]:
    """The web plugin as an extra plugin when this checkout's entry point is not installed yet."""
    if importlib.metadata.entry_points(group="arbot", name="web"):
        return []
    import plugins.web

    return [("web", plugins.web)]


async def _kraken_ticks(fake: FakeKrakenWS) -> None:
    """Keep the fake Kraken's book moving (a real venue's feed never stops by itself)."""
    while True:
        await fake.random_updates("BTC/USD", 1)
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory) -> AsyncIterator[Console]:
    data_dir = tmp_path_factory.mktemp("console")
    backtest = await asyncio.create_subprocess_exec(
        *arbot("backtest", "--out", str(data_dir / "demo-backtest"), "--steps", "1500"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await backtest.communicate()
    assert backtest.returncode == 0, err.decode()
    pair = FakePair("BTC/USD", price_decimals=1, qty_decimals=8)
    populate(pair)
    kraken = await FakeKrakenWS([pair]).start()
    ticks = asyncio.get_running_loop().create_task(_kraken_ticks(kraken))
    saved = {n: os.environ.get(f"ARBOT_WEB_TEST_{n.upper()}") for n in TOKENS}
    os.environ.update({f"ARBOT_WEB_TEST_{n.upper()}": t for n, t in TOKENS.items()})
    bot = None
    try:
        bot = build_bot(demo_toml(kraken.url), data_dir=data_dir, extra=web_plugins())
        bot.resolve_secrets()
        await bot.start()
        from plugins.web import running_server

        server = running_server(bot.operator)
        assert server is not None, f"the web service did not start: {bot.plugin_errors('web')}"
        shots = Path(os.environ.get("ARBOT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        yield Console(bot, f"http://127.0.0.1:{server.port}", kraken, shots)
    finally:
        ticks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticks
        if bot is not None:
            await bot.stop()
        await kraken.close()
        for n, v in saved.items():
            if v is None:
                os.environ.pop(f"ARBOT_WEB_TEST_{n.upper()}", None)
            else:
                os.environ[f"ARBOT_WEB_TEST_{n.upper()}"] = v


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser, console):
    """A fresh browser profile (no cookies) per test, laptop-sized; console errors fail the test."""
    ctx = await browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 860},
                                    accept_downloads=True)
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield ctx
    await ctx.close()
    assert not errors, f"errors in the page: {errors}"
