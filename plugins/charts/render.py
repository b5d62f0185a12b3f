"""PNG rendering with matplotlib's Agg canvas: values in, PNG bytes out.

matplotlib is imported on the first chart, not with the plugin (it costs about half a second),
and pyplot is never used: each chart is its own ``Figure`` on its own canvas, so charts can be
drawn in worker threads (``asyncio.to_thread``) without sharing pyplot's global state.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.api import Fill, Side

from .series import PnlCurve

BUY_COLOUR, SELL_COLOUR, LEVEL_COLOUR = "#1a9850", "#d73027", "#7f7f7f"


@dataclass(frozen=True)
class Size:
    width_px: int
    height_px: int


def _figure(size: Size) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # no display, ever: the bot runs headless
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(size.width_px / dpi, size.height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _time_axis(axes: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=dt.UTC)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=dt.UTC))
    axes.set_xlabel("time (UTC)")
    axes.grid(True, alpha=0.3)


def _when(ts_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)


def _png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def pnl_png(curves: list[PnlCurve], title: str, size: Size) -> bytes:
    """Cumulative realized PnL, one step line per quote asset."""
    figure, axes = _figure(size)
    for curve in curves:
        times = [_when(ts) for ts, _ in curve.points]
        values = [float(v) for _, v in curve.points]
        axes.step(times, values, where="post", marker="o", markersize=3, label=f"{curve.asset} ({curve.fills} fills)")
    axes.axhline(0, color=LEVEL_COLOUR, linewidth=0.8)
    axes.set_title(title)
    axes.set_ylabel("realized PnL, net of fees")
    axes.legend(loc="upper left")
    _time_axis(axes)
    return _png(figure)


def price_png(prices: dict[str, list[tuple[int, Decimal]]], levels: list[Decimal], fills: list[Fill], title: str,
              size: Size) -> bytes:
    """Mid price per exchange, strategy levels as dashed lines, our buys and sells as triangles."""
    figure, axes = _figure(size)
    for exchange, points in sorted(prices.items()):
        axes.plot([_when(ts) for ts, _ in points], [float(p) for _, p in points], linewidth=1.2,
                  label=f"{exchange} mid")
    for n, level in enumerate(sorted(set(levels))):
        axes.axhline(float(level), color=LEVEL_COLOUR, linestyle="--", linewidth=0.7,
                     label="strategy levels" if n == 0 else None)
    for side, colour, marker in ((Side.BUY, BUY_COLOUR, "^"), (Side.SELL, SELL_COLOUR, "v")):
        ours = [f for f in fills if f.side is side]
        if ours:
            axes.scatter([_when(f.ts_ns) for f in ours], [float(f.price) for f in ours], color=colour, marker=marker,
                         s=60, zorder=3, label=f"{side.value} fills ({len(ours)})")
    axes.set_title(title)
    axes.set_ylabel("price")
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)  # 30100, not "+3e4" and 100
    axes.legend(loc="upper left")
    _time_axis(axes)
    return _png(figure)
