"""The backtest report: the host's generic figures, then the plugins' sections.

The host's part holds for any strategy: each recording as read (lines, frames, malformed lines
skipped, where playback stopped early: :class:`~bot.recording_stats.ReadStats`, one place for every
recorded venue), fills and fees, PnL per strategy from the one ledger (:mod:`bot.ledger`: realized
per strategy and market, a named lot else FIFO; fees in quote, net, open lots marked to the last
mids), risk events and each strategy's final ``status()``. A plugin adds its own sections
through the ``backtest_report_sections`` hook (the arb plugin: opportunities, capture rate,
prediction error). ``report.json`` keeps money as exact decimal strings; what depends on the
machine (wall time, ticks per second) is in ``run.json``, apart, so two runs of one scenario write the
same ``report.json`` and ``report.md``, byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from ..domain import ZERO, Fill
from ..exact import plain
from ..ledger import (
    EXACT_DIGITS,
    DayFigures,
    Ledger,
    MarkChange,
    Marks,
    daily,
    equity_curves,
    pnl_curve_drawdown,
    pnl_curves,
    steps,
    totals,
)
from ..markouts import MarkoutFigures
from ..recording_stats import ReadStats
from ..report import fills_count_text
from ..store import Store
from ..units import counted, money, moneys
from .contract import Curve, ReportSection

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
RUN_JSON = "run.json"
"""The run's machine-dependent figures (wall time, ticks per second), apart from the report."""


def exact(value: Decimal) -> str:
    """A Decimal as plain text with every significant digit and no trailing zeros ("12.5", not "1.25E+1"), never
    rounded (:func:`bot.exact.plain`)."""
    return plain(value)


def _amounts(values: dict[str, Decimal]) -> dict[str, str]:
    return {asset: exact(v) for asset, v in sorted(values.items())}


@dataclass(frozen=True)
class StrategyResult:
    """One strategy at the end of the backtest, as the ledger counts it (amounts per quote asset)."""

    name: str
    type: str
    orders: int
    fills: int
    """Trades (:func:`bot.ledger.is_trade`)."""
    fee_only: int
    """Fee-only entries (a swap that landed failed paid its network fee), counted apart from ``fills``."""
    round_trips: int
    realized: dict[str, Decimal]
    """Realized PnL (the lot an order names, else FIFO), before fees."""
    fees: dict[str, Decimal]
    """Fees in the quote asset (a base-asset fee at its fill's price)."""
    other_fees: dict[str, Decimal]
    """Fees in any other asset, in that asset (not in ``net``)."""
    net: dict[str, Decimal]
    unrealized: dict[str, Decimal]
    """Open lots marked to the last mids at the end."""
    status: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "orders": self.orders, "fills": self.fills, "fee_only": self.fee_only,
                "round_trips": self.round_trips,
                "realized": _amounts(self.realized), "fees": _amounts(self.fees),
                "other_fees": _amounts(self.other_fees), "net": _amounts(self.net),
                "unrealized": _amounts(self.unrealized), "status": dict(self.status)}


