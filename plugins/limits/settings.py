"""The ``[risk.NAME]`` table of a ``limits`` check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar, Literal

from bot.api import option

Money = Decimal | dict[str, str] | None
"""A money limit: a table quote asset -> value (``{ USD = "100", BTC = "0.002" }``), or one plain value, which the
config check places in the one quote asset every strategy trades (refused when they trade several)."""

IN_QUOTE = ('; a table per quote asset, e.g. { USD = "100", BTC = "0.002" } (a strategy trading a quote the table '
            'leaves out is refused), or one value when every strategy trades the same quote asset (its unit)')

MONEY_KEYS = ("max_order_notional", "max_position_notional", "max_total_notional", "max_daily_loss", "max_drawdown")
"""The money limits set per quote asset."""

Quantity = Decimal | dict[str, str] | None
"""A quantity limit: a table base asset or symbol -> value (``{ BTC = "0.5", "SOL/USDC" = "20" }``), or one plain
value, which the config check places in the one base asset every strategy trades (refused when they trade several)."""

BASE_KEYS = ("max_position",)
"""The quantity limits set per base asset (or per symbol)."""


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
        "positions": 'a symbol\'s position limit is set in max_position, which takes symbol keys beside base '
                     'assets (a symbol\'s entry wins over its base asset\'s): move each entry into max_position as '
                     'a symbol key, e.g. max_position = { "BTC/USD" = "0.5" }, and delete this key',
    })
    """Keys of earlier versions, refused with what to do instead."""

    # --- per order: vetoed before it is sent ---------------------------------------------
    max_order_notional: Money = option(None, gt=0, help="largest order value" + IN_QUOTE)
    max_position: Quantity = option(
        None, gt=0, help='largest position in one symbol on one exchange (each venue\'s inventory: an arbitrage\'s '
                         'two legs are two), counting resting orders on the same side, in its base asset: a table '
                         'per base asset or per symbol, e.g. { BTC = "0.5", SHIB = "1000000" } or '
                         '{ "BTC/USD" = "0.5" } (a symbol\'s entry wins over its base asset\'s; a strategy trading a '
                         'base asset the table leaves out is refused), or one value when every strategy trades the '
                         'same base asset (its unit)')
    max_open_orders: int | None = option(None, ge=1, le=1_000_000,
                                         help="most orders open at once, all strategies together")
    max_position_notional: Money = option(
        None, gt=0, help="largest value of the position in one symbol (at the last price), counting resting "
                         "orders on the same side" + IN_QUOTE)
    max_total_notional: Money = option(
        None, gt=0, help="largest value of all positions in one quote asset together, counted like "
                         "max_position_notional" + IN_QUOTE)
    max_orders_per_minute: int | None = option(None, ge=1, le=1_000_000,
                                               help="most orders allowed in any 60 s, all strategies")
    strategy_max_position_notional: dict[str, str] = option(
        {}, help='per-strategy cap on the value of all its positions, in the quote asset the strategy trades, e.g. '
                '{ "btc-grid" = "5000" } (USD for a BTC/USD grid)')
    # --- losses: a breach runs the action; orders that could break them are vetoed ---------
    max_daily_loss: Money = option(
        None, gt=0, help="largest realized loss after fees in one day, plus the day's transfer costs (one in "
                         "another asset at the portfolio's ASSET/QUOTE mid, named on /risk when none is known); "
                         "orders that could exceed it if they all filled are vetoed" + IN_QUOTE)
    strategy_max_daily_loss: dict[str, str] = option(
        {}, help='per-strategy daily loss limit, in the quote asset the strategy trades, e.g. { "btc-grid" = "50" } '
                '(USD for a BTC/USD grid); a breach pauses only it')
    daily_reset_at: dt.time = option(
        dt.time(0, 0), help='when the day\'s loss starts again at zero, "HH:MM" in the bot\'s [scheduler] timezone '
                            '(the default, midnight, makes it the day of /pnl day and the daily summary; /risk and '
                            '/status say when its day began)')
    fee_bps_bound: Decimal = option(
        Decimal(0), ge=0, lt=10_000, help="fee assumed for each order when bounding what open orders can lose, basis "
                               "points of notional (your venue's highest fee makes the bound include fees)")
    max_drawdown: Money = option(
        None, gt=0, help="largest fall of equity (realized after fees + unrealized PnL at each venue's last "
                         "mid, a book's or a pool's, less every transfer's costs as max_daily_loss counts the day's) "
                         "from its peak; the peak trails up, restarts after a trip and is kept across restarts"
                         + IN_QUOTE)
    # --- what a breach does ---------------------------------------------------------------
    action: Literal["pause", "flatten", "stop"] = option(
        "pause", help='"pause": no new orders, resting ones stay; "stop": pause everything and cancel every '
                      'resting order; "flatten": stop, then close positions within flatten_slippage_bps')
    flatten_slippage_bps: Decimal = option(
        Decimal(50), gt=0, lt=10_000, help="flatten's closing orders are priced this far through the last mid price")

    LIMIT_KEYS: ClassVar[tuple[str, ...]] = (
        "max_order_notional", "max_position", "max_open_orders", "max_position_notional",
        "max_total_notional", "max_orders_per_minute", "strategy_max_position_notional", "max_daily_loss",
        "strategy_max_daily_loss", "max_drawdown")
    """The keys that set a limit: a table with none of them limits nothing."""

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if not any(getattr(self, key) for key in self.LIMIT_KEYS):
            problems.append(("", f"no limit is set, so this check limits nothing; set at least one of "
                                 f"{', '.join(self.LIMIT_KEYS)}, or remove the table"))
        for key in MONEY_KEYS:
            table = getattr(self, key)
            if isinstance(table, dict):
                if not table:
                    problems.append((key, 'an empty table limits nothing; give a value per quote asset, e.g. '
                                          '{ USD = "100" }, or remove the key'))
                for quote, text in table.items():
                    if not _positive(text):
                        problems.append((f"{key}.{quote}", f'expected a decimal number > 0 such as "100", got '
                                                           f'"{text}"' + _not_finite(text)))
        for key in BASE_KEYS:
            table = getattr(self, key)
            if isinstance(table, dict):
                if not table:
                    problems.append((key, 'an empty table limits nothing; give a value per base asset or symbol, '
                                          'e.g. { BTC = "0.5" }, or remove the key'))
                for asset, text in table.items():
                    if not _positive(text):
                        problems.append((f"{key}.{asset}", f'expected a decimal number > 0 such as "0.5", got '
                                                           f'"{text}"' + _not_finite(text)))
        for key in ("strategy_max_position_notional", "strategy_max_daily_loss"):
            for name, text in getattr(self, key).items():
                if not _positive(text):
                    problems.append((f"{key}.{name}", f'expected a decimal number > 0 such as "0.5", got "{text}"'
                                                      + _not_finite(text)))
        return problems
