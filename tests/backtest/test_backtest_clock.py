"""The backtest's parts: simulated time (the clock and the loop), the executor on it, the progress bar."""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal

from bot.app import Bot
from bot.backtest.clock import BacktestClock, run_simulated
from bot.backtest.driver import Progress
from bot.config import build_config, parse_toml
from bot.domain import Fill, OrderIntent, Side, TimeInForce
from bot.plugins import collect, load_plugins

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


def test_sockets_are_polled_and_threads_answer_but_a_loop_without_files_makes_no_system_call(monkeypatch):
    import selectors
    import socket

    clock = BacktestClock(START)
    polls: list[float | None] = []
    base_select = selectors.DefaultSelector.select

    def counting(self, timeout=None):
        polls.append(timeout)
        return base_select(self, timeout)

    monkeypatch.setattr(selectors.DefaultSelector, "select", counting)

    async def main() -> tuple[int, bytes, int, int]:
        loop = asyncio.get_running_loop()
        for _ in range(100):  # only the loop's wake-up pipe is registered: turns without polling it
            await asyncio.sleep(0)
        quiet = len(polls)
        answer = await loop.run_in_executor(None, lambda: 42)  # another thread hands its answer back
        far = asyncio.ensure_future(asyncio.sleep(3600))  # a timer far ahead: I/O comes first
        wake = loop.wake_until(START + 1800 * 10**9)  # and so does it before the driver's wait
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours)
        theirs.sendall(b"ping")
        data = await reader.read(4)
        at = clock.time_ns() - START
        assert not wake.done()
        wake.cancel()
        far.cancel()
        writer.close()
        theirs.close()
        return quiet, data, answer, at

    quiet, data, answer, at = run_simulated(main(), clock)
    assert quiet == 0 and answer == 42
    assert data == b"ping" and at == 0 and polls  # read at once, the clock where it was, polled meanwhile


