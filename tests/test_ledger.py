"""The one accounting (bot/ledger.py): lots per strategy and market (the named lot, else FIFO), fees apart, periods;
display rounding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import units
from bot.domain import Fill, Liquidity, Side
from bot.ledger import (
    Position,
    daily,
    day_start_ns,
    market_figures,
    next_day_start_ns,
    period_start_ns,
    pnl_curve_drawdown,
    steps,
    strategy_figures,
)

D = Decimal
NS = 1_000_000_000


def fill(side: str, qty: str, price: str, *, fee: str = "0", fee_asset: str = "USD", symbol: str = "BTC/USD",
         exchange: str = "paper", ts: int = 0, order: str = "") -> Fill:
    return Fill(exchange=exchange, symbol=symbol, client_order_id=order or f"o{ts}", trade_id=f"t{ts}", side=Side(side),
                qty=D(qty), price=D(price), fee=D(fee), fee_asset=fee_asset, liquidity=Liquidity.MAKER, ts_ns=ts)


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * NS


def test_a_grid_round_trip_realizes_its_step_and_shows_fees_apart():
    fills = [("grid", fill("buy", "0.01", "29550", fee="0.4728", ts=1)),
             ("grid", fill("sell", "0.01", "29700", fee="0.4752", ts=2))]
    fig = strategy_figures(fills)["grid"]
    assert fig.realized == {"USD": D("1.5")}  # the 150 USD step on 0.01
    assert fig.fees == {"USD": D("0.948")}
    assert fig.net == {"USD": D("0.552")}
    assert fig.round_trips == 1 and fig.markets[0].position == 0


def test_sells_close_the_oldest_lots_first():
    book = Position()
    assert book.apply(Side.BUY, D(1), D(100)) == 0
    assert book.apply(Side.BUY, D(1), D(90)) == 0
    assert book.apply(Side.SELL, D("1.5"), D(95)) == D(-5) + D("2.5")  # 1 @100, then 0.5 @90
    assert [(lot.qty, lot.price) for lot in book.lots] == [(D("0.5"), D(90))]
    assert book.apply(Side.SELL, D(1), D(80)) == D(-5)  # closes 0.5 @90, opens a 0.5 short @80
    assert [(lot.qty, lot.price) for lot in book.lots] == [(D("-0.5"), D(80))]
    assert book.apply(Side.BUY, D("0.5"), D(70)) == D(5)
    assert not book.lots


def test_a_grid_holding_several_levels_shows_each_round_trip_as_its_step_minus_fees():
    # the demo's sequence: four buys down the grid, then the two lowest slots sell one step up, each
    # naming its own buy (OrderIntent.closes); FIFO would match them to the 30000 and 29850 buys: -3.00
    buys = [("o1", "30000", "0.48"), ("o2", "29850", "0.4776"), ("o3", "29700", "0.4752"), ("o4", "29550", "0.4728")]
    fills = [("grid", fill("buy", "0.01", price, fee=fee, ts=i, order=cid)) for i, (cid, price, fee) in enumerate(buys)]
    fills += [("grid", fill("sell", "0.01", "29700", fee="0.4752", ts=10, order="s4")),
              ("grid", fill("sell", "0.01", "29850", fee="0.4776", ts=11, order="s3"))]
    closes = {"s4": "o4", "s3": "o3"}
    got = list(steps(fills, closes=closes))
    assert [(s.realized, s.closed) for s in got[4:]] == [(D("1.5"), True), (D("1.5"), True)]  # one step each
    buy_fee = {s.fill.client_order_id: s.fee for s in got}
    round_trips = [s.realized - s.fee - buy_fee[closes[s.fill.client_order_id]] for s in got[4:]]
    assert round_trips == [D("0.552"), D("0.5472")]  # 1.50 - 0.4728 - 0.4752; 1.50 - 0.4752 - 0.4776
    fig = strategy_figures(fills, closes=closes, marks=lambda ex, sym: D("29850"))["grid"]
    assert (fig.realized, fig.round_trips, fig.markets[0].position) == ({"USD": D(3)}, 2, D("0.02"))
    assert fig.unrealized == {"USD": D("-1.5")}  # the lots left are the 30000 and 29850 buys
    assert strategy_figures(fills)["grid"].realized == {"USD": D(-3)}  # nothing named: FIFO


def test_a_named_lot_closes_first_as_far_as_it_goes_then_fifo():
    book = Position()
    book.apply(Side.BUY, D(1), D(100), order="a")
    book.apply(Side.BUY, D(1), D(90), order="b")
    book.apply(Side.BUY, D(1), D(80), order="c")
    assert book.apply(Side.SELL, D("1.5"), D(95), order="s", closes="c") == D(15) + D(-5) * D("0.5")  # c, then a
    assert [(lot.qty, lot.price, lot.order) for lot in book.lots] == [(D("0.5"), D(100), "a"), (D(1), D(90), "b")]
    assert book.apply(Side.SELL, D(1), D(95), closes="gone") == D(-5) * D("0.5") + D(5) * D("0.5")  # FIFO
    assert book.apply(Side.BUY, D(1), D(100), closes="b") == 0  # a lot of the same side is not closed by a buy
    assert [(lot.qty, lot.order) for lot in book.lots] == [(D("0.5"), "b"), (D(1), "")]


def test_an_arbitrage_closes_across_venues_and_a_base_fee_moves_the_position():
    # the DEX's network fee is paid in SOL, the base: the wallet received 9.99999 SOL, not 10, so the arbitrage
    # stays short the 0.00001 SOL the fee paid away (its value is a fee, at the fill's price)
    fills = [("arb", fill("sell", "10", "150.49", fee="1.5049", fee_asset="USDC", symbol="SOL/USDC",
                          exchange="cex", ts=1)),
             ("arb", fill("buy", "10", "150.09", fee="0.00001", fee_asset="SOL", symbol="SOL/USDC",
                          exchange="dex", ts=2))]
    m = market_figures(fills, marks=lambda ex, sym: D("151"))[("arb", "SOL/USDC")]
    assert m.realized == D("4.00")  # the 10 SOL bought back: the arbitrage's own figure
    assert m.fees == D("1.5049") + D("0.00001") * D("150.09")
    assert m.position == D("-0.00001") and m.round_trips == 1
    assert m.unrealized == (D("151") - D("150.09")) * D("-0.00001")  # the SOL the fee paid away, marked
    # what the account holds, marked: the same figure
    cash = D("10") * D("150.49") - D("1.5049") - D("10") * D("150.09")
    assert m.realized - m.fees + m.unrealized == cash + D("-0.00001") * D("151")


def test_the_base_fees_paid_away_make_no_round_trip_and_realize_nothing():
    # two arbitrages in turn, each paying 0.00001 SOL of network fee on the pool: each realizes its own spread,
    # two round trips, and the position is both fees
    sol = {"symbol": "SOL/USDC", "fee_asset": "SOL"}
    fills = [("arb", fill("sell", "10", "150.49", exchange="cex", ts=1, symbol="SOL/USDC")),
             ("arb", fill("buy", "10", "150.09", fee="0.00001", exchange="dex", ts=2, **sol)),
             ("arb", fill("buy", "5", "150.00", exchange="cex", ts=3, symbol="SOL/USDC")),
             ("arb", fill("sell", "5", "150.40", fee="0.00001", exchange="dex", ts=4, **sol))]
    assert [s.closed for s in steps(fills)] == [False, True, False, True]
    m = market_figures(fills, marks=lambda ex, sym: D("150.20") if ex == "dex" else None)[("arb", "SOL/USDC")]
    assert m.round_trips == 2 and m.position == D("-0.00002")
    assert m.realized == D("0.40") * 10 + D("0.40") * 5
    # the SOL the fees took, marked at the pool's mid, against what they were expensed at
    assert m.unrealized == D("0.00001") * D("150.09") + D("0.00001") * D("150.40") - D("0.00002") * D("150.20")


def _cash(fills: list) -> D:
    """The quote the fills moved, their fees in quote taken off: what the account gained once it holds its base."""
    return sum((f.qty * f.price * (1 if f.side is Side.SELL else -1) - (f.fee if f.fee_asset == "USDC" else 0)
                for _, f in fills), D(0))


SOL_FEE = {"symbol": "SOL/USDC", "fee_asset": "SOL"}
CEX = {"symbol": "SOL/USDC", "fee_asset": "USDC", "exchange": "cex"}


def test_a_hedge_that_buys_back_the_base_the_fees_took_leaves_nothing_open():
    # an arbitrage pays the pool's network fee in SOL (0.00001); the next one's swap fails and its hedge buys back
    # what its CEX leg sold and the SOL the fee took: the account holds the SOL it started with, and nothing is open
    fills = [("arb", fill("sell", "10", "150.49", fee="1.5049", ts=1, **CEX)),
             ("arb", fill("buy", "10", "150.09", fee="0.00001", exchange="dex", ts=2, **SOL_FEE)),
             ("arb", fill("sell", "10", "150.60", fee="1.506", ts=3, **CEX)),
             ("arb", fill("buy", "10.00001", "150.62", fee="1.50620001", ts=4, order="o3-hedge", **CEX))]
    positions: dict = {}
    got = list(steps(fills, positions))
    book = positions[("arb", "SOL/USDC")]
    assert book.qty == 0 and not book.held  # before: a lot of the 0.00001 bought back, and the fee's 0.00001 paid
    # the SOL the fee took, expensed at 150.09, bought back at 150.62: 0.0000053 more, realized by the hedge
    assert got[3].realized == D("10") * (D("150.60") - D("150.62")) + D("0.00001") * (D("150.09") - D("150.62"))
    for mark in (D(140), D("150.5"), D(160)):
        m = market_figures(fills, marks=lambda ex, sym, m=mark: m)[("arb", "SOL/USDC")]
        assert m.unrealized == 0 and m.net == _cash(fills)  # flat: the net is what the account gained
    # the next arbitrage realizes its own spread (before: its CEX sell closed the lot bought back first)
    more = [("arb", fill("sell", "10", "150.70", ts=5, **CEX)),
            ("arb", fill("buy", "10", "150.30", fee="0.00001", exchange="dex", ts=6, **SOL_FEE))]
    assert [s.realized for s in steps(fills + more)][4:] == [0, D("4.00")]


def test_a_hedge_that_sells_less_to_keep_the_base_the_fees_took_leaves_nothing_open():
    # the mirror: the fee's 0.00001 SOL is short when the next arbitrage buys 10 on the CEX and its swap fails; its
    # hedge sells back 9.99999, keeping what the fee took: the account holds what it started with
    fills = [("arb", fill("buy", "10", "150.00", ts=1, **CEX)),
             ("arb", fill("sell", "10", "150.40", fee="0.00001", exchange="dex", ts=2, **SOL_FEE)),
             ("arb", fill("buy", "10", "150.10", ts=3, **CEX)),
             ("arb", fill("sell", "9.99999", "150.05", ts=4, order="o3-hedge", **CEX))]
    positions: dict = {}
    got = list(steps(fills, positions))
    book = positions[("arb", "SOL/USDC")]
    assert book.qty == 0 and not book.held
    assert got[3].realized == D("9.99999") * (D("150.05") - D("150.10")) + D("0.00001") * (D("150.40") - D("150.10"))
    m = market_figures(fills, marks=lambda ex, sym: D(149))[("arb", "SOL/USDC")]
    assert m.unrealized == 0 and m.net == _cash(fills)


def test_a_buy_past_the_base_the_fees_took_opens_a_lot_and_leaves_that_base_apart():
    # a new position, not a buy-back: the fee's base stays paid away (marked), the buy is a lot of what it bought
    fills = [("arb", fill("sell", "10", "150.49", ts=1, **CEX)),
             ("arb", fill("buy", "10", "150.09", fee="0.00001", exchange="dex", ts=2, **SOL_FEE)),
             ("arb", fill("buy", "5", "150.00", ts=3, **CEX))]
    positions: dict = {}
    assert [s.realized for s in steps(fills, positions)] == [0, D("4.00"), 0]
    book = positions[("arb", "SOL/USDC")]
    assert [(lot.qty, lot.price) for lot in book.lots] == [(D(5), D("150.00"))] and book.qty == D("4.99999")


def test_part_of_the_base_the_fees_took_bought_back_realizes_its_share_exactly():
    # three fees of 0.00001 SOL at different prices, 0.00001 of it bought back: the rest stays paid away, and
    # realized plus what stays marked add up to the account exactly (a third of the expensed value has no decimal)
    fills = [("arb", fill("sell", "0", price, fee="0.00001", exchange="dex", ts=i, **SOL_FEE))
             for i, price in enumerate(("150", "151", "152.5"), 1)]
    fills.append(("arb", fill("buy", "0.00001", "151", ts=4, **CEX)))
    for mark in (D(140), D("151.3")):
        m = market_figures(fills, marks=lambda ex, sym, m=mark: m)[("arb", "SOL/USDC")]
        assert m.position == D("-0.00002")
        with localcontext(prec=200):
            assert m.net + m.unrealized == _cash(fills) + m.position * mark


def test_every_figure_is_exact_whatever_the_callers_context():
    # a pool's price has ~50 digits: the steps, the days and the market figures agree to the last one
    pool = "150.0912345678901234567890123456789012345678901"
    pool2 = "150.0798765432109876543210987654321098765432109"
    fills = [("arb", fill("sell", "3", "150.49", symbol="SOL/USDC", exchange="cex", ts=1)),
             ("arb", fill("sell", "7", "150.47", symbol="SOL/USDC", exchange="cex", ts=2)),
             ("arb", fill("buy", "6", pool, fee="0.00001", fee_asset="SOL", symbol="SOL/USDC", exchange="dex", ts=3)),
             ("arb", fill("buy", "4", pool2, fee="0.00001", fee_asset="SOL", symbol="SOL/USDC", exchange="dex",
                          ts=4))]
    each = [s.realized for s in steps(fills)]  # booked with Decimal's default 28 digits out here
    m = market_figures(fills)[("arb", "SOL/USDC")]
    (day,) = daily(steps(fills))
    with localcontext(prec=200):
        assert sum(each, D(0)) == m.realized == day.realized == (D("3") * D("150.49") + D("7") * D("150.47")
                                                                - 6 * D(pool) - 4 * D(pool2))
    assert m.net == day.net


def test_a_fee_in_a_third_asset_is_left_apart_and_moves_no_position():
    fills = [("arb", fill("buy", "1", "1", fee="2", fee_asset="BONK", symbol="SOL/USDC", exchange="dex", ts=3))]
    m = market_figures(fills, marks=lambda ex, sym: D("151"))[("arb", "SOL/USDC")]
    assert m.other_fees == {"BONK": D(2)} and m.fees == 0
    assert m.position == 1 and m.unrealized == D(150)  # the lot bought at 1 marked to 151


def test_a_buy_fee_in_base_leaves_no_position_once_what_was_received_is_sold():
    # a venue charging buy fees in the base asset: the grid sells what it received; nothing is held after
    fills = [("grid", fill("buy", "0.01", "30000", fee="0.00001", fee_asset="BTC", ts=1, order="b")),
             ("grid", fill("sell", "0.00999", "30300", fee="0.302697", fee_asset="USD", ts=2, order="s"))]
    positions: dict = {}
    assert [s.closed for s in steps(fills, positions, closes={"s": "b"})] == [False, True]
    assert not positions[("grid", "BTC/USD")].held  # no lot of the fee's size left behind, one per round trip
    for mark in (D("25000"), D("30000"), D("35000")):
        fig = strategy_figures(fills, marks=lambda ex, sym, m=mark: m, closes={"s": "b"})["grid"]
        assert fig.markets[0].position == 0 and fig.unrealized == {"USD": 0}  # before: 0.00001 BTC, marked
    assert fig.round_trips == 1
    assert fig.realized == {"USD": D("300") * D("0.00999")}
    assert fig.fees == {"USD": D("0.00001") * D("30000") + D("0.302697")}
    # paid 300, received 302.697 - 0.302697: the net is the cash
    assert fig.net == {"USD": D("0.00999") * D("30300") - D("0.302697") - D("0.01") * D("30000")}


def test_a_sell_naming_its_buy_closes_what_that_buy_received_then_the_oldest():
    # buys of 1 with 0.0012 in base fees: 0.9988 received each; the first sell leaves 0.0008 below the lot size,
    # the second carries it: it closes its own buy's 0.9988, then 0.0002 of the oldest lot
    fills = [("g", fill("buy", "1", "100", fee="0.0012", fee_asset="BTC", ts=1, order="b1")),
             ("g", fill("sell", "0.998", "110", ts=2, order="s1")),
             ("g", fill("buy", "1", "100", fee="0.0012", fee_asset="BTC", ts=3, order="b2")),
             ("g", fill("sell", "0.999", "110", ts=4, order="s2"))]
    positions: dict = {}
    assert [s.realized for s in steps(fills, positions, closes={"s1": "b1", "s2": "b2"})] == [
        0, D("9.98"), 0, D("9.990")]
    book = positions[("g", "BTC/USD")]
    assert [(lot.order, lot.qty - lot.fee) for lot in book.lots] == [("b1", D("0.0006"))]  # b2's is gone
    assert book.qty == D("0.0006") and not book.paid


def test_a_sell_fee_in_base_takes_that_much_more_from_the_position():
    fills = [("s", fill("buy", "1", "100", ts=1)),
             ("s", fill("sell", "0.5", "110", fee="0.001", fee_asset="BTC", ts=2))]
    fig = strategy_figures(fills, marks=lambda ex, sym: D("120"))["s"]
    assert fig.markets[0].position == D("0.499")
    assert fig.realized == {"USD": D("10") * D("0.5")}
    assert fig.fees == {"USD": D("0.001") * D("110")}
    assert fig.unrealized == {"USD": D("20") * D("0.5") - D("10") * D("0.001")}  # the fee's base, worth 120 now


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 10_000), st.integers(9_000, 11_000),
                          st.integers(0, 30), st.sampled_from(["BTC", "USD"])), min_size=1, max_size=12),
       st.integers(9_000, 11_000))
def test_the_ledger_adds_up_to_what_the_account_holds_whatever_asset_the_fees_are_in(trades, mark):
    # realized - fees + unrealized == the quote cash moved + the base held at the mark, exactly
    fills, cash, held = [], D(0), D(0)
    for i, (side, qty_units, price, fee_units, fee_asset) in enumerate(trades):
        qty, fee = D(qty_units).scaleb(-4), D(fee_units).scaleb(-6 if fee_asset == "BTC" else -2)
        f = fill(side, str(qty), str(price), fee=str(fee), fee_asset=fee_asset, ts=i + 1)
        fills.append(("s", f))
        notional = qty * price
        cash += -notional if side == "buy" else notional
        held += qty if side == "buy" else -qty
        if fee_asset == "USD":
            cash -= fee
        else:  # the account pays a base fee in base
            held -= fee
    fig = strategy_figures(fills, marks=lambda ex, sym: D(mark))["s"]
    assert fig.markets[0].position == held
    assert fig.net["USD"] + fig.unrealized["USD"] == cash + held * mark


def test_a_period_counts_its_own_fills_against_lots_opened_before():
    fills = [("s", fill("buy", "1", "100", fee="0.1", ts=10)), ("s", fill("sell", "1", "110", fee="0.11", ts=20))]
    fig = strategy_figures(fills, since_ns=15)["s"]
    assert (fig.fills, fig.realized, fig.fees) == (1, {"USD": D(10)}, {"USD": D("0.11")})
    held = strategy_figures(fills[:1], since_ns=15, marks=lambda ex, sym: D(105))["s"]
    assert (held.fills, held.realized, held.unrealized) == (0, {"USD": D(0)}, {"USD": D(5)})


def test_steps_give_each_fill_its_realized_pnl_and_fee():
    fills = [("s", fill("buy", "1", "100", fee="0.1", ts=1)), ("s", fill("sell", "1", "101", fee="0.1", ts=2))]
    got = [(s.realized, s.closed, s.fee, s.net) for s in steps(fills)]
    assert got == [(0, False, D("0.1"), D("-0.1")), (D(1), True, D("0.1"), D("0.9"))]


amounts = st.integers(1, 500).map(lambda n: D(n) / 100)
prices = st.integers(1, 20_000).map(lambda n: D(n) / 100)
fill_lists = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["buy", "sell"]), amounts, prices,
                                st.sampled_from(["x", "y"])), max_size=40)


backs = st.lists(st.integers(1, 6), max_size=40)
"""How far back the lot each fill's order names is (see :func:`named_closes`)."""


