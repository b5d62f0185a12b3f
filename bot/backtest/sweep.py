"""Parameter sweeps: every combination of some settings, backtested over the same data on all cores.

``arbot backtest --sweep 'min_edge_bps=5,10,20' --sweep 'max_notional=500,1000'`` (or a ``[sweep]``
table of ``key = [values]``) runs one backtest per combination, in worker processes (one per core by
default), each in its own ``run-NNN/`` directory with its own report, and writes one table
(``sweep.md``, ``sweep.json``) ranked by the net realized PnL the ledger gives the swept strategies
("captured"), with the max drawdown, and when an ``arb`` section is there the swept strategies'
arbitrage: executions, capture rate and prediction error of their run alone (sweeping one pair of
three shows that pair's), and a chart (``sweep.png``).

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
fitting.

Deterministic: the same config, data and sweep give the same table and chart, byte for byte (wall
times are printed, never written into them). Combinations are numbered in the order the axes and
values are given; ties rank by that number.
"""

from __future__ import annotations

import importlib
import itertools
import json
import multiprocessing
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from ..domain import ZERO
from ..ledger import EXACT_DIGITS, pnl_curve_drawdown
from ..settings import ConfigError, ConfigIssue
from ..units import money
from .contract import Curve
from .overrides import SWEEP_TABLE, targets
from .report import exact

MAX_COMBINATIONS = 10_000


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
        axes.append(Axis(key, tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)))
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


def run_job(job: Job) -> Outcome:
    """Run one combination's backtest (in a worker); its report goes to ``job.out_dir``."""
    import time

    from .driver import START_NS, run_backtest

    cpu = time.process_time()
    extra = [(name, importlib.import_module(module)) for name, module in job.extra_plugins]
    result = run_backtest(job.config, job.out_dir, job.steps, chart=False, extra_plugins=extra,
                          overrides=job.overrides, focus=job.strategies)
    arb = next((s.data for s in result.focus_sections if s.key == "arb"), None)
    return Outcome(
        index=job.index, overrides=job.overrides, net={s.name: dict(s.net) for s in result.host.strategies},
        fills={s.name: s.fills for s in result.host.strategies}, curves=result.host.curves, arb=arb,
        start_ns=START_NS, end_ns=START_NS + result.simulated_ns, steps=result.steps,
        steps_wall_s=result.steps_wall_s, cpu_s=time.process_time() - cpu,
    )  # fmt: skip


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
class Row:
    """One combination in the table."""

    index: int
    params: tuple[tuple[str, str], ...]
    quote: str
    captured: Decimal
    """Net realized PnL of the swept strategies (the ledger's), in ``quote``."""
    fills: int
    max_drawdown: Decimal
    capture_rate: str | None
    executions: int | None
    prediction_error: str | None
    """Mean absolute difference between an execution's predicted and realized PnL (quote), from the arb section."""
    tune: Decimal | None = None
    """Walk-forward: captured in the tuning part (up to the split)."""
    rest: Decimal | None = None
    """Walk-forward: captured in the rest (after the split)."""
    rest_drawdown: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "combination": self.index, "params": dict(self.params), "quote": self.quote,
            "captured": exact(self.captured), "fills": self.fills, "max_drawdown": exact(self.max_drawdown),
            "capture_rate": self.capture_rate, "executions": self.executions,
            "prediction_error_abs_mean": self.prediction_error,
        }  # fmt: skip
        if self.tune is not None and self.rest is not None and self.rest_drawdown is not None:
            out["walk_forward"] = {"tune": exact(self.tune), "rest": exact(self.rest),
                                   "rest_max_drawdown": exact(self.rest_drawdown)}
        return out


def build_rows(outcomes: Sequence[Outcome], strategies: Sequence[str], walk_forward: float | None) -> list[Row]:
    """One row per combination, ranked by captured PnL (tuning part's when walk-forward), ties by combination."""
    rows = []
    with localcontext(prec=EXACT_DIGITS):
        for o in outcomes:
            rows.append(_row(o, strategies, walk_forward))
    return sorted(rows, key=lambda r: (-(r.tune if r.tune is not None else r.captured), r.index))


