"""The arb pricer decides on the book's integer units exactly as the Decimal reference does.

The hot path (``Pricer.evaluate``) reads ``bid_units``/``ask_units`` of a book view, decides whether a
direction has an edge and whether any size can clear ``min_edge_bps`` by comparing the touch with
integer thresholds, and hands back its memo by comparing integer levels. The reference here restates
the module's Decimal definitions (``edge = mid - ask`` or ``bid - mid``; the marginal check at the
touch) on the Decimal levels and prices the direction from scratch; over random pools, settings,
inventories and books (views of an integer ``OrderBook`` at Kraken's precisions, and the same books
made from Decimals), tick after tick through one pricer, both give the same evaluation: size, limit
prices, every cost, net PnL, tradable, and what limited the size. Touches are drawn on and around the
integer thresholds, where a rounding would show.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, localcontext

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.api import BookUpdate, SwapFee
from bot.api.kit import OrderBook
from plugins.arb.pricing import _DISPLAY, _EXACT, BPS, Direction, Inventory, Pricer, _no_edge_reason
from tests.plugins.arb import test_arb_pricing_kit as kit
from tests.plugins.arb.decimal_reference import DecimalPricer
from tests.plugins.arb.test_arb_pricing_kit import MARKET, D, pool, pricer

PD, QD = 2, 8  # SOL/USDC on Kraken: cents, 1e-8 SOL


def fields(e) -> tuple:
    return (e.direction, e.size, e.cex_limit_price, e.cex_avg_price, e.dex_limit_price, e.gross_pnl, e.costs,
            e.net_pnl, e.net_bps, e.tradable, e.gross_bps, e.notional, e.dex_limit_quote, e.limited_by, e.reason)


def reference(p: DecimalPricer, book: BookUpdate, inventory: Inventory) -> tuple:
    """Both directions priced from the Decimal levels, every decision made in Decimal (the size search too)."""
    mid = p._priced_mid
    with localcontext(_EXACT):
        sol = book.mid or book.best_bid or book.best_ask or mid
        out = []
        for direction, levels in ((Direction.BUY_CEX_SELL_DEX, book.asks), (Direction.BUY_DEX_SELL_CEX, book.bids)):
            fees = p._cost[direction].in_quote(sol)
            buy_cex = direction is Direction.BUY_CEX_SELL_DEX
            span = [1, False, None]
            if not levels:
                out.append(p.decimal_direction(direction, levels, inventory, fees, span, True))
                continue
            touch = levels[0][0]
            edge, ref = (mid - touch, touch) if buy_cex else (touch - mid, mid)
            if edge <= 0:
                gross_bps = _DISPLAY.divide(edge * BPS, ref)
                out.append(p._nothing(direction, _no_edge_reason(buy_cex, touch, mid), gross_bps))
                continue
            hc, me = p._haircut * ref, p._min_edge_rate * ref
            if buy_cex:
                margin = mid * (1 - p._pool_fee) - touch * (1 + p._cex_fee) - hc - me
            else:
                margin = touch * (1 - p._cex_fee) - mid * (1 + p._pool_fee) - hc - me
            out.append(p.decimal_direction(direction, levels, inventory, fees, span, margin <= 0))
    return tuple(out)


def decimal_pricer(the_pool, **overrides) -> DecimalPricer:
    p = DecimalPricer(kit.settings(**overrides), MARKET, "SOL", "USDC")
    p.set_pool(the_pool)
    return p


def view(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> BookUpdate:
    book = OrderBook(PD, QD)
    for price, qty in bids:
        book.set_bid(price, qty)
    for price, qty in asks:
        book.set_ask(price, qty)
    return BookUpdate.of_book("cex", "SOL/USDC", book, 10, 0)


@st.composite
def side(draw, touch: int, step: int) -> list[tuple[int, int]]:
    levels, price = [], touch
    for _ in range(draw(st.integers(0, 4))):
        if price <= 0:
            break
        levels.append((price, draw(st.integers(1, 2_000)) * 10**QD // draw(st.sampled_from([1, 10, 100]))))
        price += step * draw(st.integers(1, 50))
    return levels


@st.composite
def scenes(draw):
    sol = draw(st.integers(100, 50_000))
    price = draw(st.integers(20, 300))
    the_pool = pool(sol, sol * price + draw(st.integers(0, sol)), draw(st.integers(0, 60)))
    overrides = {
        "size_step": draw(st.sampled_from([D("0.1"), D(1)])),
        "min_size": D(draw(st.integers(0, 20))) / 10,
        "min_edge_bps": D(draw(st.integers(0, 300))) / 10,
        "cex_taker_fee_bps": D(draw(st.integers(0, 30))),
        "latency_haircut_bps": D(draw(st.integers(0, 50))) / 10,
        "max_cex_slippage_bps": D(draw(st.integers(0, 300))),
        "max_dex_impact_bps": D(draw(st.integers(1, 300))),
        "max_notional": D(draw(st.integers(10, 50_000))),
    }
    inventory = Inventory(*(D(draw(st.integers(0, 10**7))) / 100 for _ in range(4)))
    # each direction's swap its own cost: a route's compute-unit limit, the rent of an output account it creates
    swap_fees = {d: SwapFee(5_000, draw(st.integers(0, 1_400_000)), draw(st.sampled_from([0, 2_039_280])))
                 for d in Direction}
    p = pricer(the_pool, **overrides)
    p._gates(PD, QD)  # the thresholds the touches are drawn around
    anchors = {
        "ask edge": p._ask_edge_below, "ask hopeless": p._ask_hopeless_from,
        "bid edge": p._bid_edge_above, "bid hopeless": p._bid_hopeless_to or p._bid_edge_above,
    }
    ticks = []
    for _ in range(draw(st.integers(1, 4))):
        ask = anchors[draw(st.sampled_from(["ask edge", "ask hopeless"]))] + draw(st.integers(-3, 3))
        bid = anchors[draw(st.sampled_from(["bid edge", "bid hopeless"]))] + draw(st.integers(-3, 3))
        if draw(st.booleans()):  # a dislocation deeper than the thresholds
            shift = draw(st.integers(-price * 3, price * 3))  # up to 3 % of the mid, in cents
            ask, bid = ask + shift, bid + shift
        asks = draw(side(max(1, ask), 1))
        bids = draw(side(max(1, bid), -1))
        bids = [(p_, q) for p_, q in bids if not asks or p_ < asks[0][0]]  # an uncrossed book
        ticks.append((bids, asks))
    return the_pool, overrides, inventory, ticks, swap_fees


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_the_integer_path_decides_as_the_decimal_reference(scene):
    the_pool, overrides, inventory, ticks, swap_fees = scene
    on_views, on_decimals = pricer(the_pool, **overrides), pricer(the_pool, **overrides)
    fresh = decimal_pricer(the_pool, **overrides)
    for direction, fee in swap_fees.items():
        for p in (on_views, on_decimals, fresh):
            p.set_swap_fee(fee, direction)
    for bids, asks in ticks:
        tick = view(bids, asks)
        decimal_made = BookUpdate("cex", "SOL/USDC", tick.bids, tick.asks, 0)
        want = reference(fresh, decimal_made, inventory)
        got = on_views.evaluate(tick, inventory)  # the memo carries over from tick to tick
        assert [fields(e) for e in got] == [fields(e) for e in want]
        # written alike too (the Decimals' exponents): an opportunity's id hashes their text, rows store it
        assert [repr(fields(e)) for e in got] == [repr(fields(e)) for e in want]
        assert [fields(e) for e in on_decimals.evaluate(decimal_made, inventory)] == [fields(e) for e in want]
        for e in got:
            event(f"{e.direction}: {'tradable' if e.tradable else 'priced' if e.size else 'no size'}")


def test_the_thresholds_sit_exactly_on_the_decimal_boundaries():
    # mid 150 exactly: an ask of 150.00 has no edge, 149.99 has; with fees the hopeless boundary is a
    # rational the Decimal margin crosses between two cents
    p = pricer(pool(1_000, 150_000, 30), cex_taker_fee_bps=D(10), latency_haircut_bps=D(2), min_edge_bps=D(10))
    p._gates(PD, QD)
    assert (p._ask_edge_below, p._bid_edge_above) == (15_000, 15_000)
    mid = p._priced_mid
    for t in (p._ask_hopeless_from - 1, p._ask_hopeless_from):
        touch = Decimal(t).scaleb(-PD)
        margin = mid * (1 - p._pool_fee) - touch * (1 + p._cex_fee) - (p._haircut + p._min_edge_rate) * touch
        assert (margin <= 0) is (t >= p._ask_hopeless_from)
    for t in (p._bid_hopeless_to, p._bid_hopeless_to + 1):
        touch = Decimal(t).scaleb(-PD)
        margin = touch * (1 - p._cex_fee) - mid * (1 + p._pool_fee) - (p._haircut + p._min_edge_rate) * mid
        assert (margin <= 0) is (t <= p._bid_hopeless_to)
    assert BPS == 10_000


@st.composite
def coarse_scenes(draw):
    """Books made from Decimals with few decimals (qty in tenths, prices in cents or tenths), a size step
    finer than the book's qty decimals, a market minimum notional, deep levels and loose caps (the size
    search goes well past the smallest size), and the pool moving between ticks."""
    sol = draw(st.integers(1_000, 50_000))
    price = draw(st.integers(20, 300))
    fee_bps = draw(st.integers(0, 60))
    overrides = {
        "size_step": draw(st.sampled_from([D("0.05"), D("0.25"), D("0.5")])),
        "min_size": D(draw(st.integers(0, 20))) / 10,
        "min_edge_bps": D(draw(st.integers(0, 300))) / 10,
        "cex_taker_fee_bps": D(draw(st.integers(0, 30))) / 2,
        "latency_haircut_bps": D(draw(st.integers(0, 50))) / 10,
        "max_cex_slippage_bps": D(draw(st.integers(50, 500))),
        "max_dex_impact_bps": D(draw(st.integers(30, 1_000))),
        "max_notional": D(draw(st.integers(1_000, 200_000))),
    }
    market = replace(MARKET, lot_size=D("0.05"), min_notional=D(draw(st.integers(0, 40))))
    inventory = Inventory(*(D(draw(st.integers(10**4, 10**8))) / 100 for _ in range(4)))
    cents = draw(st.sampled_from([D("0.01"), D("0.1")]))
    ticks = []
    reserve = sol * price
    for _ in range(draw(st.integers(1, 4))):
        if ticks and draw(st.booleans()):
            reserve += draw(st.integers(-reserve // 100, reserve // 100))
        the_pool = pool(sol, reserve, fee_bps)
        mid = the_pool.mid()
        dislocation = D(draw(st.integers(-300, 300))) / 10_000
        touch = (mid * (1 - dislocation)).quantize(cents)
        asks, bids = [], []
        ask, bid = (touch, touch - cents) if dislocation >= 0 else (touch + cents, touch)
        for _ in range(draw(st.integers(1, 5))):
            asks.append((ask, D(draw(st.integers(1, 5_000))) / 10))
            bids.append((bid, D(draw(st.integers(1, 5_000))) / 10))
            ask += cents * draw(st.integers(1, 20))
            bid -= cents * draw(st.integers(1, 20))
        bids = [(p_, q) for p_, q in bids if p_ > 0]
        ticks.append((the_pool, BookUpdate("cex", "SOL/USDC", tuple(bids), tuple(asks), 0)))
    return overrides, market, inventory, ticks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coarse_scenes())
def test_the_integer_size_search_decides_as_the_decimal_one(scene):
    """The whole size search (bisection, flat tops, min edge binding, caps) on integers hands back the Decimal
    search's evaluation: the same size and every figure, tick after tick through one pricer whose caches (per
    touch, per inventory, per pool state) carry over, on books whose decimals are coarser than the size step."""
    overrides, market, inventory, ticks = scene
    p = Pricer(kit.settings(**overrides), market, "SOL", "USDC")
    ref = DecimalPricer(kit.settings(**overrides), market, "SOL", "USDC")
    for the_pool, tick in ticks:
        p.set_pool(the_pool)
        ref.set_pool(the_pool)
        want = reference(ref, tick, inventory)
        got = p.evaluate(tick, inventory)
        assert [fields(e) for e in got] == [fields(e) for e in want]
        assert p.evaluate(tick, inventory) == got  # handed back by the memo
        for e in got:
            event(f"{e.direction}: {'tradable' if e.tradable else 'priced' if e.size else 'no size'}"
                  f"{', ' + e.limited_by if e.limited_by else ''}")
