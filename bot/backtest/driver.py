"""The backtest driver: a config's strategies on steppable venues, on simulated time, at full speed.

The bot is the real one (:class:`bot.app.Bot`: venues, executor, risk gate, strategies, the same
code as ``arbot run``), built from the config in paper mode with three changes that make it a
backtest:

* **time is simulated.** The bot's clock is a :class:`~bot.backtest.clock.BacktestClock` and the
  event loop a :class:`~bot.backtest.clock.BacktestLoop` that reads its time from it: an idle wait
  moves the clock to the next timer instead of sleeping. A venue's latency, a retry's backoff or a
  strategy's timer therefore takes simulated time, and orders in flight settle in their true order
  against markets that keep moving meanwhile.
* **the markets are stepped by the backtest.** Every exchange must implement the steppable-venue
  contract (:class:`~bot.backtest.contract.Steppable`): its class converts its own settings
  (``prepare_for_backtest``: no market clock of its own, state in memory) and says its pace; the
  driver calls ``step()`` on each venue at its pace (a recording at ``next_event_ns()``), earliest
  first. A venue without the contract is refused by name before anything runs; the host never
  reads a venue's settings by name.
* **nothing leaves the process.** Notifiers and plugin services are left out (so an alert that
  no plugin subscribed to is dropped as it is made: ``Alerts.nowhere``), the control socket is
  off, the store is ``DIR/backtest.db`` (fresh each run: ``arbot report --db
  sqlite:///DIR/backtest.db`` reads it).

Any strategy runs (grid, arb, a third party's): the report's generic part comes from the store and
the bot (:mod:`.report`), plugin sections and chart layers from the ``backtest_report_sections`` and
``backtest_chart`` hooks. Same config and seeds, same report (wall-clock figures aside).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import heapq
import inspect
import logging
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ..config import BACKTEST_BOT, DEFAULT_SOURCE, Config, build_config, default_toml, plugins_disabled, read_toml
from ..domain import ExecutionResult, Fill, FillApplied, Opportunity
from ..ledger import MarkChange
from ..recording_stats import ReadStats
from ..settings import ConfigError, ConfigIssue
from .clock import NS_PER_S, BacktestClock, BacktestLoop, run_simulated
from .contract import DEFAULT_STEPS, BacktestPlan, BacktestRun, ReportSection, Steppable
from .report import REPORT_JSON, REPORT_MD, RUN_JSON, HostFigures, host_figures, write_report

log = logging.getLogger("arbot.backtest")

START_NS = 1_700_000_000_000_000_000
"""Simulated start time (2023-11-14 22:13:20 UTC): fixed, so a rerun is identical."""
SETTLE_S = 10.0
"""Simulated time left after the last step for legs in flight, hedges and results."""
CHART_FILE = "pnl.png"
SCRATCH_PREFIX = "arbot-backtest-"
"""The name of a run's scratch data dir (the bot's identity file; the store is in ``--out``) begins with this."""
STORE_WATCH_TASK = "host:store watch"
"""The bot's task that checks, every few seconds, that its store is still the one it started on."""
RUN_TASK = "backtest:run"
"""The name of the task a backtest's run is (the bot's start, the market steps, its stop): cancelling it stops the run
as Ctrl-C does, the bot stopped and what the run made removed; ``run_backtest`` then raises CancelledError (SIGTERM
to ``arbot backtest``: :class:`bot.backtest.command.SigtermAsCtrlC`)."""


class BacktestError(Exception):
    """A backtest that cannot run as configured: printed as one paragraph, no traceback."""


class BacktestInputError(BacktestError):
    """A backtest whose input is wrong (a recording that yields no market event: empty, not a recording, of
    another symbol): the user fixes the file or the config, as for a config error (``arbot backtest`` exits 2)."""


@dataclass
class Venue:
    """An exchange the backtest steps, with its plan."""

    name: str
    exchange: Steppable
    plan: BacktestPlan


@dataclass
class Collector:
    """Bus subscriber keeping the events the report hooks read, in arrival order."""

    opportunities: list[Opportunity] = field(default_factory=list)
    executions: list[ExecutionResult] = field(default_factory=list)

    def subscribe(self, bus: Any) -> None:
        bus.subscribe(Opportunity, self.opportunities.append, owner="backtest")
        bus.subscribe(ExecutionResult, self.executions.append, owner="backtest")


