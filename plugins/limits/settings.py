"""The ``[risk.NAME]`` table of a ``limits`` check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar, Literal

from bot.api import option


def _positive(text: str) -> bool:
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError, TypeError):
        return False
    return value.is_finite() and value > 0  # "Infinity" would be a limit that limits nothing


def _not_finite(text: str) -> str:
    try:
        return "" if Decimal(text).is_finite() else " (not a finite number)"
    except (ArithmeticError, ValueError, TypeError):
        return ""


@dataclass(frozen=True)
class LimitsSettings:
    REMOVED_KEYS: ClassVar[Mapping[str, str]] = MappingProxyType({
        "timezone": "the daily loss's day is the bot's day, in [scheduler] timezone, as /pnl day, the daily summary "
                    "and the web's \"today\" count it (one day for one trader); set the zone there and delete this "
                    "key (daily_reset_at is read in that zone)",
    })
    """Keys of earlier versions, refused with what to do instead."""

    # --- per order: vetoed before it is sent ---------------------------------------------
    max_order_notional: Decimal | None = option(None, gt=0, help="largest order value, in the quote currency")
    max_position: Decimal | None = option(None, gt=0, help="largest position in any one symbol on any one exchange "
                                                           "(each venue's inventory: an arbitrage's two legs are "
                                                           "two), in base units, counting resting orders on the "
                                                           "same side")
    positions: dict[str, str] = option({}, help='per-symbol position limits overriding max_position, e.g. '
                                                '{ "BTC/USD" = "0.5" }')
    max_open_orders: int | None = option(None, ge=1, le=1_000_000,
                                         help="most orders open at once, all strategies together")
    max_position_notional: Decimal | None = option(
        None, gt=0, help="largest value of the position in one symbol (quote, at the last price), counting "
                         "resting orders on the same side")
    max_total_notional: Decimal | None = option(
        None, gt=0, help="largest value of all positions together, per quote currency, counted like "
                         "max_position_notional")
    max_orders_per_minute: int | None = option(None, ge=1, le=1_000_000,
                                               help="most orders allowed in any 60 s, all strategies")
    strategy_max_position_notional: dict[str, str] = option(
        {}, help='per-strategy cap on the value of all its positions (quote), e.g. { "btc-grid" = "5000" }')
    # --- losses: a breach runs the action; orders that could break them are vetoed ---------
    max_daily_loss: Decimal | None = option(
        None, gt=0, help="largest realized loss after fees in one day, per quote currency; orders that could "
                         "exceed it if they all filled are vetoed")
    strategy_max_daily_loss: dict[str, str] = option(
        {}, help='per-strategy daily loss limit (quote), e.g. { "btc-grid" = "50" }; a breach pauses only it')
    daily_reset_at: dt.time = option(
        dt.time(0, 0), help='when the day\'s loss starts again at zero, "HH:MM" in the bot\'s [scheduler] timezone '
                            '(the default, midnight, makes it the day of /pnl day and the daily summary)')
    fee_bps_bound: Decimal = option(
        Decimal(0), ge=0, lt=10_000, help="fee assumed for each order when bounding what open orders can lose, basis "
                               "points of notional (your venue's highest fee makes the bound include fees)")
    max_drawdown: Decimal | None = option(
        None, gt=0, help="largest fall of equity (realized after fees + unrealized PnL at each venue's last "
                         "mid, a book's or a pool's, per quote currency) from its peak; the peak trails up, "
                         "restarts after a trip and is kept across restarts")
    # --- what a breach does ---------------------------------------------------------------
    action: Literal["pause", "flatten", "stop"] = option(
        "pause", help='"pause": no new orders, resting ones stay; "stop": pause everything and cancel every '
                      'resting order; "flatten": stop, then close positions within flatten_slippage_bps')
    flatten_slippage_bps: Decimal = option(
        Decimal(50), gt=0, lt=10_000, help="flatten's closing orders are priced this far through the last mid price")

    LIMIT_KEYS: ClassVar[tuple[str, ...]] = (
        "max_order_notional", "max_position", "positions", "max_open_orders", "max_position_notional",
        "max_total_notional", "max_orders_per_minute", "strategy_max_position_notional", "max_daily_loss",
        "strategy_max_daily_loss", "max_drawdown")
    """The keys that set a limit: a table with none of them limits nothing."""

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if not any(getattr(self, key) for key in self.LIMIT_KEYS):
            problems.append(("", f"no limit is set, so this check limits nothing; set at least one of "
                                 f"{', '.join(self.LIMIT_KEYS)}, or remove the table"))
        for key in ("positions", "strategy_max_position_notional", "strategy_max_daily_loss"):
            for name, text in getattr(self, key).items():
                if not _positive(text):
                    problems.append((f"{key}.{name}", f'expected a decimal number > 0 such as "0.5", got "{text}"'
                                                      + _not_finite(text)))
        return problems
