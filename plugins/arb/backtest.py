"""``arbot backtest``: run a config's strategies on simulated venues at full speed, then report.

The bot is the real one (:class:`bot.app.Bot`: venues, executor, risk gate, strategies, the same
code as ``arbot run``), built from the config in paper mode with three changes that make it a
backtest:

* **time is simulated.** The bot's clock is a :class:`~plugins.arb.backtest_loop.BacktestClock`
  and the event loop a :class:`~plugins.arb.backtest_loop.BacktestLoop` that reads its time from
  it: an idle wait moves the clock to the next timer instead of sleeping. A venue's latency
  (``latency_ms``), a retry's backoff or a strategy's timer therefore takes simulated time, and
  orders in flight settle in their true order against markets that keep moving meanwhile.
* **the markets are stepped by the backtest.** Every exchange with a ``step()`` gets
  ``tick_interval_ms = 0`` (paper: ``playback_speed = 0`` for a recording); the backtest calls
  ``step()`` itself, each venue at its configured pace (``tick_interval_ms`` of the config; a
  recording at its recorded times, read with ``next_event_ns()``), earliest first.
* **nothing leaves the process.** Notifiers and plugin services (``enabled``) are left out, the
  control socket is off, venue state files are in memory, the store is ``DIR/backtest.db``
  (fresh each run: ``arbot report --db sqlite:///DIR/backtest.db`` reads it). A real venue in the
  config is refused: replay its recording with a paper exchange instead.

What the report says comes from the bus alone (:mod:`plugins.arb.backtest_report`); the PNG from
:mod:`plugins.arb.backtest_chart`. Same config and seeds, same report (wall-clock figures aside).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import heapq
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot import hookimpl
from bot.config import DEFAULT_SOURCE, Config, build_config, default_toml, plugins_disabled, read_toml
from bot.settings import ConfigError, ConfigIssue

from .backtest_loop import NS_PER_S, BacktestClock, run_simulated
from .backtest_report import BacktestCollector, BacktestFigures, shown, summarize, write_report

log = logging.getLogger("arbot.backtest")

START_NS = 1_700_000_000_000_000_000
"""Simulated start time (2023-11-14 22:13:20 UTC): fixed, so a rerun is identical."""
DEFAULT_STEPS = 10_000
"""Market steps of a synthetic scenario when ``--steps`` is not given (a recording plays to its end)."""
DEFAULT_TICK_MS = 100
"""Pace of a venue whose config steps it only by hand (``tick_interval_ms = 0``)."""
SETTLE_S = 10.0
"""Simulated time left after the last step for legs in flight, hedges and results."""
CHART_FILE = "pnl.png"


class BacktestError(Exception):
    """A backtest that cannot run as configured: printed as one paragraph, no traceback."""


@dataclass
class Venue:
    """An exchange the backtest steps: its pace, and whether it plays a recording."""

    name: str
    exchange: Any
    period_ns: int
    recording: bool


@dataclass(frozen=True)
class RunOutcome:
    steps: int
    last_step_ns: int
    settled_ns: int
    drive_wall_s: float
    """Wall time of the market steps alone (start, settling and stop excluded): what ticks/s is measured on."""
    risk_events: dict[str, int]
    """Stored risk events by "check action" (vetoes of single orders: "limits veto")."""
    strategy_status: dict[str, dict[str, str]]
    """Each strategy's ``status()`` at the end (the arb strategy counts its stale-input skips there)."""


@dataclass(frozen=True)
class BacktestResult:
    figures: BacktestFigures
    steps: int
    simulated_ns: int
    wall_s: float
    steps_wall_s: float
    """Wall time of the market steps alone."""
    report_json: Path
    report_md: Path
    chart: Path | None


# --- the config ---------------------------------------------------------------------------------


