"""Liquidity pools as strategies see them: exact quotes for a size, in the market's units.

A DEX exchange plugin publishes a :class:`~bot.domain.PoolUpdate` carrying a :class:`Pool` each
time a pool's state changes. A strategy asks the pool what selling or buying a base size would
give, without any I/O: implementations quote with the venue's own integer maths (constant
product, concentrated liquidity, ...) and convert to :class:`~decimal.Decimal` only at this edge.

Sides are *ours*: ``sell(q)`` pays exactly ``q`` base into the pool (exact input) and receives
quote; ``buy(q)`` receives exactly ``q`` base out of the pool (exact output) and pays quote. Every
:class:`SwapEstimate` splits what the swap costs against the pool's mid price before it into the
pool's **fee** and the **price impact** (the rest), both in quote units, so a cost breakdown can
show them apart.

The host knows no DEX; implementations live in plugins (``arbotlib.amm.model``,
``arbotlib.amm.whirlpool.model``). Write your own by subclassing :class:`Pool`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import Decimal

from .book import PrecisionError, from_units, to_units
from .domain import BPS, Side



class PoolError(ValueError):
    """A pool cannot quote the request (no liquidity for it, a size finer than the token allows, ...)."""


class PoolLiquidityError(PoolError):
    """The pool cannot pay out (or absorb) the requested size."""


@dataclass(frozen=True, slots=True)
class SwapEstimate:
    """What one swap would do, our side, in whole tokens (Decimal) and smallest units (int)."""

    side: Side
    """BUY: quote in, exactly ``base_qty`` out. SELL: exactly ``base_qty`` in, quote out."""
    base_qty: Decimal
    quote_qty: Decimal
    """Quote received (SELL) or paid (BUY), the pool's fee included."""
    fee: Decimal
    """The pool's fee, in quote units (on a SELL the pool takes it in base: valued at ``mid_before``)."""
    impact: Decimal
    """Quote lost to price impact: the distance from ``mid_before`` that is not fee (>= 0 up to rounding)."""
    mid_before: Decimal
    base_units: int
    quote_units: int
    """``quote_qty`` in the quote token's smallest units (the minimum-out / maximum-in of a swap)."""
    pool_after: Pool
    """The pool's state once the swap is done (a paper DEX applies it; a strategy may chain quotes)."""

    @property
    def price(self) -> Decimal:
        """Average price, quote per base, fee included."""
        return self.quote_qty / self.base_qty

    @property
    def notional_at_mid(self) -> Decimal:
        return self.base_qty * self.mid_before

    @property
    def fee_bps(self) -> Decimal:
        return self.fee / self.notional_at_mid * BPS

    @property
    def impact_bps(self) -> Decimal:
        return self.impact / self.notional_at_mid * BPS


class Pool(abc.ABC):
    """A snapshot of one pool, quoted for the market ``base``/``quote`` (immutable)."""

    base: str
    quote: str
    base_decimals: int
    quote_decimals: int

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"

    @abc.abstractmethod
    def mid(self) -> Decimal:
        """Marginal price, quote per base, before fees."""

    @property
    @abc.abstractmethod
    def fee_bps(self) -> Decimal:
        """The pool's fee rate, in basis points of the input."""

    @abc.abstractmethod
    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        """Exact input: ``(quote_out_units, fee_units_in_base, pool_after)``.

        Pools take their fee from the input token: base units here. Raise
        :class:`PoolLiquidityError` when the pool cannot do it.
        """

    @abc.abstractmethod
    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        """Exact output: ``(quote_in_units, fee_units_in_quote, pool_after)``; quote in includes the fee.

        Raise :class:`PoolLiquidityError` when the pool cannot pay ``base_units`` out.
        """

    # --- the Decimal edge, shared by every implementation -----------------------------------

    def base_units_of(self, base_qty: Decimal) -> int:
        try:
            units = to_units(base_qty, self.base_decimals)
        except PrecisionError as exc:
            raise PoolError(f"{base_qty} {self.base}: {exc} (the token has {self.base_decimals})") from None
        if units <= 0:
            raise PoolError(f"a swap needs a positive size, got {base_qty} {self.base}")
        return units

    def sell(self, base_qty: Decimal) -> SwapEstimate:
        """Pay exactly ``base_qty`` base into the pool; what quote comes out."""
        units = self.base_units_of(base_qty)
        mid = self.mid()
        out, fee_units, after = self.sell_units(units)
        quote_out = from_units(out, self.quote_decimals)
        fee = from_units(fee_units, self.base_decimals) * mid
        at_mid = base_qty * mid
        return SwapEstimate(Side.SELL, base_qty, quote_out, fee, at_mid - quote_out - fee, mid, units, out, after)

    def buy(self, base_qty: Decimal) -> SwapEstimate:
        """Receive exactly ``base_qty`` base from the pool; what quote goes in (fee included)."""
        units = self.base_units_of(base_qty)
        mid = self.mid()
        paid, fee_units, after = self.buy_units(units)
        quote_in = from_units(paid, self.quote_decimals)
        fee = from_units(fee_units, self.quote_decimals)
        at_mid = base_qty * mid
        return SwapEstimate(Side.BUY, base_qty, quote_in, fee, quote_in - fee - at_mid, mid, units, paid, after)

    def estimate(self, side: Side, base_qty: Decimal) -> SwapEstimate:
        """``buy`` or ``sell`` by our side."""
        return self.buy(base_qty) if side is Side.BUY else self.sell(base_qty)