def named_closes(backs: list[int]) -> dict[str, str]:
    """Fill ``i``'s order (``o{i}``) names the lot of fill ``i - backs[i]`` (which may be closed, or none)."""
    return {f"o{i}": f"o{i - back}" for i, back in enumerate(backs)}


@settings(max_examples=300, deadline=None)
@given(fill_lists, prices, backs)
def test_realized_plus_unrealized_is_the_mark_to_market_of_all_fills(rows, mark, names):
    fills = [(strategy, fill(side, str(q), str(p), exchange=ex, ts=i)) for i, (strategy, side, q, p, ex)
             in enumerate(rows)]
    figures = market_figures(fills, marks=lambda ex, sym: mark, closes=named_closes(names))
    for strategy in ("a", "b"):
        mine = [f for s, f in fills if s == strategy]
        cash = sum((f.qty * f.price * (1 if f.side is Side.SELL else -1) for f in mine), D(0))
        held = sum((f.qty if f.side is Side.BUY else -f.qty for f in mine), D(0))
        fig = figures.get((strategy, "BTC/USD"))
        realized = fig.realized if fig else D(0)
        unrealized = fig.unrealized if fig else D(0)
        assert realized + unrealized == cash + held * mark
        assert (fig.position if fig else 0) == held
    for strategy, _ in figures:  # lots never mix sides
        book = Position()
        for s, f in fills:
            if s == strategy:
                book.apply_fill(f, named_closes(names).get(f.client_order_id))
        assert len({lot.qty > 0 for lot in book.lots}) <= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), amounts, prices), max_size=40), backs)