@dataclass(frozen=True)
class HostFigures:
    """The report's generic part, read from the backtest's store and the bot at the end of the run."""

    strategies: list[StrategyResult]
    fills: int
    fees: dict[str, Decimal]
    """Every fee by the asset it was paid in."""
    risk_events: dict[str, int]
    """Stored risk events by "check action" (vetoes of single orders: "limits veto")."""
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """Strategy -> quote -> (ts_ns, cumulative net realized PnL) after each fill that changed it."""
    days: list[DayFigures] = field(default_factory=list)
    """Each strategy's fills and PnL per UTC day (the ledger's :func:`~bot.ledger.daily`)."""
    markouts: list[MarkoutFigures] = field(default_factory=list)
    """Each strategy's markouts per horizon (:meth:`bot.ledger.Ledger.markouts`)."""
    equity: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """Strategy -> quote -> (ts_ns, equity): net realized PnL plus the open lots marked at the mids then
    (:func:`bot.ledger.equity_curves`), what the max drawdown is measured on."""

    def drawdown(self, strategy: str) -> dict[str, Decimal]:
        """Quote -> the largest fall of the strategy's equity (net realized PnL plus its open lots marked at the mids
        then) from its peak."""
        return {quote: pnl_curve_drawdown(curve) for quote, curve in sorted(self.equity.get(strategy, {}).items())}

    def as_json(self) -> dict[str, Any]:
        return {
            "strategies": {s.name: {**s.as_json(), "max_drawdown": _amounts(self.drawdown(s.name))}
                           for s in self.strategies},
            "fills": {"count": self.fills, "fees": _amounts(self.fees)},
            "days": [{"strategy": d.strategy, "day": d.day, "quote": d.quote, "fills": d.fills,
                      "realized": exact(d.realized), "fees": exact(d.fees), "net": exact(d.net)} for d in self.days],
            "markouts": [m.as_json() for m in self.markouts],
            "risk_events": dict(self.risk_events),
            "pnl_curves": {name: {quote: [[ts, exact(v)] for ts, v in curve] for quote, curve in by_quote.items()}
                           for name, by_quote in self.curves.items()},
            "equity_curves": {name: {quote: [[ts, exact(v)] for ts, v in curve] for quote, curve in by_quote.items()}
                              for name, by_quote in sorted(self.equity.items())},
        }


def host_figures(store: Store, fills: list[tuple[str, Fill]], marks: Marks, strategies: dict[str, str],
                 status: dict[str, dict[str, str]],
                 mark_changes: Sequence[MarkChange] = ()) -> HostFigures:  # fmt: skip
    """The generic figures from the store the backtest wrote (``fills``: its (strategy, fill) pairs in time
    order; ``marks``: the last mids; ``strategies``: name -> type; ``status``: each final ``status()``;
    ``mark_changes``: the mids over the run, in time order, that the equity curves mark open lots at)."""
    ledger = Ledger(store, marks)
    figures = ledger.report()
    results = []
    for name in sorted(set(strategies) | set(figures)):
        fig = figures.get(name)
        results.append(StrategyResult(
            name=name, type=strategies.get(name, "-"), orders=sum(fig.orders.values()) if fig else 0,
            fills=fig.fills if fig else 0, fee_only=fig.fee_only if fig else 0,
            round_trips=fig.round_trips if fig else 0,
            realized=fig.realized if fig else {}, fees=fig.fees if fig else {},
            other_fees=fig.other_fees if fig else {}, net=fig.net if fig else {},
            unrealized=fig.unrealized if fig else {}, status=status.get(name, {}),
        ))  # fmt: skip
    fees_total: dict[str, Decimal] = {}
    with localcontext(prec=EXACT_DIGITS):  # to the last digit, as the ledger sums
        for _, fill in fills:
            fees_total[fill.fee_asset] = fees_total.get(fill.fee_asset, ZERO) + fill.fee
    risk = {f"{check} {action}": n for (check, action), n in sorted(store.risk_event_counts().items())}
    closes = store.closes()
    ledger_steps = list(steps(fills, closes=closes))
    # the ledger's count of trades (a fee-only entry is a cost, not a fill), the sum of the table's column
    return HostFigures(results, totals(figures.values()).fills, fees_total, risk, pnl_curves(ledger_steps),
                       daily(ledger_steps), ledger.markouts(), equity_curves(fills, mark_changes, closes))


