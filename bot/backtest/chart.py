"""The backtest's PNG: cumulative PnL per strategy over simulated time, plus what plugins draw.

matplotlib's Agg canvas on its own ``Figure`` (no pyplot, no display), imported only when a chart
is drawn. The x axis is seconds of simulated time since the backtest began. The host draws each
strategy's cumulative net realized PnL (the ledger's) and, dashed, its equity (open lots marked at the mids: what
the max drawdown is measured on); a plugin's ``backtest_chart`` hook draws on
the same axes first (the arb plugin: its opportunities, marked on its strategy's curve) and may
name strategies whose curve it drew itself, which the host then leaves to it. No timestamp in the file: the same
backtest gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from ..ledger import pnl_curve_drawdown
from ..units import money
from .contract import BacktestRun

COLOURS = ("#762a83", "#b2182b", "#e08214", "#4d9221", "#35978f", "#2166ac")


def pnl_chart_png(run: BacktestRun, title: str, plugin_charts: Callable[[Any, BacktestRun], Iterable[list[str] | None]],
                  width_px: int = 1000, height_px: int = 500) -> bytes:  # fmt: skip
    """The chart as PNG bytes; ``plugin_charts(axes, run)`` calls the ``backtest_chart`` hook."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    drawn: set[str] = set()
    for names in plugin_charts(axes, run):
        drawn.update(names or ())
    end_s = run.seconds(max(run.end_ns, run.start_ns))
    curves = run.pnl_curves
    colours = iter(COLOURS * (1 + len(curves)))
    for strategy in sorted(curves):
        if strategy in drawn:
            continue
        for quote, curve in sorted(curves[strategy].items()):
            colour = next(colours)
            equity = run.equity_curves.get(strategy, {}).get(quote, [])
            xs = [0.0] + [run.seconds(ts) for ts, _ in curve] + [end_s]
            ys = [0.0] + [float(v) for _, v in curve] + [float(curve[-1][1])]
            axes.step(xs, ys, where="post", color=colour, linewidth=1.5,
                      label=f"{strategy}: net realized PnL ({money(curve[-1][1], quote)}; max drawdown of equity "
                            f"{money(pnl_curve_drawdown(equity), quote)})")
            if equity:  # what the drawdown is measured on: open lots marked at the mids then
                axes.step([0.0] + [run.seconds(ts) for ts, _ in equity] + [end_s],
                          [0.0] + [float(v) for _, v in equity] + [float(equity[-1][1])], where="post",
                          color=colour, linewidth=0.8, linestyle="--", label=f"{strategy}: equity ({quote})")
    axes.axhline(0, color="#7f7f7f", linewidth=0.8)
    axes.set_title(title)
    axes.set_xlabel("simulated time (s since start)")
    axes.set_ylabel("cumulative PnL (quote)")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})  # same input, same bytes
    return out.getvalue()
