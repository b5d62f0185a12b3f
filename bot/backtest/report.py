"""The backtest report: the host's generic figures, then the plugins' sections.

The host's part holds for any strategy: fills and fees, PnL per strategy (the figures ``arbot
report`` shows for the same store, from :mod:`bot.ledger`), risk events and each
strategy's final ``status()``. A plugin adds its own sections through the
``backtest_report_sections`` hook (the arb plugin: opportunities, capture rate, prediction error).
``report.json`` keeps money as exact decimal strings; what depends on the machine (wall time,
ticks per second) is under ``run``, apart, so two runs compare equal on everything else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..domain import ZERO, Fill
from ..ledger import Ledger, steps
from ..store import Store
from .contract import ReportSection

Curve = list[tuple[int, Decimal]]


def exact(value: Decimal) -> str:
    """A Decimal as plain text with every significant digit and no trailing zeros ("12.5", not "1.25E+1")."""
    return format(value.normalize(), "f") if value else "0"


def shown(value: Decimal, places: str = "0.000001") -> str:
    """A quote amount for people: rounded half-even to ``places``."""
    return format(value.quantize(Decimal(places)), "f")


def _amounts(values: dict[str, Decimal]) -> dict[str, str]:
    return {asset: exact(v) for asset, v in sorted(values.items())}


def _shown_amounts(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{shown(v)} {asset}" for asset, v in sorted(values.items())) or "0"


@dataclass(frozen=True)
class StrategyResult:
    """One strategy at the end of the backtest."""

    name: str
    type: str
    fills: int
    bought: Decimal
    sold: Decimal
    fees: dict[str, Decimal]
    realized: dict[str, Decimal]
    """Realized PnL by quote asset, before fees (FIFO lots per market, as ``arbot report``)."""
    net: dict[str, Decimal]
    """Realized less the fees, per asset (as ``arbot report``)."""
    status: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "fills": self.fills, "bought": exact(self.bought), "sold": exact(self.sold),
                "fees": _amounts(self.fees), "realized": _amounts(self.realized), "net": _amounts(self.net),
                "status": dict(self.status)}


@dataclass(frozen=True)
class HostFigures:
    """The report's generic part, read from the backtest's store and the bot at the end of the run."""

    strategies: list[StrategyResult]
    fills: int
    fees: dict[str, Decimal]
    risk_events: dict[str, int]
    """Stored risk events by "check action" (vetoes of single orders: "limits veto")."""
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """Strategy -> quote -> (ts_ns, cumulative net realized PnL) after each fill that changed it."""

    def as_json(self) -> dict[str, Any]:
        return {
            "strategies": {s.name: s.as_json() for s in self.strategies},
            "fills": {"count": self.fills, "fees": _amounts(self.fees)},
            "risk_events": dict(self.risk_events),
            "pnl_curves": {name: {quote: [[ts, exact(v)] for ts, v in curve] for quote, curve in by_quote.items()}
                           for name, by_quote in self.curves.items()},
        }


def host_figures(store: Store, fills: list[tuple[str, Fill]], strategies: dict[str, str],
                 status: dict[str, dict[str, str]]) -> HostFigures:  # fmt: skip
    """The generic figures from the store the backtest wrote (``fills``: its (strategy, fill) pairs in time
    order; ``strategies``: name -> type; ``status``: each strategy's final ``status()``)."""
    figures = Ledger(store).report()
    curves: dict[str, dict[str, Curve]] = {}
    running: dict[tuple[str, str], Decimal] = {}
    for step in steps(fills):
        change = step.net
        if not change:
            continue
        key = (step.strategy, step.quote)
        running[key] = running.get(key, ZERO) + change
        curves.setdefault(step.strategy, {}).setdefault(step.quote, []).append((step.fill.ts_ns, running[key]))
    results = []
    for name in sorted(set(strategies) | set(figures)):
        fig = figures.get(name)
        results.append(StrategyResult(
            name=name, type=strategies.get(name, "-"), fills=fig.fills if fig else 0,
            bought=sum((m.bought for m in fig.markets), ZERO) if fig else ZERO,
            sold=sum((m.sold for m in fig.markets), ZERO) if fig else ZERO,
            fees=dict(fig.fees) if fig else {}, realized=dict(fig.realized) if fig else {},
            net=dict(fig.net) if fig else {}, status=status.get(name, {}),
        ))  # fmt: skip
    fees_total: dict[str, Decimal] = {}
    for _, fill in fills:
        fees_total[fill.fee_asset] = fees_total.get(fill.fee_asset, ZERO) + fill.fee
    risk = {f"{check} {action}": n for (check, action), n in sorted(store.risk_event_counts().items())}
    return HostFigures(results, len(fills), fees_total, risk, curves)


# --- writing --------------------------------------------------------------------------------


def write_report(out_dir: Path, host: HostFigures, sections: Sequence[ReportSection], scenario: dict[str, Any],
                 run: dict[str, Any], chart: str | None) -> tuple[Path, Path]:  # fmt: skip
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns their paths.

    ``scenario`` describes the input (config, venues, steps, simulated span): same scenario, same
    figures. ``run`` holds what depends on the machine (wall time, ticks per second).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"scenario": scenario, **host.as_json(), "sections": {s.key: s.data for s in sections},
            "chart": chart, "run": run}
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path = out_dir / "report.md"
    md_path.write_text(render_markdown(host, sections, scenario, run, chart), encoding="utf-8")
    return json_path, md_path


def render_markdown(host: HostFigures, sections: Sequence[ReportSection], scenario: dict[str, Any],
                    run: dict[str, Any], chart: str | None) -> str:  # fmt: skip
    lines = [
        "# Backtest report",
        "",
        f"Config `{scenario.get('config')}`, {scenario.get('input')}; {scenario.get('steps')} market steps over "
        f"{scenario.get('simulated_s')} s of simulated time.",
        "",
        "## PnL per strategy",
        "",
        "| strategy | type | fills | fees | realized PnL | net PnL |",
        "| --- | --- | ---: | --- | --- | --- |",
    ]
    for s in host.strategies:
        lines.append(f"| {s.name} | {s.type} | {s.fills} | {_shown_amounts(s.fees)} | {_shown_amounts(s.realized)} "
                     f"| {_shown_amounts(s.net)} |")
    lines += [
        "",
        "Realized PnL at average cost per strategy and market, before fees (as `arbot report` shows it); net PnL "
        "less the fees, per asset. A position still open at the end is not in it.",
        "",
        f"Fills: {host.fills}; fees: " + (", ".join(f"{exact(v)} {k}" for k, v in sorted(host.fees.items()))
                                          or "none") + ".",
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
    lines += [
        f"Run: {run.get('wall_s')} s wall in all, the market steps {run.get('steps_wall_s')} s: "
        f"{run.get('ticks_per_s')} ticks/s (machine-dependent; not part of the scenario's result).",
        "",
    ]
    return "\n".join(lines)