def markout_lines(figures: Iterable[MarkoutFigures]) -> list[str]:
    """The markouts as a Markdown section (a table per strategy and quote, a column per horizon); [] without fills."""
    figures = list(figures)
    if not figures:
        return []
    horizons = sorted({f.horizon_s for f in figures})
    lines = ["## Markouts", "",
             "The mid of each fill's own market (its book, or its pool) " + ", ".join(f"{h} s" for h in horizons)
             + " after the fill, against the fill's price: (mid - price) x qty for a buy, (price - mid) x qty for "
             "a sell, summed (positive: the market moved our way; negative: adversely selected), and the mean "
             "in bps of the price. A fill whose market had not reached the horizon yet is unsampled.", "",
             "| strategy | " + " | ".join(f"+{h} s" for h in horizons) + " |",
             "| --- | " + " | ".join("---:" for _ in horizons) + " |"]
    by_row: dict[tuple[str, str], dict[int, MarkoutFigures]] = {}
    for f in figures:
        by_row.setdefault((f.strategy, f.quote), {})[f.horizon_s] = f
    for (strategy, quote), row in sorted(by_row.items()):
        cells = []
        for h in horizons:
            at = row.get(h)
            if at is None or at.mean_bps is None:
                cells.append("no sample")
                continue
            text = f"{money(at.total, quote)} ({at.mean_bps:+.1f} bps, {counted(at.fills, 'fill')}"
            cells.append(text + (f", {at.unsampled} unsampled)" if at.unsampled else ")"))
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return lines + [""]


# --- writing --------------------------------------------------------------------------------


def recording_lines(recordings: Mapping[str, ReadStats]) -> list[str]:
    """The recordings read, as a Markdown section (a row per recorded venue); [] without recordings."""
    if not recordings:
        return []
    lines = ["## Recordings", "",
             "Each recorded venue's file as read: a malformed line (not a recording line: cut short, not JSON, ...) "
             "is skipped; a recording whose playback could not go on to its end (a line it cannot get past, or a "
             "market that broke, a book whose checksum failed, and no later line restored) is refused, so each "
             "here played to its end. A receive time earlier than the line's before (the recorder's wall clock "
             "stepped back) is played in file order as no time passing.", "",
             "| venue | file | lines | frames | malformed lines skipped | receive times | playback |",
             "| --- | --- | ---: | ---: | --- | --- | --- |"]
    for name, stats in sorted(recordings.items()):
        skipped = "none"
        if stats.malformed:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in stats.skipped.most_common())
            skipped = (f"{stats.malformed} ({reasons}; first at line " + ", ".join(map(str, stats.first_bad)) + ")")
        played = "to the end" if stats.stopped_at is None else \
            f"**stopped early at line {stats.stopped_at}**: {stats.stopped}"
        times = f"**{stats.time_went_back()}**" if stats.went_back else "in order"
        lines.append(f"| {name} | {stats.path.name} | {stats.lines} | {stats.frames} | {skipped} | {times} "
                     f"| {played} |")
    return lines + [""]


