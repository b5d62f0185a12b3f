"""``arbot backtest --config FILE [--out DIR] [--steps N]``: the subcommand; the driver loads only when it runs."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from .contract import DEFAULT_STEPS

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The status a shell gives a program SIGTERM ended: ``arbot backtest`` stopped by SIGTERM exits with it."""


def interrupted(out: str, what: str, sigterm: bool = False) -> int:
    """Ctrl-C (or SIGTERM, ``sigterm``) stopped the run: one line saying so and what is left (the driver and the sweep
    have already removed what they wrote in ``out``), then the status a shell gives a program that signal ended."""
    from ..errors import EXIT_INTERRUPTED

    how = "stopped (SIGTERM)" if sigterm else "interrupted (Ctrl-C)"
    print(f"arbot backtest: {how}: no {what} written; nothing of this run is left in {out}", file=sys.stderr)
    return EXIT_TERMINATED if sigterm else EXIT_INTERRUPTED


class SigtermAsCtrlC:
    """SIGTERM to a backtest's process (``kill``, a service manager stopping it, ``timeout``) stops it as Ctrl-C does.

    By default SIGTERM ends the process at once: the bot never stops, its scratch data dir and the store it writes in
    ``--out`` stay behind. While :meth:`installed`, the first SIGTERM cancels the backtest's run (its task,
    :data:`~bot.backtest.driver.RUN_TASK`) as asyncio's handling of Ctrl-C cancels it: at the run's next wait, so
    that the bot stops and the driver removes what the run made, then ``run_backtest`` raises CancelledError. Before
    or after the run it raises KeyboardInterrupt at once, as Python's own handler does for Ctrl-C. Unlike Ctrl-C, it
    does so when SIGINT is ignored too (a command a script starts with ``&``). A second SIGTERM does not break into
    the clean-up the first one started. Only in the main thread, and only when nothing else handles SIGTERM. (A
    sweep stops on SIGTERM its own way: :class:`bot.backtest.sweep.SigtermStops`.)
    """

    def __init__(self) -> None:
        self.received = False

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        import asyncio  # both imported already, by the backtest the handler is installed around

        from .driver import RUN_TASK

        if self.received:
            return
        self.received = True
        try:
            loop = asyncio.get_running_loop()  # the loop this handler interrupted, if the run is under way
        except RuntimeError:
            raise KeyboardInterrupt("SIGTERM") from None
        run = next((task for task in asyncio.all_tasks(loop) if task.get_name() == RUN_TASK), None)
        if run is None:
            raise KeyboardInterrupt("SIGTERM")
        run.cancel()  # as asyncio.Runner does on Ctrl-C
        loop.call_soon_threadsafe(lambda: None)  # wake the loop if it waits

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The handler in place while inside; SIGTERM's default action again on leaving."""
        import threading

        if threading.current_thread() is not threading.main_thread() or \
                signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            yield
            return
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def cmd_backtest(args: argparse.Namespace) -> int:
    """0 when the report is written, 2 bad config, arguments (raised as ConfigError to the CLI) or input (a recording
    that yields no market event), 1 failed, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM (either way nothing of
    the run is left in ``--out``)."""
    from asyncio import CancelledError

    from ..units import counted, moneys
    from .clock import NS_PER_S
    from .driver import BacktestError, BacktestInputError, Progress, run_backtest

    value = args.config or os.environ.get("ARBOT_CONFIG")
    path = Path(value) if value else None  # None: the embedded default (the demo)
    if args.steps is not None and args.steps <= 0:
        print(f"arbot: --steps must be a positive number of market steps, got {args.steps}", file=sys.stderr)
        return 2
    blocking = next((p for p in (Path(args.out), *Path(args.out).parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:  # the directory (or one above it) cannot be made: a file is in the way
        print(f"arbot: --out {args.out}: {blocking} is a file: name a directory for the report (default: "
              "backtest-report)", file=sys.stderr)
        return 2
    if not args.verbose:  # risk vetoes and the like are counted in the report; errors still show
        logging.getLogger().setLevel(logging.ERROR)
    if args.sweep or args.walk_forward is not None or _has_sweep_table(path):
        return _cmd_sweep(args, path)
    progress = Progress(args.steps)
    sigterm = SigtermAsCtrlC()
    try:
        with sigterm.installed():  # only around the run: its handling of KeyboardInterrupt removes what it made
            result = run_backtest(path, Path(args.out), args.steps, progress)
    except BacktestInputError as exc:  # the input is wrong, as a config error is: fix it and run again
        progress.close()
        print(f"arbot: bad backtest input: {exc}", file=sys.stderr)
        return 2
    except BacktestError as exc:
        progress.close()
        print(f"arbot: backtest failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, CancelledError) as exc:
        if isinstance(exc, CancelledError) and not sigterm.received:
            raise  # not ours: a bug, shown as one
        progress.close()
        return interrupted(args.out, "report", sigterm=sigterm.received)
    for name, stats in sorted(result.recordings.items()):  # shown without -v: the report is short of the file
        if stats.troubled:
            print(f'arbot: warning: exchange "{name}" recording {stats.summary()}', file=sys.stderr)
    print(f"backtest: {result.steps:,} steps, {result.simulated_ns / NS_PER_S:,.1f} s simulated in "
          f"{result.wall_s:.1f} s ({result.steps / max(result.steps_wall_s, 1e-9):,.0f} ticks/s)")
    for s in result.host.strategies:
        print(f"strategy {s.name} ({s.type}): {counted(s.fills, 'fill')}, net realized PnL {moneys(s.net)}")
    for section in result.sections:
        for line in section.summary:
            print(line)
    print(f"report: {result.report_md}  {result.report_json}" + (f"  {result.chart}" if result.chart else ""))
    return 0


def _has_sweep_table(path: Path | None) -> bool:
    from ..config import read_toml
    from .overrides import SWEEP_TABLE

    return path is not None and path.is_file() and SWEEP_TABLE in read_toml(path)


def _cmd_sweep(args: argparse.Namespace, path: Path | None) -> int:
    from ..domain import ZERO
    from ..units import counted, money
    from .driver import BacktestError, BacktestInputError
    from .sweep import parse_axis, ranking_quote, run_sweep, table_quotes

    try:
        axes = [parse_axis(spec) for spec in args.sweep]
    except ValueError as exc:
        print(f"arbot: {exc}", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers <= 0:
        print(f"arbot: --workers must be a positive number of processes, got {args.workers}", file=sys.stderr)
        return 2
    try:
        result = run_sweep(path, Path(args.out), axes, args.steps, workers=args.workers,
                           walk_forward=args.walk_forward)
    except ValueError as exc:  # a malformed sweep (a bad setting value is a ConfigError: the CLI prints it)
        print(f"arbot: {exc}", file=sys.stderr)
        return 2
    except BacktestInputError as exc:
        print(f"arbot: bad backtest input: {exc}", file=sys.stderr)
        return 2
    except BacktestError as exc:
        print(f"arbot: backtest failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return interrupted(args.out, "sweep table")
    print(f"sweep: {counted(len(result.rows), 'combination')}, {result.steps:,} market steps in "
          f"{result.wall_s:.1f} s on {counted(result.workers, 'process', 'processes')}")
    ranked = ranking_quote(result.rows) is not None
    if not ranked and len(quotes := table_quotes(result.rows)) > 1:
        print(f"not ranked: the PnL is in {len(quotes)} quote assets ({', '.join(quotes)}); in combination order")
    for rank, row in enumerate(result.rows[:5], 1):
        params = ", ".join(f"{k}={v}" for k, v in row.params)
        figures = []
        for f in row.quotes:
            extra = (f" (tuning {money(f.tune, f.quote)}, held at the split {money(f.carried or ZERO, f.quote)}, "
                     f"rest {money(f.rest, f.quote)})" if f.tune is not None and f.rest is not None else "")
            captured = "" if f.captured is None else f", captured {money(f.captured, f.quote)} (arbitrage)"
            figures.append(f"net realized {money(f.net, f.quote)}{extra}, max drawdown "
                           f"{money(f.max_drawdown, f.quote)}{captured}")
        print(f"{f'{rank}.' if ranked else '-'} {params}: " + ("; ".join(figures) or "no PnL"))
    print(f"table: {result.table_md}  {result.table_json}" + (f"  {result.chart}" if result.chart else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backtest`` to the ``arbot`` parser."""
    parser = sub.add_parser("backtest", help="run a config's strategies at full speed on simulated or recorded markets")
    parser.add_argument("--config", "-c", help="config file (default: $ARBOT_CONFIG, else the embedded default: "
                                               "the paper grid and SOL/USDC arbitrage demo)")
    parser.add_argument("--out", default="backtest-report",
                        help="directory for report.md, report.json, pnl.png, run.json and backtest.db (default: "
                             "backtest-report)")
    parser.add_argument("--steps", type=int, help=f"market steps to run (default: {DEFAULT_STEPS:,} for a synthetic "
                                                  "scenario; a recording plays to its end)")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="sweep a setting (repeat for more): every combination is backtested over the same data "
                             "on all cores, ranked in OUT/sweep.md (KEY: strategies.NAME.KEY, or a strategy "
                             "setting's name for every strategy that has it; also a [sweep] table in the config)")
    parser.add_argument("--walk-forward", type=float, metavar="FRACTION",
                        help="with a sweep: rank on the first FRACTION of each run (e.g. 0.5) and report the rest")
    parser.add_argument("--workers", type=int, help="with a sweep: processes (default: one per core)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show the bot's log lines (errors only otherwise)")
    parser.set_defaults(func=cmd_backtest)
