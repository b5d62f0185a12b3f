"""The matching engine against a market put in known states: taker walks, resting fills, money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.api import InsufficientFunds, PermanentError, PostOnlyWouldCross
from bot.domain import Liquidity, MarketInfo, Order, OrderStatus, OrderType, Side, TimeInForce
from plugins.paper.engine import MatchingEngine
from plugins.paper.events import new_fill
from plugins.paper.market import MarketParams, SimulatedMarket
from plugins.paper.orders import PaperOrder

D = Decimal
LOT = 100_000  # lots per BTC (lot size 0.00001)


def make_engine(start_price="30000", maker="16", taker="26", fee_decimals=8, balances=None, open_orders=(),
                tick_size="0.01", lot_size="0.00001"):
    params = MarketParams(
        tick_size=D(tick_size), lot_size=D(lot_size), start_price=D(start_price), spread_ticks=10,
        level_step_ticks=10, depth_levels=10, level_qty=D("0.5"), volatility_bps=D("0.5"), seed=1,
    )
    market = SimulatedMarket("paper", "BTC/USD", params)
    rules = {"BTC/USD": MarketInfo("BTC/USD", "BTC", "USD", D(tick_size), D(lot_size), min_qty=D("0.0001"))}
    engine = MatchingEngine(
        "paper", {"BTC/USD": market}, rules, maker_fee_bps=D(maker), taker_fee_bps=D(taker),
        fee_decimals=fee_decimals, balances=balances or {"USD": D("100000"), "BTC": D("1")},
        open_orders=list(open_orders), last_order_seq=0, last_trade_seq=0,
    )
    return engine, market


def set_market(market, *, bid: str, bid_btc=(), ask_btc=(), trade=None):
    """Put the market in a known state: best bid, level sizes in BTC (best first), a public trade."""
    market.bid_ticks = int(D(bid) / market.tick_size)
    market.ask_ticks = market.bid_ticks + market.spread_ticks
    market.bid_lots = tuple(int(D(q) * LOT) for q in bid_btc)
    market.ask_lots = tuple(int(D(q) * LOT) for q in ask_btc)
    if trade is None:
        market.trade_lots = 0
    else:
        taker_side, price, qty = trade
        market.trade_ticks = int(D(price) / market.tick_size)
        market.trade_lots = int(D(qty) * LOT)
        market.trade_taker_buy = taker_side is Side.BUY


def order(cid, side, qty, price=None, *, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, post_only=False,
          symbol="BTC/USD"):
    return Order(
        client_order_id=cid, strategy="test", exchange="paper", symbol=symbol, side=side, qty=D(qty),
        price=None if price is None else D(price), order_type=order_type, tif=tif, post_only=post_only,
    )


def restored(cid, side, qty, price, *, fills=(), fee="0"):
    """A resting order as the state file gives it back (its fills and fee paid so far)."""
    return PaperOrder(
        client_order_id=cid, exchange_order_id=f"paper-o-{cid}", seq=1, symbol="BTC/USD", side=side,
        order_type=OrderType.LIMIT, tif=TimeInForce.GTC, post_only=False, qty=D(qty), price=D(price),
        status=OrderStatus.OPEN, created_ns=0, updated_ns=0, filled_qty=sum((f.qty for f in fills), D(0)),
        fee=D(fee), fills=list(fills),
    )


def balance(engine, asset):
    b = engine.balances()[asset]
    return b.free, b.total


# --- taking liquidity on arrival -------------------------------------------------------------


def test_crossing_buy_walks_the_ask_levels_up_to_its_limit():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("0.1", "0.2", "0.3"))

    placed = engine.place(order("a", Side.BUY, "0.25", "30000.20"), now_ns=5)

    assert placed.status is OrderStatus.FILLED
    assert [(f.price, f.qty, f.liquidity) for f in placed.fills] == [
        (D("30000.10"), D("0.1"), Liquidity.TAKER),
        (D("30000.20"), D("0.15"), Liquidity.TAKER),
    ]
    # 26 bps taker: 3000.010 * 0.0026 = 7.800026; 4500.030 * 0.0026 = 11.700078
    assert [f.fee for f in placed.fills] == [D("7.80002600"), D("11.70007800")]
    assert all(f.fee_asset == "USD" and f.ts_ns == 5 for f in placed.fills)
    assert placed.state().avg_fill_price == (D("3000.010") + D("4500.030")) / D("0.25")
    expected_usd = D("100000") - D("3000.010") - D("7.800026") - D("4500.030") - D("11.700078")
    assert balance(engine, "USD") == (expected_usd, expected_usd)
    assert balance(engine, "BTC") == (D("1.25"), D("1.25"))
    assert [f.trade_id for f in placed.fills] == ["paper-1", "paper-2"]


def test_crossing_sell_walks_the_bid_levels_down_to_its_limit():
    engine, market = make_engine()
    set_market(market, bid="30000.00", bid_btc=("0.1", "0.2", "0.3"))

    placed = engine.place(order("a", Side.SELL, "0.4", "29999.90"), now_ns=0)

    assert [(f.price, f.qty) for f in placed.fills] == [(D("30000.00"), D("0.1")), (D("29999.90"), D("0.2"))]
    assert placed.status is OrderStatus.OPEN and placed.filled_qty == D("0.3")
    # The rest (0.1 BTC) rests at 29999.90 and stays reserved.
    assert balance(engine, "BTC") == (D("0.6"), D("0.7"))
    fees = D("3000.000") * D("0.0026") + D("5999.980") * D("0.0026")
    assert balance(engine, "USD")[1] == D("100000") + D("3000.000") + D("5999.980") - fees


def test_rest_of_a_crossing_gtc_order_rests_and_reserves_quote_plus_max_fee():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("0.1", "0.2", "0.3"))

    placed = engine.place(order("a", Side.BUY, "0.5", "30000.20"), now_ns=0)

    assert placed.status is OrderStatus.OPEN and placed.filled_qty == D("0.3")
    assert engine.open_order("a") is placed
    # Reserve for the 0.2 left: 6000.040 + ceil(6000.040 * 0.0026 = 15.600104) = 6015.640104
    free, total = balance(engine, "USD")
    assert total - free == D("6015.64010400")


def test_ioc_cancels_what_does_not_fill_at_once():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("0.1", "0.2"))

    placed = engine.place(order("a", Side.BUY, "0.5", "30000.10", tif=TimeInForce.IOC), now_ns=0)

    assert placed.status is OrderStatus.CANCELLED and placed.filled_qty == D("0.1")
    assert engine.open_order("a") is None
    free, total = balance(engine, "USD")
    assert free == total  # nothing stays reserved


def test_market_buy_walks_the_book_and_cancels_what_it_cannot_fill():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("0.1", "0.2"))

    placed = engine.place(order("a", Side.BUY, "0.5", order_type=OrderType.MARKET), now_ns=0)

    assert [(f.price, f.qty) for f in placed.fills] == [(D("30000.10"), D("0.1")), (D("30000.20"), D("0.2"))]
    assert placed.status is OrderStatus.CANCELLED and placed.filled_qty == D("0.3")
    assert balance(engine, "BTC") == (D("1.3"), D("1.3"))


def test_market_sell_fills_at_the_bids():
    engine, market = make_engine()
    set_market(market, bid="30000.00", bid_btc=("1", "1"))

    placed = engine.place(order("a", Side.SELL, "0.5", order_type=OrderType.MARKET), now_ns=0)

    assert placed.status is OrderStatus.FILLED
    assert [(f.price, f.qty) for f in placed.fills] == [(D("30000.00"), D("0.5"))]
    assert balance(engine, "BTC") == (D("0.5"), D("0.5"))


def test_post_only_that_would_cross_is_refused_and_recorded():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("0.1",), bid_btc=("0.1",))

    with pytest.raises(PostOnlyWouldCross, match="would cross the best ask 30000.10"):
        engine.place(order("a", Side.BUY, "0.1", "30000.10", post_only=True), now_ns=0)
    with pytest.raises(PostOnlyWouldCross, match="best bid 30000.00"):
        engine.place(order("b", Side.SELL, "0.1", "29999.00", post_only=True), now_ns=0)

    changes = engine.take_changes()
    assert [(o.client_order_id, o.status) for o in changes.orders.values()] == [
        ("a", OrderStatus.REJECTED), ("b", OrderStatus.REJECTED),
    ]
    assert "would cross" in changes.orders["a"].reason
    assert not changes.fills
    # A post-only order that does not cross rests.
    assert engine.place(order("c", Side.BUY, "0.1", "30000.00", post_only=True), now_ns=0).status is OrderStatus.OPEN


# --- money ----------------------------------------------------------------------------------


def test_insufficient_funds_counts_what_resting_orders_reserve():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("5",), bid_btc=("5",))

    with pytest.raises(InsufficientFunds, match="insufficient USD"):
        engine.place(order("big", Side.BUY, "4", "29000.00"), now_ns=0)  # 116000 > 100000
    with pytest.raises(InsufficientFunds, match="insufficient BTC"):
        engine.place(order("sell", Side.SELL, "1.5", "31000.00"), now_ns=0)

    engine.place(order("first", Side.BUY, "3", "29000.00"), now_ns=0)  # reserves 87000 + 226.2 (26 bps fee)
    with pytest.raises(InsufficientFunds, match="needs 14537.70000000, 12773.80000000 is free"):
        engine.place(order("second", Side.BUY, "0.5", "29000.00"), now_ns=0)
    with pytest.raises(InsufficientFunds):
        engine.place(order("mkt", Side.BUY, "0.5", order_type=OrderType.MARKET), now_ns=0)
    assert balance(engine, "USD") == (D("12773.80"), D("100000"))


def test_cancel_releases_the_reservation():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("1",))
    placed = engine.place(order("a", Side.BUY, "1", "29000.00"), now_ns=0)
    assert balance(engine, "USD")[0] < D("100000")

    engine.cancel(placed, now_ns=9)

    assert placed.status is OrderStatus.CANCELLED and placed.updated_ns == 9
    assert balance(engine, "USD") == (D("100000"), D("100000"))
    assert engine.open_orders() == []


def test_fees_round_half_up_at_the_configured_precision():
    engine, market = make_engine(start_price="50", maker="16", taker="16", fee_decimals=2)
    set_market(market, bid="49.90", ask_btc=("1",))

    placed = engine.place(order("a", Side.BUY, "0.3125", "50.00"), now_ns=0)

    # 50.00 * 0.3125 = 15.625; 16 bps = 0.025 exactly: half up gives 0.03 (half even would give 0.02).
    assert [(f.price, f.fee) for f in placed.fills] == [(D("50.00"), D("0.03"))]
    assert balance(engine, "USD")[1] == D("100000") - D("15.625") - D("0.03")


def test_an_order_split_into_fills_pays_at_most_its_exact_fees_rounded_up_and_no_balance_goes_below_zero():
    # 10 bps, fees to cents. The buy (10.00 USD) reserves 10.00 + ceil(0.01) = 10.01, all the account
    # holds; it fills in two halves whose fees (0.005 each) would each round half up to 0.01.
    engine, market = make_engine(maker="10", taker="10", fee_decimals=2, balances={"USD": D("10.01"), "BTC": D("0")})
    set_market(market, bid="25000.00")  # ask 25000.10: the buy rests
    placed = engine.place(order("b", Side.BUY, "0.0004", "25000.00"), now_ns=1)

    seen = []
    for ts in (2, 3):
        set_market(market, bid="25000.00", trade=(Side.SELL, "25000.00", "0.0002"))
        engine.match(market, now_ns=ts)
        seen.append(balance(engine, "USD"))

    assert placed.status is OrderStatus.FILLED
    # The exact fees are 0.01: the second fill pays what the first left of them, nothing.
    assert [f.fee for f in placed.fills] == [D("0.01"), D("0.00")]
    assert seen == [(D("0.00"), D("5.00")), (D("0.00"), D("0.00"))]


def test_a_restored_partly_filled_buy_reserves_what_the_rest_may_still_cost():
    # The buy of the test above after its first fill and a restart: its exact fees (0.005) are taken
    # again from its fills, so the rest reserves 5.00 + ceil(0.005 + 0.005) - 0.01 paid = 5.00.
    first = new_fill("paper", "BTC/USD", "b", "paper-1", Side.BUY, D("25000.00"), D("0.0002"), D("0.01"), "USD",
                     Liquidity.MAKER, 2)
    buy = restored("b", Side.BUY, "0.0004", "25000.00", fills=[first], fee="0.01")
    engine, market = make_engine(maker="10", taker="10", fee_decimals=2,
                                 balances={"USD": D("5.00"), "BTC": D("0.0002")}, open_orders=[buy])
    assert balance(engine, "USD") == (D("0.00"), D("5.00"))

    set_market(market, bid="25000.00", trade=(Side.SELL, "25000.00", "0.0002"))
    engine.match(market, now_ns=3)

    assert buy.status is OrderStatus.FILLED and buy.fills[-1].fee == D("0.00")
    assert balance(engine, "USD") == (D("0.00"), D("0.00"))


@pytest.mark.parametrize(
    "bad, message",
    [
        (order("x", Side.BUY, "0.000015", "30000.00"), "not a multiple of the lot size 0.00001"),
        (order("x", Side.BUY, "0.00005", "30000.00"), "below the minimum 0.0001 BTC"),
        (order("x", Side.BUY, "0", "30000.00"), "must be above zero"),
        (order("x", Side.BUY, "0.1", "30000.005"), "not a multiple of the tick size 0.01"),
        (order("x", Side.BUY, "0.1"), "needs a price above zero"),
        (order("x", Side.BUY, "0.1", order_type=OrderType.MARKET, post_only=True), "cannot be post-only"),
        (order("x", Side.BUY, "0.1", "1.00", symbol="ETH/USD"), 'unknown symbol "ETH/USD"'),
    ],
)
def test_invalid_orders_are_refused_with_a_clear_message(bad, message):
    engine, _ = make_engine()
    with pytest.raises(PermanentError, match=message):
        engine.place(bad, now_ns=0)
    assert engine.take_changes().orders["x"].status is OrderStatus.REJECTED


# --- resting orders -------------------------------------------------------------------------


def test_resting_buy_fills_partially_when_the_asks_move_through_it():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("1",))
    resting = engine.place(order("a", Side.BUY, "1", "29990.00"), now_ns=0)
    engine.take_changes()

    # The ask drops to 29989.90: levels 29989.90 (0.1) and 29990.00 (0.2) are at or below our price.
    set_market(market, bid="29989.80", ask_btc=("0.1", "0.2", "0.7"))
    engine.match(market, now_ns=1)

    assert [(f.price, f.qty, f.liquidity) for f in resting.fills] == [(D("29990.00"), D("0.3"), Liquidity.MAKER)]
    # 16 bps maker on 8997.000: 14.3952
    assert resting.fills[0].fee == D("14.39520000")
    assert resting.status is OrderStatus.OPEN
    changes = engine.take_changes()
    assert list(changes.orders) == ["a"] and [f.qty for f in changes.fills["a"]] == [D("0.3")]

    # A seller prints 0.05 at 29985.00 (the asks left aside): 0.05 more, at our price.
    set_market(market, bid="29985.00", ask_btc=(), trade=(Side.SELL, "29985.00", "0.05"))
    engine.match(market, now_ns=2)
    assert [f.qty for f in resting.fills] == [D("0.3"), D("0.05")]
    assert resting.filled_qty == D("0.35")

    # A buyer's trade, or a seller's above our price, does not touch a resting buy.
    set_market(market, bid="29995.00", ask_btc=("1",), trade=(Side.SELL, "29995.00", "1"))
    engine.match(market, now_ns=3)
    set_market(market, bid="29985.00", ask_btc=(), trade=(Side.BUY, "29985.10", "1"))
    engine.match(market, now_ns=4)
    assert resting.filled_qty == D("0.35")

    # Reservation follows what is left: 0.65 * 29990 = 19493.5, + ceil(19493.5 * 0.0026) = 50.6831
    free, total = balance(engine, "USD")
    assert total - free == D("19493.5") + D("50.68310000")
    assert total == D("100000") - D("8997.000") - D("14.3952") - D("1499.500") - D("2.39920")
    assert balance(engine, "BTC")[1] == D("1.35")


def test_resting_sell_fills_when_the_bids_or_a_buyer_reach_it():
    engine, market = make_engine()
    set_market(market, bid="30000.00", bid_btc=("1",))
    resting = engine.place(order("s", Side.SELL, "0.5", "30010.00"), now_ns=0)

    set_market(market, bid="30010.00", bid_btc=("0.2", "1"))
    engine.match(market, now_ns=1)
    set_market(market, bid="30000.00", bid_btc=("1",), trade=(Side.BUY, "30010.10", "0.4"))
    engine.match(market, now_ns=2)

    assert [(f.price, f.qty) for f in resting.fills] == [(D("30010.00"), D("0.2")), (D("30010.00"), D("0.3"))]
    assert resting.status is OrderStatus.FILLED
    assert engine.open_orders() == []
    assert balance(engine, "BTC") == (D("0.5"), D("0.5"))


def test_resting_orders_share_liquidity_best_price_then_oldest_first():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("1",))
    old = engine.place(order("old", Side.BUY, "0.2", "29990.00"), now_ns=0)
    new = engine.place(order("new", Side.BUY, "0.2", "29990.00"), now_ns=0)
    best = engine.place(order("best", Side.BUY, "0.2", "29995.00"), now_ns=0)

    set_market(market, bid="29900.00", ask_btc=(), trade=(Side.SELL, "29990.00", "0.3"))
    engine.match(market, now_ns=1)

    assert (best.filled_qty, old.filled_qty, new.filled_qty) == (D("0.2"), D("0.1"), D("0"))
    assert best.fills[0].price == D("29995.00") and old.fills[0].price == D("29990.00")
    assert [o.client_order_id for o in engine.open_orders()] == ["old", "new"]


def test_a_restored_order_off_a_changed_tick_size_never_fills_beyond_its_limit():
    # Placed on a 0.01 grid; the venue restarts with tick_size 0.1. The buy rests at 29999.9, the sell
    # at 30000.1: the ticks next to their limits that do not pass them.
    buy = restored("b", Side.BUY, "0.1", "29999.95")
    sell = restored("s", Side.SELL, "0.1", "30000.05")
    engine, market = make_engine(tick_size="0.1", open_orders=[buy, sell])

    # Bids at 30000.0 and a seller printing there: past neither limit.
    set_market(market, bid="30000.0", bid_btc=("1",), trade=(Side.SELL, "30000.0", "1"))
    engine.match(market, now_ns=1)
    assert sell.fills == [] and buy.fills == []

    set_market(market, bid="30000.1", bid_btc=("1",), trade=(Side.SELL, "29999.9", "1"))
    engine.match(market, now_ns=2)
    assert [(f.price, f.qty) for f in sell.fills] == [(D("30000.1"), D("0.1"))]
    assert [(f.price, f.qty) for f in buy.fills] == [(D("29999.9"), D("0.1"))]


def restored_fill(cid, side, qty, price, trade_id):
    return new_fill("paper", "BTC/USD", cid, trade_id, side, D(price), D(qty), D(0), "USD", Liquidity.MAKER, 0)


@pytest.mark.parametrize(("filled", "fills_after", "status", "reason"), [
    # 0.25 placed on a 0.01 lot, 0.19 filled; the venue restarts with lot_size 0.1: the 0.06 left is below one lot
    ("0.19", [], OrderStatus.CANCELLED, "the rest, 0.06, is below the lot size 0.1 (changed since it was placed)"),
    # 0.05 filled: the 0.2 left is two new lots, filled exactly to the original size
    ("0.05", ["0.2"], OrderStatus.FILLED, ""),
    # 0.02 filled: two lots (0.2) of the 0.23 left can fill; the 0.03 after them is below a lot
    ("0.02", ["0.2"], OrderStatus.CANCELLED, "the rest, 0.03, is below the lot size 0.1 (changed since it was placed)"),
])
def test_a_restored_order_under_a_coarser_lot_size_never_fills_beyond_its_size(filled, fills_after, status, reason):
    sell = restored("s", Side.SELL, "0.25", "30000.00", fills=[restored_fill("s", Side.SELL, filled, "30000.00", "t0")])
    engine, market = make_engine(lot_size="0.1", open_orders=[sell], balances={"USD": D("0"), "BTC": D("1")})
    assert (sell.qty, sell.filled_qty) == (D("0.25"), D(filled))  # the stored size and fills, exact

    # buyers take everything at the sell's limit: it fills what whole lots of its rest allow, nothing more
    market.bid_ticks = int(D("30000.00") / market.tick_size)
    market.ask_ticks = market.bid_ticks + market.spread_ticks
    market.bid_lots, market.ask_lots, market.trade_lots = (100,), (), 0
    engine.match(market, now_ns=1)

    assert [f.qty for f in sell.fills[1:]] == [D(q) for q in fills_after]
    assert sell.filled_qty <= sell.qty and sell.status is status and sell.reason == reason
    assert engine.open_orders() == [] and balance(engine, "BTC")[0] == balance(engine, "BTC")[1]  # nothing held
    assert engine.changed  # the end goes to the state file with the next commit


def test_a_quiet_step_changes_nothing():
    engine, market = make_engine()
    set_market(market, bid="30000.00", ask_btc=("1",), bid_btc=("1",))
    engine.place(order("b", Side.BUY, "0.1", "29999.00"), now_ns=0)
    engine.place(order("s", Side.SELL, "0.1", "30001.00"), now_ns=0)
    engine.take_changes()

    set_market(market, bid="30000.00", ask_btc=("1",), bid_btc=("1",), trade=(Side.SELL, "30000.00", "1"))
    engine.match(market, now_ns=1)

    assert not engine.changed


def test_enum_fields_may_arrive_as_strings():
    engine, market = make_engine()
    set_market(market, bid="30000.00", bid_btc=("1",))
    loose = order("s", "sell", "0.1", "30100.00", tif="gtc")
    assert engine.place(loose, now_ns=0).side is Side.SELL
    with pytest.raises(PermanentError, match="invalid order"):
        engine.place(order("t", "short", "0.1", "30100.00"), now_ns=0)


def test_an_ioc_buy_reserves_the_taker_fee_so_what_the_arb_pricer_holds_is_enough():
    # Maker 40 bps above taker 10 bps. The arb pricer holds limit x size x (1 + taker fee): 3000.01 x 1.001.
    held = D("30000.10") * D("0.1") * (1 + D("0.001"))
    engine, market = make_engine(maker="40", taker="10", balances={"USD": held, "BTC": D(0)})
    set_market(market, bid="30000.00", ask_btc=("0.1",))  # the ask: 30000.10

    placed = engine.place(order("ioc", Side.BUY, "0.1", "30000.10", tif=TimeInForce.IOC), now_ns=0)

    assert placed.status is OrderStatus.FILLED and placed.fee == D("3.00001000")
    assert balance(engine, "USD") == (D(0), D(0)) and balance(engine, "BTC") == (D("0.1"), D("0.1"))


def test_a_buy_that_may_rest_still_reserves_the_higher_of_the_maker_and_taker_fees():
    held = D("30000.10") * D("0.1") * (1 + D("0.001"))
    engine, market = make_engine(maker="40", taker="10", balances={"USD": held, "BTC": D(0)})
    set_market(market, bid="30000.00", ask_btc=("0.1",))

    with pytest.raises(InsufficientFunds, match=r"needs 3012.01004000, 3003.010010 is free"):  # 40 bps reserved
        engine.place(order("gtc", Side.BUY, "0.1", "30000.10"), now_ns=0)
    engine.place(order("post", Side.BUY, "0.09", "29999.00", post_only=True), now_ns=0)
    assert balance(engine, "USD")[0] == held - D("2699.91") - D("10.79964")  # 2699.91 + 40 bps, not 10


def test_a_post_only_buy_reserves_the_maker_fee_it_can_only_pay():
    # Maker 16 bps below taker 26 bps: a post-only buy never takes (one that would cross is refused), so it can
    # only ever pay the maker fee. The whole of value x (1 + maker fee) free is enough; before, it needed the taker's.
    value = D("29999.00") * D("0.1")
    engine, market = make_engine(maker="16", taker="26", balances={"USD": value * (1 + D("0.0016")), "BTC": D(0)})
    set_market(market, bid="30000.00", ask_btc=("0.1",))  # the ask: 30000.10; the post-only buy below it rests

    placed = engine.place(order("post", Side.BUY, "0.1", "29999.00", post_only=True), now_ns=0)

    assert placed.status is OrderStatus.OPEN
    assert balance(engine, "USD")[0] == D(0)  # 2999.90 + 16 bps (0.479984) reserved, nothing more
    with pytest.raises(InsufficientFunds):  # a GTC buy may take: it still reserves the higher (taker) fee
        make_engine(maker="16", taker="26", balances={"USD": value * (1 + D("0.0016")), "BTC": D(0)})[0].place(
            order("gtc", Side.BUY, "0.1", "29999.00"), now_ns=0)