def test_a_fill_naming_an_open_lot_realizes_against_that_lots_price(rows, names):
    fills = [fill(side, str(q), str(p), ts=i) for i, (side, q, p) in enumerate(rows)]
    closes = named_closes(names)
    book = Position()
    for f in fills:
        named = [lot for lot in book.lots if lot.order == closes.get(f.client_order_id)]
        opposite = bool(named) and (named[0].qty > 0) != (f.side is Side.BUY)
        held = sum((abs(lot.qty) for lot in named), D(0))
        realized = book.apply_fill(f, closes.get(f.client_order_id))
        if opposite and held >= f.qty:  # the named lot covers the fill: it alone is matched
            [lot] = named  # one fill opens one lot
            direction = 1 if f.side is Side.SELL else -1
            assert realized == (f.price - lot.price) * f.qty * direction
            assert abs(lot.qty) == held - f.qty


@settings(max_examples=100, deadline=None)
@given(fill_lists, st.integers(0, 40), backs)
def test_periods_add_up(rows, cut, names):
    fills = [(strategy, fill(side, str(q), str(p), exchange=ex, ts=i)) for i, (strategy, side, q, p, ex)
             in enumerate(rows)]
    closes = named_closes(names)
    whole = strategy_figures(fills, closes=closes)
    before = strategy_figures(fills[:cut], closes=closes)
    after = strategy_figures(fills, since_ns=cut, closes=closes)
    for name, fig in whole.items():
        b = before.get(name)
        a = after.get(name)
        assert fig.realized.get("USD", 0) == (b.realized.get("USD", 0) if b else 0) + (
            a.realized.get("USD", 0) if a else 0)


