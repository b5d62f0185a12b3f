"""The durable order record on the hot path, and the loop's longest block while the store is locked.

1. Decision -> request: p50/p99 microseconds from ``ctx.submit`` (the strategy's decision) to the
   moment the request leaves for the venue (the venue's ``place_order`` is entered), one order at a
   time, through a real Bot (risk gate, executor, store). Measured three ways in the same run:

   - ``baseline``: the order row is not written (``insert_order`` does nothing): what the path
     costs without the durable record;
   - ``inline``: the row is committed on the loop's thread (how the executor wrote before);
   - ``writer``: the row is committed on the store writer's thread (:mod:`bot.writer`), as now.

   On SQLite (a temporary file), and on PostgreSQL too when ``ARBOT_BENCH_PG_URL`` is set.

2. Loop block: the longest the event loop went without running (a 5 ms ticker's lateness) while
   another connection holds an exclusive write lock (SQLite: on ``arbot.db``; PostgreSQL: on the
   ``orders`` and ``bot_state`` tables) for ``--lock-s`` seconds (default 15),
   orders are submitted every 100 ms and a strategy writes its own row on every book (as grid and
   arb do). Baseline: the same run without the lock.

    python benchmarks/durable_order.py [--orders 2000] [--lock-s 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import hookimpl  # noqa: E402
from bot.api import Exchange, Strategy  # noqa: E402
from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml  # noqa: E402
from bot.domain import (  # noqa: E402
    Balance,
    BookUpdate,
    MarketInfo,
    Order,
    OrderIntent,
    OrderState,
    OrderStatus,
    Side,
)
from bot.plugins import collect, load_plugins  # noqa: E402
from bot.store import engine_url  # noqa: E402

SENT_AT: dict[str, int] = {}
ARRIVED = asyncio.Event()


class SpyVenue(Exchange):
    """Answers at once; notes when each request arrives."""

    simulated = True

    def market(self, symbol: str) -> MarketInfo:
        return MarketInfo(symbol, "BTC", "USD", Decimal("0.01"), Decimal("0.0001"))

    async def place_order(self, order: Order) -> OrderState:
        SENT_AT[order.client_order_id] = time.perf_counter_ns()
        ARRIVED.set()
        return OrderState(order.client_order_id, OrderStatus.OPEN, "X")

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        return OrderState(client_order_id, OrderStatus.CANCELLED, "X")

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return None

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return []

    async def balances(self) -> dict[str, Balance]:
        return {}


class Writing(Strategy):
    """Writes a small row of its own on every book, on the loop (as strategies with tables do)."""

    def markets(self):
        return [("v", "BTC/USD")]

    def on_market(self, event):
        try:
            self.ctx.store.set_state("bench-strategy", str(event.ts_ns))
        except Exception:
            pass  # a locked store fails fast here; the host counts it as the store's failure, not ours


class plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("spy", SpyVenue)

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("writing", Writing)


CONFIG = """
[bot]
data_dir = "{data_dir}"
control_socket = ""
db_url = "{db_url}"
[executor]
orders_per_s = 1000000
burst = 100000
[exchanges.v]
type = "spy"
[strategies.s]
type = "writing"
[notifiers.console]
min_level = "critical"
"""

PLUGINS = load_plugins(extra=[("bench", plugin)])
REGISTRY = collect(PLUGINS)


def make_bot(data_dir: str, db_url: str) -> Bot:
    text = CONFIG.format(data_dir=data_dir, db_url=db_url)
    return Bot(build_config(parse_toml(text, "bench.toml"), REGISTRY, "bench.toml"), PLUGINS, REGISTRY)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def decision_to_request(db_url: str, data_dir: str, orders: int, way: str) -> tuple[float, float]:
    bot = make_bot(data_dir, db_url)
    if way == "inline":
        bot.writer.threaded = False
    await bot.start()
    if way == "baseline":
        bot.store.insert_order = lambda order, wait=True: True
    ctx = bot.strategies["s"].ctx
    latencies: list[float] = []
    warm_up = min(200, orders // 5)
    try:
        for n in range(warm_up + orders):
            cid = f"{way}-{os.getpid()}-{n}-{time.time_ns()}"
            start = time.perf_counter_ns()
            ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.001"), Decimal("100"),
                                   client_order_id=cid))
            while cid not in SENT_AT:  # the loop idles meanwhile, as between market events
                ARRIVED.clear()
                await ARRIVED.wait()
            if n >= warm_up:
                latencies.append((SENT_AT[cid] - start) / 1000)
        await bot.executor.settle(10)
    finally:
        await bot.stop()
    return pct(latencies, 50), pct(latencies, 99)


def hold_lock(db_url: str, release: threading.Event) -> None:
    """Another process's exclusive write lock: SQLite's on the file, PostgreSQL's on the tables we write."""
    engine = create_engine(engine_url(db_url), poolclass=NullPool)
    with engine.connect() as conn:
        if db_url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            conn.exec_driver_sql("LOCK TABLE orders, bot_state IN EXCLUSIVE MODE")
        release.wait()
        conn.rollback()
    engine.dispose()


