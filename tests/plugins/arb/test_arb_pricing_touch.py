"""What the touch alone decides (``Pricer.touch``) and the pair without the directions that have no edge
(``Pricer.edges``) agree with the full evaluation (``Pricer.evaluate``), on random pools, books and settings.

* NO_EDGE: ``edges`` hands back None, ``evaluate`` an evaluation without a gross edge;
* HOPELESS: an evaluation with an edge that is not tradable (whatever the book's other levels);
* OPEN: an evaluation with an edge, the same decision ``evaluate`` makes.

``Pricer.tradable`` (an episode going on), when it can tell, says what the full evaluation decides, and can tell
whenever that evaluation's best size is the smallest one.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from plugins.arb.pricing import Direction, Touch
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, book, pool, pricer
from tests.plugins.arb.test_arb_pricing_memo import decision
from tests.plugins.arb.test_arb_pricing_property import scenes

CENT = D("0.01")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_the_touch_and_the_edges_decide_as_the_full_evaluation(scene):
    ticks, overrides, inventory = scene
    quick, full = pricer(ticks[0][0], **overrides), pricer(ticks[0][0], **overrides)
    for the_pool, tick in ticks:
        quick.set_pool(the_pool)
        full.set_pool(the_pool)
        touch = quick.touch(tick)
        # alone: a direction's touch when the other has no edge (None when it has one), as touch decides them
        assert quick.alone(tick, Direction.BUY_CEX_SELL_DEX) == (touch[0] if touch[1] is Touch.NO_EDGE else None)
        assert quick.alone(tick, Direction.BUY_DEX_SELL_CEX) == (touch[1] if touch[0] is Touch.NO_EDGE else None)
        edges = quick.edges(tick, inventory)
        for at, edge, e in zip(touch, edges, full.evaluate(tick, inventory), strict=True):
            event(f"{e.direction}: {at.value}")
            if at is Touch.NO_EDGE:
                assert edge is None and not e.edge
                continue
            assert edge is not None and edge.edge and e.edge
            assert decision(edge) == decision(e)
            if at is Touch.HOPELESS:
                assert not e.tradable
            told = quick.tradable(e.direction, tick, inventory)
            event(f"tradable told: {told}, tradable: {e.tradable}")
            if told is not None:
                assert told is e.tradable
            elif e.tradable:
                assert e.size != quick._kmin * quick._step


def test_a_touch_without_a_level_or_a_pool_has_no_edge():
    p = pricer(pool(10_000, 1_610_000))  # mid 161
    assert p.touch(book(bids=[("163", 1)])) == (Touch.NO_EDGE, Touch.OPEN)  # no ask: no edge buying on the CEX
    assert p.edges(book(bids=[("163", 1)]), RICH)[0] is None
    assert p.touch(book([("160.70", 5)], [("160.80", 5)])) == (Touch.HOPELESS, Touch.NO_EDGE)  # 30 bps pool fee
    assert p.touch(book([("150", 5)], [("170", 5)])) == (Touch.NO_EDGE, Touch.NO_EDGE)
    assert p.alone(book([("160.70", 5)], [("160.80", 5)]), Direction.BUY_CEX_SELL_DEX) is Touch.HOPELESS
    assert p.alone(book(bids=[("163", 1)]), Direction.BUY_CEX_SELL_DEX) is None  # the other direction has an edge
    assert p.alone(book(bids=[("163", 1)]), Direction.BUY_DEX_SELL_CEX) is Touch.OPEN
    p.set_pool(pool(0, 0))  # an empty pool: nothing can be priced
    assert p.touch(book([("160.70", 5)], [("160.80", 5)])) == (Touch.NO_EDGE, Touch.NO_EDGE)
    assert p.alone(book([("160.70", 5)], [("160.80", 5)]), Direction.BUY_DEX_SELL_CEX) is Touch.NO_EDGE
    assert p.edges(book([("160.70", 5)], [("160.80", 5)]), RICH) == (None, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.data())
def test_what_tradable_kept_holds_while_the_levels_it_read_stand(scene, data):
    """``Pricer.tradable`` keeps each answer against the levels its walk read: a pricer asking tick after tick (the
    same touch; one level's size changed, the touch's own included, or a deeper level's price) answers as one that
    has kept nothing."""
    ticks, overrides, inventory = scene
    teller = pricer(ticks[0][0], **overrides)
    for the_pool, tick in ticks:
        teller.set_pool(the_pool)
        variants = [tick]
        for _ in range(data.draw(st.integers(1, 4))):
            bids, asks = list(variants[-1].bids), list(variants[-1].asks)
            side = data.draw(st.sampled_from([s for s in (bids, asks) if s] or [bids]))
            if side:
                i = data.draw(st.integers(0, len(side) - 1))
                price, qty = side[i]
                if i and data.draw(st.booleans()):  # a deeper level moves, between its neighbours
                    sign = 1 if side is asks else -1
                    room = (side[i + 1][0] - side[i - 1][0]) * sign if i + 1 < len(side) else D(1)
                    steps = int(room / CENT) - 1
                    if steps > 0:
                        price = side[i - 1][0] + sign * CENT * data.draw(st.integers(1, steps))
                else:
                    qty = D(data.draw(st.integers(1, 60_000))) / 100
                side[i] = (price, qty)
            variants.append(book(bids, asks))
        for variant in variants:
            fresh = pricer(the_pool, **overrides)
            for direction in Direction:
                told = teller.tradable(direction, variant, inventory)
                event(f"told: {told}")
                assert told is fresh.tradable(direction, variant, inventory)


def test_tradable_reads_again_a_level_that_the_slippage_cap_stopped_at():
    """The touch holds half the smallest size (1 SOL) and the next ask is past the 20 bps slippage cap: ruled out.
    That next level moving within the cap (the same touch) is read again: 0.5 at 160.00 and 0.5 at 160.10 clear
    10 bps against the pool's 161 (30 bps pool fee, 10 bps CEX fee, 2 bps haircut)."""
    p, buy_cex = pricer(pool(10_000, 1_610_000)), Direction.BUY_CEX_SELL_DEX
    assert p.tradable(buy_cex, book([("159", 5)], [("160.00", "0.5"), ("161.50", 50)]), RICH) is False
    assert p.tradable(buy_cex, book([("159", 5)], [("160.00", "0.5"), ("160.10", 50)]), RICH) is True


def test_alone_decides_at_each_threshold_as_touch():
    """``Pricer.alone`` on a touch exactly at each of the pool state's thresholds (random books seldom land there):
    the same verdicts as ``Pricer.touch``, the other side's edge deciding None."""
    p = pricer(pool(10_000, 1_610_000))  # mid 161: no edge from 161.00 either way
    p.touch(book([("150.00", 1)], [("170.00", 1)]))  # the thresholds, in cents (2 price decimals)
    buy_cex, buy_dex = Direction.BUY_CEX_SELL_DEX, Direction.BUY_DEX_SELL_CEX

    def at(units: int) -> str:
        return str(D(units).scaleb(-2))

    for ask in (p._ask_edge_below, p._ask_edge_below - 1, p._ask_hopeless_from, p._ask_hopeless_from - 1):
        for bid in (p._bid_edge_above, p._bid_edge_above + 1):
            tick = book([(at(bid), 1)], [(at(ask), 1)])
            mine, other = p.touch(tick)
            assert p.alone(tick, buy_cex) == (mine if other is Touch.NO_EDGE else None)
            assert p.alone(tick, buy_dex) == (other if mine is Touch.NO_EDGE else None)
    assert p._bid_hopeless_to is not None
    for bid in (p._bid_hopeless_to, p._bid_hopeless_to + 1):
        tick = book([(at(bid), 1)], [(at(p._ask_edge_below), 1)])
        assert p.alone(tick, buy_dex) is p.touch(tick)[1] is (Touch.HOPELESS if bid == p._bid_hopeless_to
                                                                 else Touch.OPEN)
