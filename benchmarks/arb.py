"""Arbitrage benchmark: tick->decision latency through the arb strategy, and backtest throughput.

**(a) Tick -> decision.** Raw Kraken WebSocket v2 ``book`` frames for SOL/USDC (price precision 2,
qty precision 8, depth 10, Kraken's CRC32 on every frame) from a seeded generator: mostly size
changes near the touch, one-tick moves, and now and then a jump of 30-90 bps that opens an
arbitrage against the pool. Each frame goes through ``plugins.kraken.book.KrakenBooks.handle``;
its ``on_book`` does what ``KrakenExchange._on_book`` does (a ``BookUpdate`` view of the book ->
``bus.publish`` -> ``release``), the bus calls the portfolio and the ``arb`` strategy, whose
``on_market`` prices both directions against a concentrated-liquidity pool
(``arbotlib.amm.whirlpool.model.WhirlpoolModel`` from a ``paper-dex`` venue) and decides: nothing, an
``Opportunity``, or an execution (both legs through the risk gate into the executor's queues, the
execution row written first). The ``limits`` check watches ``max_drawdown``, as
``config.example.toml`` does: it marks equity on the books of what the strategies hold (an
arbitrage holds the SOL its fees paid). The time measured per frame is from just before ``handle``
gets the raw bytes to the return of the whole synchronous chain, i.e. the decision taken. The pool moves
(one ``paper-dex`` step following the CEX mid, a new ``PoolUpdate``, the pricer's caches
cleared) every ``--pool-every`` frames, as a pool account update would; orders in flight are let
run between frames (not timed), as the event loop would.

Baseline in the same run: the same frames through ``KrakenBooks.handle`` alone (checksums on,
no callback), so the strategy's share is the difference.

**(b) Backtest throughput.** ``arbot backtest`` (the host's ``bot.backtest.driver.run_backtest``) over the
embedded default's SOL/USDC venues (a paper CEX and a paper-dex pool with dislocations) with the
arb strategy, in market steps (ticks) per CPU second of this process (wall time beside it), measured
over the steps (bot start, the final settling and stop excluded); baseline: the same venues and steps
with no strategy; and the demo's BTC/USD grid; then the same SOL/USDC pair with a recorded CEX: the tick
benchmark's Kraken v2 frames written as ``arbot record`` writes them (100 ms apart, the synthetic CEX's
pace) replayed through the Kraken plugin's own book code (``market = "recording"``) with the pool
anchored to it, venues alone and with the arb strategy. Each is run twice in this run: "before" and
"after", with their results side by side. Before is, by default, the engine as it was before issue
16 in this checkout (``loop_per_step=True``: a turn of the event loop per market step, the dead-man
watchdog's timer on); with ``--baseline-tree DIR`` it is the code of another checkout (e.g. ``git
archive main | tar -x -C DIR``, plus the built C extension), run in a subprocess on the same scenario.
``--backtest-only`` runs this section alone. Goals: >= 100,000 ticks/s with the arb strategy; the venues
alone >= 200,000 ticks/s (<= 5 us per market step), so that the venues leave the strategy most of a
10 us step.

**(a') Tick -> both legs handed.** ``--executions`` arbitrages one after another through the same
bot: a raw frame that opens one (the CEX jumps 90-135 ticks away from the pool), read from a socket as
a websocket's data is, from just before ``handle`` to the moment the second leg's request enters its
venue's ``place_order``, the durable
record (the execution and both orders, one intent) made first: wall time and the process's CPU
time. A request is handed when ``place_order`` is entered; the venue receives it a loop turn later,
as over a network (the paper venues here have no latency: without that hop, the first leg's venue
would match it, and the bot handle its fill, before the second leg is even handed). Three times as
many are run, alternating: orders committed and their requests made by ``Executor.submit`` itself
(after issue 16), the same with the venue receiving each request in the turn it is handed (the
measurement before this hop was modelled), and through the lanes' workers (before issue 16).

**Before/after in one run** (``--tick-baseline-tree DIR``): tick -> decision and tick -> both legs
are also timed with the code of another checkout (e.g. ``git archive main | tar -x -C DIR`` plus
the built C extension) and with this one, each in its own process, alternating in
``--tick-rounds`` rounds over the same frames, so that the machine's load falls on both alike. Tick ->
both legs is timed by this checkout's ``tick_to_wire`` in both (the same measurement of either code).

    python benchmarks/arb.py [--frames 200000] [--steps 20000] [--executions 300] [--tick-baseline-tree DIR]
    python benchmarks/arb.py --backtest-only [--steps 20000] [--baseline-tree DIR]

Ends with one ``RESULT arb key=value ...`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from array import array
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration import DESKTOP, calibration_us  # noqa: E402

from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml  # noqa: E402
from bot.domain import BookUpdate, Opportunity  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402
from plugins.kraken.book import KrakenBooks  # noqa: E402

SYMBOL = "SOL/USDC"
PRICE_DECIMALS = 2
QTY_DECIMALS = 8
DEPTH = 10
START_UNITS = 15_000  # 150.00

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
control_socket = ""
[executor]
orders_per_s = 100000
burst = 1000
[exchanges.cex]
type = "paper"
symbols = ["SOL/USDC"]
start_price = "150"
tick_size = "0.01"
lot_size = "0.001"
min_qty = "0.01"
spread_ticks = 2
level_step_ticks = 1
level_qty = "25"
tick_interval_ms = 0
taker_fee_bps = "10"
initial_balances = {{ SOL = "100000", USDC = "15000000" }}
state_file = ""
[exchanges.dex]
type = "paper-dex"
symbol = "SOL/USDC"
pool = "concentrated"
anchor = "cex"
start_price = "150"
tvl = "2000000"
fee_bps = 4
dislocation_probability = "0"
tick_interval_ms = 0
initial_balances = {{ SOL = "100000", USDC = "15000000" }}
state_file = ""
[strategies.arb]
type = "arb"
cex = "cex"
dex = "dex"
symbol = "SOL/USDC"
cex_taker_fee_bps = "10"
min_edge_bps = "10"
max_notional = "1500"
size_step = "0.1"
min_size = "0.1"
cooldown_ms = 200
max_input_age_ms = 60000
[risk.limits]
max_order_notional = "5000"
max_drawdown = "100000"
"""


