"""Parameter sweeps: every combination of some settings, backtested over the same data on all cores.

``arbot backtest --sweep 'min_edge_bps=5,10,20' --sweep 'max_notional=500,1000'`` (or a ``[sweep]``
table of ``key = [values]``) runs one backtest per combination, in worker processes (one per core by
default), each in its own ``run-NNN/`` directory with its own report, and writes one table
(``sweep.md``, ``sweep.json``) ranked by the net realized PnL the ledger gives the swept strategies
("net realized PnL", ``net``: each run's report's ``net`` of them), with the max drawdown of their summed
equity (net realized PnL plus open lots marked at the mids: each run's report's curve), their fills, and
when an ``arb`` section is there their arbitrage's captured PnL, executions,
capture rate and prediction error (the section of the swept strategies' run alone: sweeping one pair of
three shows that pair's), and a chart (``sweep.png``).

Two PnL figures, two names, each the one the run's report gives it: **net realized PnL** is the ledger's
(FIFO lots; a fee in a third asset, a DEX's SOL network fee on JUP/USDC, is not in it; a residual left
unhedged is an open lot, not realized), **captured PnL** the arb section's (the sum of the executions'
own realized PnL: a residual valued at the CEX mid when its execution finished, a SOL fee at the SOL price
its opportunity was priced with), which the capture rate next to it divides. They differ by exactly those.

Every figure is per quote asset: when the swept strategies' PnL is in several (SOL/USDC and
SOL/USDT), each quote has its own columns (``quotes`` in a JSON row), never a sum, and the table is
not ranked (no price here turns one asset into another): the rows stay in combination order,
``ranked_by`` is null. With one quote (the usual case) the rows rank by it.

A key is a setting's path (``strategies.sol-arb.min_edge_bps``, ``exchanges.sol-pool.fee_bps``) or
a strategy setting's bare name (``min_edge_bps``), which applies to every configured strategy whose
type has that setting. Values take the type the config already gives the key (else TOML's reading
of them: ``5`` an integer, ``0.5`` a number, anything else a string); ``true`` and ``false`` (any
case) are the only booleans, whether the config sets the key or not. The settings classes then
validate them as ever, so a bad value (``flase`` for a boolean) is a config error naming its key.
Two keys that set the same setting (``min_edge_bps`` and ``strategies.sol-arb.min_edge_bps``) are
refused, naming both: compared by what they set, not by their text.

**Walk-forward** (``--walk-forward 0.5``): each combination's run is split at that fraction of its
simulated span; the table is ranked on the first part (tuning) and shows the rest (out of sample)
next to it, with the best tuned combination's result on the rest: how much of the tuned figure was
fitting. Each part is what the equity gained in it (net realized PnL plus what is held marked at the mids:
a lot bought in the tuning part and sold in the rest credits each part with its own move, and a loss held at
the split is the tuning part's). The rest continues the same run, from the bot's state at the split: what it
held then is carried (shown, as its unrealized PnL at the split, "held at the split"), not flat as a fresh
bot would start.

Deterministic: the same config, data and sweep give the same table and chart, byte for byte (wall
times are printed, never written into them). Combinations are numbered in the order the axes and
values are given; ties rank by that number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from ..domain import ZERO
from ..ledger import EXACT_DIGITS, pnl_curve_drawdown
from ..settings import ConfigError, ConfigIssue
from ..units import money
from .contract import Curve
from .overrides import SWEEP_TABLE, targets
from .report import exact, write_files

MAX_COMBINATIONS = 10_000
TABLE_JSON = "sweep.json"
TABLE_MD = "sweep.md"
TABLE_CHART = "sweep.png"
STOP_GRACE_S = 5.0
"""How long a worker terminated mid-run (SIGTERM) is given to end before it is killed (SIGKILL)."""


@dataclass(frozen=True)
class Axis:
    """One swept setting and its values, in the order given."""

    key: str
    values: tuple[str, ...]


def parse_axis(spec: str) -> Axis:
    """``"min_edge_bps=5,10,20"`` -> Axis; ValueError saying what is wrong and how to write it."""
    key, sep, values = spec.partition("=")
    key = key.strip()
    items = tuple(v.strip() for v in values.split(","))
    if not sep or not key or not all(items):
        raise ValueError(f"--sweep {spec!r}: expected KEY=V1,V2,... (e.g. --sweep 'min_edge_bps=5,10,20')")
    if len(set(items)) != len(items):
        raise ValueError(f"--sweep {spec!r}: a value is given twice")
    return Axis(key, items)


def axes_from_table(table: Any, source: str) -> list[Axis]:
    """The ``[sweep]`` table's axes (``key = [v1, v2]``); ConfigError naming a malformed entry."""
    if not isinstance(table, dict):
        raise ConfigError([ConfigIssue(SWEEP_TABLE, "expected a table of KEY = [values]")], source)
    axes, issues = [], []
    for key, values in table.items():
        if not isinstance(values, list) or not values or any(isinstance(v, (dict, list)) for v in values):
            issues.append(ConfigIssue(f"{SWEEP_TABLE}.{key}", 'expected a non-empty list of values, e.g. ["5", "10"]'))
            continue
        texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
        twice = sorted({t for t in texts if texts.count(t) > 1})
        if twice:  # as --sweep refuses it: one setting would run as two rows under one label
            issues.append(ConfigIssue(f"{SWEEP_TABLE}.{key}", f"a value is given twice ({', '.join(twice)}): give "
                                      "each value once"))
            continue
        axes.append(Axis(key, texts))
    if issues:
        raise ConfigError(issues, source)
    return axes