def test_day_week_month_starts_in_the_timezone():
    now = utc_ns(2026, 11, 18, 12)
    assert day_start_ns(now, "Europe/Berlin") == utc_ns(2026, 11, 17, 23)
    assert period_start_ns("week", now, "Europe/Berlin") == utc_ns(2026, 11, 15, 23)
    assert period_start_ns("month", now, "Europe/Berlin") == utc_ns(2026, 10, 31, 23)
    assert period_start_ns("day", now, "UTC") == utc_ns(2026, 11, 18)
    with pytest.raises(ValueError, match="period must be one of day, week, month"):
        period_start_ns("year", now, "UTC")


def test_a_daily_reset_at_a_time_of_day_across_a_clock_change():
    at = dt.time(8, 30)
    assert day_start_ns(utc_ns(2026, 11, 18, 6), "UTC", at) == utc_ns(2026, 11, 17, 8, 30)
    assert next_day_start_ns(utc_ns(2026, 11, 18, 6), "UTC", at) == utc_ns(2026, 11, 18, 8, 30)
    assert next_day_start_ns(utc_ns(2026, 11, 18, 8, 30), "UTC", at) == utc_ns(2026, 11, 19, 8, 30)
    # Berlin leaves summer time on 2026-10-25: the reset stays at 08:30 local (07:30 UTC after, 06:30 before)
    assert next_day_start_ns(utc_ns(2026, 10, 24, 7), "Europe/Berlin", at) == utc_ns(2026, 10, 25, 7, 30)


