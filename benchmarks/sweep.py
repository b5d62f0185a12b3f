"""Sweep benchmark: a 3 x 3 parameter sweep of the SOL/USDC arbitrage backtest on one process and on all cores.

The backtest of ``benchmarks/arb.py`` (a paper CEX and a paper-dex pool with dislocations, the arb
strategy), swept over ``min_edge_bps`` = 5, 10, 20 and ``max_notional`` = 500, 1000, 1500
(``bot.backtest.sweep.run_sweep``): nine backtests of ``--steps`` market steps each, first with one
worker, then with one per core. Prints the wall time of each (the sweep alone: the up-front config check
excluded), the speed-up, and whether both gave the same table (they must).

    python benchmarks/sweep.py [--steps 5000] [--workers N]

Ends with one ``RESULT sweep key=value ...`` line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.arb import BACKTEST, BACKTEST_ARB, arb_unless_installed  # noqa: E402
from bot.backtest.sweep import parse_axis, run_sweep  # noqa: E402

AXES = ("min_edge_bps=5,10,20", "max_notional=500,1000,1500")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000, help="market steps a backtest (default 5,000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    args = parser.parse_args()
    axes = [parse_axis(spec) for spec in AXES]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sweep.toml"
        config.write_text(BACKTEST + BACKTEST_ARB)
        one = run_sweep(config, Path(tmp) / "one", axes, args.steps, workers=1, chart=False,
                        extra_plugins=arb_unless_installed())
        many = run_sweep(config, Path(tmp) / "many", axes, args.steps, workers=args.workers, chart=False,
                         extra_plugins=arb_unless_installed())
        same = one.table_json.read_bytes() == many.table_json.read_bytes()
    speedup = one.wall_s / many.wall_s
    print(f"sweep: {len(one.rows)} combinations x {args.steps:,} steps ({' x '.join(AXES)}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"one process            : {one.wall_s:7.2f} s  ({one.steps / one.wall_s:,.0f} ticks/s; "
          f"{one.cpu_s / one.wall_s:.2f} cores busy)")
    print(f"{many.workers} processes            : {many.wall_s:7.2f} s  ({many.steps / many.wall_s:,.0f} ticks/s; "
          f"{many.cpu_s / many.wall_s:.2f} cores busy)  speed-up {speedup:.2f}x")
    print("  (cores busy: the backtests' CPU seconds over the wall seconds; other processes on the machine "
          "take the rest)")
    print(f"same table both ways   : {'yes' if same else 'NO'}")
    best = one.rows[0]
    print(f"best: {', '.join(f'{k}={v}' for k, v in best.params)} net realized "
          + ", ".join(f"{f.net:.2f} {f.quote}" for f in best.quotes))
    print(f"RESULT sweep combinations={len(one.rows)} steps={args.steps} workers={many.workers} "
          f"one_s={one.wall_s:.2f} many_s={many.wall_s:.2f} speedup={speedup:.2f} "
          f"cores_busy_one={one.cpu_s / one.wall_s:.2f} cores_busy_many={many.cpu_s / many.wall_s:.2f} "
          f"same_table={int(same)}")


if __name__ == "__main__":
    main()