def backtest_config(
    path: Path | None, data_dir: Path, db_path: Path, *, require_strategy: bool = True,
    extra_plugins: Sequence[tuple[str, object]] = (),
) -> tuple[Any, Any, Config, dict[str, int]]:
    """Load plugins (the installed ones plus ``extra_plugins``) and the config at ``path`` (None: the
    embedded default) as a backtest runs it; returns (plugins, registry, config, the configured
    tick_interval_ms of each exchange). Raises ConfigError (every problem with its key path)."""
    from bot.plugins import collect, load_plugins

    raw = read_toml(path) if path is not None else default_toml()
    source = str(path) if path is not None else DEFAULT_SOURCE
    raw["mode"] = "paper"  # a backtest never trades for real: orders go to simulated venues only
    plugins = load_plugins(disabled=plugins_disabled(raw), extra=list(extra_plugins),
                           report=lambda info, message: None)
    registry = collect(plugins)
    if registry.conflicts:
        raise ConfigError([ConfigIssue("plugins", c) for c in registry.conflicts], source)
    config = build_config(raw, registry, source)

    issues: list[ConfigIssue] = []
    exchanges = config.of_kind("exchange")
    for comp in exchanges.values():
        if not registry.classes("exchange")[comp.type].simulated:
            issues.append(ConfigIssue(f"{comp.path}.type", f'"{comp.type}" is a real venue; a backtest runs '
                                      'offline on simulated ones. Replay a recording of it with a paper exchange '
                                      '(type = "paper", market = "recording", recording = "FILE.jsonl", '
                                      f'recording_exchange = "{comp.type}") or simulate it'))
    if require_strategy and not config.of_kind("strategy"):
        issues.append(ConfigIssue("strategies", "nothing to backtest: add a [strategies.NAME] table "
                                                '(e.g. type = "arb")'))
    if issues:
        raise ConfigError(issues, source)

    paces: dict[str, int] = {}
    components = dict(config.components)
    changed = {}
    for name, comp in exchanges.items():
        s = comp.settings
        updates: dict[str, Any] = {}
        if hasattr(s, "tick_interval_ms"):
            paces[name] = s.tick_interval_ms
            updates["tick_interval_ms"] = 0
        if hasattr(s, "playback_speed") and getattr(s, "market", "") == "recording":
            updates["playback_speed"] = type(s.playback_speed)(0)
        if hasattr(s, "state_file"):
            updates["state_file"] = ""  # in memory: every backtest starts from the configured balances
        changed[name] = dataclasses.replace(comp, settings=dataclasses.replace(s, **updates)) if updates else comp
    components["exchange"] = changed
    components["notifier"] = {}  # a backtest sends no alert to anyone (chat transports included)
    plugin_settings = {name: dataclasses.replace(s, enabled=False) if getattr(s, "enabled", False) else s
                       for name, s in config.plugin_settings.items()}  # no stream server, no metrics port
    config = dataclasses.replace(
        config, mode="paper", components=components, plugin_settings=plugin_settings,
        bot=dataclasses.replace(config.bot, data_dir=str(data_dir), db_url=f"sqlite:///{db_path.absolute()}",
                                control_socket=""),
    )  # fmt: skip
    return plugins, registry, config, paces