@pytest.mark.parametrize(("value", "asset", "shown"), [
    (D("37.069440020000000000000000"), "USDC", "37.07 USDC"),
    (D("-3.3336"), "USD", "-3.33 USD"),
    (D("0.0000455"), "SOL", "0.0000455 SOL"),
    (D("0.004"), "USD", "0.004 USD"),
    (D("0"), "USD", "0.00 USD"),
    (D("0"), "SOL", "0 SOL"),
    (D("1.23456789"), "BTC", "1.23457 BTC"),
    (D("150.09343838383838383838"), "SOL", "150.093 SOL"),
])
def test_money_for_people(value, asset, shown):
    assert units.money(value, asset) == shown


def test_prices_and_quantities_on_the_market_grid():
    assert units.price(D("150.0934383838"), D("0.01")) == "150.09"
    assert units.price(D("30000.004"), D("0.5")) == "30000.0"
    assert units.qty(D("9.9000000"), D("0.001")) == "9.900"
    assert units.qty(D("0.123456789")) == "0.123457"
    assert units.signed_money(D("1.1"), "USD") == "+1.10 USD"
    assert units.signed_money(D("-2.78"), "USD") == "-2.78 USD"


def test_max_drawdown_is_the_largest_fall_from_a_running_peak_the_start_included():
    assert pnl_curve_drawdown([]) == 0
    assert pnl_curve_drawdown([(1, D(5)), (2, D(9))]) == 0
    assert pnl_curve_drawdown([(1, D(-3)), (2, D(4))]) == 3  # the start (0) is a peak
    assert pnl_curve_drawdown([(1, D(10)), (2, D(4)), (3, D(12)), (4, D("5.5")), (5, D(20))]) == D("6.5")


