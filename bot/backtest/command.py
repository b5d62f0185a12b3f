"""``arbot backtest --config FILE [--out DIR] [--steps N]``: the subcommand; the driver loads only when it runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .contract import DEFAULT_STEPS


def cmd_backtest(args: argparse.Namespace) -> int:
    """0 when the report is written, 2 bad config or arguments (raised as ConfigError to the CLI), 1 failed."""
    from ..units import moneys
    from .clock import NS_PER_S
    from .driver import BacktestError, Progress, run_backtest

    value = args.config or os.environ.get("ARBOT_CONFIG")
    path = Path(value) if value else None  # None: the embedded default (the demo)
    if args.steps is not None and args.steps <= 0:
        print(f"arbot: --steps must be a positive number of market steps, got {args.steps}", file=sys.stderr)
        return 2
    if not args.verbose:  # risk vetoes and the like are counted in the report; errors still show
        logging.getLogger().setLevel(logging.ERROR)
    progress = Progress(args.steps)
    try:
        result = run_backtest(path, Path(args.out), args.steps, progress)
    except BacktestError as exc:
        progress.close()
        print(f"arbot: backtest failed: {exc}", file=sys.stderr)
        return 1
    print(f"backtest: {result.steps:,} steps, {result.simulated_ns / NS_PER_S:,.1f} s simulated in "
          f"{result.wall_s:.1f} s ({result.steps / max(result.steps_wall_s, 1e-9):,.0f} ticks/s)")
    for s in result.host.strategies:
        print(f"strategy {s.name} ({s.type}): {s.fills} fills, net realized PnL {moneys(s.net)}")
    for section in result.sections:
        for line in section.summary:
            print(line)
    print(f"report: {result.report_md}  {result.report_json}" + (f"  {result.chart}" if result.chart else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backtest`` to the ``arbot`` parser."""
    parser = sub.add_parser("backtest", help="run a config's strategies at full speed on simulated or recorded markets")
    parser.add_argument("--config", "-c", help="config file (default: $ARBOT_CONFIG, else the embedded default: "
                                               "the paper grid and SOL/USDC arbitrage demo)")
    parser.add_argument("--out", default="backtest-report",
                        help="directory for report.md, report.json, pnl.png and backtest.db (default: backtest-report)")
    parser.add_argument("--steps", type=int, help=f"market steps to run (default: {DEFAULT_STEPS:,} for a synthetic "
                                                  "scenario; a recording plays to its end)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show the bot's log lines (errors only otherwise)")
    parser.set_defaults(func=cmd_backtest)