# --- Kraken v2 frames -----------------------------------------------------------------------------


def _fmt(units: int, decimals: int) -> str:
    s = str(units).rjust(decimals + 1, "0")
    return f"{s[:-decimals]}.{s[-decimals:]}"


def _levels_json(levels: list[tuple[int, int]]) -> str:
    return ",".join(f'{{"price":{_fmt(p, PRICE_DECIMALS)},"qty":{_fmt(q, QTY_DECIMALS)}}}' for p, q in levels)


class Venue:
    """A SOL/USDC book of exactly DEPTH levels a side, in integer units, and the frames a subscriber gets."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.bids = {START_UNITS - 1 - i: self.qty() for i in range(DEPTH)}
        self.asks = {START_UNITS + 1 + i: self.qty() for i in range(DEPTH)}

    def qty(self) -> int:
        return self.rng.randint(1, 5_000) * 1_000_000  # 0.01 .. 50 SOL

    def checksum(self) -> int:
        asks = sorted(self.asks)[:10]
        bids = sorted(self.bids, reverse=True)[:10]
        text = "".join(f"{p}{self.asks[p]}" for p in asks) + "".join(f"{p}{self.bids[p]}" for p in bids)
        return zlib.crc32(text.encode())

    def frame(self, kind: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> bytes:
        stamp = ',"timestamp":"2026-11-22T03:00:00.000000Z"' if kind == "update" else ""
        return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{SYMBOL}","bids":[{_levels_json(bids)}],'
                f'"asks":[{_levels_json(asks)}],"checksum":{self.checksum()}{stamp}}}]}}').encode()

    def snapshot(self) -> bytes:
        return self.frame("snapshot", sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))

    def _shift(self, ticks: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        changes = []
        for side in (self.bids, self.asks):
            new = {p + ticks: q for p, q in side.items()}
            diff = [(p, 0) for p in side if p not in new] + [(p, q) for p, q in new.items() if side.get(p) != q]
            side.clear()
            side.update(new)
            changes.append(diff)
        return changes[0], changes[1]

    def step(self) -> bytes:
        r = self.rng.random()
        if r < 0.90:  # a size changes near the touch
            bid = self.rng.random() < 0.5
            side = self.bids if bid else self.asks
            price = sorted(side, reverse=bid)[min(int(self.rng.expovariate(0.5)), DEPTH - 1)]
            side[price] = self.qty()
            change = [(price, side[price])]
            return self.frame("update", change if bid else [], [] if bid else change)
        if r < 0.995:  # the price ticks
            bids, asks = self._shift(self.rng.choice((-1, 1)))
        else:  # a jump: 30 to 90 bps, either way (the pool lags: an arbitrage opens)
            bids, asks = self._shift(self.rng.choice((-1, 1)) * self.rng.randint(45, 135))
        return self.frame("update", bids, asks)


def instrument_frame() -> bytes:
    return (b'{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"SOL/USDC",'
            b'"base":"SOL","quote":"USDC","status":"online","qty_precision":8,"qty_increment":0.00000001,'
            b'"price_precision":2,"price_increment":0.01,"qty_min":0.02,"cost_min":0.5}]}}')


def generate(n: int, seed: int) -> list[bytes]:
    venue = Venue(random.Random(seed))
    return [instrument_frame(), venue.snapshot()] + [venue.step() for _ in range(n)]


# --- (a) tick -> decision -------------------------------------------------------------------------


def percentile(values: list[int], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def arb_unless_installed() -> list[tuple[str, object]]:
    """The arb plugin as an extra plugin, if this checkout's entry point is not installed (yet)."""
    if any(ep.name == "arb" for ep in importlib.metadata.entry_points(group="arbot")):
        return []
    import plugins.arb

    return [("arb", plugins.arb)]