def test_daily_sums_each_strategys_fills_per_utc_day():
    day1, day2 = utc_ns(2026, 3, 1, 23, 59), utc_ns(2026, 3, 2, 0, 1)
    fills = [("grid", fill("buy", "1", "100", fee="0.1", ts=day1)),
             ("grid", fill("sell", "1", "103", fee="0.1", ts=day2)),
             ("grid", fill("buy", "1", "101", ts=day2 + 1)),
             ("arb", fill("buy", "2", "50", symbol="SOL/USDC", fee="0.05", fee_asset="USDC", ts=day2))]
    rows = [(d.strategy, d.day, d.quote, d.fills, d.realized, d.fees, d.net) for d in daily(steps(fills))]
    assert rows == [("arb", "2026-03-02", "USDC", 1, 0, D("0.05"), D("-0.05")),
                    ("grid", "2026-03-01", "USD", 1, 0, D("0.1"), D("-0.1")),
                    ("grid", "2026-03-02", "USD", 2, 3, D("0.1"), D("2.9"))]


def test_a_fill_of_no_quantity_books_its_base_fee_and_closes_nothing():
    """A DEX swap that landed failed: nothing moved but the network fee in SOL, reported as a fill of no quantity."""
    opened = fill("buy", "2", "150", symbol="SOL/USDC", ts=1)
    fee_only = fill("sell", "0", "150", fee="0.000015", fee_asset="SOL", symbol="SOL/USDC", ts=2)
    assert fee_only.base_change == D("-0.000015")  # what the portfolio's SOL position loses
    (fig,) = market_figures([("s", opened), ("s", fee_only)]).values()
    assert fig.round_trips == 0 and fig.realized == 0 and fig.sold == 0
    assert fig.fees == D("0.000015") * 150 and fig.position == D("1.999985")


