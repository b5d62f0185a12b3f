"""The arb plugin's layer of the backtest chart: captured PnL over simulated time, opportunities marked.

Drawn on the host's axes (the ``backtest_chart`` hook): x is seconds of simulated time since the
backtest began, so a synthetic scenario and a recording read the same way. No matplotlib import
here: the host owns the figure.
"""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Any

from bot.backtest.contract import BacktestRun
from bot.backtest.report import shown

from .backtest_report import BacktestFigures

TAKEN_COLOUR, MISSED_TRADABLE_COLOUR, MISSED_COLOUR, CURVE_COLOUR = "#1a9850", "#f46d43", "#969696", "#2166ac"


def _pnl_at(curve: list[tuple[int, Decimal]], times: list[int], ts_ns: int) -> float:
    """Cumulative PnL in force at ``ts_ns`` (the curve is a step function; ``times`` its sorted times)."""
    i = bisect.bisect_right(times, ts_ns)
    return float(curve[i - 1][1]) if i else 0.0


def draw(axes: Any, figures: BacktestFigures, run: BacktestRun, label: str) -> None:
    """Captured PnL as a step line over the whole run; opportunities at the PnL in force when they were
    seen: taken (green triangles), missed but tradable (orange crosses), missed for the edge itself
    (small grey dots)."""
    curve = figures.pnl_curve
    times = [ts for ts, _ in curve]
    xs = [0.0] + [run.seconds(ts) for ts, _ in curve] + [run.seconds(max(run.end_ns, run.start_ns))]
    ys = [0.0] + [float(v) for _, v in curve] + [float(curve[-1][1]) if curve else 0.0]
    axes.step(xs, ys, where="post", color=CURVE_COLOUR, linewidth=1.5,
              label=f"{label}: captured PnL ({shown(figures.captured_pnl, '0.01')} {figures.quote})")
    groups = (
        ("taken", TAKEN_COLOUR, "^", 40, 1.0, lambda m: m.taken),
        ("missed, tradable", MISSED_TRADABLE_COLOUR, "x", 30, 1.0, lambda m: not m.taken and m.tradable),
        ("missed, below the edge", MISSED_COLOUR, ".", 8, 0.4, lambda m: not m.taken and not m.tradable),
    )
    for name, colour, marker, size, alpha, member in groups:
        points = [m for m in figures.markers if member(m)]
        if points:
            axes.scatter([run.seconds(m.ts_ns) for m in points], [_pnl_at(curve, times, m.ts_ns) for m in points],
                         color=colour, marker=marker, s=size, alpha=alpha, zorder=3,
                         label=f"{name} ({len(points)})")
