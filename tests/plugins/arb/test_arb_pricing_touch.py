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

from plugins.arb.pricing import Touch
from tests.plugins.arb.test_arb_pricing_kit import RICH, book, pool, pricer
from tests.plugins.arb.test_arb_pricing_memo import decision
from tests.plugins.arb.test_arb_pricing_property import scenes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_the_touch_and_the_edges_decide_as_the_full_evaluation(scene):
    ticks, overrides, inventory = scene
    quick, full = pricer(ticks[0][0], **overrides), pricer(ticks[0][0], **overrides)
    for the_pool, tick in ticks:
        quick.set_pool(the_pool)
        full.set_pool(the_pool)
        touch = quick.touch(tick)
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
    p.set_pool(pool(0, 0))  # an empty pool: nothing can be priced
    assert p.touch(book([("160.70", 5)], [("160.80", 5)])) == (Touch.NO_EDGE, Touch.NO_EDGE)
    assert p.edges(book([("160.70", 5)], [("160.80", 5)]), RICH) == (None, None)