MARK_EVERY_NS = NS_PER_S
"""Simulated time between two readings of the markets' mids for the equity curve (besides one at each fill)."""


class MarkTape:
    """Each market's mid as the bot's portfolio holds it, noted when it changed: at each applied fill, every
    :data:`MARK_EVERY_NS` of simulated time and at the end; what open lots are marked at on the equity curve
    (:func:`bot.ledger.equity_curves`), whose drawdown the report gives."""

    def __init__(self, portfolio: Any, clock: BacktestClock):
        self.portfolio = portfolio
        self.clock = clock
        self.changes: list[MarkChange] = []
        self._last: dict[tuple[str, str], Decimal] = {}
        self._read: dict[tuple[str, str], object] = {}
        """Each market's latest update (:meth:`Portfolio.tops`) when its mid was last read."""
        self._keys: list[tuple[str, str]] = []
        """The markets, sorted: made again only when one is added (the portfolio never drops one)."""

    def subscribe(self, bus: Any) -> None:
        bus.subscribe(FillApplied, self.take, owner="backtest")

    def take(self, *_: Any) -> None:
        """Note the mids that changed since the last reading, at the current simulated time."""
        now = self.clock.time_ns()
        last, read = self._last, self._read
        tops = self.portfolio.tops()
        if len(tops) != len(self._keys):
            self._keys = sorted(tops)
        for key in self._keys:
            # The same update as at the last reading (a market that did not move since: a portfolio's update is
            # immutable, replaced on each change) has the same mid: no Decimal is made, and nothing was noted.
            if tops[key] is read.get(key):
                continue
            mid = self.portfolio.last_price(*key)
            read[key] = tops[key]  # as priced by that reading (pricing replaces the update with its priced copy)
            if mid is not None and last.get(key) != mid:
                last[key] = mid
                self.changes.append((now, key[0], key[1], mid))


@dataclass(frozen=True)
class RunOutcome:
    steps: int
    last_step_ns: int
    settled_ns: int
    drive_wall_s: float
    """Wall time of the market steps alone (start, settling and stop excluded): what ticks/s is measured on."""
    drive_cpu_s: float
    """The same in CPU time of this process (what a loaded machine does not distort)."""
    host: HostFigures
    fills: list[tuple[str, Fill]]
    """(strategy, fill) as stored, in time order."""
    recordings: dict[str, ReadStats] = field(default_factory=dict)
    """Each recorded venue's read statistics (lines, frames, malformed lines skipped, where playback stopped early)."""


@dataclass(frozen=True)
class BacktestResult:
    host: HostFigures
    sections: list[ReportSection]
    steps: int
    simulated_ns: int
    wall_s: float
    steps_wall_s: float
    """Wall time of the market steps alone."""
    steps_cpu_s: float
    """CPU time of this process during the market steps."""
    report_json: Path
    report_md: Path
    chart: Path | None
    focus_sections: list[ReportSection] = field(default_factory=list)
    """The plugin sections of the ``focus`` strategies alone (:meth:`BacktestRun.of_strategies`): a sweep's
    row; not written into the report."""
    recordings: dict[str, ReadStats] = field(default_factory=dict)
    """Each recorded venue's read statistics, as the report gives them."""


# --- the config ---------------------------------------------------------------------------------


