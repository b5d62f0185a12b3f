"""Market events through paper exchange + grid + executor: throughput, event->decision latency, RSS.

Builds a real Bot (store on a temporary SQLite file, the paper venue stepped by hand) and pushes
N market steps through it. Each step publishes a book update and usually a public trade; the
grid decides on every book update, the matching engine fills its resting orders, the executor
sends the grid's new orders (persisted first) and the loop runs whenever orders are in flight.

The grid is spaced as a trader would space it (100 USD, 0.33 %, above the round-trip maker
fees), so orders are a small share of the events, as in real trading.

Latency is measured per book update from the event's creation (its ts_ns) to the moment the grid
has returned from on_market (its decision, including any submit through the risk gate).

Baseline, in the same run: the same number of steps through the paper venue alone (no strategy,
no executor, no risk), so the cost the pipeline adds over generating the market is visible.

    python benchmarks/pipeline.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml  # noqa: E402
from bot.domain import BookUpdate  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
control_socket = ""
[executor]
orders_per_s = 100000
burst = 1000
[exchanges.paper]
start_price = "30000"
volatility_bps = "0.5"
tick_interval_ms = 0
initial_balances = {{ USD = "100000000", BTC = "1000" }}
[strategies.grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "25000"
upper = "35000"
levels = 101
order_size = "0.01"
out_of_range = "shift"
[risk.limits]
max_order_notional = "10000"
max_open_orders = 500
"""

BASELINE = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
control_socket = ""
[exchanges.paper]
start_price = "30000"
volatility_bps = "0.5"
tick_interval_ms = 0
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(sorted_values: list[int], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def make_bot(toml: str, data_dir: str) -> Bot:
    plugins = load_plugins(report=lambda info, message: None)
    registry = collect(plugins)
    config = build_config(parse_toml(toml.format(data_dir=data_dir), "bench"), registry, "bench")
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


async def run(toml: str, events: int, measure: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        bot = await make_bot(toml, data_dir)
        venue = bot.exchanges["paper"]
        latencies = array("q")  # 8 bytes per sample: the benchmark's own memory stays small
        if measure:
            record = latencies.append
            now = time.time_ns

            def probe(event: BookUpdate) -> None:  # subscribed after the grid: runs when it has decided
                record(now() - event.ts_ns)

            bot.bus.subscribe(BookUpdate, probe, owner="bench", exchange="paper", symbol="BTC/USD")
        executor = bot.executor
        gc.collect()
        started = time.perf_counter()
        for _ in range(events):
            venue.step()
            if executor._in_flight or executor._dirty:
                await asyncio.sleep(0)  # let the executor send and record
        elapsed = time.perf_counter() - started
        rss_mb = peak_rss_mb()  # before the percentiles below allocate a list of a million ints
        grid = bot.strategies.get("grid")
        facts = grid.status() if grid else {}
        orders = len(bot.store.orders()) if grid else 0
        await bot.stop()
    out = {"events_per_s": events / elapsed, "elapsed_s": elapsed, "orders": orders, "rss_mb": rss_mb}
    if latencies:
        latencies = sorted(latencies)
        out |= {"p50_us": percentile(latencies, 0.50) / 1000, "p99_us": percentile(latencies, 0.99) / 1000,
                "mean_us": statistics.fmean(latencies) / 1000}
    out["facts"] = facts
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="market steps to push (default 1,000,000)")
    args = parser.parse_args()

    base = await run(BASELINE, args.events, measure=False)
    rss_base = base["rss_mb"]
    print(f"baseline  paper venue alone : {base['events_per_s']:>10,.0f} steps/s  ({base['elapsed_s']:.1f} s)")

    full = await run(CONFIG, args.events, measure=True)
    rss_full = full["rss_mb"]
    print(f"pipeline  paper+grid+executor: {full['events_per_s']:>10,.0f} steps/s  ({full['elapsed_s']:.1f} s)")
    print(f"event->decision latency      : p50 {full['p50_us']:.1f} us  p99 {full['p99_us']:.1f} us  "
          f"mean {full['mean_us']:.1f} us")
    print(f"orders placed                : {full['orders']:,}   grid: {full['facts']}")
    print(f"peak RSS                     : {rss_base:.0f} MB after baseline, {rss_full:.0f} MB after pipeline")
    print(f"pipeline / baseline speed    : {full['events_per_s'] / base['events_per_s']:.2f}")
    print(f"RESULT pipeline events={args.events} events_per_s={full['events_per_s']:.0f} "
          f"baseline_events_per_s={base['events_per_s']:.0f} p50_us={full['p50_us']:.1f} p99_us={full['p99_us']:.1f} "
          f"orders={full['orders']} peak_rss_mb={rss_full:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