def load_with_arb():
    return load_plugins(extra=arb_unless_installed(), report=lambda info, message: None)


def baseline_handler(frames: list[bytes]) -> list[int]:
    books = KrakenBooks(DEPTH, symbols=[SYMBOL])
    handle, now = books.handle, time.perf_counter_ns
    out = array("q")
    gc.collect()
    for frame in frames:
        t0 = now()
        handle(frame)
        out.append(now() - t0)
    assert books.counters.checksum_ok >= len(frames) - 3, books.counters
    return sorted(out[2:])


async def through_strategy(frames: list[bytes], pool_every: int, executions: int) -> tuple[list[int], dict]:
    with tempfile.TemporaryDirectory() as data_dir:
        plugins = load_with_arb()
        registry = collect(plugins)
        config = build_config(parse_toml(CONFIG.format(data_dir=data_dir), "bench"), registry, "bench")
        bot = Bot(config, plugins, registry)
        await bot.start()
        publish, clock = bot.bus.publish, bot.clock

        def on_book(sb) -> None:  # what KrakenExchange._on_book does for a verified book
            event = BookUpdate.of_book("cex", sb.symbol, sb.book, DEPTH, clock.time_ns())
            publish(event)
            event.release()

        books = KrakenBooks(DEPTH, on_book=on_book, symbols=[SYMBOL])
        handle, now, cpu = books.handle, time.perf_counter_ns, time.thread_time_ns
        dex = bot.exchanges["dex"]
        executor = bot.executor
        strategy = bot.strategies["arb"]
        out = array("q")
        out_cpu = array("q")
        decided = {"nothing published": array("q"), "opportunity published": array("q"), "executed": array("q")}
        seen = [0, 0]  # Opportunity events, acted ones: what each tick decided, from the bus

        def on_opportunity(o: Opportunity) -> None:
            seen[0] += 1
            seen[1] += o.acted

        bot.bus.subscribe(Opportunity, on_opportunity, owner="bench")
        reporting = array("q")  # an opportunity not acted on is published one loop turn after its decision
        gc.collect()
        for i, frame in enumerate(frames):
            before = seen[0], seen[1], strategy._published_ns
            c0 = cpu()
            t0 = now()
            handle(frame)
            t1 = now()
            c1 = cpu() - c0
            out_cpu.append(c1)
            out.append(t1 - t0)
            if strategy._published_ns != before[2] and seen[1] == before[1]:
                r0 = cpu()
                await asyncio.sleep(0)  # the deferred report runs now: measured apart, not in tick->decision
                reporting.append(cpu() - r0)
            kind = ("executed" if seen[1] > before[1] else "opportunity published" if seen[0] > before[0]
                    else "nothing published")
            decided[kind].append(c1)
            if i % pool_every == 0:
                dex.step()  # the pool follows the CEX mid: a new PoolUpdate, the pricer's caches cleared
            if executor._in_flight or strategy.executions.current:
                await asyncio.sleep(0)  # legs in flight: let the loop run them (not timed)
        for _ in range(200):
            if not (executor._in_flight or strategy.executions.current):
                break
            await asyncio.sleep(0.01)
        facts: dict = dict(strategy.status())
        # the counts printed and in the RESULT line: the Opportunity events seen on the bus, the executions done
        # (status() labels its own counts for /status, "opportunities this run", and they may be renamed again)
        facts["opportunities"], facts["executed"] = seen[0], strategy.executions.done_count
        facts["to_wire"] = await tick_to_wire(bot, handle, executions)
        facts["checksum_ok"] = books.counters.checksum_ok
        facts["cpu_ns"] = sorted(out_cpu[2:])
        facts["by_decision"] = {k: sorted(v) for k, v in decided.items()}
        facts["reporting_ns"] = sorted(reporting)
        await bot.stop()
    return sorted(out[2:]), facts


SAME_TURN = "immediate, venue in the same turn"
PATHS = ("immediate", SAME_TURN, "lane")
"""How the legs' orders reach their venues: committed and sent by ``Executor.submit`` itself (the send path
since issue 16), the same with each venue receiving its request in the turn it is handed (no network hop:
the first leg's paper venue matches it, and the bot handles its fill, before the second leg is handed), or
through each exchange's lane worker (a loop turn to commit, another to send: the path before it, and still
the one taken when the lane is busy or the store cannot record on the loop)."""


