"""``[plugins.charts]``: how much price history the ``/chart price`` command keeps in memory."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import option


@dataclass(frozen=True)
class ChartsSettings:
    sample_every_s: float = option(5.0, ge=0, le=86_400, help="keep one mid price per market this often (book updates "
                                                  "in between are skipped); 0 keeps every update")
    keep_points: int = option(4320, ge=2, le=100_000, help="mid prices kept per market, oldest dropped first "
                                                           "(4320 at 5 s: the last 6 hours)")
    width_px: int = option(1200, ge=300, le=4000, help="chart width in pixels")
    height_px: int = option(700, ge=200, le=4000, help="chart height in pixels")
