"""The one ledger and the display rounding, public like :mod:`bot.api`.

Every profit figure comes from :mod:`bot.ledger`: lots per strategy and market (the lot a closing
order names, else FIFO), realized PnL before fees, fees apart, unrealized PnL marked to mid. A
command or service gets the bot's ledger from ``operator.ledger()``; a risk check or strategy that
books its own fills keeps a :class:`Position` (``apply_fill(fill, closes)``). Figures are exact
Decimals; :func:`money`, :func:`amount`, :func:`signed_money`, :func:`price` and :func:`qty` round
them for people only (:func:`counted` words a count with its noun: "1 strategy", "3 strategies");
:func:`exact_amount` and :func:`exact_money` show an amount that is sent (a transfer) exactly (:func:`exact`: every
digit, no padding zeros); :func:`fees_text` and :func:`transfer_text` word a strategy's fees and a transfer on its way
as the host's ``/status`` and ``arbot report`` do, :func:`age_text` a
duration (a transfer's age, its expected time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ..ledger import (
        EXACT_DIGITS,
        PERIODS,
        Ledger,
        MarketFigures,
        Marks,
        Position,
        Step,
        StrategyFigures,
        TimeOrderedPosition,
        day_start_ns,
        fee_in_quote,
        is_trade,
        lot_mark,
        net_after_transfer_costs,
        next_day_start_ns,
        period_start_ns,
        pnl_curves,
        predicted_for_filled,
        prediction_error,
        steps,
        totals,
        transfer_costs,
    )
    from ..report import age_text, fees_text, transfer_text
    from ..units import (
        amount,
        counted,
        exact,
        exact_amount,
        exact_money,
        money,
        moneys,
        price,
        qty,
        signed_money,
        significant,
    )

_LEDGER = ("EXACT_DIGITS", "PERIODS", "Ledger", "MarketFigures", "Marks", "Position", "Step", "StrategyFigures",
           "TimeOrderedPosition", "day_start_ns", "fee_in_quote", "is_trade", "lot_mark", "net_after_transfer_costs",
           "next_day_start_ns", "period_start_ns", "pnl_curves", "predicted_for_filled", "prediction_error", "steps",
           "totals", "transfer_costs")
_UNITS = ("amount", "counted", "exact", "exact_amount", "exact_money", "money", "moneys", "price", "qty",
          "signed_money", "significant")
_WHERE = {**dict.fromkeys(_LEDGER, "bot.ledger"), **dict.fromkeys(_UNITS, "bot.units"),
          **dict.fromkeys(("age_text", "fees_text", "transfer_text"), "bot.report")}
__all__ = [
    "EXACT_DIGITS", "PERIODS", "Ledger", "MarketFigures", "Marks", "Position", "Step", "StrategyFigures",
    "TimeOrderedPosition", "age_text", "amount", "counted", "exact", "exact_amount", "exact_money", "fees_text",
    "day_start_ns", "fee_in_quote", "is_trade", "lot_mark", "money", "moneys", "net_after_transfer_costs",
    "next_day_start_ns",
    "period_start_ns", "price", "pnl_curves", "predicted_for_filled", "prediction_error", "qty", "signed_money",
    "significant", "steps", "totals", "transfer_costs", "transfer_text",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