async def tick_to_wire(bot, handle, n: int, paths: tuple[str, ...] = PATHS) -> dict[str, dict[str, list[int]]]:
    """``n`` executions per path, one at a time, the paths alternating (the machine's load hits all
    alike): a raw frame that opens an arbitrage (the CEX jumps 60-90 bps away from the pool), from just
    before ``handle`` to the moment the second leg's request is handed to its venue (``place_order``
    entered; the venue receives it a loop turn later, as over a network, except on ``SAME_TURN``), the
    execution row and both order rows committed first. The frame arrives through a socket, handled in a read
    callback as a websocket's data is (from a task woken by a timer, the tasks woken by other timers due in
    the same loop turn ran between the tick and its legs; after a read callback they run after the legs).
    Wall time and the process's CPU time (every thread: the loop and the store writer). The first execution
    of each path is not timed (it warms up: it compiles the records' statements and runs code for the first
    time, as a bot does once after it starts).
    Also run on another checkout's code (``tick_rounds``): it uses nothing this round added."""
    strategy, dex, executor = bot.strategies["arb"], bot.exchanges["dex"], bot.executor
    entered: dict[str, tuple[int, int]] = {}
    now, cpu = time.perf_counter_ns, time.process_time_ns
    hop = [True]

    def wrap(exchange) -> None:
        place_one, place_many = exchange.place_order, exchange.place_orders

        async def place_order(order):
            entered[order.client_order_id] = (now(), cpu())
            if hop[0]:
                await asyncio.sleep(0)  # the network: the venue receives the request a loop turn later
            return await place_one(order)

        async def place_orders(orders):
            for order in orders:
                entered[order.client_order_id] = (now(), cpu())
            if hop[0]:
                await asyncio.sleep(0)
            return await place_many(orders)

        exchange.place_order, exchange.place_orders = place_order, place_orders

    wrap(bot.exchanges["cex"])
    wrap(dex)
    import socket  # here: this function also runs in another checkout's module (tick_rounds)

    loop = asyncio.get_running_loop()
    feed, wire = socket.socketpair()
    wire.setblocking(False)
    arrived: list[tuple[int, int]] = []

    def on_frame() -> None:  # a read callback: it runs before the timers that came due in its loop turn
        arrived.append((cpu(), now()))
        handle(wire.recv(1 << 16))

    loop.add_reader(wire.fileno(), on_frame)
    venue = Venue(random.Random(99))
    handle(venue.snapshot())
    for _ in range(3):
        dex.step()
    out = {path: {"wall": [], "cpu": []} for path in paths}
    sign = 1
    for attempt in range((n + 1) * len(paths) * 3):
        path = paths[attempt % len(paths)]
        if all(len(v["wall"]) >= n for v in out.values()):
            break
        if path == "lane":
            executor._now_path = lambda lane: False  # every order through its lane worker
        else:
            executor.__dict__.pop("_now_path", None)
        hop[0] = path != SAME_TURN
        wall, cpu_ns = out[path]["wall"], out[path]["cpu"]
        strategy._cooldown_until_ns = 0  # one execution after another, as fast as they can be sent
        done_before = strategy.executions.done_count
        bids, asks = venue._shift(sign * venue.rng.randint(90, 135))
        frame = venue.frame("update", bids, asks)
        sign = -sign
        arrived.clear()
        feed.send(frame)  # the frame comes in as the exchange's websocket data would: a socket read callback
        for _ in range(5000):
            if arrived:
                break
            await asyncio.sleep(0)
        c0, t0 = arrived[0]
        current = list(strategy.executions.current)
        if current:
            cids = [f"{current[0]}-cex", f"{current[0]}-dex"]
            for _ in range(5000):
                if all(c in entered for c in cids):
                    break
                await asyncio.sleep(0)
            if all(c in entered for c in cids) and attempt >= len(paths):  # the first of each path warms up
                last = max(entered[c] for c in cids)
                wall.append(last[0] - t0)
                cpu_ns.append(last[1] - c0)
        for _ in range(500):
            if strategy.executions.done_count > done_before or not strategy.executions.current:
                if not executor._in_flight:
                    break
            await asyncio.sleep(0.002)
        for _ in range(3):
            dex.step()  # the pool follows the CEX mid again
    executor.__dict__.pop("_now_path", None)
    loop.remove_reader(wire.fileno())
    feed.close()
    wire.close()
    return {path: {"wall": sorted(v["wall"][:n]), "cpu": sorted(v["cpu"][:n])} for path, v in out.items()}


_TICK_RUN = """
import asyncio, json, sys
sys.path[:0] = [{tree!r}, {tree!r} + "/benchmarks"]
import arb
arb.CONFIG = {config!r}  # this checkout's bot config (its risk checks) in every tree: the same work measured
arb.SAME_TURN = {same_turn!r}
arb.PATHS = ("immediate", arb.SAME_TURN)
exec({timing!r}, arb.__dict__)  # tick -> both legs timed by the same code in every tree
full, facts = asyncio.run(arb.through_strategy(arb.generate({frames}, {seed}), {pool_every}, {executions}))
wire = facts["to_wire"]
print(json.dumps({{"cpu": list(facts["cpu_ns"]), "wire": wire["immediate"], "same_turn": wire[arb.SAME_TURN]}}))
"""