# --- driving the markets ------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a terminal (nothing otherwise), redrawn at most 10 times a second."""

    def __init__(self, total: int | None, stream: TextIO | None = None, enabled: bool | None = None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started: float | None = None
        """Wall time of the first update: the rate counts the market steps, not the bot's start-up."""
        self._next_draw = 0.0
        self.drawn = 0

    def update(self, done: int, simulated_s: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if now < self._next_draw and not force:
            return
        self._next_draw = now + 0.1
        elapsed = now - self.started
        rate = done / elapsed if elapsed >= 0.1 else 0.0  # no rate from the first instant
        speed = f"{rate:,.0f}/s" if rate else "-/s"
        if self.total:
            share = min(1.0, done / self.total)
            filled = int(share * 30)
            eta = f"{(self.total - done) / rate:,.0f} s" if rate else "-"
            line = (f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} {done:,}/{self.total:,} steps "
                    f"{speed}  sim {simulated_s:,.1f} s  eta {eta} ")
        else:
            line = f"\r{done:,} steps {speed}  sim {simulated_s:,.1f} s "
        self.stream.write(line)
        self.stream.flush()
        self.drawn += 1

    def close(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def steppable_venues(bot: Any, paces: dict[str, int]) -> list[Venue]:
    """The bot's exchanges the backtest steps, in config order."""
    venues = []
    for name, exchange in bot.exchanges.items():
        if not callable(getattr(exchange, "step", None)):
            continue
        settings = getattr(exchange, "settings", None)
        market = getattr(settings, "market", "simulated")
        if market == "mirror":
            continue  # moves with its source
        recording = market == "recording" and callable(getattr(exchange, "next_event_ns", None))
        period_ms = paces.get(name) or DEFAULT_TICK_MS
        venues.append(Venue(name, exchange, period_ms * 1_000_000, recording))
    return venues


async def drive(bot: Any, venues: list[Venue], clock: BacktestClock, steps: int | None,
                progress: Progress) -> int:  # fmt: skip
    """Step the venues in time order until ``steps`` steps (or every recording ended); returns the steps made.

    Each venue is due at its own pace (a recording at its next event's time); the earliest goes
    first, ties in config order. Waiting for a due time is a simulated sleep: timers due before it
    (orders in flight, retries, strategy timers) run first, in their order.
    """
    start = clock.time_ns()
    queue: list[tuple[int, int, Venue]] = []
    for index, venue in enumerate(venues):
        first = venue.exchange.next_event_ns() if venue.recording else 0
        if first is not None:
            queue.append((start + first, index, venue))
    heapq.heapify(queue)
    recordings = sum(1 for v in venues if v.recording)
    done = 0
    while queue and (steps is None or done < steps):
        due, index, venue = heapq.heappop(queue)
        now = clock.time_ns()
        await asyncio.sleep((due - now) / NS_PER_S if due > now else 0)
        clock.advance_to(due)
        try:
            more = venue.exchange.step()
        except Exception as exc:
            log.debug("step of %s failed", venue.name, exc_info=exc)
            raise BacktestError(f'exchange "{venue.name}" failed at market step {done + 1} '
                                f"({(clock.time_ns() - start) / NS_PER_S} s simulated): {type(exc).__name__}: {exc}"
                                ) from exc
        done += 1
        if venue.recording:
            offset = venue.exchange.next_event_ns() if more else None
            if offset is None:
                recordings -= 1
                if recordings == 0:
                    break  # the recorded market is over; synthetic pools alone would trade a frozen book
            else:
                heapq.heappush(queue, (start + offset, index, venue))
        elif more is not False:
            heapq.heappush(queue, (due + venue.period_ns, index, venue))
        progress.update(done, (clock.time_ns() - start) / NS_PER_S)
    progress.update(done, (clock.time_ns() - start) / NS_PER_S, force=True)
    return done


async def _run(config: Config, plugins: Any, registry: Any, paces: dict[str, int], clock: BacktestClock,
               steps: int | None, progress: Progress, collector: BacktestCollector) -> RunOutcome:  # fmt: skip
    """Start the bot, drive its markets, let the last orders settle, read what the host recorded, stop it."""
    from bot.app import Bot

    bot = Bot(config, plugins, registry, clock=clock)
    collector.subscribe(bot.bus)  # before start: the first books already count
    await bot.start()
    # APScheduler's jobs (reconcile, balance snapshots, the daily summary) run on wall time: a backtest
    # would run them at moments that depend on the machine's speed, so it runs none.
    bot.scheduler.stop()
    await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback: let it run before anything else
    try:
        failed = [f"{info.label}: {error}" for info in plugins.infos.values() for error in info.errors]
        if failed:
            raise BacktestError("a plugin failed while the bot started, so the backtest would not test the "
                                "config:\n  " + "\n  ".join(failed))
        venues = steppable_venues(bot, paces)
        if not venues:
            raise BacktestError("no exchange in the config can be stepped (paper or paper-dex): nothing moves")
        if steps is None and not any(v.recording for v in venues):
            steps = DEFAULT_STEPS
        wall = time.perf_counter()
        done = await drive(bot, venues, clock, steps, progress)
        drive_wall_s = time.perf_counter() - wall
        last_step_ns = clock.time_ns()
        await asyncio.sleep(SETTLE_S)  # simulated: legs in flight land, hedges go out, results come in
        await bot.executor.settle(SETTLE_S)
        outcome = RunOutcome(
            steps=done, last_step_ns=last_step_ns, settled_ns=clock.time_ns(), drive_wall_s=drive_wall_s,
            risk_events={f"{check} {action}": n
                         for (check, action), n in sorted(bot.store.risk_event_counts().items())},
            strategy_status={name: dict(s.status()) for name, s in sorted(bot.strategies.items())},
        )  # fmt: skip
    finally:
        await bot.stop()
    return outcome


# --- the whole backtest -------------------------------------------------------------------------


def run_backtest(config_path: Path | None, out_dir: Path, steps: int | None = None, progress: Progress | None = None,
                 chart: bool = True, require_strategy: bool = True,
                 extra_plugins: Sequence[tuple[str, object]] = ()) -> BacktestResult:  # fmt: skip
    """Run the backtest of the config at ``config_path`` and write its report into ``out_dir``.

    ``require_strategy=False`` lets the venues run alone (the benchmark's baseline);
    ``extra_plugins`` are (name, module) pairs loaded besides the installed plugins (tests).

    Raises ConfigError (a bad config, every problem with its key path) or BacktestError.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "backtest.db"
    for stale in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        stale.unlink(missing_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="arbot-backtest-"))
    try:
        plugins, registry, config, paces = backtest_config(config_path, data_dir, db_path,
                                                           require_strategy=require_strategy,
                                                           extra_plugins=extra_plugins)
        clock = BacktestClock(START_NS)
        collector = BacktestCollector()
        progress = progress or Progress(steps, enabled=False)
        wall = time.perf_counter()
        outcome = run_simulated(_run(config, plugins, registry, paces, clock, steps, progress, collector), clock)
        done, last_step_ns, end_ns = outcome.steps, outcome.last_step_ns, outcome.settled_ns
        wall_s = time.perf_counter() - wall
        progress.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    figures = summarize(collector)
    simulated_ns = last_step_ns - START_NS
    chart_path = out_dir / CHART_FILE if chart else None
    if chart_path is not None:
        from .backtest_chart import pnl_chart_png

        name = config_path.name if config_path is not None else "the embedded default config"
        chart_path.write_bytes(pnl_chart_png(figures, START_NS, end_ns, f"Backtest of {name}: cumulative PnL"))
    scenario = {
        "config": config.source, "input": describe_input(config), "steps": done,
        "start_ns": START_NS, "simulated_s": str(simulated_ns / NS_PER_S),
        "strategies": sorted(config.of_kind("strategy")), "opportunity_events": collector.opportunity_events,
        "risk_events": outcome.risk_events, "strategy_status": outcome.strategy_status,
    }  # fmt: skip
    drive_s = outcome.drive_wall_s
    run = {"wall_s": round(wall_s, 3), "steps_wall_s": round(drive_s, 3),
           "ticks_per_s": round(done / drive_s) if drive_s > 0 else None}
    json_path, md_path = write_report(out_dir, figures, scenario, run, CHART_FILE if chart_path else None)
    return BacktestResult(figures, done, simulated_ns, wall_s, drive_s, json_path, md_path, chart_path)


def describe_input(config: Config) -> str:
    """One line naming where each venue's market comes from (synthetic, with its seed, or a recording)."""
    parts = []
    has_recording = any(getattr(c.settings, "market", "") == "recording" for c in config.of_kind("exchange").values())
    for name, comp in config.of_kind("exchange").items():
        s = comp.settings
        market = getattr(s, "market", "simulated")
        if market == "recording":
            parts.append(f"{name}: recording {Path(s.recording).name} ({s.recording_exchange})")
        elif market == "mirror":
            parts.append(f"{name}: mirror of {s.source}")
        else:
            seed = getattr(s, "seed", None)
            note = " (synthetic pool: no DEX recording)" if has_recording and comp.type == "paper-dex" else ""
            parts.append(f"{name}: synthetic {comp.type}" + (f" seed {seed}" if seed is not None else "") + note)
    return "; ".join(parts)


# --- the command --------------------------------------------------------------------------------


def cmd_backtest(args: argparse.Namespace) -> int:
    """``arbot backtest --config FILE [--out DIR] [--steps N]``: 0 done, 2 bad config or arguments, 1 failed."""
    value = args.config or os.environ.get("ARBOT_CONFIG")
    path = Path(value) if value else None  # None: the embedded default (the demo)
    if args.steps is not None and args.steps <= 0:
        print(f"arbot: --steps must be a positive number of market steps, got {args.steps}", file=sys.stderr)
        return 2
    if not args.verbose:  # risk vetoes and the like are counted in the report; errors still show
        logging.getLogger().setLevel(logging.ERROR)
    out_dir = Path(args.out)
    progress = Progress(args.steps)
    try:
        result = run_backtest(path, out_dir, args.steps, progress)
    except BacktestError as exc:
        progress.close()
        print(f"arbot: backtest failed: {exc}", file=sys.stderr)
        return 1
    f = result.figures
    rate = f"{f.capture_rate:.2%}" if f.capture_rate is not None else "n/a"
    print(f"backtest: {result.steps:,} steps, {result.simulated_ns / NS_PER_S:,.1f} s simulated in "
          f"{result.wall_s:.1f} s ({result.steps / max(result.steps_wall_s, 1e-9):,.0f} ticks/s)")
    print(f"opportunities: {f.seen} seen, {f.taken} taken, {f.missed} missed"
          + (" (" + ", ".join(f"{k}: {v}" for k, v in f.missed_by_reason.items()) + ")" if f.missed_by_reason else ""))
    print(f"captured PnL: {shown(f.captured_pnl)} {f.quote} over {f.executions} executions; capture rate {rate}")
    print(f"report: {result.report_md}  {result.report_json}" + (f"  {result.chart}" if result.chart else ""))
    return 0


def add_commands(register_command) -> None:
    """Add ``arbot backtest`` (called from the plugin's ``register_cli``)."""
    parser = register_command("backtest", cmd_backtest,
                              help="run a config's strategies at full speed on simulated or recorded markets")
    parser.add_argument("--config", "-c", help="config file (default: $ARBOT_CONFIG, else the embedded default: "
                                               "the paper grid and SOL/USDC arbitrage demo)")
    parser.add_argument("--out", default="backtest-report",
                        help="directory for report.md, report.json, pnl.png and backtest.db (default: backtest-report)")
    parser.add_argument("--steps", type=int, help=f"market steps to run (default: {DEFAULT_STEPS:,} for a synthetic "
                                                  "scenario; a recording plays to its end)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show the bot's log lines (errors only otherwise)")


@hookimpl
def register_cli(register) -> None:
    """``arbot backtest``: import this into the plugin module (``from .backtest import register_cli``)."""
    add_commands(register)