def venue_plan(name: str, comp: Any, cls: type[Steppable], source: str = "config") -> BacktestPlan:
    """The plan of one configured exchange (its class implements the contract); BacktestError names
    the venue when the class's conversion fails or returns something the host cannot run."""
    where = f'exchange "{name}" (type "{comp.type}", {cls.__module__}.{cls.__qualname__})'
    if not issubclass(cls, Steppable):
        raise BacktestError(f"{where} does not implement the steppable-venue contract "
                            "(bot.backtest.contract.Steppable)")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise BacktestError(f"{where} does not implement the steppable-venue contract: {missing} missing")
    try:
        plan = cls.prepare_for_backtest(comp.settings)
    except ValueError as exc:
        raise ConfigError([ConfigIssue(comp.path, f"cannot be backtested: {exc}")], source) from None
    except Exception as exc:
        log.debug("prepare_for_backtest of %s failed", name, exc_info=exc)
        raise BacktestError(f"{where}: prepare_for_backtest failed ({type(exc).__name__}: {exc}); its "
                            "conversion of its own settings is out of date with them") from exc
    settings_cls = getattr(cls, "Settings", None)
    if not isinstance(plan, BacktestPlan):
        raise BacktestError(f"{where}: prepare_for_backtest returned {type(plan).__name__}, not a BacktestPlan")
    if settings_cls is not None and not isinstance(plan.settings, settings_cls):
        raise BacktestError(f"{where}: prepare_for_backtest returned settings of type "
                            f"{type(plan.settings).__name__}, not {settings_cls.__name__}")
    if plan.pace_ns is not None and (not isinstance(plan.pace_ns, int) or plan.pace_ns <= 0) and not plan.recorded:
        raise BacktestError(f"{where}: prepare_for_backtest gave pace_ns {plan.pace_ns!r}; expected a positive "
                            "integer (ns between two steps) or None")
    validate = getattr(plan.settings, "validate", None)
    problems = validate() if callable(validate) else []
    if problems:
        raise BacktestError(f"{where}: its backtest settings are invalid: "
                            + "; ".join(f"{key}: {problem}" for key, problem in problems))
    return plan


def recorder_issues(path: str, recorder: tuple[str, str], classes: Any) -> list[ConfigIssue]:
    """Whether the exchange type a venue plays its recording through (``recorder``: its setting, the type) can play
    recordings back as market events; a problem names the venue's setting at ``path``."""
    from ..recording import recorder_in

    key, exchange = recorder
    try:
        found = recorder_in(classes, exchange)
    except ValueError as exc:  # names the types that can record
        return [ConfigIssue(f"{path}.{key}", f"{exc}; name the exchange type the recording was made from")]
    if not hasattr(found, "market_events"):
        return [ConfigIssue(f"{path}.{key}", f'the "{exchange}" recorder cannot play a recording back as market '
                                             "events")]
    return []


def backtest_config(
    path: Path | None, data_dir: Path, db_path: Path, *, require_strategy: bool = True,
    extra_plugins: Sequence[tuple[str, object]] = (), overrides: Sequence[tuple[str, str]] = (),
    watchdog: bool = False,
) -> tuple[Any, Any, Config, dict[str, BacktestPlan]]:
    """Load plugins (the installed ones, less ``[plugins] disabled``, plus ``extra_plugins``) and the
    config at ``path`` (None: the embedded default) as a backtest runs it, with ``overrides`` (a
    sweep's (key, value) pairs, :func:`bot.backtest.overrides.apply_overrides`); returns (plugins,
    registry, config, each exchange's plan). Raises ConfigError (every problem with its key path)
    or BacktestError (a venue plugin that does not keep the contract)."""
    from ..plugins import collect, load_plugins
    from .overrides import apply_overrides

    raw = read_toml(path) if path is not None else default_toml()
    source = str(path) if path is not None else DEFAULT_SOURCE
    raw["mode"] = "paper"  # a backtest never trades for real: orders go to simulated venues only
    plugins = load_plugins(disabled=plugins_disabled(raw), extra=list(extra_plugins),
                           report=lambda info, message: None)
    registry = collect(plugins)
    if registry.conflicts:
        raise ConfigError([ConfigIssue("plugins", c) for c in registry.conflicts], source)
    if overrides:
        apply_overrides(raw, overrides, registry, source)
    config = build_config(raw, registry, source)

    issues: list[ConfigIssue] = []
    exchanges = config.of_kind("exchange")
    classes = registry.classes("exchange")
    steppable: dict[str, type[Steppable]] = {}
    for name, comp in exchanges.items():
        cls = classes[comp.type]
        if issubclass(cls, Steppable):
            steppable[name] = cls
            continue
        if getattr(cls, "simulated", False):
            issues.append(ConfigIssue(f"{comp.path}.type", f'exchange type "{comp.type}" ({cls.__module__}) cannot '
                                      "be stepped on simulated time: it does not implement the steppable-venue "
                                      "contract (bot.backtest.contract.Steppable); use a venue that does (paper, "
                                      "paper-dex)"))
        else:
            issues.append(ConfigIssue(f"{comp.path}.type", f'"{comp.type}" is a real venue; a backtest runs '
                                      'offline on simulated ones. Replay a recording of it with a paper exchange '
                                      '(type = "paper", market = "recording", recording = "FILE.jsonl", '
                                      f'recording_exchange = "{comp.type}") or simulate it'))
    if require_strategy and not config.of_kind("strategy"):
        issues.append(ConfigIssue("strategies", "nothing to backtest: add a [strategies.NAME] table "
                                                '(e.g. type = "grid" or type = "arb")'))
    if issues:
        raise ConfigError(issues, source)

    plans: dict[str, BacktestPlan] = {}
    for name, comp in exchanges.items():
        plan = plans[name] = venue_plan(name, comp, steppable[name], source)
        if plan.recorder is not None:
            issues += recorder_issues(comp.path, plan.recorder, classes)
    if issues:
        raise ConfigError(issues, source)
    components = dict(config.components)
    components["exchange"] = {name: dataclasses.replace(comp, settings=plans[name].settings)
                              for name, comp in exchanges.items()}
    components["notifier"] = {}  # a backtest sends no alert to anyone (chat transports included)
    registry.services.clear()  # nor serves anything (stream, metrics, charts): services are left out
    plugin_settings = {name: dataclasses.replace(s, enabled=False) if getattr(s, "enabled", False) else s
                       for name, s in config.plugin_settings.items()}  # no stream server, no metrics port
    # No dead-man watchdog: a loop "stall" on simulated time is the backtest working, and its timer
    # would wake the loop every few simulated milliseconds between market steps.
    alerts = config.alerts if watchdog else dataclasses.replace(config.alerts, stall_after_s=0, silent_after_s=0)
    config = dataclasses.replace(
        config, mode="paper", components=components, plugin_settings=plugin_settings, alerts=alerts,
        bot=dataclasses.replace(config.bot, data_dir=str(data_dir), db_url=f"sqlite:///{db_path.absolute()}",
                                control_socket="", name=config.bot.name or BACKTEST_BOT),
    )  # fmt: skip
    return plugins, registry, config, plans


