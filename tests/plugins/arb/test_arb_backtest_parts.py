"""The backtest's parts: simulated time, the progress bar, miss-reason categories, figures from bus events."""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal

from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.domain import ExecutionResult, Fill, Opportunity, OrderIntent, Side, TimeInForce
from bot.plugins import collect, load_plugins
from plugins.arb.backtest import Progress
from plugins.arb.backtest_loop import BacktestClock, run_simulated
from plugins.arb.backtest_report import BacktestCollector, reason_category, summarize

START = 1_700_000_000_000_000_000


def test_sleeps_take_simulated_time_in_order_and_no_wall_time():
    clock = BacktestClock(START)
    woke: list[tuple[str, int]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, clock.time_ns() - START))

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.gather(sleeper("hour", 3600), sleeper("25ms", 0.025), sleeper("1.5s", 1.5))
        try:
            async with asyncio.timeout(0.1):
                await asyncio.Event().wait()  # nothing will set it: the timeout fires on simulated time
        except TimeoutError:
            woke.append(("timeout", clock.time_ns() - START))
        return loop.time()

    wall = time.perf_counter()
    loop_time = run_simulated(main(), clock)
    assert time.perf_counter() - wall < 5  # an hour and more of sleeping
    assert woke == [("25ms", 25_000_000), ("1.5s", 1_500_000_000), ("hour", 3_600_000_000_000),
                    ("timeout", 3_600_100_000_000)]
    assert loop_time == clock.monotonic() == 3600.1


def test_a_venues_latency_moves_the_simulated_clock(tmp_path):
    """A paper order with a 60 s round trip: the venue fills it 30 s later on the bot's clock, at once in wall time."""
    clock = BacktestClock(START)
    toml = f"""
    mode = "paper"
    [bot]
    data_dir = "{tmp_path}"
    control_socket = ""
    [executor]
    request_timeout_s = 300
    [exchanges.paper]
    tick_interval_ms = 0
    latency_ms = 60000
    state_file = ""
    """

    async def main() -> tuple[int, int, list[Fill]]:
        plugins = load_plugins()
        registry = collect(plugins)
        bot = Bot(build_config(parse_toml(toml.replace("\n    ", "\n"), "t"), registry, "t"), plugins, registry,
                  clock=clock)
        await bot.start()
        fills: list[Fill] = []
        bot.bus.subscribe(Fill, fills.append, owner="test")
        sent = clock.time_ns()
        bot.executor.submit(OrderIntent(strategy="manual", exchange="paper", symbol="BTC/USD", side=Side.BUY,
                                        qty=Decimal("0.01"), price=Decimal("31000"), tif=TimeInForce.IOC))
        assert await bot.executor.settle(600)
        answered = clock.time_ns()
        await bot.stop()
        return sent, answered, fills

    wall = time.perf_counter()
    sent, answered, fills = run_simulated(main(), clock)
    assert time.perf_counter() - wall < 30
    assert len(fills) == 1 and fills[0].ts_ns - sent == 30_000_000_000  # the venue acts halfway
    assert answered - sent >= 60_000_000_000


def test_progress_bar_draws_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Progress(200, tty)
    bar.update(50, 5.0, force=True)
    bar.close()
    assert "\r[" in tty.getvalue() and "25.0%" in tty.getvalue() and "50/200 steps" in tty.getvalue()
    assert tty.getvalue().endswith("\n")

    pipe = io.StringIO()
    quiet = Progress(200, pipe)
    quiet.update(50, 5.0, force=True)
    quiet.close()
    assert pipe.getvalue() == ""


def test_miss_reasons_fall_into_categories():
    cases = {
        "at 0.1 SOL: gross edge 17.3 bps less costs 16.7 bps (cex fee 10.0, dex fee 4.0): net 0.62 bps <= min 10 bps":
            "below min edge",
        "gross edge 25 bps, but the DEX wallet has 0 SOL free; the smallest size is 0.1": "inventory",
        "gross edge 25 bps, but the pool's price impact for 1 SOL is 40 bps > max_dex_impact_bps 30": "size caps",
        "cooldown after the last execution": "cooldown",
        "an execution is in progress": "execution in progress",
        "observe mode": "observe mode",
        "strategy paused": "paused",
        "stale input": "stale input",
        "risk limits vetoed the CEX leg": "risk veto",
        "already executed": "already executed",
        "something new": "other",
        "": "not acted (no reason given)",
    }
    for reason, category in cases.items():
        assert reason_category(reason, Decimal("1")) == category, reason
    assert reason_category("at 0.1 SOL: gross edge 1.3 bps <= min 10 bps before any cost", Decimal("-0.2")) == \
        "unprofitable after costs"