def combinations(axes: Sequence[Axis]) -> list[tuple[tuple[str, str], ...]]:
    """Every combination, the last axis varying fastest: ((key, value), ...) each."""
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ValueError("a sweep key is given twice: " + ", ".join(sorted({k for k in keys if keys.count(k) > 1})))
    combos = [tuple(zip(keys, values, strict=True)) for values in itertools.product(*(a.values for a in axes))]
    if len(combos) > MAX_COMBINATIONS:
        raise ValueError(f"{len(combos):,} combinations is more than {MAX_COMBINATIONS:,}: sweep fewer values")
    return combos


def check_overlaps(raw: Mapping[str, Any], axes: Sequence[Axis], registry: Any) -> None:
    """ValueError naming both keys when two axes set the same setting (or one sets a table holding the other's).

    Compared by what the keys set (:func:`~.overrides.targets`), not by their text: ``min_edge_bps`` and
    ``strategies.sol-arb.min_edge_bps`` are one setting when sol-arb has it, and the one applied last
    would run under both labels, the other's values never used.
    """
    paths = [(a.key, targets(raw, a.key, registry)) for a in axes]
    for i, (key, mine) in enumerate(paths):
        for other, theirs in paths[i + 1:]:
            for a in mine:
                shared = next((b for b in theirs if a[:len(b)] == b or b[:len(a)] == a), None)
                if shared is not None:
                    where = ".".join(a if len(a) <= len(shared) else shared)
                    raise ValueError(f"--sweep {key} and --sweep {other} both set {where}: one setting swept "
                                     "under two keys would run every row with the values of one and the "
                                     "labels of both; sweep it under one key")


def swept_strategies(raw: Mapping[str, Any], axes: Sequence[Axis], registry: Any) -> list[str]:
    """The strategies a sweep changes (every configured strategy when it changes only venues or the host)."""
    names = {path[1] for a in axes for path in targets(raw, a.key, registry) if path[0] == "strategies"}
    return sorted(names) or sorted(raw.get("strategies") or {})


# --- one combination in a worker process -------------------------------------------------------


@dataclass(frozen=True)
class Job:
    index: int
    config: Path | None
    out_dir: Path
    steps: int | None
    overrides: tuple[tuple[str, str], ...]
    extra_plugins: tuple[tuple[str, str], ...]
    """(plugin name, module name): imported in the worker (a module does not cross processes)."""
    strategies: tuple[str, ...] = ()
    """The swept strategies: the row's arbitrage figures are those of their run alone."""
    scratch_in: Path | None = None
    """The sweep's own temp directory, which the run's scratch data dir is made in (removed by the sweep, so a
    worker terminated before its own clean-up leaves nothing behind)."""


@dataclass(frozen=True)
class Outcome:
    """What the table needs of one combination's backtest."""

    index: int
    overrides: tuple[tuple[str, str], ...]
    net: dict[str, dict[str, Decimal]]
    """Strategy -> quote -> net realized PnL (the ledger's)."""
    fills: dict[str, int]
    curves: dict[str, dict[str, Curve]]
    arb: dict[str, Any] | None
    """The ``arb`` report section's figures of the swept strategies alone (their run's), if any."""
    start_ns: int
    end_ns: int
    """Simulated time of the last market step."""
    steps: int
    steps_wall_s: float
    cpu_s: float
    """CPU time the whole backtest took in its worker."""
    equity: dict[str, dict[str, Curve]] = dataclasses.field(default_factory=dict)
    """Strategy -> quote -> equity (net realized PnL plus open lots marked at the mids then): the report's curve
    its max drawdown is measured on."""