def _row(o: Outcome, strategies: Sequence[str], walk_forward: float | None) -> Row:
    """One combination's row (in the caller's exact context)."""
    quotes = sorted({q for name in strategies for q in o.net.get(name, {})}
                    | {q for name in strategies for q in o.curves.get(name, {})})
    quote = quotes[0] if quotes else (o.arb or {}).get("quote", "-")
    curve = combined_curve(o.curves, strategies, quote)
    captured = sum((o.net.get(name, {}).get(quote, Decimal(0)) for name in strategies), Decimal(0))
    tune = rest = rest_dd = None
    if walk_forward is not None:
        split_ns = o.start_ns + int((o.end_ns - o.start_ns) * walk_forward)
        tune = value_at(curve, split_ns)
        rest = captured - tune
        rest_dd = pnl_curve_drawdown([(ts, v - tune) for ts, v in curve if ts > split_ns])
    arb = o.arb or {}
    error = ((arb.get("prediction_error") or {}).get("abs_quote") or {}).get("mean")
    return Row(
        index=o.index, params=o.overrides, quote=quote, captured=captured,
        fills=sum(o.fills.get(name, 0) for name in strategies), max_drawdown=pnl_curve_drawdown(curve),
        capture_rate=(arb.get("pnl") or {}).get("capture_rate"), executions=arb.get("executions"),
        prediction_error=error, tune=tune, rest=rest, rest_drawdown=rest_dd,
    )  # fmt: skip


def _rate(rate: str | None) -> str:
    return "-" if rate is None else f"{(Decimal(rate) * 100).quantize(Decimal('0.01'))} %"


