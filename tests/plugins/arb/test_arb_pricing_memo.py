"""The pricer's per-direction memo: a tick that changes nothing an evaluation read gets it back.

A memoized pricer fed a stream of books that change one level (a size, a price, a level added or
removed) at a time must decide exactly what a fresh pricer decides on each book alone; and the memo
must be used where it may (a size change deeper than the walk, or at the touch while it still holds
the smallest size) and not where it may not (a touch too thin for the smallest size, a new pool).
Evaluations that are not tradable are handed back unsettled (their figures made when first read): read
late, after other ticks and pool moves, they show what they would have shown read at once.
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


def test_an_unsettled_evaluation_is_settled_on_its_pool_state_only_if_someone_holds_it():
    counting = Counting(pool(10_000, 1_610_000))  # mid 161, 30 bps fee
    p = pricer(counting)
    # no marginal edge either way (the pool's fee alone is 30 bps): decided without a quote
    held, _ = p.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)
    _, dropped = p.evaluate(book([("161.20", 5)], [("161.30", 5)]), RICH)
    assert counting.calls == 0 and not held.tradable and held.edge and dropped.edge
    del dropped
    p.set_pool(Counting(pool(10_000, 1_620_000)))  # a new pool state: what is still held is made on the old one
    assert counting.calls == 1 and p.pool.calls == 0
    fresh = pricer(pool(10_000, 1_610_000))
    assert decision(held) == decision(fresh.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)[0])
    assert held.size == 1 and p.pool.calls == 0


def moved(the_pool, draw_shift: int):
    """The same pool after another trader's swap (reserves shifted by whole SOL)."""
    base, quote = the_pool.pool.reserve_a, the_pool.pool.reserve_b
    return pool(base // 10**9 + draw_shift, quote // 10**6 + draw_shift * 150, the_pool.pool.fee_bps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.lists(st.integers(-50, 50), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_evaluations_read_late_show_what_read_at_once_shows(stream, shifts, rng):
    """Evaluations kept unread across later ticks and pool moves (settled when the pool state changes, or
    read on it) show exactly what the same evaluations read at once show; ``edge`` is ``gross_bps > 0``."""
    the_pool, books, min_edge = stream
    pools = [the_pool] + [moved(the_pool, shift) for shift in shifts]
    at_once = pricer(the_pool, min_edge_bps=min_edge, max_notional=D(50_000))
    late = pricer(the_pool, min_edge_bps=min_edge, max_notional=D(50_000))
    expected, kept = [], []
    for tick in books:
        if rng.random() < 0.3:
            next_pool = pools[rng.randrange(len(pools))]
            at_once.set_pool(next_pool)
            late.set_pool(next_pool)
        expected.append([decision(e) for e in at_once.evaluate(tick, RICH)])
        kept.append(late.evaluate(tick, RICH))
    late.set_pool(pools[0])
    assert [[decision(e) for e in pair] for pair in kept] == expected
    assert all(e.edge == (e.gross_bps > 0) for pair in kept for e in pair)


def test_a_lasting_pool_state_keeps_only_the_unsettled_evaluations_that_may_be_read():
    p = pricer(pool(10_000, 1_610_000))  # mid 161; buying on the CEX at 160.80 is hopeless (30 bps fee)

    def tick(qty: int):  # the same touch, a deeper level changing: each tick a new evaluation
        return book([("160.70", 5)], [("160.80", 5), ("160.90", qty)])

    held = p.evaluate(tick(1), RICH)[0]
    for qty in range(2, 12_000):
        assert p.evaluate(tick(qty), RICH)[0]._make is not None  # unread: nobody settles them
    assert len(p._pending) < 2 * 4096  # those nobody holds were dropped along the way
    assert held._make is not None
    p.set_pool(pool(10_000, 1_620_000))  # the one still held is made on the state it was decided on
    assert decision(held) == decision(pricer(pool(10_000, 1_610_000)).evaluate(tick(1), RICH)[0])


def test_a_reason_read_late_names_what_the_decision_saw():
    """A reason is formatted when first read: after the book's decimals or the pool state changed, it still
    names the quantities and prices of its own decision."""
    the_pool = pool(1_000, 50_000, 0)  # mid 50
    p = pricer(the_pool, min_edge_bps=D(0))
    thin = p.evaluate(book([("49.98", "0.01")], [("49.99", "0.01")]), RICH)[0]  # quantities in hundredths
    p.evaluate(book([("49.98", "0.5")], [("49.99", "0.3")]), RICH)  # now in tenths
    assert thin.reason == ("gross edge 2.0 bps, but the CEX book has only 0.01 SOL within 20 bps of the touch, "
                           "less than 1")

    impact = pricer(pool(10, 1_610), max_dex_impact_bps=D(5))  # 1 SOL moves a 10 SOL pool far beyond 5 bps
    expected = pricer(pool(10, 1_610), max_dex_impact_bps=D(5)).evaluate(book([], [("150", 5)]), RICH)[0].reason
    impacted = impact.evaluate(book([], [("150", 5)]), RICH)[0]
    impact.set_pool(pool(10, 1_700))  # another mid
    assert "price impact" in expected and impacted.reason == expected


def test_sol_fees_kept_across_pool_states_price_as_a_fresh_pricer_does():
    """The SOL fees of a CEX touch (its SOL price when SOL is the base) are kept across pool states, and dropped when
    the book's price decimals change (the same integer touch is another price then): every figure is a fresh
    pricer's."""
    books = [book([("160.00", "5")], [("160.10", "5")]),      # no edge / an edge per pool below
             book([("160.0", "5")], [("160.1", "5")]),        # the same touch in other decimals
             book([("1600.0", "5")], [("1601.0", "5")])]      # the same integers as the first, other decimals
    pools = [pool(10_000, 1_640_000), pool(10_000, 1_580_000), pool(10_000, 1_650_000), pool(10, 16_100, 10)]
    kept = pricer(pools[0])
    for the_pool in pools:
        kept.set_pool(the_pool)
        for b in books + books[::-1]:
            fresh = pricer(the_pool)
            assert [decision(e) for e in kept.evaluate(b, RICH)] == [decision(e) for e in fresh.evaluate(b, RICH)]