def run_job(job: Job) -> Outcome:
    """Run one combination's backtest (in a worker); its report goes to ``job.out_dir``."""
    from .driver import START_NS, run_backtest

    cpu = time.process_time()
    extra = [(name, importlib.import_module(module)) for name, module in job.extra_plugins]
    result = run_backtest(job.config, job.out_dir, job.steps, chart=False, extra_plugins=extra,
                          overrides=job.overrides, focus=job.strategies, scratch_in=job.scratch_in)
    arb = next((s.data for s in result.focus_sections if s.key == "arb"), None)
    return Outcome(
        index=job.index, overrides=job.overrides, net={s.name: dict(s.net) for s in result.host.strategies},
        fills={s.name: s.fills for s in result.host.strategies}, curves=result.host.curves, arb=arb,
        start_ns=START_NS, end_ns=START_NS + result.simulated_ns, steps=result.steps,
        steps_wall_s=result.steps_wall_s, cpu_s=time.process_time() - cpu, equity=result.host.equity,
    )  # fmt: skip


WORKER_NOTE = "worker-"
"""A worker's note in the sweep's scratch directory (``worker-PID``): the number of the combination it last started."""


def run_job_in_worker(job: Job) -> Outcome:
    """:func:`run_job` in a worker process, having first noted in the sweep's scratch directory which combination this
    process runs (:func:`running_in`): should the process die, the sweep names the combination it was running."""
    if job.scratch_in is not None:
        (job.scratch_in / f"{WORKER_NOTE}{os.getpid()}").write_text(str(job.index), encoding="utf-8")
    return run_job(job)


