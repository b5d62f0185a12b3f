"""``limits`` risk check: max order notional, max position per symbol, max open orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot import hookimpl
from bot.api import PortfolioView, RiskCheck
from bot.domain import ZERO, OrderIntent, Side
from bot.settings import option


@dataclass(frozen=True)
class LimitsSettings:
    max_order_notional: Decimal | None = option(None, gt=0, help="largest order value, in the quote currency")
    max_position: Decimal | None = option(None, gt=0, help="largest position in any one symbol, in base units, "
                                                           "counting resting orders on the same side")
    positions: dict[str, str] = option({}, help='per-symbol position limits overriding max_position, e.g. '
                                                '{ "BTC/USD" = "0.5" }')
    max_open_orders: int | None = option(None, ge=1, help="most orders open at once, all strategies together")

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        for symbol, text in self.positions.items():
            try:
                if Decimal(text) <= 0:
                    raise ValueError
            except (ArithmeticError, ValueError):
                problems.append((f"positions.{symbol}", f'expected a decimal number > 0 such as "0.5", got "{text}"'))
        return problems


class Limits(RiskCheck):
    """Vetoes an order that would break a configured limit; the reason carries the figures."""

    Settings = LimitsSettings

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        s: LimitsSettings = self.settings
        if s.max_open_orders is not None:
            count = len(view.open_orders())
            if count + 1 > s.max_open_orders:
                return f"{count} orders are open; max_open_orders is {s.max_open_orders}"
        if s.max_order_notional is not None:
            notional = intent.notional(view.last_price(intent.exchange, intent.symbol))
            if notional is None:
                return f"no price to value a {intent.symbol} market order against max_order_notional"
            if notional > s.max_order_notional:
                return (f"order value {notional} exceeds max_order_notional {s.max_order_notional} "
                        f"({intent.qty} {intent.symbol} at {intent.price})")
        limit = Decimal(s.positions[intent.symbol]) if intent.symbol in s.positions else s.max_position
        if limit is not None:
            position = view.position(intent.exchange, intent.symbol)
            resting = sum((o.remaining_qty for o in view.open_orders(intent.exchange, intent.symbol)
                           if o.side is intent.side), ZERO)
            if intent.side is Side.BUY:
                worst = position + resting + intent.qty
            else:
                worst = -(position - resting - intent.qty)
            if worst > limit:
                return (f"{intent.symbol} position could reach {worst} (held {position}, resting {resting}, "
                        f"this order {intent.qty}); limit is {limit}")
        return None


@hookimpl
def register_risk_checks(register) -> None:
    register("limits", Limits)
