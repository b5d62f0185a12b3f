"""Settings of the grid strategy: one ``[strategies.NAME]`` table with ``type = "grid"``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.api import option, split_symbol

REFUSED_ALERT_AFTER = 3
"""A slot's orders refused (rejected, failed, vetoed, cancelled by the venue) this many times in a row, one every
``retry_after_s``, are logged once per cause with the grid's fix, and alerted when the host does not alert them (an
order the venue cancelled; ``GridStrategy._note_refusal``): a minute and a half at the default 30 s, long enough that
one refusal (a post-only order that would cross) alerts nothing."""


@dataclass(frozen=True, kw_only=True)
class GridSettings:
    """One ``[strategies.NAME]`` table with ``type = "grid"``."""

    exchange: str = option(help="exchange instance to trade on: the NAME of an [exchanges.NAME] table")
    symbol: str = option(help='market to trade, "BASE/QUOTE"')
    lower: Decimal = option(gt=0, help="price of the lowest level, in quote per base")
    upper: Decimal = option(gt=0, help="price of the highest level, in quote per base; above lower")
    levels: int = option(ge=2, le=1000, help="number of price levels; the grid has levels - 1 slots")
    spacing: Literal["arithmetic", "geometric"] = option(
        "arithmetic", help="equal price steps (arithmetic) or equal percentage steps (geometric)")
    order_size: Decimal = option(gt=0, help="base quantity each slot buys and sells (rounded down to the lot size)")
    out_of_range: Literal["hold", "shift"] = option(
        "hold", help="when the bid rises above upper: hold, or re-centre the grid once no slot holds inventory (a "
                     "post-only sell the bid has passed is then offered a tick above the bid, and at its own price "
                     "again once the bid is back inside the range); below lower a grid holding nothing (started "
                     "there, or its buys refused) re-centres too, and one holding what it bought on the way down "
                     "holds either way (its slots sell once the price comes back)")
    out_of_range_after_s: float = option(
        10.0, ge=0, le=86_400,
        help="seconds the bid must stay above upper (or below lower) before the grid counts it out of range "
             "(re-centres, offers a waiting sell above the bid, says it holds), and back inside before it counts it "
             "inside again (a sell offered above the bid returns to its own price): a bid flapping across upper or "
             "lower moves no order; a stale feed starts the count again once it is live (what the bid did meanwhile "
             "is unknown); 0: at once")
    post_only: bool = option(True, help="maker-only orders: never take liquidity (a crossing order waits)")
    retry_after_s: float = option(
        30.0, ge=0.1, le=86_400,
        help=f"seconds a slot waits after a refused, vetoed or failed order before trying again; refused "
             f"{REFUSED_ALERT_AFTER} times in a row, a WARNING log line names the slot, price, reason and fix (once "
             f"per cause; alerted too for orders the venue cancelled: the host alerts rejected, failed and vetoed ones "
             f"itself), and an INFO note follows once the orders go through")

    def validate(self) -> list[tuple[str, str]]:
        """Cross-field checks: (key, problem) pairs."""
        problems = []
        if self.upper <= self.lower:
            problems.append(("upper", f"must be greater than lower (got {self.upper} <= {self.lower})"))
        try:
            split_symbol(self.symbol)
        except ValueError as exc:
            problems.append(("symbol", str(exc)))
        return problems
