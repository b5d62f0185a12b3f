"""What one order's fills came to, in base and quote: the grid's profit is built from these."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.api import ZERO, Fill


@dataclass(slots=True)
class Executions:
    """The fills of one order, summed. Each trade counts once however often it is delivered."""

    qty: Decimal = ZERO
    """Base quantity filled."""
    notional: Decimal = ZERO
    """Sum of price x quantity, in quote."""
    quote_fees: Decimal = ZERO
    """Fees charged in the quote asset."""
    base_fees: Decimal = ZERO
    """Fees charged in the base asset (taken out of the base received by a buy)."""
    base_fees_value: Decimal = ZERO
    """``base_fees`` valued in quote at each fill's price."""
    unvalued_fee_assets: set[str] = field(default_factory=set)
    """Fee assets that are neither base nor quote: left out of the figures."""
    trade_ids: set[str] = field(default_factory=set)

    def add(self, fill: Fill, base: str, quote: str) -> bool:
        """Count one fill; False (and nothing counted) if its trade was already counted."""
        if fill.trade_id in self.trade_ids:
            return False
        self.trade_ids.add(fill.trade_id)
        self.qty += fill.qty
        self.notional += fill.price * fill.qty
        if fill.fee:
            if fill.fee_asset == quote:
                self.quote_fees += fill.fee
            elif fill.fee_asset == base:
                self.base_fees += fill.fee
                self.base_fees_value += fill.fee * fill.price
            else:
                self.unvalued_fee_assets.add(fill.fee_asset)
        return True

    def add_unseen(self, qty: Decimal, price: Decimal) -> None:
        """Count ``qty`` filled at ``price`` whose fills never reached us (fees unknown, so none)."""
        self.qty += qty
        self.notional += qty * price

    @property
    def buy_cost(self) -> Decimal:
        """Quote paid by a buy, fees included (base fees show up as less base received)."""
        return self.notional + self.quote_fees

    @property
    def base_received(self) -> Decimal:
        """Base a buy added to the account."""
        return self.qty - self.base_fees

    @property
    def sell_proceeds(self) -> Decimal:
        """Quote received by a sell, net of its fees."""
        return self.notional - self.quote_fees - self.base_fees_value