def _opportunity(oid: str, ts: int, net: str, acted: bool = False, reason: str = "") -> Opportunity:
    return Opportunity(strategy="arb", symbol="SOL/USDC", buy_exchange="cex", sell_exchange="dex",
                       buy_price=Decimal("100"), sell_price=Decimal("101"), qty=Decimal("2"), edge_bps=Decimal(0),
                       ts_ns=ts, acted=acted, opportunity_id=oid, net_pnl=Decimal(net), reason=reason)


def test_figures_from_hand_made_events():
    c = BacktestCollector()
    c.on_opportunity(_opportunity("a", 1, "1.5", acted=True))
    c.on_opportunity(_opportunity("b", 2, "0.5", reason="cooldown after the last execution"))
    c.on_opportunity(_opportunity("b", 3, "0.8", reason="cooldown after the last execution"))  # same episode
    c.on_opportunity(_opportunity("c", 4, "0.3", reason="at 2 SOL: gross edge 9 bps less costs: net 3 bps <= min 10"))
    c.on_opportunity(_opportunity("d", 5, "3", acted=True))
    c.on_opportunity(_opportunity("e", 6, "2.5", reason="an execution is in progress"))  # "d" again: not tradable
    c.on_execution(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 10, "a"))
    c.on_execution(ExecutionResult("arb", Decimal("3"), Decimal("3.1"), "USDC", 11, "d"))
    f = summarize(c)
    assert (f.seen, f.taken, f.missed) == (5, 2, 3)
    assert f.missed_by_reason == {"below min edge": 1, "cooldown": 1, "execution in progress": 1}
    assert f.tradable == 3 and f.tradable_predicted_pnl == Decimal("5.3")  # 1.5 + 3 taken, 0.8 best of "b"
    assert f.captured_pnl == Decimal("4.3") and f.capture_rate == Decimal("0.8113")  # 4.3 / 5.3
    assert f.error_quote.count == 2 and f.error_quote.mean == Decimal("0.200000")  # |-0.3| and |0.1|
    assert f.error_quote.p50 == Decimal("0.100000") and f.error_quote.p95 == Decimal("0.300000")
    assert f.error_bps.p95 == Decimal("15.00")  # 0.3 of a 200 USDC buy leg
    assert f.mean_error_quote == Decimal("-0.100000")
    assert f.pnl_curve == [(10, Decimal("1.2")), (11, Decimal("4.3"))]
    assert f.quote == "USDC"


def test_the_executors_rate_limit_paces_orders_in_simulated_time(tmp_path):
    """orders_per_s = 1, burst 1: three orders leave 1 s apart on the bot's clock, not on the wall's."""
    clock = BacktestClock(START)
    toml = f"""
mode = "paper"
[bot]
data_dir = "{tmp_path}"
control_socket = ""
[executor]
orders_per_s = 1.0
burst = 1
[exchanges.paper]
tick_interval_ms = 0
state_file = ""
"""

    async def main() -> tuple[int, list[Fill]]:
        plugins = load_plugins()
        registry = collect(plugins)
        bot = Bot(build_config(parse_toml(toml, "t"), registry, "t"), plugins, registry, clock=clock)
        await bot.start()
        fills: list[Fill] = []
        bot.bus.subscribe(Fill, fills.append, owner="test")
        sent = clock.time_ns()
        for _ in range(3):  # one at a time (a batch would be one request: one token)
            bot.executor.submit(OrderIntent(strategy="manual", exchange="paper", symbol="BTC/USD", side=Side.BUY,
                                            qty=Decimal("0.01"), price=Decimal("31000"), tif=TimeInForce.IOC))
            await asyncio.sleep(0.001)
        assert await bot.executor.settle(600)
        await bot.stop()
        return sent, fills

    wall = time.perf_counter()
    sent, fills = run_simulated(main(), clock)
    assert time.perf_counter() - wall < 30
    offsets_ms = [round((f.ts_ns - sent) / 1e6) for f in fills]
    assert offsets_ms == [0, 1000, 2000]
