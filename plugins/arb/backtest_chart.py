"""The arb plugin's layer of the backtest chart: its opportunities, marked on its strategy's PnL curve.

Drawn on the host's axes (the ``backtest_chart`` hook), whose curves are each strategy's cumulative
net realized PnL from the ledger: each opportunity sits on its strategy's curve where it was first
seen (x: seconds of simulated time since the start). No matplotlib import here: the host owns the
figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.api.backtest import BacktestRun

from .backtest_report import Marker

TAKEN_COLOUR, MISSED_TRADABLE_COLOUR, MISSED_COLOUR = "#1a9850", "#f46d43", "#969696"


def draw(axes: Any, markers: Sequence[Marker], run: BacktestRun) -> None:
    """Opportunities at the PnL in force when they were seen: taken (green triangles), missed but
    tradable (orange crosses), missed for the edge itself (small grey dots)."""
    groups = (
        ("taken", TAKEN_COLOUR, "^", 40, 1.0, lambda m: m.taken),
        ("missed, tradable", MISSED_TRADABLE_COLOUR, "x", 30, 1.0, lambda m: not m.taken and m.tradable),
        ("missed, below the edge", MISSED_COLOUR, ".", 8, 0.4, lambda m: not m.taken and not m.tradable),
    )
    for name, colour, marker, size, alpha, member in groups:
        points = [m for m in markers if member(m)]
        if points:
            axes.scatter([run.seconds(m.ts_ns) for m in points],
                         [float(run.pnl_at(m.strategy, m.quote, m.ts_ns)) for m in points],
                         color=colour, marker=marker, s=size, alpha=alpha, zorder=3,
                         label=f"opportunities {name} ({len(points)})")
