"""The pricer's per-direction memo: a tick that changes nothing an evaluation read gets it back.

A memoized pricer fed a stream of books that change one level (a size, a price, a level added or
removed) at a time must decide exactly what a fresh pricer decides on each book alone; and the memo
must be used where it may (a size change deeper than the walk, or at the touch while it still holds
the smallest size) and not where it may not (a touch too thin for the smallest size, a new pool).
``Pricer.prepare`` quotes the smallest size both ways once per pool state.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.pool import Pool
from plugins.arb.pricing import Inventory
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, book, pool, pricer

CENT = D("0.01")


def decision(e):
    return (e.direction, e.tradable, e.size, e.net_pnl, e.net_bps, e.costs, e.cex_limit_price, e.cex_avg_price,
            e.dex_limit_price, e.gross_bps, e.limited_by, e.reason)


def edit(draw, levels: list[list], sign: int) -> None:
    """One change to one side: a size, a level's removal, or a new level beyond the last."""
    kind = draw(st.sampled_from(("size", "size", "size", "remove", "add")))
    i = draw(st.integers(0, len(levels) - 1))
    if kind == "size" or (kind == "remove" and len(levels) == 1):
        levels[i][1] = D(draw(st.integers(1, 3_000))) / 100
    elif kind == "remove":
        del levels[i]
    else:
        levels.append([max(CENT, levels[-1][0] + sign * D(draw(st.integers(1, 30))) / 100),
                       D(draw(st.integers(1, 3_000))) / 100])


@st.composite
def streams(draw):
    sol = draw(st.integers(1_000, 20_000))
    price = draw(st.integers(50, 250))
    the_pool = pool(sol, sol * price, draw(st.integers(0, 40)))
    mid = the_pool.mid()
    dislocation = D(draw(st.integers(-150, 150))) / 10_000
    ask = max(CENT * 2, (mid * (1 - dislocation)).quantize(CENT))
    bid = ask - D(draw(st.integers(1, 30))) / 100
    asks = [[ask + CENT * j, D(draw(st.integers(1, 3_000))) / 100] for j in range(draw(st.integers(1, 4)))]
    bids = [[bid - CENT * j, D(draw(st.integers(1, 3_000))) / 100] for j in range(draw(st.integers(1, 4)))]
    books = [book([tuple(x) for x in bids], [tuple(x) for x in asks])]
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            edit(draw, asks, 1)
        else:
            edit(draw, bids, -1)
        books.append(book([tuple(x) for x in bids], [tuple(x) for x in asks]))
    min_edge = D(draw(st.integers(0, 60)))
    return the_pool, books, min_edge


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_a_memoized_pricer_decides_what_a_fresh_one_does(stream):
    the_pool, books, min_edge = stream
    memoized = pricer(the_pool, min_edge_bps=min_edge, max_notional=D(50_000))
    for tick in books:
        got = memoized.evaluate(tick, RICH)
        fresh = pricer(the_pool, min_edge_bps=min_edge, max_notional=D(50_000)).evaluate(tick, RICH)
        assert [decision(e) for e in got] == [decision(e) for e in fresh]


def test_the_memo_is_used_only_where_nothing_read_changed():
    p = pricer(pool(10_000, 1_610_000))  # mid 161
    # buy on the CEX at 160.80: no marginal edge (161 x 0.997 < 160.80 x 1.001), the smallest size (1 SOL) is
    # walked in the first level only
    first = p.evaluate(book([("160.70", 5)], [("160.80", 5), ("160.90", 5)]), RICH)[0]
    assert first.size == 1 and not first.tradable
    deeper = p.evaluate(book([("160.70", 5)], [("160.80", 5), ("160.90", 7)]), RICH)[0]
    assert deeper is first  # a size beyond the walk
    touch = p.evaluate(book([("160.70", 5)], [("160.80", 1), ("160.90", 5)]), RICH)[0]
    assert touch is first  # the touch still holds the smallest size
    thin = p.evaluate(book([("160.70", 5)], [("160.80", "0.5"), ("160.90", 5)]), RICH)[0]
    assert thin is not first and thin.size == 1 and thin.cex_limit_price == D("160.90")  # walks two levels now
    moved = p.evaluate(book([("160.70", 5)], [("160.81", "0.5"), ("160.90", 5)]), RICH)[0]
    assert moved is not thin and moved.cex_avg_price != thin.cex_avg_price
    again = p.evaluate(book([("160.70", 5)], [("160.81", "0.5"), ("160.90", 5)]), RICH)[0]
    assert again is moved
    poorer = Inventory(cex_base=D(100), cex_quote=D(100_000), dex_base=D(100), dex_quote=D(100_000))
    assert p.evaluate(book([("160.70", 5)], [("160.81", "0.5"), ("160.90", 5)]), poorer)[0] is not moved
    p.set_pool(pool(10_000, 1_610_001))  # a new pool state: nothing is reused
    assert p.evaluate(book([("160.70", 5)], [("160.81", "0.5"), ("160.90", 5)]), poorer)[0] is not moved


class Counting(Pool):
    """A pool that counts its quotes."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.base, self.quote = inner.base, inner.quote
        self.base_decimals, self.quote_decimals = inner.base_decimals, inner.quote_decimals

    def mid(self):
        return self.inner.mid()

    @property
    def fee_bps(self):
        return self.inner.fee_bps

    def sell_units(self, base_units):
        self.calls += 1
        return self.inner.sell_units(base_units)

    def buy_units(self, base_units):
        self.calls += 1
        return self.inner.buy_units(base_units)


def test_prepare_quotes_the_smallest_size_both_ways_once_per_pool_state():
    counting = Counting(pool(10_000, 1_610_000))  # mid 161, 30 bps fee
    p = pricer(counting)
    p.prepare()
    p.prepare()
    assert counting.calls == 2
    # no marginal edge either way (the pool's fee alone is 30 bps): only the smallest size is priced, already quoted
    buy_cex, _ = p.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)
    _, buy_dex = p.evaluate(book([("161.20", 5)], [("161.30", 5)]), RICH)
    assert counting.calls == 2 and buy_cex.size == buy_dex.size == 1
    fresh = pricer(pool(10_000, 1_610_000))
    assert decision(buy_cex) == decision(fresh.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)[0])
    assert decision(buy_dex) == decision(fresh.evaluate(book([("161.20", 5)], [("161.30", 5)]), RICH)[1])
    p.set_pool(Counting(pool(10_000, 1_610_000)))
    p.prepare()
    assert p.pool.calls == 2
