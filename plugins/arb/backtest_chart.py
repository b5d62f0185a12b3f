"""The backtest's PNG: cumulative realized PnL over simulated time, opportunities marked.

matplotlib's Agg canvas on its own ``Figure`` (no pyplot, no display), imported on first use as
in :mod:`plugins.charts.render`. The x axis is seconds of simulated time since the backtest began,
so a synthetic scenario and a recording read the same way.
"""

from __future__ import annotations

import bisect
import io
from decimal import Decimal

from .backtest_report import BacktestFigures, shown

TAKEN_COLOUR, MISSED_TRADABLE_COLOUR, MISSED_COLOUR, CURVE_COLOUR = "#1a9850", "#f46d43", "#969696", "#2166ac"


def _pnl_at(curve: list[tuple[int, Decimal]], times: list[int], ts_ns: int) -> float:
    """Cumulative PnL in force at ``ts_ns`` (the curve is a step function; ``times`` its sorted times)."""
    i = bisect.bisect_right(times, ts_ns)
    return float(curve[i - 1][1]) if i else 0.0


def pnl_chart_png(figures: BacktestFigures, start_ns: int, end_ns: int, title: str,
                  width_px: int = 1000, height_px: int = 500) -> bytes:  # fmt: skip
    """Cumulative PnL as a step line from ``start_ns`` to ``end_ns``; opportunities at the PnL in force
    when they were seen: taken (green triangles), missed but tradable (orange crosses), missed for
    the edge itself (small grey dots)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    def seconds(ts_ns: int) -> float:
        return (ts_ns - start_ns) / 1e9

    curve = figures.pnl_curve
    times = [ts for ts, _ in curve]
    xs = [0.0] + [seconds(ts) for ts, _ in curve] + [seconds(max(end_ns, start_ns))]
    ys = [0.0] + [float(v) for _, v in curve] + [float(curve[-1][1]) if curve else 0.0]
    axes.step(xs, ys, where="post", color=CURVE_COLOUR, linewidth=1.5,
              label=f"captured PnL ({shown(figures.captured_pnl, '0.01')} {figures.quote})")
    groups = (
        ("taken", TAKEN_COLOUR, "^", 40, 1.0, lambda m: m.taken),
        ("missed, tradable", MISSED_TRADABLE_COLOUR, "x", 30, 1.0, lambda m: not m.taken and m.tradable),
        ("missed, below the edge", MISSED_COLOUR, ".", 8, 0.4, lambda m: not m.taken and not m.tradable),
    )
    for name, colour, marker, size, alpha, member in groups:
        points = [m for m in figures.markers if member(m)]
        if points:
            axes.scatter([seconds(m.ts_ns) for m in points], [_pnl_at(curve, times, m.ts_ns) for m in points],
                         color=colour, marker=marker, s=size, alpha=alpha, zorder=3,
                         label=f"{name} ({len(points)})")
    axes.axhline(0, color="#7f7f7f", linewidth=0.8)
    axes.set_title(title)
    axes.set_xlabel("simulated time (s since start)")
    axes.set_ylabel(f"cumulative realized PnL ({figures.quote})" if figures.quote else "cumulative realized PnL")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})  # same input, same bytes
    return out.getvalue()