async def loop_block(db_url: str, data_dir: str, lock_s: float, locked: bool) -> tuple[float, int, int]:
    """(longest loop block in ms, orders sent, orders refused) over ``lock_s`` seconds."""
    bot = make_bot(data_dir, db_url)
    await bot.start()
    loop = asyncio.get_running_loop()
    longest = 0.0
    running = True

    async def ticker():
        nonlocal longest
        while running:
            before = loop.time()
            await asyncio.sleep(0.005)
            longest = max(longest, loop.time() - before - 0.005)

    release = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(db_url, release)) if locked else None
    if holder:
        holder.start()
    tick = asyncio.create_task(ticker())
    ctx = bot.strategies["s"].ctx
    refused = 0
    accepted = []
    deadline = loop.time() + lock_s
    n = 0
    while loop.time() < deadline:
        n += 1
        bot.bus.publish(BookUpdate("v", "BTC/USD", ((Decimal(99), Decimal(1)),), ((Decimal(101), Decimal(1)),), n))
        cid = ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.001"), Decimal("100")))
        if cid is None:
            refused += 1
        else:
            accepted.append(cid)
        await asyncio.sleep(0.1)
    release.set()
    if holder:
        await asyncio.to_thread(holder.join)
    await bot.executor.settle(30)
    running = False
    await tick
    sent = sum(cid in SENT_AT for cid in accepted)
    failed = [name for name in bot.strategies if bot.strategy_failed(name)]
    await bot.stop()
    assert not failed, f"strategies left failed: {failed}"
    return longest * 1000, sent, refused


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--lock-s", type=float, default=15.0)
    args = parser.parse_args()
    results: dict[str, float] = {}
    databases = [("sqlite", None)]
    if os.environ.get("ARBOT_BENCH_PG_URL"):
        databases.append(("postgres", os.environ["ARBOT_BENCH_PG_URL"]))
    for name, url in databases:
        for way in ("baseline", "inline", "writer"):
            with tempfile.TemporaryDirectory() as tmp:
                db_url = url or f"sqlite:///{tmp}/arbot.db"
                p50, p99 = await decision_to_request(db_url, tmp, args.orders, way)
            results[f"{name}_{way}_p50_us"], results[f"{name}_{way}_p99_us"] = p50, p99
            print(f"{name:8} {way:8} decision->request  p50 {p50:8.1f} us   p99 {p99:8.1f} us   ({args.orders} orders)")
    blocks: dict[str, float] = {}
    for name, url in databases:
        for locked in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                ms, sent, refused = await loop_block(url or f"sqlite:///{tmp}/arbot.db", tmp, args.lock_s, locked)
            blocks[f"{name}_{'lock' if locked else 'baseline'}_loop_block_ms"] = ms
            what = f"{args.lock_s:g} s exclusive lock" if locked else "no lock (baseline)"
            print(f"{name:8} loop block, {what:22}: longest {ms:7.1f} ms  ({sent} orders sent, {refused} refused "
                  "while the store could not be written; no strategy left failed)")
    line = " ".join(f"{k}={v:.1f}" for k, v in {**results, **blocks}.items())
    print(f"RESULT durable_order orders={args.orders} lock_s={args.lock_s:g} {line}")


if __name__ == "__main__":
    asyncio.run(main())