def test_the_drivers_wait_ends_on_its_nanosecond_after_everything_due_by_then():
    """``BacktestLoop.wake_until`` (the driver's wait before a step) is done with the clock on its nanosecond, after
    every timer due by then (one due on that very nanosecond too) and every callback they made ready, and makes no
    timer of its own; a wait of days goes by the loop's longest wait, as a timer's would."""
    clock = BacktestClock(START)
    seen: list[tuple[str, int]] = []

    async def timer(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        seen.append((name, clock.time_ns() - START))
        await asyncio.sleep(0)  # what it makes ready runs before the wait ends too
        seen.append((f"{name}, a turn later", clock.time_ns() - START))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        clock.advance_ns(7)  # an odd start: the float seconds of the loop's time round
        tasks = [asyncio.ensure_future(timer(name, s)) for name, s in
                 (("before", 0.0123456789), ("tie", 0.3), ("after", 0.9), ("long after", 2 * 86_400.0))]
        await asyncio.sleep(0)  # their timers are made
        for ns in (300_000_007, 300_000_008, 633_333_340, 172_800_500_000_000):
            timers = len(loop._scheduled)
            await loop.wake_until(START + ns)
            seen.append((f"woke {ns}", clock.time_ns() - START))
            assert len(loop._scheduled) <= timers  # no timer of its own
        await asyncio.gather(*tasks)

    run_simulated(main(), clock)
    assert seen == [("before", 12_345_686), ("before, a turn later", 12_345_686),
                    ("tie", 300_000_007), ("tie, a turn later", 300_000_007), ("woke 300000007", 300_000_007),
                    ("woke 300000008", 300_000_008), ("woke 633333340", 633_333_340),
                    ("after", 900_000_007), ("after, a turn later", 900_000_007),
                    ("long after", 172_800_000_000_007), ("long after, a turn later", 172_800_000_000_007),
                    ("woke 172800500000000", 172_800_500_000_000)]


def test_the_loop_says_when_nothing_runs_before_a_time():
    """The driver's fast path: it steps a market without a loop turn only when no callback is ready and no
    timer is due by the step's time."""
    clock = BacktestClock(START)

    async def main() -> list[bool]:
        loop = asyncio.get_running_loop()
        seen = [loop.idle_until(START + 5 * 10**9)]
        handle = loop.call_later(2.0, lambda: None)
        seen += [loop.idle_until(START + 1 * 10**9), loop.idle_until(START + 2 * 10**9 + 1)]
        handle.cancel()
        loop.call_soon(lambda: None)
        seen.append(loop.idle_until(START + 1))
        await asyncio.sleep(0)
        return seen

    assert run_simulated(main(), clock) == [True, True, False, False]


def test_a_backtest_runs_no_store_watch(tmp_path, monkeypatch):
    """The bot's store watch (a query every few seconds) is left out: the backtest's store is its own."""
    from bot.identity import StoreWatch
    from tests.backtest.backtest_kit import backtest, write_config

    checks = []
    monkeypatch.setattr(StoreWatch, "problem", lambda self: checks.append(1))
    result = backtest(write_config(tmp_path), tmp_path / "out")
    assert result.simulated_ns > 20 * 1_000_000_000  # four times the watch's period, and more
    assert checks == []


def test_a_timer_lands_on_its_own_nanosecond_wherever_the_clock_stopped_before():
    """The clock reaches a timer on the nanosecond nearest its due time, and nowhere else: not a nanosecond past
    it when the clock already stands there (the loop's float seconds leave a timer due a fraction of a
    nanosecond ahead), and not off it after stops on the way (another timer, a cancelled one, the driver's
    wait). So a backtest's times do not depend on which unrelated timers were pending."""

    def due_a_fraction_ahead() -> float:
        # A delay whose due time, in the loop's float seconds, lies a fraction of a nanosecond past the
        # nanosecond nearest it: the clock standing on that nanosecond still has to wait for it.
        for k in range(1_000):
            delay = 0.1 + k * 1e-9 + 3e-10
            when = 7e-9 + delay
            if when - round(when * 1e9) / 1e9 > 0:
                return delay
        raise AssertionError("no such delay")

    delay = due_a_fraction_ahead()

    def run(stops: str) -> int:
        clock = BacktestClock(START)

        async def main() -> int:
            loop = asyncio.get_running_loop()
            clock.advance_ns(7)
            sleeper = asyncio.ensure_future(asyncio.sleep(delay))
            await asyncio.sleep(0)  # its timer is made
            nearest = START + round(loop._scheduled[0].when() * 1e9)
            if stops == "the clock on it":  # the driver moved the clock to a step due on that nanosecond
                clock.advance_to(nearest)
            elif stops == "on the way":
                loop.call_later(0.05, lambda: None)
                loop.call_later(0.04, lambda: None).cancel()
                await loop.wake_until(clock.time_ns() + 33_333_333)
                await asyncio.sleep(0.0123456789)
            await sleeper
            return clock.time_ns() - nearest

        return run_simulated(main(), clock)

    assert [run(stops) for stops in ("none", "the clock on it", "on the way")] == [0, 0, 0]


def test_the_loop_clears_cancelled_timers_before_saying_it_is_idle():
    """A cancelled timer at the head of the loop's heap runs nothing: the driver's fast path goes on past it."""
    clock = BacktestClock(START)

    async def main() -> tuple[bool, int]:
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, lambda: None).cancel()
        live = loop.call_later(3.0, lambda: None)
        idle = loop.idle_until(START + 2 * 10**9)
        left = len(loop._scheduled)
        live.cancel()
        return idle, left

    assert run_simulated(main(), clock) == (True, 1)


def test_step_to_is_idle_until_then_the_clock_moved():
    """The driver's one call before a step: the answer of ``idle_until`` (whatever timer heads the heap: a new one,
    one it already looked at, one cancelled since, an earlier one pushed in front), and the clock on the step when
    it is True, left where it was when it is False."""
    clock = BacktestClock(START)

    async def main() -> list[tuple[bool, bool, int]]:
        loop = asyncio.get_running_loop()
        seen = []

        def ask(at_s: float) -> None:
            ns = START + round(at_s * 10**9)
            before = clock.time_ns()
            stepped = loop.step_to(ns)  # first: idle_until clears cancelled timers off the head
            after = clock.time_ns()
            seen.append((loop.idle_until(ns), stepped, after - (ns if stepped else before)))

        ask(0.5)  # no timer at all
        later = loop.call_at(loop.time() + 1.5, lambda: None)  # due at 2 s
        ask(1.0)  # a new head, due after
        ask(1.5)  # the same head, looked at already
        ask(2.5)  # the same head, due by then
        sooner = loop.call_at(loop.time() + 0.04, lambda: None)  # due at 1.54 s, in front of it
        ask(1.55)
        sooner.cancel()  # the head, cancelled: the one behind it counts
        ask(1.6)
        later.cancel()
        ask(1.8)  # the head looked at already, cancelled since: due after anyway
        ask(3.0)  # cancelled, and due by then: nothing is left to run
        loop.call_soon(lambda: None)
        ask(4.0)  # a callback ready now
        await asyncio.sleep(0)
        return seen

    assert run_simulated(main(), clock) == [
        (True, True, 0), (True, True, 0), (True, True, 0), (False, False, 0), (False, False, 0),
        (True, True, 0), (True, True, 0), (True, True, 0), (False, False, 0),
    ]
