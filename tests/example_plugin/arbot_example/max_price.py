"""``example-max-price``: a risk check that vetoes buys above a configured price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.api import PortfolioView, RiskCheck
from bot.domain import OrderIntent, Side
from bot.settings import option


@dataclass(frozen=True, kw_only=True)
class MaxPriceSettings:
    """The ``[risk.NAME]`` table of a max-price check."""

    max_buy_price: Decimal = option(gt=0, help="highest price a buy may pay, in quote units per base unit")
    symbols: list[str] = option([], help='markets the check applies to, e.g. ["BTC/USD"]; empty: every market')


class MaxPriceCheck(RiskCheck[MaxPriceSettings]):
    """Vetoes a buy whose limit price (or, for a market order, the last mid price) is above ``max_buy_price``."""

    Settings = MaxPriceSettings

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        s = self.settings
        if intent.side is not Side.BUY or (s.symbols and intent.symbol not in s.symbols):
            return None
        price = intent.price if intent.price is not None else view.last_price(intent.exchange, intent.symbol)
        if price is None:
            return f"no price yet to check a {intent.symbol} market buy against max_buy_price {s.max_buy_price}"
        if price > s.max_buy_price:
            return (f"buy price {price} is above max_buy_price {s.max_buy_price} "
                    f"({intent.qty} {intent.symbol} on {intent.exchange})")
        return None