def render_markdown(rows: Sequence[Row], axes: Sequence[Axis], strategies: Sequence[str], scenario: str,
                    walk_forward: float | None) -> str:  # fmt: skip
    keys = [a.key for a in axes]
    wf = walk_forward is not None
    head = ["rank", "run", *keys, "captured PnL", "capture rate", "executions", "prediction error (mean abs)",
            "max drawdown", "fills"]
    if wf:
        head[len(keys) + 2:len(keys) + 2] = ["tuning part", "the rest"]
    lines = [
        "# Parameter sweep",
        "",
        f"{scenario}; {len(rows)} combinations of " + ", ".join(f"`{a.key}` ({', '.join(a.values)})" for a in axes)
        + f"; figures of {', '.join(strategies)} from the ledger (net realized PnL after fees).",
        "",
    ]
    if wf:
        assert walk_forward is not None
        best = rows[0] if rows else None
        top_rest = max(rows, key=lambda r: (r.rest or Decimal(0), -r.index)) if rows else None
        lines += [
            f"Walk-forward: each run is split at {walk_forward:.0%} of its simulated span; ranked on the tuning "
            "part, the rest is out of sample.",
            "",
        ]
        if best is not None and top_rest is not None:
            lines += [
                f"The best tuned combination (run {best.index}) made {money(best.tune or ZERO, best.quote)} tuning and "
                f"{money(best.rest or ZERO, best.quote)} on the rest; the best on the rest would have been run "
                f"{top_rest.index} with {money(top_rest.rest or ZERO, top_rest.quote)}.",
                "",
            ]
    lines += ["| " + " | ".join(head) + " |", "| " + " | ".join("---:" if h not in keys else "---" for h in head)
              + " |"]
    for rank, r in enumerate(rows, 1):
        params = dict(r.params)
        cells = [str(rank), str(r.index), *(params[k] for k in keys)]
        if wf:
            cells += [money(r.tune or ZERO, r.quote), money(r.rest or ZERO, r.quote)]
        cells += [money(r.captured, r.quote), _rate(r.capture_rate), "-" if r.executions is None else str(r.executions),
                  "-" if r.prediction_error is None else money(Decimal(r.prediction_error), r.quote),
                  money(r.max_drawdown, r.quote), str(r.fills)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Each run's own report: `run-NNN/report.md`.", "", "![captured PnL per combination](sweep.png)", ""]
    return "\n".join(lines)


def sweep_chart_png(rows: Sequence[Row], walk_forward: bool, width_px: int = 1000, height_px: int = 500) -> bytes:
    """Captured PnL per combination, in rank order (tuning part and rest stacked when walk-forward)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / 100, height_px / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [f"#{r.index}\n" + "\n".join(v for _, v in r.params) for r in rows]
    xs = list(range(len(rows)))
    if walk_forward:
        tune = [float(r.tune or 0) for r in rows]
        rest = [float(r.rest or 0) for r in rows]
        axes.bar(xs, tune, color="#2166ac", label="tuning part")
        axes.bar(xs, rest, bottom=tune, color="#e08214", label="the rest (out of sample)")
    else:
        axes.bar(xs, [float(r.captured) for r in rows], color="#2166ac", label="captured PnL")
    axes.plot(xs, [-float(r.max_drawdown) for r in rows], "v", color="#b2182b", label="max drawdown (negative)")
    axes.axhline(0, color="#7f7f7f", linewidth=0.8)
    axes.set_xticks(xs, labels, fontsize=7)
    quote = rows[0].quote if rows else ""
    axes.set_ylabel(f"net realized PnL ({quote})")
    axes.set_title("Parameter sweep, ranked: " + ", ".join(k for k, _ in rows[0].params) if rows else "sweep")
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
    before any worker starts), ValueError (a malformed sweep) or BacktestError.
    """
    import time

    from ..config import DEFAULT_SOURCE, default_toml, plugins_disabled, read_toml
    from ..plugins import collect, load_plugins
    from .driver import backtest_config

    if walk_forward is not None and not 0 < walk_forward < 1:
        raise ValueError(f"--walk-forward must be a fraction between 0 and 1 (the tuning part), got {walk_forward}")
    raw = read_toml(config_path) if config_path is not None else default_toml()
    source = str(config_path) if config_path is not None else DEFAULT_SOURCE
    if not axes and SWEEP_TABLE in raw:
        axes = axes_from_table(raw[SWEEP_TABLE], source)
    combos = combinations(axes)
    if not axes:
        raise ValueError("nothing to sweep: give --sweep KEY=V1,V2 or a [sweep] table in the config")
    plugins = load_plugins(disabled=plugins_disabled(raw), extra=list(extra_plugins), report=lambda i, m: None)
    registry = collect(plugins)
    check_overlaps(raw, axes, registry)
    strategies = swept_strategies(raw, axes, registry)
    out_dir.mkdir(parents=True, exist_ok=True)
    for axis in axes:  # every value is valid before anything runs: a bad one is a config error naming its key
        for value in axis.values:
            backtest_config(config_path, out_dir, out_dir / "backtest.db", extra_plugins=extra_plugins,
                            overrides=[(axis.key, value)])
    extra = tuple((name, getattr(module, "__name__", str(module))) for name, module in extra_plugins)
    jobs = [Job(i, config_path, out_dir / f"run-{i:03d}", steps, combo, extra, tuple(strategies))
            for i, combo in enumerate(combos, 1)]
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    wall = time.perf_counter()
    if count == 1:
        outcomes = [run_job(job) for job in jobs]
    else:
        context = _worker_context([module for _, module in extra])
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            outcomes = list(pool.map(run_job, jobs))
    wall_s = time.perf_counter() - wall
    rows = build_rows(outcomes, strategies, walk_forward)
    scenario = f"Config `{source}`, {outcomes[0].steps:,} market steps a run"
    data = {"config": source, "steps_per_run": outcomes[0].steps, "strategies": list(strategies),
            "axes": {a.key: list(a.values) for a in axes}, "walk_forward": walk_forward,
            "rows": [r.as_json() for r in rows]}
    table_json = out_dir / "sweep.json"
    table_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    table_md = out_dir / "sweep.md"
    table_md.write_text(render_markdown(rows, axes, strategies, scenario, walk_forward), encoding="utf-8")
    chart_path = out_dir / "sweep.png" if chart else None
    if chart_path is not None:
        chart_path.write_bytes(sweep_chart_png(rows, walk_forward is not None))
    return SweepResult(rows, count, wall_s, sum(o.steps for o in outcomes), sum(o.cpu_s for o in outcomes),
                       table_md, table_json, chart_path)