def test_a_fee_only_entry_counts_in_fees_and_pnl_but_not_among_the_fills():
    """A Jupiter swap that landed failed pays its network fee: a fill of quantity 0. It is a cost, not a trade."""
    opened = fill("buy", "2", "150", fee="0.3", fee_asset="USDC", symbol="SOL/USDC", ts=1)
    fee_only = fill("sell", "0", "150", fee="0.000015", fee_asset="SOL", symbol="SOL/USDC", ts=2)
    (fig,) = market_figures([("s", opened), ("s", fee_only)]).values()
    assert fig.fills == 1  # the trade alone
    assert fig.fee_only == 1  # the fee-only entry, apart
    assert fig.fees == D("0.3") + D("0.000015") * 150  # the fee still counts
    [s] = strategy_figures([("s", opened), ("s", fee_only)]).values()
    assert (s.fills, s.fee_only) == (1, 1)
    [day] = daily(steps([("s", opened), ("s", fee_only)]))
    assert (day.fills, day.fees) == (1, fig.fees)


def test_a_time_ordered_position_books_fills_arriving_in_any_order_as_the_ledger_replays_them():
    import random

    from bot.ledger import TimeOrderedPosition, steps

    rng = random.Random(7)
    fills = [Fill("v", "BTC/USD", f"o{i}", f"t{i}", rng.choice([Side.BUY, Side.SELL]), Decimal(rng.randint(90, 110)),
                  Decimal(rng.randint(1, 3)), Decimal("0.01"), rng.choice(["USD", "BTC"]), Liquidity.TAKER, i)
             for i in range(40)]
    arrived = fills[:]
    rng.shuffle(arrived)
    book, nets = TimeOrderedPosition(), {}
    for f in arrived:
        for ts_ns, change in book.book(f):
            nets[ts_ns] = nets.get(ts_ns, Decimal(0)) + change
    ledger = {s.fill.ts_ns: s.net for s in steps(("s", f) for f in fills)}
    assert {ts: net for ts, net in nets.items() if net} == {ts: net for ts, net in ledger.items() if net}
    assert book.position.qty == sum((f.base_change for f in fills), Decimal(0))