def running_in(scratch: Path | None, pid: int) -> int | None:
    """The number of the combination worker ``pid`` last started (its note), None when unknown."""
    if scratch is None:
        return None
    try:
        return int((scratch / f"{WORKER_NOTE}{pid}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- the table -------------------------------------------------------------------------------------


def combined_curve(curves: Mapping[str, Mapping[str, Curve]], strategies: Iterable[str], quote: str) -> Curve:
    """The summed cumulative net PnL of ``strategies`` in ``quote`` (each curve's changes merged in time order)."""
    changes: list[tuple[int, int, Decimal]] = []
    total, out = Decimal(0), []
    with localcontext(prec=EXACT_DIGITS):  # exact, as the ledger's curves: the row shows the report's figures
        for order, name in enumerate(sorted(strategies)):
            previous = Decimal(0)
            for ts, value in curves.get(name, {}).get(quote, []):
                changes.append((ts, order, value - previous))
                previous = value
        for ts, _, change in sorted(changes, key=lambda c: (c[0], c[1])):
            total += change
            out.append((ts, total))
    return out


def value_at(curve: Curve, ts_ns: int) -> Decimal:
    """The curve's value in force at ``ts_ns`` (0 before its first point)."""
    value = Decimal(0)
    for ts, v in curve:
        if ts > ts_ns:
            break
        value = v
    return value


@dataclass(frozen=True)
class QuoteFigures:
    """A row's figures in one quote asset: the swept strategies' PnL there, and their arbitrage's."""

    quote: str
    net: Decimal
    """Net realized PnL of the swept strategies (the ledger's: the report's ``net``), in ``quote``."""
    max_drawdown: Decimal
    captured: Decimal | None = None
    """Their arbitrage's captured PnL (the arb section's: the executions' realized PnL), None without one."""
    capture_rate: str | None = None
    prediction_error: str | None = None
    """Mean absolute difference between an execution's predicted and realized PnL (quote), from the arb section."""
    tune: Decimal | None = None
    """Walk-forward: what the tuning part made, up to the split: the equity there (net realized PnL plus what was
    held marked at the mids then)."""
    rest: Decimal | None = None
    """Walk-forward: what the rest made, after the split: the equity at the end less the equity at the split (a lot
    carried over the split counts only its move after it)."""
    rest_drawdown: Decimal | None = None
    carried: Decimal | None = None
    """Walk-forward: the unrealized PnL of what was held at the split (counted in the tuning part): the rest
    continues the same run, so it starts holding that, not flat as a fresh bot would."""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "net": exact(self.net), "max_drawdown": exact(self.max_drawdown),
            "captured": None if self.captured is None else exact(self.captured), "capture_rate": self.capture_rate,
            "prediction_error_abs_mean": self.prediction_error,
        }  # fmt: skip
        if self.tune is not None and self.rest is not None and self.rest_drawdown is not None:
            out["walk_forward"] = {"tune": exact(self.tune), "rest": exact(self.rest),
                                   "carried": exact(self.carried or ZERO),
                                   "rest_max_drawdown": exact(self.rest_drawdown)}
        return out


@dataclass(frozen=True)
class Row:
    """One combination in the table."""

    index: int
    params: tuple[tuple[str, str], ...]
    quotes: tuple[QuoteFigures, ...]
    """One per quote asset the swept strategies' PnL or arbitrage is in, sorted by quote: never summed across."""
    fills: int
    executions: int | None
    """The swept strategies' executions (the arb section of their run alone), None without arbitrage."""

    def in_quote(self, quote: str) -> QuoteFigures:
        """The figures in ``quote`` (zero when nothing of the row is in it)."""
        return next((q for q in self.quotes if q.quote == quote), QuoteFigures(quote, ZERO, ZERO))

    def as_json(self) -> dict[str, Any]:
        return {"combination": self.index, "params": dict(self.params), "fills": self.fills,
                "executions": self.executions, "quotes": {q.quote: q.as_json() for q in self.quotes}}


def table_quotes(rows: Sequence[Row]) -> list[str]:
    """Every quote asset of the rows, sorted: the table's column groups."""
    return sorted({q.quote for r in rows for q in r.quotes})


def ranking_quote(rows: Sequence[Row]) -> str | None:
    """The quote the table ranks by: the rows' one quote asset; None when they have several (no price here
    turns one asset into another, so the rows stay in combination order) or none."""
    quotes = table_quotes(rows)
    return quotes[0] if len(quotes) == 1 else None


def build_rows(outcomes: Sequence[Outcome], strategies: Sequence[str], walk_forward: float | None) -> list[Row]:
    """One row per combination, ranked by net realized PnL (tuning part's when walk-forward) in the rows' quote asset,
    ties by combination; in combination order when the swept strategies' PnL is in several quotes."""
    rows = []
    with localcontext(prec=EXACT_DIGITS):
        for o in outcomes:
            rows.append(_row(o, strategies, walk_forward))
    quote = ranking_quote(rows)
    if quote is None:
        return sorted(rows, key=lambda r: r.index)

    def ranked(r: Row) -> tuple[Decimal, int]:
        f = r.in_quote(quote)
        return -(f.tune if f.tune is not None else f.net), r.index

    return sorted(rows, key=ranked)


def _arb_by_quote(arb: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The arb section's figures by quote (one quote: the section itself; several: its ``quotes``)."""
    if not arb:
        return {}
    if arb.get("quote") is None:
        return dict(arb.get("quotes") or {})
    return {arb["quote"]: arb}


def _row(o: Outcome, strategies: Sequence[str], walk_forward: float | None) -> Row:
    """One combination's row (in the caller's exact context)."""
    arb = _arb_by_quote(o.arb)
    quotes = sorted({q for name in strategies for q in o.net.get(name, {})}
                    | {q for name in strategies for q in o.curves.get(name, {})}
                    | {q for name in strategies for q in o.equity.get(name, {})} | set(arb))
    figures = []
    for quote in quotes:
        curve = combined_curve(o.curves, strategies, quote)
        equity = combined_curve(o.equity, strategies, quote)  # the drawdowns': the report's, open lots marked
        net = sum((o.net.get(name, {}).get(quote, Decimal(0)) for name in strategies), Decimal(0))
        tune = rest = rest_dd = carried = None
        if walk_forward is not None:  # split on equity: each part is credited what the market did in it
            split_ns = o.start_ns + int((o.end_ns - o.start_ns) * walk_forward)
            tune = value_at(equity, split_ns)
            rest = (equity[-1][1] if equity else ZERO) - tune
            carried = tune - value_at(curve, split_ns)
            rest_dd = pnl_curve_drawdown([(ts, v - tune) for ts, v in equity if ts > split_ns])
        section = arb.get(quote, {})
        captured = (section.get("pnl") or {}).get("captured")
        figures.append(QuoteFigures(
            quote=quote, net=net, max_drawdown=pnl_curve_drawdown(equity),
            captured=None if captured is None else Decimal(captured),
            capture_rate=(section.get("pnl") or {}).get("capture_rate"),
            prediction_error=((section.get("prediction_error") or {}).get("abs_quote") or {}).get("mean"),
            tune=tune, rest=rest, rest_drawdown=rest_dd, carried=carried,
        ))  # fmt: skip
    return Row(index=o.index, params=o.overrides, quotes=tuple(figures),
               fills=sum(o.fills.get(name, 0) for name in strategies),
               executions=None if o.arb is None else o.arb.get("executions"))


def _rate(rate: str | None) -> str:
    return "-" if rate is None else f"{(Decimal(rate) * 100).quantize(Decimal('0.01'))} %"


def render_markdown(rows: Sequence[Row], axes: Sequence[Axis], strategies: Sequence[str], scenario: str,
                    walk_forward: float | None) -> str:  # fmt: skip
    keys = [a.key for a in axes]
    wf = walk_forward is not None
    quotes = table_quotes(rows)
    ranked_by = ranking_quote(rows)
    head = ["rank", "run", *keys]
    for quote in quotes:
        unit = f" ({quote})" if len(quotes) > 1 else ""
        head += [f"tuning part{unit}", f"held at the split{unit}", f"the rest{unit}"] if wf else []
        head += [f"net realized PnL{unit}", f"max drawdown{unit}", f"captured PnL{unit}", f"capture rate{unit}",
                 f"prediction error (mean abs){unit}"]
    head += ["executions", "fills"]
    lines = [
        "# Parameter sweep",
        "",
        f"{scenario}; {len(rows)} combinations of " + ", ".join(f"`{a.key}` ({', '.join(a.values)})" for a in axes)
        + f"; figures of {', '.join(strategies)}: net realized PnL and max drawdown (of equity: open lots marked at "
        "the mids) from the ledger (after fees, as each run's report shows them per strategy); captured PnL, "
        "capture rate and prediction error from the run's Arbitrage section (the executions' own realized PnL: "
        "a residual valued at the mid, a fee in a third asset at its execution's price, so it differs from the "
        "net by those).",
        "",
    ]
    if len(quotes) > 1:
        lines += [f"Not ranked: the PnL of {', '.join(strategies)} is in {len(quotes)} quote assets "
                  f"({', '.join(quotes)}), and no price here turns one into another; each quote has its own "
                  "columns, the rows are in combination order.", ""]
    if wf:
        assert walk_forward is not None
        lines += [
            f"Walk-forward: each run is split at {walk_forward:.0%} of its simulated span; ranked on the tuning "
            "part, the rest is out of sample. Each part is what the equity (net realized PnL plus what is held, "
            "marked at the mids) gained in it. The rest continues the same run: it starts holding what the "
            "tuning part held at the split (its unrealized PnL then, in the tuning part's figure, is \"held at "
            "the split\"), not flat as a fresh bot would.",
            "",
        ]
        if rows and ranked_by is not None:
            best = rows[0].in_quote(ranked_by)
            top = max(rows, key=lambda r: (r.in_quote(ranked_by).rest or ZERO, -r.index))
            lines += [
                f"The best tuned combination (run {rows[0].index}) made {money(best.tune or ZERO, ranked_by)} tuning "
                f"and {money(best.rest or ZERO, ranked_by)} on the rest; the best on the rest would have been run "
                f"{top.index} with {money(top.in_quote(ranked_by).rest or ZERO, ranked_by)}.",
                "",
            ]
    lines += ["| " + " | ".join(head) + " |", "| " + " | ".join("---:" if h not in keys else "---" for h in head)
              + " |"]
    for rank, r in enumerate(rows, 1):
        params = dict(r.params)
        cells = [str(rank) if ranked_by is not None else "-", str(r.index), *(params[k] for k in keys)]
        for quote in quotes:
            f = r.in_quote(quote)
            if wf:
                cells += [money(f.tune or ZERO, quote), money(f.carried or ZERO, quote), money(f.rest or ZERO, quote)]
            cells += [money(f.net, quote), money(f.max_drawdown, quote),
                      "-" if f.captured is None else money(f.captured, quote), _rate(f.capture_rate),
                      "-" if f.prediction_error is None else money(Decimal(f.prediction_error), quote)]
        cells += ["-" if r.executions is None else str(r.executions), str(r.fills)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Each run's own report: `run-NNN/report.md`.", "", "![net realized PnL per combination](sweep.png)",
              ""]
    return "\n".join(lines)


def sweep_chart_png(rows: Sequence[Row], walk_forward: bool, width_px: int = 1000, height_px: int = 500) -> bytes:
    """Net realized PnL per combination, in table order (tuning part and rest stacked when walk-forward): one panel
    per quote asset, each on its own axis."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    quotes = table_quotes(rows) or [""]
    figure = Figure(figsize=(width_px / 100, height_px * len(quotes) / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    labels = [f"#{r.index}\n" + "\n".join(v for _, v in r.params) for r in rows]
    xs = list(range(len(rows)))
    ranked = ranking_quote(rows) is not None
    for i, quote in enumerate(quotes):
        axes = figure.add_subplot(len(quotes), 1, i + 1)
        figures = [r.in_quote(quote) for r in rows]
        if walk_forward:
            tune = [float(f.tune or 0) for f in figures]
            rest = [float(f.rest or 0) for f in figures]
            axes.bar(xs, tune, color="#2166ac", label="tuning part")
            axes.bar(xs, rest, bottom=tune, color="#e08214", label="the rest (out of sample)")
        else:
            axes.bar(xs, [float(f.net) for f in figures], color="#2166ac", label="net realized PnL")
        axes.plot(xs, [-float(f.max_drawdown) for f in figures], "v", color="#b2182b",
                  label="max drawdown (negative)")
        axes.axhline(0, color="#7f7f7f", linewidth=0.8)
        axes.set_xticks(xs, labels, fontsize=7)
        axes.set_ylabel(f"net realized PnL ({quote})")
        if i == 0:
            title = ("Parameter sweep, ranked: " if ranked else "Parameter sweep, by combination: ") + ", ".join(
                k for k, _ in rows[0].params) if rows else "sweep"
            axes.set_title(title)
        axes.grid(True, axis="y", alpha=0.3)
        axes.legend(loc="upper right")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


# --- the whole sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    rows: list[Row]
    workers: int
    wall_s: float
    steps: int
    """Market steps over all combinations."""
    cpu_s: float
    """CPU time of the backtests, summed over the workers: ``cpu_s / wall_s`` is the cores kept busy."""
    table_md: Path
    table_json: Path
    chart: Path | None


def _worker_signals() -> None:
    """A worker's initializer: Ctrl-C goes to every process of the terminal's group, and the parent alone answers it
    (it stops the workers), so no worker prints a KeyboardInterrupt of its own; SIGTERM (the parent stopping it) ends
    it at once, whatever handler a forked worker inherited from the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the sweep's process while it waited on its combinations: raised there, so that the sweep
    stops as on Ctrl-C (everything between treats it as the KeyboardInterrupt it is); the process then ends by
    SIGTERM after all (:class:`SigtermStops`)."""


class SigtermStops:
    """SIGTERM to a sweep's process (``kill``, a service manager stopping it, ``timeout``) ends it as Ctrl-C does.

    By default it would end the process at once: its workers playing on alone, its run directories and its scratch
    directory left behind. While the sweep waits on its combinations or writes its table (:meth:`waiting`) SIGTERM
    raises :class:`Terminated` there; at any other moment (the clean-up after a failure) it is noted, and raised at the
    next wait. Once the sweep has stopped its workers and removed what it made, leaving :meth:`installed` ends the
    process by SIGTERM after all (its default action: a shell shows 143, a service manager sees it stopped as it
    asked). Only in the main thread, and only when nothing else handles SIGTERM: a caller's own handler is left to do
    its work.
    """

    def __init__(self) -> None:
        self.received = False
        self._armed = False
        self._owner = os.getpid()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner:  # a worker forked before its initializer reset this: SIGTERM's default there
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.received = True
        if self._armed:  # once: a second SIGTERM does not break into the clean-up the first one started
            self._armed = False
            raise Terminated("SIGTERM")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The handler in place while inside; on leaving, the process ends by SIGTERM if one came."""
        import threading

        if threading.current_thread() is not threading.main_thread() or \
                signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            yield
            return
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield
        finally:
            self._armed = False
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if self.received:  # everything is cleaned up: now what SIGTERM does, which the caller asked for
                signal.raise_signal(signal.SIGTERM)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """While inside, SIGTERM raises :class:`Terminated` (at once, when one came already)."""
        if self.received:
            raise Terminated("SIGTERM")
        self._armed = True
        try:
            yield
        finally:
            self._armed = False


def _combination_failed(job: Job, total: int, exc: Exception) -> NoReturn:
    """Raise what ``job``'s backtest raised, saying which combination it was: a BacktestError (or BacktestInputError,
    a ConfigError) as one of its kind worded with the combination first, anything else (a bug) as itself, its
    traceback kept, with a note naming the combination."""
    from .driver import BacktestError, BacktestInputError

    what = f"combination {job.index} of {total} ({', '.join(f'{k}={v}' for k, v in job.overrides)})"
    if isinstance(exc, ConfigError):
        raise ConfigError(exc.issues, f"{exc.source} with {what}") from exc
    if isinstance(exc, BacktestError):
        kind = BacktestInputError if isinstance(exc, BacktestInputError) else BacktestError
        raise kind(f"{what}: {exc}") from exc
    exc.add_note(f"in {what} of the sweep")
    raise exc


def _how_it_ended(exitcode: int | None) -> str:
    """How a worker process ended, from its exit status, for a person (what ``kill -9`` is, and who else sends it)."""
    if exitcode is None:
        return "ended"
    if exitcode >= 0:
        return f"exited with status {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    if -exitcode == signal.SIGKILL:
        return f"was killed by {name} (kill -9, or the kernel's out-of-memory killer)"
    return f"was killed by {name}"


def _worker_died(jobs: Sequence[Job], unfinished: set[int], processes: Mapping[int, Any],
                 failure: BaseException) -> NoReturn:  # fmt: skip
    """Raise BacktestError saying which worker process died, how, and which of the ``unfinished`` combinations it was
    running (its note, :func:`running_in`), once every worker has ended (:func:`_stop_workers`). The pool terminates
    the other workers (SIGTERM) when one dies: the one that died first is the one that ended otherwise. When they
    all ended by SIGTERM (one of them from outside the sweep), the combinations then running are named."""
    from .driver import BacktestError

    def what(index: int) -> str:
        job = jobs[index - 1]
        return f"combination {job.index} of {len(jobs)} ({', '.join(f'{k}={v}' for k, v in job.overrides)})"

    def running(pid: int) -> int | None:
        index = running_in(jobs[0].scratch_in if jobs else None, pid)
        return index if index in unfinished else None

    died = [(pid, process.exitcode) for pid, process in sorted(processes.items())
            if process.exitcode != -signal.SIGTERM]
    if len(died) == 1:
        pid, exitcode = died[0]
        how = f"worker process (pid {pid}) {_how_it_ended(exitcode)}"
        if (index := running(pid)) is None:
            raise BacktestError(f"a {how} between combinations; the sweep stopped") from failure
        raise BacktestError(f"{what(index)}: its {how}; the sweep stopped") from failure
    indexes = sorted({index for pid in processes if (index := running(pid)) is not None})
    during = f" while it ran {' or '.join(what(i) for i in indexes)}" if indexes else ""
    how = _how_it_ended(died[0][1] if died else -signal.SIGTERM)
    raise BacktestError(f"a worker process {how}{during}; the sweep stopped") from failure


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End a sweep's pool now, not once its combinations have played (its own shutdown waits for every one queued):
    those queued never start, those running are terminated (killed when one has not ended within
    :data:`STOP_GRACE_S`). Returns once every worker has ended: none writes into the sweep's directories after."""
    processes = list((pool._processes or {}).values())  # the executor has no public way to terminate its workers
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True, cancel_futures=True)  # every worker has ended: this joins the pool's own thread at once


def _run_jobs(jobs: Sequence[Job], count: int, modules: Sequence[str], sigterm: SigtermStops) -> list[Outcome]:
    """Every job's outcome, in job order, on ``count`` worker processes (in this one when 1).

    The first combination to fail (the lowest numbered of those failed by then) ends the sweep at once
    (:func:`_stop_workers`), raised naming it (:func:`_combination_failed`); so do Ctrl-C and SIGTERM.
    """
    if count == 1:
        outcomes = []
        for job in jobs:
            try:
                with sigterm.waiting():
                    outcomes.append(run_job(job))
            except Exception as exc:
                _combination_failed(job, len(jobs), exc)
        return outcomes
    pool = ProcessPoolExecutor(max_workers=count, mp_context=_worker_context(modules), initializer=_worker_signals)
    finished = False
    try:
        with sigterm.waiting():
            futures = [pool.submit(run_job_in_worker, job) for job in jobs]
            processes = dict(pool._processes or {})  # every worker has started: pid -> process (exit status)
            wait(futures, return_when=FIRST_EXCEPTION)
        for job, future in zip(jobs, futures, strict=True):
            failure = future.exception() if future.done() else None
            if isinstance(failure, BrokenProcessPool):  # a worker died (killed from outside, out of memory)
                _stop_workers(pool)  # every worker has ended: their exit statuses say which one died, and how
                unfinished = {j.index for j, f in zip(jobs, futures, strict=True)
                              if not f.done() or f.cancelled() or f.exception() is not None}
                _worker_died(jobs, unfinished, processes, failure)
            if isinstance(failure, Exception):
                _combination_failed(job, len(jobs), failure)
        outcomes = [future.result() for future in futures]
        finished = True
        return outcomes
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # a combination failed, Ctrl-C or SIGTERM: stop the others now, not after playing them to their end
            _stop_workers(pool)


def _worker_context(modules: Sequence[str]) -> Any:
    """fork when this process has no other thread (workers start at once, the bot already imported), else
    forkserver: workers fork from a clean server, which imports the bot once for all of them (forking a
    process with threads may copy a lock some thread holds)."""
    import threading

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.app", "bot.backtest.sweep", *modules])
    return context


def run_sweep(config_path: Path | None, out_dir: Path, axes: Sequence[Axis], steps: int | None = None, *,
              workers: int | None = None, walk_forward: float | None = None, chart: bool = True,
              extra_plugins: Sequence[tuple[str, object]] = ()) -> SweepResult:  # fmt: skip
    """Backtest every combination of ``axes`` (``workers`` processes, default one per core) and write the table.

    Raises ConfigError (a key nothing has, a value the settings refuse: checked on the first combination
    before any worker starts), ValueError (a malformed sweep) or BacktestError (BacktestInputError: a recording
    that cannot be played). A combination whose backtest fails ends the sweep at once: the combinations queued never
    start, those running are terminated, and what it raised is raised naming the combination ("combination 3 of 9
    (min_edge_bps=20): ..."). A sweep that fails writes no table and removes the run directories and the output
    directory it made. A worker process that dies (killed from outside: ``kill -9``, the kernel out of memory) ends
    the sweep too: BacktestError saying how it ended and naming the combination it was running ("combination 2 of 3
    (min_edge_bps=10): its worker process (pid 4321) was killed by SIGKILL ..."). The table's files are written
    together, each whole (:func:`~.report.write_files`): Ctrl-C or SIGTERM while they are made leaves a table there
    before as it was, and removes the run directories as any stop does. The runs' scratch data dirs are made in one
    temp directory of the sweep's, removed once every worker has ended, however it ended (a worker terminated on
    Ctrl-C, or killed, never reaches its own clean-up).
    SIGTERM to this process (main thread, no SIGTERM handler of the caller's) stops the sweep as Ctrl-C does, then
    ends the process by SIGTERM (:class:`SigtermStops`).
    """

    from ..config import DEFAULT_SOURCE, default_toml, plugins_disabled, read_toml
    from ..plugins import collect, load_plugins
    from .driver import SCRATCH_PREFIX, backtest_config

    if walk_forward is not None and not 0 < walk_forward < 1:
        raise ValueError(f"--walk-forward must be a fraction between 0 and 1 (the tuning part), got {walk_forward}")
    raw = read_toml(config_path) if config_path is not None else default_toml()
    source = str(config_path) if config_path is not None else DEFAULT_SOURCE
    flags = bool(axes)
    if not axes and SWEEP_TABLE in raw:
        axes = axes_from_table(raw[SWEEP_TABLE], source)
    combos = combinations(axes)
    if not axes:
        raise ValueError("nothing to sweep: give --sweep KEY=V1,V2 or a [sweep] table in the config")
    plugins = load_plugins(disabled=plugins_disabled(raw), extra=list(extra_plugins), report=lambda i, m: None)
    registry = collect(plugins)
    check_overlaps(raw, axes, registry)
    strategies = swept_strategies(raw, axes, registry)
    for axis in axes:  # every value is valid before anything runs: a bad one is a config error naming its key
        for value in axis.values:  # (nothing is written: the output directory is made once they all are)
            try:
                backtest_config(config_path, out_dir, out_dir / "backtest.db", extra_plugins=extra_plugins,
                                overrides=[(axis.key, value)])
            except ConfigError as exc:  # the value is the sweep's, not the file's: say which one
                swept = f"--sweep {axis.key}={value}" if flags else f"its [{SWEEP_TABLE}] {axis.key} = {value}"
                raise ConfigError(exc.issues, f"{exc.source} with {swept}") from None
    extra = tuple((name, getattr(module, "__name__", str(module))) for name, module in extra_plugins)
    run_dirs = [out_dir / f"run-{i:03d}" for i in range(1, len(combos) + 1)]
    made = [run_dir for run_dir in run_dirs if not run_dir.exists()]
    made_out = not out_dir.exists()
    count = max(1, min(workers or os.cpu_count() or 1, len(combos)))
    table = [out_dir / name for name in (TABLE_JSON, TABLE_MD, TABLE_CHART)]
    made_table = [path for path in table if not path.exists()]
    sigterm = SigtermStops()
    with sigterm.installed():
        scratch: Path | None = None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}sweep-"))
            jobs = [Job(i, config_path, run_dir, steps, combo, extra, tuple(strategies), scratch)
                    for i, (run_dir, combo) in enumerate(zip(run_dirs, combos, strict=True), 1)]
            wall = time.perf_counter()
            outcomes = _run_jobs(jobs, count, [module for _, module in extra], sigterm)
            wall_s = time.perf_counter() - wall
            rows = build_rows(outcomes, strategies, walk_forward)
            scenario = f"Config `{source}`, {outcomes[0].steps:,} market steps a run"
            data = {"config": source, "steps_per_run": outcomes[0].steps, "strategies": list(strategies),
                    "axes": {a.key: list(a.values) for a in axes}, "walk_forward": walk_forward,
                    "ranked_by": ranking_quote(rows), "rows": [r.as_json() for r in rows]}
            with sigterm.waiting():  # SIGTERM while the table is made stops the sweep here too, as Ctrl-C does
                files = {TABLE_JSON: (json.dumps(data, indent=2) + "\n").encode(),
                         TABLE_MD: render_markdown(rows, axes, strategies, scenario, walk_forward).encode()}
                if chart:
                    files[TABLE_CHART] = sweep_chart_png(rows, walk_forward is not None)
                write_files(out_dir, files)  # together, each whole: a table there before stays as it was till then
        except BaseException:  # no table: nothing half-written, no run directory it made, no output directory
            for run_dir in made:
                shutil.rmtree(run_dir, ignore_errors=True)
            for path in made_table:  # written, then an interrupt came as the last one was put in place
                path.unlink(missing_ok=True)
            if made_out:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()  # only when empty
            raise
        finally:  # every worker has ended (joined, terminated ones too): none writes into it any more
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    return SweepResult(rows, count, wall_s, sum(o.steps for o in outcomes), sum(o.cpu_s for o in outcomes),
                       out_dir / TABLE_MD, out_dir / TABLE_JSON, out_dir / TABLE_CHART if chart else None)
