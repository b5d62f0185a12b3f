"""The one accounting (bot/ledger.py): FIFO lots per strategy and market, fees apart, periods; display rounding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import units
from bot.domain import Fill, Liquidity, Side
from bot.ledger import (
    Position,
    day_start_ns,
    market_figures,
    next_day_start_ns,
    period_start_ns,
    steps,
    strategy_figures,
)

D = Decimal
NS = 1_000_000_000


def fill(side: str, qty: str, price: str, *, fee: str = "0", fee_asset: str = "USD", symbol: str = "BTC/USD",
         exchange: str = "paper", ts: int = 0) -> Fill:
    return Fill(exchange=exchange, symbol=symbol, client_order_id=f"o{ts}", trade_id=f"t{ts}", side=Side(side),
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


def test_an_arbitrage_closes_across_venues_and_base_fees_count_at_the_fill_price():
    fills = [("arb", fill("sell", "10", "150.49", fee="1.5049", fee_asset="USDC", symbol="SOL/USDC",
                          exchange="cex", ts=1)),
             ("arb", fill("buy", "10", "150.09", fee="0.00001", fee_asset="SOL", symbol="SOL/USDC",
                          exchange="dex", ts=2)),
             ("arb", fill("buy", "1", "1", fee="2", fee_asset="BONK", symbol="SOL/USDC", exchange="dex", ts=3))]
    m = market_figures(fills, marks=lambda ex, sym: D("151") if ex == "dex" else None)[("arb", "SOL/USDC")]
    assert m.realized == D("4.00")
    assert m.fees == D("1.5049") + D("0.00001") * D("150.09")
    assert m.other_fees == {"BONK": D(2)}
    assert m.position == 1 and m.unrealized == D(150)  # the lot bought at 1 marked to 151


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


@settings(max_examples=300, deadline=None)
@given(fill_lists, prices)
def test_realized_plus_unrealized_is_the_mark_to_market_of_all_fills(rows, mark):
    fills = [(strategy, fill(side, str(q), str(p), exchange=ex, ts=i)) for i, (strategy, side, q, p, ex)
             in enumerate(rows)]
    figures = market_figures(fills, marks=lambda ex, sym: mark)
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
                book.apply(f.side, f.qty, f.price)
        assert len({lot.qty > 0 for lot in book.lots}) <= 1


@settings(max_examples=100, deadline=None)
@given(fill_lists, st.integers(0, 40))
def test_periods_add_up(rows, cut):
    fills = [(strategy, fill(side, str(q), str(p), exchange=ex, ts=i)) for i, (strategy, side, q, p, ex)
             in enumerate(rows)]
    whole = strategy_figures(fills)
    before = strategy_figures(fills[:cut])
    after = strategy_figures(fills, since_ns=cut)
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