def write_files(out_dir: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (name -> content) into ``out_dir`` together, each one whole or not at all; returns their paths.

    Each is written to a hidden temporary name beside it (``.NAME.PID.tmp``), then, once all are, renamed over its
    name (``os.replace``: atomic within a directory) with SIGINT and SIGTERM held off meanwhile, so that an
    interrupt (Ctrl-C, SIGTERM raised as one), a failure or a full disk never leaves a file cut short nor a set of
    one run's files beside another run's; files there before stay as they were until the renames. A failure or an
    interrupt before the renames removes the temporary files. A kill (SIGKILL) can leave a temporary file, never a
    file of ``files`` half-written."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            temporary = out_dir / f".{name}.{os.getpid()}.tmp"
            staged.append((temporary, out_dir / name))
            temporary.write_bytes(data)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for temporary, path in staged:
                os.replace(temporary, path)
        finally:  # a signal that came meanwhile is handled now, once the set is in place
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    return [path for _, path in staged]


def write_report(out_dir: Path, host: HostFigures, sections: Sequence[ReportSection], scenario: dict[str, Any],
                 run: dict[str, Any], chart: str | None,
                 recordings: Mapping[str, ReadStats] | None = None,
                 chart_png: bytes | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Write ``report.json``, ``report.md`` and ``run`` as ``run.json`` into ``out_dir``, with ``chart_png`` as
    ``chart`` when given; returns the report's paths. The files are written together (:func:`write_files`): an
    interrupted write leaves the ones there before as they were, none cut short.

    ``scenario`` describes the input (config, venues, steps, simulated span): same scenario, same
    figures, same bytes of ``report.json`` and ``report.md``. ``recordings``: each recorded venue's read statistics
    (lines, frames, malformed lines skipped). ``run`` holds what depends on the machine (wall time, ticks per
    second): written apart, in ``run.json``, so the report's files compare equal between two runs.
    """
    recordings = recordings or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"scenario": scenario, "recordings": {name: stats.as_json() for name, stats in sorted(recordings.items())},
            **host.as_json(), "sections": {s.key: s.data for s in sections}, "chart": chart}
    files = {} if chart is None or chart_png is None else {chart: chart_png}
    files[RUN_JSON] = (json.dumps(run, indent=2) + "\n").encode()
    files[REPORT_JSON] = (json.dumps(data, indent=2) + "\n").encode()
    files[REPORT_MD] = render_markdown(host, sections, scenario, chart, recordings).encode()
    write_files(out_dir, files)
    return out_dir / REPORT_JSON, out_dir / REPORT_MD


def render_markdown(host: HostFigures, sections: Sequence[ReportSection], scenario: dict[str, Any],
                    chart: str | None, recordings: Mapping[str, ReadStats] | None = None) -> str:  # fmt: skip
    lines = [
        "# Backtest report",
        "",
        f"Config `{scenario.get('config')}`, {scenario.get('input')}; {scenario.get('steps')} market steps over "
        f"{scenario.get('simulated_s')} s of simulated time.",
        "",
        *recording_lines(recordings or {}),
        "## PnL per strategy",
        "",
        "| strategy | type | orders | fills | round trips | realized PnL | fees | net PnL | max drawdown "
        "| unrealized |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in host.strategies:
        quotes = sorted(set(s.realized) | set(s.fees) | set(s.net) | set(s.unrealized))
        fees = moneys(s.fees, quotes) + "".join(f" + {money(v, a)}" for a, v in sorted(s.other_fees.items()))
        lines.append(f"| {s.name} | {s.type} | {s.orders} | {fills_count_text(s.fills, s.fee_only)} | "
                     f"{s.round_trips} | "
                     f"{moneys(s.realized, quotes)} | {fees} | {moneys(s.net, quotes)} | "
                     f"{moneys(host.drawdown(s.name), quotes)} | {moneys(s.unrealized, quotes)} |")
    lines += [
        "",
        "From the ledger: realized PnL per strategy and market (a symbol on any venue; a closing order that names "
        "its lot is matched to it, anything else FIFO), before fees; fees "
        "in the quote asset (a base-asset fee at its fill's price; any other asset apart); net = realized - fees; "
        "unrealized: the lots still open at the end, marked to the last mids; max drawdown: the largest fall of "
        "equity from its peak (the start counting as one), equity being the net realized PnL plus the open lots "
        "marked at the mids then (read at each fill, each second of simulated time and at the end): a loss held "
        "in open lots counts.",
        "",
        "## Per day (UTC)",
        "",
        "| strategy | day | fills | realized PnL | fees | net PnL |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *(f"| {d.strategy} | {d.day} | {d.fills} | {money(d.realized, d.quote)} | {money(d.fees, d.quote)} | "
          f"{money(d.net, d.quote)} |" for d in host.days),
        "",
        *markout_lines(host.markouts),
        f"Fills: {fills_count_text(host.fills, sum(s.fee_only for s in host.strategies))}; fees paid, each in the "
        "asset it was paid in (the table's are in quote, a base-asset fee at its fill's price): "
        + (moneys(host.fees) if host.fees else "none") + ".",
        "",
        "## Risk events and final status",
        "",
        "Risk events (a veto blocks one order): "
        + (", ".join(f"{k} {v}" for k, v in host.risk_events.items()) or "none") + ".",
        "",
    ]
    for s in host.strategies:
        if s.status:
            lines.append(f"- Strategy {s.name} at the end: " + "; ".join(f"{k} {v}" for k, v in s.status.items())
                         + ".")
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", "", section.markdown.rstrip("\n"), ""]
    if chart:
        lines += [f"![cumulative PnL]({chart})", ""]
    lines += [f"This run's wall time and ticks per second, which depend on the machine: `{RUN_JSON}`.", ""]
    return "\n".join(lines)
