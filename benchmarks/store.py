"""The durable order record: what `Store.insert_order` costs before an order may leave for a venue.

The executor writes each new order (one committed INSERT) before its request is sent, so this is on
the hot path of every order. Measured on SQLite (a file in a temp folder, WAL, synchronous=NORMAL)
and on PostgreSQL on 127.0.0.1 (a throwaway server started like `.ci/run` does, with PostgreSQL's
default durability: fsync on commit), each next to a baseline from the same run: the same row
inserted and committed with the bare driver (sqlite3 / psycopg, one prepared statement), so the
cost the store's layer adds is visible. PostgreSQL is skipped with a note when its binaries are
missing (apt-get install postgresql).

Then the event loop's longest block while the same inserts run: awaited through the executor's
store writer (`bot.writer.StoreWriter`, a thread beside the loop) against called inline on the loop
(the baseline), measured by a 1 ms ticker on the loop.

    python benchmarks/store.py [--orders 3000]

Ends with one ``RESULT store key=value ...`` line (microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain import Order, Side  # noqa: E402
from bot.store import Store, order_values  # noqa: E402


def load_pgserver():
    spec = importlib.util.spec_from_file_location("pgserver", ROOT / ".ci" / "pgserver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def order(n: int) -> Order:
    now = time.time_ns()
    return Order(client_order_id=f"bench-{n}", strategy="bench", exchange="paper", symbol="BTC/USD",
                 side=Side.BUY if n % 2 else Side.SELL, qty=Decimal("0.01"), price=Decimal("30000.5"),
                 created_ns=now, updated_ns=now)


def timed(n: int, write: Callable[[int], object]) -> dict[str, float]:
    for i in range(min(200, n // 10)):  # warm-up: connections, statement caches
        write(-1 - i)
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        write(i)
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return {"p50_us": statistics.median(samples), "p99_us": samples[int(len(samples) * 0.99)],
            "max_us": samples[-1]}


BOT_ROW = {**order_values(order(0)), "bot": ""}
"""The row the store writes (its ``bot`` column too: a store made with no bot name writes "")."""
COLUMNS = list(BOT_ROW)
PARAMS = [str(v) if hasattr(v, "as_tuple") else v for v in BOT_ROW.values()]


def raw_row(n: int) -> list:
    row = list(PARAMS)
    row[0] = f"raw-{n}"
    return row


def loop_block_ms(store: Store, n: int, start: int, *, threaded: bool) -> float:
    """The loop's longest gap between 1 ms ticks while ``n`` orders are inserted (awaited one by one)."""
    from bot.writer import StoreWriter

    async def run() -> float:
        writer = StoreWriter(store, threaded=threaded)
        longest = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal longest
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                longest = max(longest, now - last - 0.001)
                last = now

        tick = asyncio.create_task(ticker())
        for i in range(start, start + n):
            await writer.call(store.insert_order, order(i))
            await asyncio.sleep(0)  # let the ticker run between writes (an inline write never yields)
        done.set()
        await tick
        writer.close()
        return longest * 1000

    return asyncio.run(run())


def blocks(store: Store, n: int) -> dict[str, float]:
    return {"writer_ms": loop_block_ms(store, n, 10_000_000, threaded=True),
            "inline_ms": loop_block_ms(store, n, 20_000_000, threaded=False)}


def sqlite_case(folder: Path, n: int) -> dict[str, dict[str, float]]:
    store = Store(f"sqlite:///{folder}/arbot.db").open()
    ours = timed(n, lambda i: store.insert_order(order(i)))
    loop = blocks(store, n)
    store.close()
    con = sqlite3.connect(folder / "arbot.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def raw(i: int) -> None:
        con.execute("BEGIN")
        con.execute(sql, raw_row(i))
        con.execute("COMMIT")

    base = timed(n, raw)
    con.close()
    return {"store": ours, "driver": base, "loop": loop}


def postgres_case(n: int) -> dict[str, dict[str, float]] | str:
    pgserver = load_pgserver()
    if pgserver.binaries() is None:
        return "no PostgreSQL binaries (apt-get install postgresql); skipped"
    folder = Path(tempfile.mkdtemp(prefix="arbot-bench-pg-"))  # its own folder: the server's user must reach it
    url = pgserver.start(folder, durable=True)
    try:
        store = Store(url).open()
        ours = timed(n, lambda i: store.insert_order(order(i)))
        loop = blocks(store, n)
        store.close()
        import psycopg

        sql = f"INSERT INTO orders ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        with psycopg.connect(url, prepare_threshold=0) as con:
            def raw(i: int) -> None:
                with con.transaction():
                    con.execute(sql, raw_row(i))

            base = timed(n, raw)
        return {"store": ours, "driver": base, "loop": loop}
    finally:
        pgserver.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arbot-bench-store-") as tmp:
        folder = Path(tmp)
        (folder / "sqlite").mkdir()
        results = {"sqlite": sqlite_case(folder / "sqlite", args.orders),
                   "postgresql": postgres_case(args.orders)}
    print(f"insert_order: one committed order row, {args.orders} orders (microseconds)")
    print(f"{'database':<12} {'path':<22} {'p50':>8} {'p99':>8} {'max':>9}")
    for db, cases in results.items():
        if isinstance(cases, str):
            print(f"{db:<12} {cases}")
            continue
        for name, label in (("store", "Store.insert_order"), ("driver", "bare driver (baseline)")):
            r = cases[name]
            print(f"{db:<12} {label:<22} {r['p50_us']:>8.1f} {r['p99_us']:>8.1f} {r['max_us']:>9.1f}")
    print("\nevent loop's longest block during those inserts (ms)")
    for db, cases in results.items():
        if not isinstance(cases, str):
            loop = cases["loop"]
            print(f"{db:<12} through StoreWriter {loop['writer_ms']:>7.2f}   inline on the loop (baseline) "
                  f"{loop['inline_ms']:>7.2f}")
    fields = [f"orders={args.orders}"]
    for db, short in (("sqlite", "sqlite"), ("postgresql", "pg")):
        cases = results[db]
        if isinstance(cases, str):
            fields.append(f"{short}=skipped")
            continue
        fields += [f"{short}_p50_us={cases['store']['p50_us']:.1f}", f"{short}_p99_us={cases['store']['p99_us']:.1f}",
                   f"{short}_driver_p50_us={cases['driver']['p50_us']:.1f}",
                   f"{short}_loop_block_ms={cases['loop']['writer_ms']:.2f}",
                   f"{short}_inline_block_ms={cases['loop']['inline_ms']:.2f}"]
    print("RESULT store " + " ".join(fields))


if __name__ == "__main__":
    main()