def tick_rounds(trees: dict[str, str], frames: int, seed: int, pool_every: int, executions: int,
                rounds: int) -> dict[str, dict[str, list[int]]]:
    """Tick -> decision CPU times and tick -> both legs (the tree's own send path) of each source tree,
    each in its own process, the trees alternating in ``rounds`` rounds of ``frames / rounds`` frames
    (seeds ``seed``, ``seed + 1``...; the same frames for every tree), so that the machine's load falls
    on all of them alike; the order of the trees is reversed every other round, since the one run second in a
    round read about 4% slower (two runs with the trees' places swapped, this code against itself).
    Used with ``--tick-baseline-tree``: before (another checkout) and after (this one)."""
    out = {name: {"cpu": [], "wall": [], "wire_cpu": [], "same_turn_wall": [], "same_turn_cpu": []}
           for name in trees}
    timing = inspect.getsource(tick_to_wire)
    for r in range(rounds):
        for name, tree in (list(trees.items()) if r % 2 == 0 else list(trees.items())[::-1]):
            script = _TICK_RUN.format(tree=tree, frames=frames // rounds, seed=seed + r, pool_every=pool_every,
                                      executions=executions // rounds, same_turn=SAME_TURN, timing=timing,
                                      config=CONFIG)
            done = subprocess.run([sys.executable, "-c", script], cwd=tree, capture_output=True, text=True,
                                  check=True)
            got = json.loads(done.stdout.strip().splitlines()[-1])
            out[name]["cpu"] += got["cpu"]
            out[name]["wall"] += got["wire"]["wall"]
            out[name]["wire_cpu"] += got["wire"]["cpu"]
            out[name]["same_turn_wall"] += got["same_turn"]["wall"]
            out[name]["same_turn_cpu"] += got["same_turn"]["cpu"]
    return {name: {k: sorted(v) for k, v in got.items()} for name, got in out.items()}


# --- (b) backtest throughput -----------------------------------------------------------------------

POOL = """[exchanges.sol-pool]
type = "paper-dex"
symbol = "SOL/USDC"
anchor = "sol-cex"
start_price = "150"
dislocation_probability = "0.03"
dislocation_min_bps = "25"
dislocation_max_bps = "90"
tick_interval_ms = 200
latency_ms = 100
initial_balances = { SOL = "100", USDC = "15000" }
seed = 7
"""
BACKTEST = """
mode = "paper"
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
taker_fee_bps = "10"
initial_balances = { SOL = "100", USDC = "15000" }
latency_ms = 50
seed = 11

""" + POOL
BACKTEST_ARB = """
[strategies.sol-arb]
type = "arb"
cex = "sol-cex"
dex = "sol-pool"
symbol = "SOL/USDC"
cex_taker_fee_bps = "10"
max_notional = "1500"
size_step = "0.1"
min_size = "0.1"
"""


BACKTEST_GRID = """
mode = "paper"
[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "4"
tick_interval_ms = 100
[strategies.btc-grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "28500"
upper = "31500"
levels = 21
order_size = "0.01"
out_of_range = "shift"
"""
RECORDED = """
mode = "paper"
[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
market = "recording"
recording = "{recording}"
recording_exchange = "kraken"
tick_size = "0.01"
lot_size = "0.00000001"
min_qty = "0.01"
taker_fee_bps = "10"
initial_balances = { SOL = "100", USDC = "15000" }
latency_ms = 50
""" + POOL
SCENARIOS = {
    "venues only (SOL/USDC CEX + pool)": (BACKTEST, False),
    "arb strategy (SOL/USDC)": (BACKTEST + BACKTEST_ARB, True),
    "grid strategy (BTC/USD, the demo's)": (BACKTEST_GRID, True),
    "recorded Kraken book + pool, venues only": (RECORDED, False),
    "recorded Kraken book + pool, arb strategy": (RECORDED + BACKTEST_ARB, True),
}
RECORDED_EVERY_NS = 100_000_000
"""Recorded receive time between two book frames: the synthetic CEX's pace, so the pool moves as often per frame."""


def write_recording(path: Path, frames: int, seed: int) -> None:
    """``frames`` Kraken v2 book frames of the tick benchmark's generator as ``arbot record`` writes them
    (instrument, snapshot, updates ``RECORDED_EVERY_NS`` apart, Kraken's CRC32 on each)."""
    from bot.recording import frame_line

    start = 1_763_780_000_000_000_000
    frames_ = generate(frames, seed)
    path.write_text("".join(frame_line(raw, start + i * RECORDED_EVERY_NS) for i, raw in enumerate(frames_)))


def backtest_rate(config: str, steps: int, with_strategy: bool, before: bool) -> tuple[float, float, dict]:
    """(ticks per CPU second, ticks per wall second, facts) of one backtest; ``before``: the engine's loop as it
    was before issue 16 (a loop turn per market step, the watchdog's timer on)."""
    from bot.backtest.driver import run_backtest

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backtest.toml"
        path.write_text(config)
        result = run_backtest(path, Path(tmp) / "out", steps, chart=False, require_strategy=with_strategy,
                              extra_plugins=arb_unless_installed(), loop_per_step=before)
        return result.steps / result.steps_cpu_s, result.steps / result.steps_wall_s, outcome_facts(result)


