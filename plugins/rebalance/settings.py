"""``[plugins.rebalance]``: when inventory is moved between venues, how much at most, and when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Literal

from bot.api import option

_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


@dataclass(frozen=True, kw_only=True)
class RebalanceSettings:
    asset_settings: ClassVar[tuple[str, ...]] = ("max_per_transfer", "max_per_day")
    """Fields keyed by asset: the config check refuses an asset no configured exchange trades (a typo: no cap)."""

    enabled: bool = option(False, help="watch the balances the strategies need on each venue")
    mode: Literal["alert", "auto"] = option(
        "alert", help='"alert": propose a transfer, an admin confirms it with /rebalance ID; "auto": send it '
        "within max_per_transfer, max_per_day and window")
    check_every_s: float = option(30.0, ge=0.1, le=86_400, help="how often balances are compared with the targets")
    threshold: Decimal = option(
        Decimal("0.25"), gt=0, lt=Decimal("0.5"), help="propose when a venue's share of an asset falls this far "
        "below its target share (0.25: under 25 % where 50 % is the target)")
    max_per_transfer: dict[str, str] = option(
        {}, help='largest amount one transfer moves, per asset, e.g. { SOL = "50" } (no entry: no cap)')
    max_per_day: dict[str, str] = option(
        {}, help='auto mode: most moved per asset in 24 hours, e.g. { SOL = "200" } (no entry: no cap)')
    window: str = option(
        "", help='auto mode: UTC hours in which transfers may be sent, "HH:MM-HH:MM" ("": any time)')
    track_every_s: float = option(5.0, ge=0.1, le=86_400, help="how often a transfer on its way is checked")
    overdue_after_s: float = option(
        3600.0, ge=1, le=30 * 86_400, help="a transfer the destination has not credited this long after its intent "
        "is alerted (ERROR, once per transfer, restarts too) and still followed")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for key, table in (("max_per_transfer", self.max_per_transfer), ("max_per_day", self.max_per_day)):
            for asset, text in table.items():
                try:
                    value = Decimal(text)
                except (InvalidOperation, TypeError, ValueError):
                    value = None
                if value is None or not value.is_finite() or value <= 0:  # "Infinity" would cap nothing
                    infinite = value is not None and value.is_infinite()
                    problems.append((f"{key}.{asset}", f'expected a decimal number > 0 as a string, got "{text}"'
                                     + (" (not a finite number)" if infinite else "")))
        if self.window and not _WINDOW.fullmatch(self.window):
            problems.append(("window", f'expected "HH:MM-HH:MM" in UTC (e.g. "08:00-20:00"), got "{self.window}"'))
        return problems

    def in_window(self, minute_of_day: int) -> bool:
        """True when ``minute_of_day`` (UTC) is inside ``window`` (always, without one)."""
        match = _WINDOW.fullmatch(self.window)
        if match is None:
            return True
        start = int(match[1]) * 60 + int(match[2])
        end = int(match[3]) * 60 + int(match[4])
        return start <= minute_of_day < end if start <= end else (minute_of_day >= start or minute_of_day < end)
