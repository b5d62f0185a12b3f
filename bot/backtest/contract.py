"""The backtest contract: what a venue offers to be stepped on simulated time, and what report hooks get.

A backtest (``arbot backtest``) runs the real bot on a manual clock and moves the markets itself,
one step at a time, earliest first. An exchange class takes part by inheriting :class:`Steppable`
and implementing its abstract methods; the host never reads a venue's settings by name. Each venue
converts its own settings (:meth:`Steppable.prepare_for_backtest`) and says how it is to be stepped
(:class:`BacktestPlan`). A venue class without the contract is refused by name, before anything runs.

The report hooks (``backtest_report_sections``, ``backtest_chart``; see :mod:`bot.hookspecs`)
receive a :class:`BacktestRun`: what the bus carried during the run, read-only.
"""

from __future__ import annotations

import abc
import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..domain import ExecutionResult, Fill, Opportunity
from ..recording_stats import ReadStats

DEFAULT_STEPS = 10_000
"""Market steps of a synthetic scenario when ``--steps`` is not given (a recording plays to its end)."""

__all__ = ["DEFAULT_STEPS", "BacktestPlan", "BacktestRun", "Curve", "ReportSection", "Steppable"]

Curve = list[tuple[int, Decimal]]
"""(ts_ns, cumulative PnL) points of a step curve, in time order."""


@dataclass(frozen=True)
class BacktestPlan:
    """How a venue runs in a backtest (returned by :meth:`Steppable.prepare_for_backtest`)."""

    settings: Any
    """The venue's settings as the backtest builds it: an instance of the class's ``Settings``, with
    the venue's own market clock off (the market moves only when :meth:`Steppable.step` is called),
    its state in memory (every backtest starts from the configured balances) and anything else that
    would wait for wall time or leave the process turned off. The host validates it again."""
    input: str
    """One line saying where the venue's market comes from, for the report
    (``"synthetic paper, seed 11"``, ``"recording sol.jsonl (kraken)"``)."""
    pace_ns: int | None = None
    """Simulated nanoseconds between two steps (the pace the config gives it, > 0). None: the host
    never steps it (a venue that moves with another one, e.g. a mirror)."""
    recorded: bool = False
    """True: the steps are due at the times :meth:`Steppable.next_event_ns` gives (a recording);
    the backtest ends when every recorded venue has ended. ``pace_ns`` is then ignored."""
    recorder: tuple[str, str] | None = None
    """A recording played through another exchange type's recorder: (the venue's setting that names it, that
    exchange type), e.g. ``("recording_exchange", "kraken")``. The host checks, before anything runs, that the
    type is installed and can play recordings back as market events; else a config error names that key."""


class Steppable(abc.ABC):
    """Mix into an exchange class whose market can run on simulated time (``class X(Exchange, Steppable)``).

    The backtest calls :meth:`prepare_for_backtest` on the class for each configured venue of its
    type, builds the venue from the returned settings as ``arbot run`` would, starts the bot, then
    calls :meth:`step` at each due time on the bot's clock (``ctx.clock``, which the backtest moves).
    """

    @classmethod
    @abc.abstractmethod
    def prepare_for_backtest(cls, settings: Any) -> BacktestPlan:
        """Convert this venue's validated ``settings`` into its backtest settings and say how to step it.

        Raise ValueError for a setting that cannot be backtested (the message names the key).
        """

    @abc.abstractmethod
    def step(self) -> bool:
        """Move the market once (publishing what changed and the fills it caused); False once the
        market will not move again (a recording that ended), True otherwise."""

    def next_event_ns(self) -> int | None:
        """A recorded venue (``BacktestPlan.recorded``): when the event the next :meth:`step` plays is
        due, in ns since the first one (never less than the one before: a step back stops the backtest with
        an error naming the venue); None once it is over. Others need not override it."""
        return None

    def recording_start_ns(self) -> int | None:
        """A recorded venue: the recorded receive time (ns since the epoch) of its first event, so that
        several recordings play together in receive-time order; None (the default): each recording
        starts with the backtest."""
        return None

    def recording_stats(self) -> ReadStats | None:
        """A recorded venue: what reading its recording found (lines, frames, malformed lines skipped) and
        where playback stopped before the end of the file, if it did (:class:`bot.api.kit.ReadStats`).
        The backtest reports it, and names it when the recording yields no market event at all. None (the
        default): nothing to report."""
        return None


@dataclass(frozen=True)
class ReportSection:
    """One plugin section of the backtest report (returned by ``backtest_report_sections``)."""

    key: str
    """Its key under ``sections`` in ``report.json`` (the plugin's name is a good one)."""
    title: str
    """Its heading in ``report.md``."""
    markdown: str
    """Its body in ``report.md`` (Markdown, no heading)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Its figures in ``report.json``: JSON types only, money as exact decimal strings."""
    summary: tuple[str, ...] = ()
    """Lines ``arbot backtest`` prints on the terminal when the report is written."""


@dataclass(frozen=True)
class BacktestRun:
    """What a backtest saw, handed to the report hooks."""

    config: str
    """Where the config came from (a path, or the embedded default)."""
    start_ns: int
    """Simulated time of the start."""
    end_ns: int
    """Simulated time at the end (after the last step and the settling time)."""
    strategies: dict[str, str]
    """Each configured strategy's name -> its type."""
    status: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each running strategy's ``status()`` at the end."""
    opportunities: tuple[Opportunity, ...] = ()
    """Every ``Opportunity`` the bus carried, in arrival order."""
    executions: tuple[ExecutionResult, ...] = ()
    """Every ``ExecutionResult`` the bus carried, in arrival order."""
    fills: tuple[tuple[str, Fill], ...] = ()
    """(strategy, fill) of every fill, as the host stored it (each once), in time order."""
    pnl_curves: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """Strategy -> quote -> cumulative net realized PnL from the ledger, after each fill that changed it
    (the host's chart draws these: mark your events on them)."""
    equity_curves: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """Strategy -> quote -> equity: net realized PnL plus the open lots marked at the mids then
    (:func:`bot.ledger.equity_curves`); the report's max drawdown is measured on it."""

    def of_strategies(self, names: Iterable[str]) -> BacktestRun:
        """This run as ``names`` alone saw it: their strategies, status, opportunities, executions, fills and
        curves (a sweep's row asks the report hooks for the figures of the strategies it sweeps)."""
        keep = set(names)
        return replace(
            self, strategies={n: t for n, t in self.strategies.items() if n in keep},
            status={n: s for n, s in self.status.items() if n in keep},
            opportunities=tuple(o for o in self.opportunities if o.strategy in keep),
            executions=tuple(e for e in self.executions if e.strategy in keep),
            fills=tuple((n, f) for n, f in self.fills if n in keep),
            pnl_curves={n: c for n, c in self.pnl_curves.items() if n in keep},
            equity_curves={n: c for n, c in self.equity_curves.items() if n in keep},
        )  # fmt: skip

    def pnl_at(self, strategy: str, quote: str, ts_ns: int) -> Decimal:
        """The strategy's cumulative net realized PnL in ``quote`` in force at ``ts_ns`` (0 before its first)."""
        curve = self.pnl_curves.get(strategy, {}).get(quote, [])
        i = bisect.bisect_right(curve, ts_ns, key=lambda point: point[0])
        return curve[i - 1][1] if i else Decimal(0)

    def seconds(self, ts_ns: int) -> float:
        """Seconds of simulated time since the start (a chart's x axis)."""
        return (ts_ns - self.start_ns) / 1e9