def outcome_facts(result) -> dict:
    """What a backtest decided, to compare two engines' results."""
    arb = next((s.data for s in result.sections if s.key == "arb"), None)
    facts = {"simulated_s": round(result.simulated_ns / 1e9, 1), "fills": result.host.fills}
    if arb is not None:
        captured = f"{Decimal(arb['pnl']['captured']).quantize(Decimal('0.01'))} {arb['quote']}"
        facts.update(seen=arb["opportunities"]["seen"], taken=arb["opportunities"]["taken"], captured=captured)
    return facts


_IN_TREE = """
import importlib.metadata, json, sys, tempfile
from decimal import Decimal
from pathlib import Path
sys.path.insert(0, {tree!r})
from bot.backtest.driver import run_backtest
extra = []
if not any(ep.name == "arb" for ep in importlib.metadata.entry_points(group="arbot")):
    import plugins.arb
    extra = [("arb", plugins.arb)]
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "backtest.toml"
    path.write_text({config!r})
    result = run_backtest(path, Path(tmp) / "out", {steps}, chart=False, require_strategy={with_strategy},
                          extra_plugins=extra)
    arb = next((s.data for s in result.sections if s.key == "arb"), None)
    facts = {{"simulated_s": round(result.simulated_ns / 1e9, 1), "fills": result.host.fills}}
    if arb is not None:
        captured = f"{{Decimal(arb['pnl']['captured']).quantize(Decimal('0.01'))}} {{arb['quote']}}"
        facts.update(seen=arb["opportunities"]["seen"], taken=arb["opportunities"]["taken"], captured=captured)
    print(json.dumps([result.steps / result.steps_cpu_s, result.steps / result.steps_wall_s, facts]))
"""
"""One backtest in another checkout (its own code only: nothing of this one on the path); the facts as
:func:`outcome_facts` makes them."""


HERE = Path(__file__).resolve().parent.parent
"""This checkout: with ``--baseline-tree``, its backtests run in fresh processes as the baseline's do (run one after
another in this process, the later scenarios read up to 18% slower: the earlier ones' garbage and caches)."""


def backtest_rate_in(tree: Path, config: str, steps: int, with_strategy: bool) -> tuple[float, float, dict]:
    """:func:`backtest_rate` of the code in another checkout ``tree`` (e.g. ``git worktree add /tmp/before
    main``), in a subprocess of this interpreter: the same scenario on the same machine in the same run."""
    import subprocess

    code = _IN_TREE.format(tree=str(tree), config=config, steps=steps, with_strategy=with_strategy)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode:
        raise SystemExit(f"the backtest in {tree} failed:\n{done.stderr[-3000:]}")
    cpu, wall, facts = json.loads(done.stdout.strip().splitlines()[-1])
    return cpu, wall, facts


