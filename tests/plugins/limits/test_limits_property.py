"""Property: whatever orders and fills come, nothing the gate lets through takes a position or a day's loss
beyond the limits, but an order that only reduces the exposure (it passes the loss limits: it cannot add a loss
that is not already held); and past the loss limit, nothing else is let through."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import PortfolioView
from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, Order, OrderIntent, Side
from bot.ledger import strategy_figures
from bot.settings import ConfigIssue, parse_settings
from plugins.limits.check import Limits
from plugins.limits.settings import LimitsSettings

MAX_POSITION = Decimal("1")
MAX_DAILY_LOSS = Decimal("5")
FEE_BPS = Decimal("10")
CENT = Decimal("0.01")


class View(PortfolioView):
    def __init__(self):
        self.positions_by_symbol: dict[str, Decimal] = {}
        self.orders: list[Order] = []

    def position(self, exchange, symbol):
        return self.positions_by_symbol.get(symbol, Decimal(0))

    def open_orders(self, exchange=None, symbol=None):
        return [o for o in self.orders if symbol is None or o.symbol == symbol]

    def last_price(self, exchange, symbol):
        return Decimal(100)

    def positions(self):
        return {("x", symbol): qty for symbol, qty in self.positions_by_symbol.items() if qty}


def make_limits() -> Limits:
    issues: list[ConfigIssue] = []
    settings = parse_settings(LimitsSettings, {"max_position": MAX_POSITION, "max_daily_loss": MAX_DAILY_LOSS,
                                               "fee_bps_bound": FEE_BPS}, "risk.limits", issues)
    assert not issues
    tripped = []
    ctx = SimpleNamespace(clock=ManualClock(), operator=SimpleNamespace(timezone="UTC"),
                          pause=lambda names, reason: tripped.append(reason) or [],
                          record_trip=lambda *a, **k: None, kill=lambda reason: None)
    return Limits("limits", settings, ctx)


prices = st.integers(9000, 11000).map(lambda cents: Decimal(cents) * CENT)
qtys = st.integers(10, 100).map(lambda n: Decimal(n) * CENT)
order_step = st.tuples(st.just("order"), st.sampled_from(["a", "b"]), st.sampled_from(list(Side)), qtys, prices,
                       st.sampled_from(["BTC/USD", "ETH/USD"]))
fill_step = st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 100), st.integers(0, 20),
                      st.integers(0, 100))
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 50))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(order_step, order_step, fill_step, fill_step, cancel_step), max_size=60))
def test_nothing_the_gate_passes_breaks_a_position_or_the_daily_loss_limit(steps):
    limits = make_limits()
    view = View()
    fills: list[tuple[str, Fill]] = []
    reducing: set[str] = set()  # orders let through as only reducing the exposure
    reduced = False  # one of them filled: the day's loss may have gone past the limit by closing what was held
    n = 0
    for step in steps:
        n += 1
        if step[0] == "order":
            _, strategy, side, qty, price, symbol = step
            intent = OrderIntent(strategy, "x", symbol, side, qty, price, client_order_id=f"o{n}")
            if limits.check(intent, view) is None:
                if view.reduces(intent):
                    reducing.add(intent.client_order_id)
                else:  # past the limit only reducing orders go
                    net = sum((fig.net.get("USD", Decimal(0)) for fig in strategy_figures(fills).values()),
                              Decimal(0))
                    assert -net <= MAX_DAILY_LOSS, f"an order adding exposure let through at a loss of {-net}"
                limits.accepted(intent)
                view.orders.append(Order(f"o{n}", strategy, "x", symbol, side, qty, price))
        elif step[0] == "fill" and view.orders:
            _, index, percent, better_cents, fee_per_mille_of_bound = step
            order = view.orders[index % len(view.orders)]
            qty = max(CENT, (order.remaining_qty * percent / 100).quantize(CENT))
            qty = min(qty, order.remaining_qty)
            # at the limit price or better; a fee up to the bound
            price = order.price - better_cents * CENT if order.side is Side.BUY else order.price + better_cents * CENT
            price = max(price, CENT)
            fee = (price * qty * FEE_BPS / 10_000 * fee_per_mille_of_bound / 100).quantize(Decimal("0.0001"),
                                                                                          rounding="ROUND_DOWN")
            fill = Fill("x", order.symbol, order.client_order_id, f"t{n}", order.side, price, qty, fee, "USD",
                        Liquidity.TAKER, 0)
            order.filled_qty += qty
            if order.remaining_qty == 0:
                view.orders.remove(order)
            signed = qty if order.side is Side.BUY else -qty
            view.positions_by_symbol[order.symbol] = view.position("x", order.symbol) + signed
            fills.append((order.strategy, fill))
            reduced = reduced or order.client_order_id in reducing
            limits.on_fill(order.strategy, fill)
            assert abs(view.positions_by_symbol[order.symbol]) <= MAX_POSITION
            net = sum((fig.net.get("USD", Decimal(0)) for fig in strategy_figures(fills).values()), Decimal(0))
            assert -net <= MAX_DAILY_LOSS or reduced, f"day's loss {-net} beyond {MAX_DAILY_LOSS}"
        elif step[0] == "cancel" and view.orders:
            view.orders.pop(step[1] % len(view.orders))