def describe_input(plans: dict[str, BacktestPlan]) -> str:
    """One line naming where each venue's market comes from (each venue describes its own)."""
    recording = any(p.recorded for p in plans.values())

    def note(plan: BacktestPlan) -> str:  # a stepped venue beside recordings makes up its own market
        return " (synthetic: not recorded)" if recording and not plan.recorded and plan.pace_ns is not None else ""

    return "; ".join(f"{name}: {plan.input}{note(plan)}" for name, plan in plans.items())


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


def stepped_venues(bot: Any, plans: dict[str, BacktestPlan]) -> list[Venue]:
    """The bot's exchanges the backtest steps, in config order (a venue with no pace moves by itself)."""
    return [Venue(name, bot.exchanges[name], plan) for name, plan in plans.items()
            if name in bot.exchanges and (plan.recorded or plan.pace_ns is not None)]


YOUNG_OBJECTS_PER_COLLECTION = 100_000
"""Allocations between two passes of the cyclic collector over the young objects while the markets are stepped
(Python's default: 700)."""


@contextlib.contextmanager
def fewer_collections() -> Generator[None, None, None]:
    """Run the cyclic garbage collector's young-object pass every :data:`YOUNG_OBJECTS_PER_COLLECTION` allocations
    instead of every 700, then restore the thresholds. A market step makes dozens of short-lived objects (events,
    tuples, Decimals) that reference counting frees at once; at the default, a pass over the young objects ran
    every few dozen steps and cost about 0.3 µs a step. Most young objects a pass finds are not garbage but the
    updates the portfolio keeps for markouts (a market's last 60 to 120 simulated seconds: its books, their level
    tuples, pools): at 10,000 each of them was looked at by a young pass and again by the next older one; at
    100,000 most are trimmed before a pass comes (arb scenario, 150,000 steps: 218 -> 77 ms of collector time, 2%
    of the steps' CPU; a pass over up to 100,000 objects, tens of milliseconds, delays no one on simulated time).
    Exact: the collector only frees unreachable cycles, and nothing the bot decides reads when it does."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_OBJECTS_PER_COLLECTION), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@types.coroutine
def _one_turn() -> Generator[None, None, None]:
    """Let the loop take one turn: ``asyncio.sleep(0)`` without its coroutine around the bare yield."""
    yield


async def drive(venues: list[Venue], clock: BacktestClock, steps: int | None, progress: Progress, *,
                synchronous: bool = True, sample: Callable[[], None] | None = None) -> int:
    """Step the venues in time order until ``steps`` steps (or every recording ended); returns the steps made.
    BacktestInputError, naming the venue and its file, when a recording yields no market event at all.

    Each venue is due at its own pace (a recording at its next event's time); the earliest goes
    first, ties in config order. Waiting for a due time is a simulated sleep (``BacktestLoop.wake_until``: no
    timer of its own): timers due by then (orders in flight, retries, strategy timers; one due at the step's
    own nanosecond too) run first, in their order. ``synchronous`` (the default): when nothing would run by
    the due time, the clock moves and the step runs without a turn of the loop; callbacks ready now take one
    turn at the current time; otherwise the loop runs what is due by then, and the step still runs at exactly
    its time. False enters the loop at every step (the engine before, for comparison). ``sample`` is called after
    the first step and then after the first step :data:`MARK_EVERY_NS` or more after the last call (the mids the
    equity curve is marked at).
    """
    start = clock.time_ns()
    # Recordings play together in receive-time order: each one's offsets count from its own first
    # event, so a recording that began later than the earliest one starts that much later.
    begins = {index: venue.exchange.recording_start_ns() for index, venue in enumerate(venues) if venue.plan.recorded}
    origin = min((ns for ns in begins.values() if ns is not None), default=None)
    lag = {index: ns - origin if ns is not None and origin is not None else 0 for index, ns in begins.items()}
    queue: list[tuple[int, int, Venue]] = []
    for index, venue in enumerate(venues):
        first = venue.exchange.next_event_ns() if venue.plan.recorded else 0
        if first is None:  # it would never end, nor end the backtest: synthetic venues beside it would run forever
            raise BacktestInputError(nothing_recorded(venue))
        queue.append((start + lag.get(index, 0) + first, index, venue))
    heapq.heapify(queue)
    recordings = sum(1 for v in venues if v.plan.recorded)
    loop = asyncio.get_running_loop()
    fast = loop if synchronous and isinstance(loop, BacktestLoop) else None
    done = 0
    pop, push, advance_to = heapq.heappop, heapq.heappush, clock.advance_to
    step_to = fast.step_to if fast is not None else None
    # step_to's common case is made inline below, without a call: nothing ready (BaseEventLoop's queue of ready
    # callbacks, a deque it never replaces) and no timer, or the head timer step_to last saw, not due by the step
    loop_state: Any = fast
    ready = loop_state._ready if fast is not None else ()
    drawing = progress.enabled
    # each venue's step, whether it plays a recording, its pace: read once, not at every step
    stepper = [venue.exchange.step for venue in venues]
    recorded = [venue.plan.recorded for venue in venues]
    paces = [venue.plan.pace_ns for venue in venues]
    last = [due - start for due, _, _ in sorted(queue, key=lambda q: q[1])]  # each recording's offset (with lag)
    next_sample = start
    while queue and (steps is None or done < steps):
        due, index, venue = pop(queue)
        if step_to is None or fast is None:  # the engine before: a turn of the loop per step, landing within a ns
            now = clock.time_ns()
            await asyncio.sleep((due - now) / NS_PER_S if due > now else 0)
            advance_to(due)
        elif not ready and (not (scheduled := loop_state._scheduled) or (
                scheduled[0] is loop_state._head and loop_state._head_ns > due)):
            if due > clock._ns:  # step_to(due), inline
                clock._ns = due
        elif not step_to(due):  # nothing to run before the step (most steps): the clock is at it now
            # Something runs before the step (an order in flight, a timer, a deferred report): the loop runs
            # it at its time, then the step runs at exactly its own.
            while not fast.idle_until(due):
                if fast.ready_now():  # callbacks ready now: one turn runs them; the clock stays, no timer is made
                    await _one_turn()
                else:  # a simulated sleep to the step, without a timer of its own: what is due by then runs first
                    await fast.wake_until(due)
            advance_to(due)
        try:
            more = stepper[index]()
        except Exception as exc:
            log.debug("step of %s failed", venue.name, exc_info=exc)
            raise BacktestError(f'exchange "{venue.name}" failed at market step {done + 1} '
                                f"({(clock.time_ns() - start) / NS_PER_S} s simulated): {type(exc).__name__}: {exc}"
                                ) from exc
        done += 1
        if sample is not None and due >= next_sample:
            sample()
            next_sample = due + MARK_EVERY_NS
        if recorded[index]:
            offset = venue.exchange.next_event_ns() if more else None
            if offset is None:
                recordings -= 1
                if recordings == 0:
                    break  # the recorded market is over; synthetic venues alone would trade a frozen book
            else:
                offset += lag[index]
                if offset < last[index]:  # the contract: growing; played now, it would squash time unseen
                    raise BacktestError(f'exchange "{venue.name}" ({venue.plan.input}): its next event is due '
                                        f"{(last[index] - offset) / NS_PER_S} s before the one it just played "
                                        "(Steppable.next_event_ns must not go back)")
                last[index] = offset
                push(queue, (start + offset, index, venue))
        elif more is not False and (pace := paces[index]) is not None:
            push(queue, (due + pace, index, venue))
        if drawing:
            progress.update(done, (clock.time_ns() - start) / NS_PER_S)
    progress.update(done, (clock.time_ns() - start) / NS_PER_S, force=True)
    return done


def nothing_recorded(venue: Venue) -> str:
    """Why a recorded venue has no market event to play, naming the venue and its file."""
    stats = venue.exchange.recording_stats()
    if stats is None:
        return f'exchange "{venue.name}" ({venue.plan.input}) yields no market event to play'
    text = (f'exchange "{venue.name}": its recording {stats.path} yields no market event to play: '
            f"{stats.nothing_played()}")
    if stats.frames and stats.found == ():  # no symbol at all: perhaps another venue's recording
        from ..recording import recorded_by

        if other := recorded_by(stats.path, ""):
            text += f'; it looks like a {other} recording: set recording_exchange = "{other}"'
    return text


def recording_stats(venues: list[Venue]) -> dict[str, ReadStats]:
    """The read statistics of each recorded venue that keeps them, by venue name."""
    found = {venue.name: venue.exchange.recording_stats() for venue in venues if venue.plan.recorded}
    return {name: stats for name, stats in found.items() if stats is not None}


async def _run(config: Config, plugins: Any, registry: Any, plans: dict[str, BacktestPlan], clock: BacktestClock,
               steps: int | None, progress: Progress, collector: Collector,
               loop_per_step: bool = False) -> RunOutcome:  # fmt: skip
    """Start the bot, drive its markets, let the last orders settle, read what the host recorded, stop it."""
    from ..app import Bot

    bot = Bot(config, plugins, registry, clock=clock)
    bot.store.disposable()  # re-run, never recovered, after a crash: no fsync, records committed in batches
    bot.alerts.nowhere = True  # no notifier ever: an alert no plugin listens to is not even composed
    bot.markouts.gathered = True  # nothing reads the store before the run ends: samples are written in batches
    collector.subscribe(bot.bus)  # before start: the first books already count
    tape = MarkTape(bot.portfolio, clock)
    # Without a strategy there is no fill, so no equity curve to mark (the venues alone: the benchmark's baseline):
    # the tape would price every market each simulated second for nothing.
    marking = bool(config.of_kind("strategy"))
    if marking:
        tape.subscribe(bot.bus)
    # The bot is stopped however the run ends, a failed or interrupted start too: its store and the store writer are
    # closed (within [bot] shutdown_timeout_s) before the caller removes the data dir they write into.
    try:
        await bot.start()
        # APScheduler's jobs (reconcile, balance snapshots, the daily summary) run on wall time: a backtest
        # would run them at moments that depend on the machine's speed, so it runs none.
        bot.scheduler.stop()
        # Nor the store watch: the backtest's store is its own fresh file, and the watch's query every few
        # simulated seconds (a turn of the loop and a read) cost more than the market steps between them.
        for task in asyncio.all_tasks():
            if task.get_name() == STORE_WATCH_TASK:
                task.cancel()
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback: let it run before anything else
        failed = [f"{info.label}: {error}" for info in plugins.infos.values() for error in info.errors]
        if failed:
            raise BacktestError("a plugin failed while the bot started, so the backtest would not test the "
                                "config:\n  " + "\n  ".join(failed))
        venues = stepped_venues(bot, plans)
        if not venues:
            raise BacktestError("no exchange in the config is stepped by the backtest: nothing moves")
        if steps is None and not any(v.plan.recorded for v in venues):
            steps = DEFAULT_STEPS
        wall, cpu = time.perf_counter(), time.process_time()
        sample = tape.take if marking else None
        with fewer_collections():
            done = await drive(venues, clock, steps, progress, synchronous=not loop_per_step, sample=sample)
        drive_wall_s, drive_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        damaged = [f'exchange "{name}": its recording {stats.path} cannot be played to its end: {why}'
                   for name, stats in recording_stats(venues).items() if (why := stats.stopped_early())]
        if damaged:  # a report on part of the data, the rest silently missing, is not what was asked for
            raise BacktestInputError("\n".join(damaged))
        last_step_ns = clock.time_ns()
        await asyncio.sleep(SETTLE_S)  # simulated: legs in flight land, hedges go out, results come in
        await bot.executor.settle(SETTLE_S)
        bot.markouts.flush()
        if marking:
            tape.take()  # the mids at the end: the equity curve ends at the net + the unrealized PnL the report gives
        status = {name: {str(k): str(v) for k, v in (bot.ask(s, "status") or {"status()": "failed"}).items()}
                  for name, s in sorted(bot.strategies.items())}
        types = {name: comp.type for name, comp in config.of_kind("strategy").items()}
        fills = bot.store.fills()
        host = host_figures(bot.store, fills, bot.portfolio.last_price, types, status, tape.changes)
        outcome = RunOutcome(steps=done, last_step_ns=last_step_ns, settled_ns=clock.time_ns(),
                             drive_wall_s=drive_wall_s, drive_cpu_s=drive_cpu_s, host=host, fills=fills,
                             recordings=recording_stats(venues))
    finally:
        await bot.stop()
    return outcome


# --- the whole backtest -------------------------------------------------------------------------


def _sections(plugins: Any, run: BacktestRun) -> list[ReportSection]:
    try:
        results = plugins.pm.hook.backtest_report_sections(run=run)
    except Exception as exc:
        log.debug("backtest_report_sections failed", exc_info=exc)
        raise BacktestError(f"a plugin's backtest report section failed: {type(exc).__name__}: {exc}") from exc
    sections = [s for result in results for s in (result or [])]
    for section in sections:
        if not isinstance(section, ReportSection):
            raise BacktestError(f"backtest_report_sections returned {type(section).__name__}, not a ReportSection")
    return sorted(sections, key=lambda s: s.key)


def run_backtest(config_path: Path | None, out_dir: Path, steps: int | None = None, progress: Progress | None = None,
                 chart: bool = True, require_strategy: bool = True,
                 extra_plugins: Sequence[tuple[str, object]] = (), overrides: Sequence[tuple[str, str]] = (),
                 loop_per_step: bool = False, focus: Sequence[str] = (),
                 scratch_in: Path | None = None) -> BacktestResult:  # fmt: skip
    """Run the backtest of the config at ``config_path`` and write its report into ``out_dir``.

    ``require_strategy=False`` lets the venues run alone (the benchmark's baseline);
    ``extra_plugins`` are (name, module) pairs loaded besides the installed plugins (tests);
    ``overrides`` are (key, value) settings replaced in the config (a sweep's combination);
    ``loop_per_step`` runs the engine as before issue 16 (a loop turn per market step, the dead-man
    watchdog's timer on): ``benchmarks/arb.py`` measures both in one run; ``focus`` names strategies whose
    plugin sections are also made alone (``BacktestResult.focus_sections``: a sweep's swept strategies);
    ``scratch_in`` is the directory the run's scratch data dir (:data:`SCRATCH_PREFIX`) is made in (None: the
    system's temp directory; a sweep's workers make theirs in the sweep's own, which the sweep removes). The
    scratch data dir is removed once the bot has stopped, however the run ended.

    Raises ConfigError (a bad config, every problem with its key path), BacktestInputError (a recording that
    yields no market event) or BacktestError; CancelledError when its run's task (:data:`RUN_TASK`) is cancelled
    (SIGTERM to ``arbot backtest``). A run that fails or stops leaves nothing half-written: its store, the report
    files it made and ``out_dir`` when it made it (then empty) are removed; what ``out_dir`` held before stays. The
    report's files are written together at the end, each whole (:func:`.report.write_files`).
    """
    made_out = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "backtest.db"
    store_files = (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm"))
    for stale in store_files:
        stale.unlink(missing_ok=True)
    reports = [out_dir / name for name in (CHART_FILE, REPORT_JSON, REPORT_MD, RUN_JSON)
               if not (out_dir / name).exists()]
    try:
        return _run_backtest(config_path, out_dir, db_path, steps, progress, chart, require_strategy, extra_plugins,
                             overrides, loop_per_step, focus, scratch_in)
    except BaseException:  # nothing half-written: no store of a run that did not finish, no file or directory it made
        for written in (*store_files, *reports):
            written.unlink(missing_ok=True)
        if made_out:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only when empty
        raise


def _run_backtest(config_path: Path | None, out_dir: Path, db_path: Path, steps: int | None,
                  progress: Progress | None, chart: bool, require_strategy: bool,
                  extra_plugins: Sequence[tuple[str, object]], overrides: Sequence[tuple[str, str]],
                  loop_per_step: bool, focus: Sequence[str], scratch_in: Path | None) -> BacktestResult:  # fmt: skip
    data_dir = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_in))
    try:
        plugins, registry, config, plans = backtest_config(config_path, data_dir, db_path,
                                                           require_strategy=require_strategy,
                                                           extra_plugins=extra_plugins, overrides=overrides,
                                                           watchdog=loop_per_step)
        clock = BacktestClock(START_NS)
        collector = Collector()
        progress = progress or Progress(steps, enabled=False)
        wall = time.perf_counter()

        async def run_as_task() -> RunOutcome:  # its task named: what SIGTERM to arbot backtest cancels
            task = asyncio.current_task()
            if task is not None:
                task.set_name(RUN_TASK)
            return await _run(config, plugins, registry, plans, clock, steps, progress, collector, loop_per_step)

        outcome = run_simulated(run_as_task(), clock)
        wall_s = time.perf_counter() - wall
        progress.close()
    finally:  # the bot has stopped (``_run``): nothing writes into its data dir any more
        shutil.rmtree(data_dir, ignore_errors=True)

    run = BacktestRun(
        config=config.source, start_ns=START_NS, end_ns=outcome.settled_ns,
        strategies={name: comp.type for name, comp in config.of_kind("strategy").items()},
        status={s.name: s.status for s in outcome.host.strategies if s.status},
        opportunities=tuple(collector.opportunities), executions=tuple(collector.executions),
        fills=tuple(outcome.fills), pnl_curves=outcome.host.curves, equity_curves=outcome.host.equity,
    )  # fmt: skip
    sections = _sections(plugins, run)
    focus_sections: list[ReportSection] = []
    if focus:
        focused = run.of_strategies(focus)
        focus_sections = sections if focused.strategies == run.strategies else _sections(plugins, focused)
    simulated_ns = outcome.last_step_ns - START_NS
    chart_path = out_dir / CHART_FILE if chart else None
    chart_png: bytes | None = None  # written with the report's other files, together (report.write_files)
    if chart_path is not None:
        from .chart import pnl_chart_png

        name = config_path.name if config_path is not None else "the embedded default config"

        def plugin_charts(axes: Any, run: BacktestRun) -> list[Any]:
            try:
                charts: list[Any] = plugins.pm.hook.backtest_chart(axes=axes, run=run)
                return charts
            except Exception as exc:
                log.debug("backtest_chart failed", exc_info=exc)
                raise BacktestError(f"a plugin's backtest chart failed: {type(exc).__name__}: {exc}") from exc

        chart_png = pnl_chart_png(run, f"Backtest of {name}: cumulative PnL", plugin_charts)
    scenario = {
        "config": config.source, "input": describe_input(plans), "steps": outcome.steps,
        "start_ns": START_NS, "simulated_s": str(simulated_ns / NS_PER_S), "strategies": sorted(run.strategies),
    }  # fmt: skip
    drive_s = outcome.drive_wall_s
    timing = {"wall_s": round(wall_s, 3), "steps_wall_s": round(drive_s, 3),
              "ticks_per_s": round(outcome.steps / drive_s) if drive_s > 0 else None}
    json_path, md_path = write_report(out_dir, outcome.host, sections, scenario, timing,
                                      CHART_FILE if chart_path else None, outcome.recordings, chart_png)
    return BacktestResult(outcome.host, sections, outcome.steps, simulated_ns, wall_s, drive_s, outcome.drive_cpu_s,
                          json_path, md_path, chart_path, focus_sections, outcome.recordings)