def backtests(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Every backtest scenario, before and after, best of ``--repeat`` alternated runs; one line each.
    Before: the code in ``--baseline-tree`` when given, else this engine with a loop turn per step."""
    tree = Path(args.baseline_tree).resolve() if args.baseline_tree else None
    what = f"the code in {tree}" if tree else "a loop turn per step and the watchdog's timer, as before issue 16"
    print(f"backtest, {args.steps:,} market steps each, in ticks (market steps) per CPU second of the steps "
          f"(wall in brackets), best of {args.repeat} alternated runs; before = {what}:")
    rates: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "kraken-sol-usdc.jsonl"
        write_recording(recording, args.steps, args.seed)
        for label, (template, with_strategy) in SCENARIOS.items():
            config = template.replace("{recording}", str(recording))
            runs: dict[bool, list[tuple[float, float, dict]]] = {True: [], False: []}
            for _ in range(args.repeat):  # alternated, best of each: the machine's load comes and goes
                for before in (True, False):
                    if tree is not None:  # both sides the same way: each run in a fresh process of its own tree
                        runs[before].append(backtest_rate_in(tree if before else HERE, config, args.steps,
                                                             with_strategy))
                    else:
                        runs[before].append(backtest_rate(config, args.steps, with_strategy, before=before))
            old, old_wall, old_facts = max(runs[True], key=lambda r: r[0])
            new, new_wall, new_facts = max(runs[False], key=lambda r: r[0])
            rates[label] = (old, new)

            def outcome(facts: dict) -> str:
                return (f"{facts['seen']} opportunities, {facts['taken']} taken, captured {facts['captured']}"
                        if "seen" in facts else f"{facts['fills']} fills")

            # The loop path lands a step a nanosecond off its due time now and then (float seconds in the
            # loop's timers), so a decision right at a boundary (cooldown, input age) may fall the other way.
            same = "same results" if old_facts == new_facts else f"before: {outcome(old_facts)}"
            print(f"  {label:<42}: before {old:>8,.0f} ({old_wall:>7,.0f})  after {new:>8,.0f} ({new_wall:>7,.0f})  "
                  f"x{new / old:.2f}  [{new_facts['simulated_s']} s simulated; {outcome(new_facts)}; {same}]")
    return rates


def backtest_summary(rates: dict[str, tuple[float, float]]) -> str:
    """Print the goal's line; return the backtest figures of the RESULT line."""
    base_before, base_rate = rates["venues only (SOL/USDC CEX + pool)"]
    arb_before, rate = rates["arb strategy (SOL/USDC)"]
    grid_before, grid_rate = rates["grid strategy (BTC/USD, the demo's)"]
    rec_base_before, rec_base = rates["recorded Kraken book + pool, venues only"]
    rec_before, rec_rate = rates["recorded Kraken book + pool, arb strategy"]
    for label, value in (("synthetic", rate), ("recorded Kraken book", rec_rate)):
        print(f"backtest goal >= 100,000 ticks/s with the arb strategy ({label}): "
              f"{'met' if value >= 100_000 else 'NOT met'} ({value:,.0f})")
    print(f"venues goal >= 200,000 ticks/s, <= 5 us per market step (synthetic venues only): "
          f"{'met' if base_rate >= 200_000 else 'NOT met'} ({base_rate:,.0f}, {1e6 / base_rate:.1f} us per step; "
          f"before {base_before:,.0f}, {1e6 / base_before:.1f} us)")
    return (f"backtest_ticks_per_s={rate:.0f} backtest_baseline_ticks_per_s={base_rate:.0f} "
            f"backtest_before_ticks_per_s={arb_before:.0f} backtest_baseline_before_ticks_per_s={base_before:.0f} "
            f"grid_backtest_ticks_per_s={grid_rate:.0f} grid_backtest_before_ticks_per_s={grid_before:.0f} "
            f"recorded_backtest_ticks_per_s={rec_rate:.0f} recorded_backtest_before_ticks_per_s={rec_before:.0f} "
            f"recorded_baseline_ticks_per_s={rec_base:.0f} recorded_baseline_before_ticks_per_s={rec_base_before:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="Kraken book frames (default 200,000)")
    parser.add_argument("--pool-every", type=int, default=20, help="frames between two pool updates (default 20)")
    parser.add_argument("--steps", type=int, default=20_000, help="backtest market steps (default 20,000)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="backtest runs of each engine, alternated (default 3)")
    parser.add_argument("--executions", type=int, default=300, help="executions timed tick -> both legs handed")
    parser.add_argument("--tick-baseline-tree", metavar="DIR",
                        help="also time tick -> decision and tick -> legs with the code of another checkout (e.g. "
                             "`git archive main | tar -x -C DIR` plus the built C extension), alternating with "
                             "this one in separate processes: before and after in one run")
    parser.add_argument("--tick-rounds", type=int, default=4, help="alternations with --tick-baseline-tree")
    parser.add_argument("--backtest-only", action="store_true", help="only (b): the backtest throughput")
    parser.add_argument("--baseline-tree", metavar="DIR", help="measure the backtests' 'before' with the code in "
                        "this checkout (e.g. `git worktree add /tmp/before main`) instead of a loop turn per step; "
                        "both sides then run each backtest in a fresh process")
    args = parser.parse_args()
    calibration = calibration_us()  # the machine's pure-Python speed: figures of two machines read together
    print(f"calibration: sum(range(100)) takes {calibration:.2f} us here ({DESKTOP})")
    if args.backtest_only:
        print(f"RESULT arb {backtest_summary(backtests(args))} calibration_us={calibration:.2f}")
        return

    if args.tick_baseline_tree:
        here = str(Path(__file__).resolve().parent.parent)
        runs = tick_rounds({"before": str(Path(args.tick_baseline_tree).resolve()), "after": here}, args.frames,
                           args.seed, args.pool_every, args.executions, args.tick_rounds)
        print(f"before/after in one run ({args.tick_rounds} alternated rounds, separate processes; before = "
              f"{args.tick_baseline_tree}):")
        for name, got in runs.items():
            print(f"  {name:<6} tick -> decision CPU time p50 {percentile(got['cpu'], 0.5) / 1000:6.1f} us  p99 "
                  f"{percentile(got['cpu'], 0.99) / 1000:6.1f} us ({len(got['cpu']):,} ticks)")
            for label, wall, cpu in (("", "wall", "wire_cpu"),
                                     (", venue in the same turn", "same_turn_wall", "same_turn_cpu")):
                print(f"         tick -> both legs{label}: p50 {percentile(got[wall], 0.5) / 1e6:.3f} ms  p99 "
                      f"{percentile(got[wall], 0.99) / 1e6:.3f} ms wall, CPU p50 "
                      f"{percentile(got[cpu], 0.5) / 1e6:.3f} ms  p99 {percentile(got[cpu], 0.99) / 1e6:.3f} ms "
                      f"({len(got[wall])} executions)")

    frames = generate(args.frames, args.seed)
    base = baseline_handler(frames)
    full, facts = asyncio.run(through_strategy(frames, args.pool_every, args.executions))
    b50, b99 = percentile(base, 0.50) / 1000, percentile(base, 0.99) / 1000
    p50, p99 = percentile(full, 0.50) / 1000, percentile(full, 0.99) / 1000
    p999, mean = percentile(full, 0.999) / 1000, statistics.fmean(full) / 1000
    print(f"frames: {args.frames:,} Kraken v2 book frames (SOL/USDC, depth {DEPTH}), pool update every "
          f"{args.pool_every} frames (WhirlpoolModel)")
    print(f"baseline  KrakenBooks.handle alone     : p50 {b50:7.1f} us  p99 {b99:7.1f} us")
    print(f"tick->decision  handle+bus+arb strategy : p50 {p50:7.1f} us  p99 {p99:7.1f} us  p99.9 {p999:7.1f} us  "
          f"mean {mean:.1f} us")
    cpu_ns = facts.pop("cpu_ns")
    c50, c99 = percentile(cpu_ns, 0.50) / 1000, percentile(cpu_ns, 0.99) / 1000
    print(f"  the same, thread CPU time only        : p50 {c50:7.1f} us  p99 {c99:7.1f} us  (excludes time other "
          f"processes took the core: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for kind, values in facts.pop("by_decision").items():
        if values:
            print(f"    CPU time of ticks that: {kind:<22}: p50 {percentile(values, 0.5) / 1000:7.1f} us  "
                  f"p99 {percentile(values, 0.99) / 1000:7.1f} us  ({len(values):,} ticks)")
    reporting = facts.pop("reporting_ns")
    if reporting:
        print(f"    deferred report of an opportunity not acted on (next loop turn, not in tick->decision): "
              f"p50 {percentile(reporting, 0.5) / 1000:.1f} us  p99 {percentile(reporting, 0.99) / 1000:.1f} us  "
              f"({len(reporting):,})")
    print(f"strategy share (p50 difference)         : {p50 - b50:.1f} us; goal tick -> decision p99 <= 50 us CPU "
          f"time: {'met' if c99 <= 50 else 'NOT met'}")
    print(f"arb strategy: opportunities published {facts.get('opportunities')}, executions {facts.get('executed')} "
          f"(their legs fill against the paper venue's own book, so their PnL means nothing here)")

    to_wire = facts.pop("to_wire")
    legs: dict[str, tuple[float, float, float, float]] = {}
    print("tick -> both legs handed to the venues (execution row + both order rows committed first, one intent), "
          "the send paths alternating in this run:")
    for path, label in (("lane", "before: through the lane workers"), (SAME_TURN, "sent from submit, venue same turn"),
                        ("immediate", "after: sent from submit")):
        got = to_wire[path]
        w50 = w99 = k50 = k99 = float("nan")
        if got["wall"]:
            w50, w99 = percentile(got["wall"], 0.5) / 1e6, percentile(got["wall"], 0.99) / 1e6
            k50, k99 = percentile(got["cpu"], 0.5) / 1e6, percentile(got["cpu"], 0.99) / 1e6
        legs[path] = (w50, w99, k50, k99)
        print(f"  {label:<34}: {len(got['wall'])} executions: p50 {w50:.3f} ms  p99 {w99:.3f} ms wall; "
              f"process CPU time p50 {k50:.3f} ms  p99 {k99:.3f} ms")
    w50, w99, k50, k99 = legs["immediate"]
    print(f"  goal p99 <= 1 ms: {'met' if w99 <= 1 else 'NOT met'} (wall), {'met' if k99 <= 1 else 'NOT met'} "
          f"(CPU time)")

    backtest_figures = backtest_summary(backtests(args))
    print(f"RESULT arb frames={args.frames} p50_us={p50:.1f} p99_us={p99:.1f} p999_us={p999:.1f} "
          f"cpu_p50_us={c50:.1f} cpu_p99_us={c99:.1f} "
          f"wire_p50_ms={w50:.3f} wire_p99_ms={w99:.3f} wire_cpu_p50_ms={k50:.3f} wire_cpu_p99_ms={k99:.3f} "
          f"wire_lane_p50_ms={legs['lane'][0]:.3f} wire_lane_p99_ms={legs['lane'][1]:.3f} "
          f"wire_same_turn_p50_ms={legs[SAME_TURN][0]:.3f} wire_same_turn_p99_ms={legs[SAME_TURN][1]:.3f} "
          f"wire_same_turn_cpu_p50_ms={legs[SAME_TURN][2]:.3f} wire_same_turn_cpu_p99_ms={legs[SAME_TURN][3]:.3f} "
          f"baseline_p50_us={b50:.1f} baseline_p99_us={b99:.1f} executed={facts.get('executed')} "
          f"{backtest_figures} calibration_us={calibration:.2f}")


if __name__ == "__main__":
    main()