def test_the_equity_curve_marks_open_lots_at_the_mid_in_force_and_its_drawdown_sees_an_unrealized_loss():
    from bot.ledger import equity_curves

    fills = [("grid", fill("buy", "1", "100", fee="0.1", ts=1 * NS)),
             ("grid", fill("sell", "1", "104", fee="0.1", ts=4 * NS))]
    marks = [(0, "paper", "BTC/USD", D(100)), (2 * NS, "paper", "BTC/USD", D(90)),
             (3 * NS, "paper", "BTC/USD", D(105)), (3 * NS, "other", "ETH/USD", D(7)),  # a market not held: no point
             (5 * NS, "paper", "BTC/USD", D(50))]  # nothing open any more: no point
    curve = equity_curves(fills, marks)["grid"]["USD"]
    assert curve == [(1 * NS, D("-0.1")), (2 * NS, D("-10.1")), (3 * NS, D("4.9")), (4 * NS, D("3.8"))]
    assert pnl_curve_drawdown(curve) == D("10.1")  # the realized curve alone fell 0.1: the 10 USD dip was unseen
    # the last point is the ledger's net (nothing open at the end)
    assert curve[-1][1] == strategy_figures(fills)["grid"].net["USD"]


def test_an_equity_curve_sums_a_strategys_markets_of_one_quote_and_keeps_quotes_apart():
    from bot.ledger import equity_curves

    fills = [("arb", fill("buy", "2", "10", symbol="SOL/USDC", ts=1)),
             ("arb", fill("buy", "1", "5", symbol="JUP/USDC", ts=2)),
             ("arb", fill("sell", "1", "30", symbol="ETH/EUR", ts=3))]
    marks = [(4, "paper", "SOL/USDC", D(11)), (5, "paper", "JUP/USDC", D(4)), (6, "paper", "ETH/EUR", D(31))]
    curves = equity_curves(fills, marks)["arb"]
    assert curves["USDC"] == [(4, D(2)), (5, D(1))]
    assert curves["EUR"] == [(6, D(-1))]
