"""Refused orders alert once per cause, with a count, and a note when orders go through again; every refusal is
still logged and stored (the audit is not reduced)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import AlertLevel, OrderIntent, OrderState, OrderStatus, Side
from bot.risk import Veto
from tests.fakes.venue import ScriptedVenue
from tests.helpers.waiting import wait_for
from tests.test_execution import CONFIG, PLUGINS, final_status, venue


def intent(cid: str, symbol: str = "BTC/USD") -> OrderIntent:
    return OrderIntent("s", "v", symbol, Side.BUY, Decimal("0.1"), Decimal("100"), client_order_id=cid)


@pytest.fixture
async def bot(make_bot):
    ScriptedVenue.instances.clear()
    return await make_bot(CONFIG, extra=PLUGINS)


def heard(bot):
    seen = []
    bot.alerts.subscribe(seen.append, "test")
    return seen


def orders_alerts(seen):
    return [a for a in seen if a.kind == "order"]


async def test_a_burst_of_rejections_alerts_once_then_counts_then_notes_the_recovery(bot):
    seen = heard(bot)
    venue(bot).faults = ["reject"] * 20
    for n in range(20):
        bot.strategies["s"].ctx.submit(intent(f"r-{n}"))
    await wait_for(lambda: all(final_status(bot, f"r-{n}") is OrderStatus.REJECTED for n in range(20)))
    alerts = orders_alerts(seen)
    assert len(alerts) == 1, [a.message for a in alerts]  # twenty slots short of balance: one alert
    first = alerts[0]
    assert first.level is AlertLevel.WARNING
    assert all(part in first.message for part in ("s", "v", "BTC/USD", "rejected", "Insufficient funds")), first.message
    await wait_for(lambda: all(bot.store.get_order(f"r-{n}") is not None
                               and bot.store.get_order(f"r-{n}").status is OrderStatus.REJECTED for n in range(20)))

    bot.strategies["s"].ctx.submit(intent("ok-1"))  # funded: orders go through again
    await wait_for(lambda: final_status(bot, "ok-1") is OrderStatus.OPEN)
    notes = orders_alerts(seen)[1:]
    assert len(notes) == 1, [a.message for a in notes]
    assert notes[0].level is AlertLevel.INFO and "go through again" in notes[0].message
    assert "19 more like it" in notes[0].message, notes[0].message

    venue(bot).faults = ["reject"]  # a new episode is a new problem: heard at once
    bot.strategies["s"].ctx.submit(intent("r-again"))
    await wait_for(lambda: final_status(bot, "r-again") is OrderStatus.REJECTED)
    assert len(orders_alerts(seen)) == 3


async def test_a_rejection_still_going_on_is_recalled_with_its_count_after_the_window(bot):
    seen = heard(bot)
    venue(bot).faults = ["reject"] * 3
    bot.strategies["s"].ctx.submit(intent("w-0"))
    bot.strategies["s"].ctx.submit(intent("w-1"))
    await wait_for(lambda: final_status(bot, "w-1") is OrderStatus.REJECTED)
    assert len(orders_alerts(seen)) == 1
    bot.executor.refusals.repeat_s = 0  # the window is over
    bot.strategies["s"].ctx.submit(intent("w-2"))
    await wait_for(lambda: final_status(bot, "w-2") is OrderStatus.REJECTED)
    alerts = orders_alerts(seen)
    assert len(alerts) == 2 and "still" in alerts[1].message and "1 more like it" in alerts[1].message, alerts


async def test_another_cause_is_a_new_alert(bot):
    seen = heard(bot)
    venue(bot).faults = ["reject", "reject"]
    bot.strategies["s"].ctx.submit(intent("a-1"))
    bot.strategies["s"].ctx.submit(intent("b-1", symbol="ETH/USD"))
    await wait_for(lambda: final_status(bot, "b-1") is OrderStatus.REJECTED)
    assert sorted("ETH/USD" in a.message for a in orders_alerts(seen)) == [False, True]


async def test_a_risk_check_vetoing_every_tick_alerts_once_and_its_end(bot):
    seen = heard(bot)
    for n in range(30):
        bot.on_veto(intent(f"v-{n}"), Veto("max_position", f"position would be {n + 1} BTC, limit 1"))
    risk = [a for a in seen if a.kind == "risk"]
    assert len(risk) == 1, [a.message for a in risk]
    assert "max_position" in risk[0].message and "position would be 1 BTC" in risk[0].message
    bot.strategies["s"].ctx.submit(intent("p-1"))  # the check lets an order through: the veto is over
    ends = [a for a in seen if a.kind == "risk"][1:]
    assert len(ends) == 1 and ends[0].level is AlertLevel.INFO and "29 more like it" in ends[0].message, ends


async def test_an_order_the_venue_answers_rejected_is_alerted_like_one_it_refuses(bot):
    """A venue may answer a placement with a REJECTED state rather than raise (or report it on its private stream):
    the trader hears of it as of any rejection, once per cause."""
    seen = heard(bot)

    async def rejecting(self, order):
        return OrderState(order.client_order_id, OrderStatus.REJECTED, reason="EOrder:Post only order")

    venue(bot).place_order = rejecting.__get__(venue(bot))
    for n in range(5):
        bot.strategies["s"].ctx.submit(intent(f"j-{n}"))
    await wait_for(lambda: all(final_status(bot, f"j-{n}") is OrderStatus.REJECTED for n in range(5)))
    alerts = orders_alerts(seen)
    assert len(alerts) == 1 and "rejected" in alerts[0].message and "Post only" in alerts[0].message, alerts


async def test_a_strategy_sending_unplaceable_orders_every_tick_is_alerted_once_and_its_end(bot):
    """A strategy whose sizing went wrong sends a quantity below zero on every tick, each a different figure."""
    seen = heard(bot)
    for n in range(30):
        bad = OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal(f"-0.{n + 1}"), Decimal("100"))
        assert bot.strategies["s"].ctx.submit(bad) is None
    alerts = orders_alerts(seen)
    assert len(alerts) == 1 and alerts[0].level is AlertLevel.ERROR and "-0.1" in alerts[0].message, alerts
    bot.strategies["s"].ctx.submit(intent("fine-1"))
    ends = orders_alerts(seen)[1:]
    assert len(ends) == 1 and ends[0].level is AlertLevel.INFO and "29 more like it" in ends[0].message, ends


async def test_orders_to_a_real_venue_in_paper_mode_are_alerted_once(bot):
    seen = heard(bot)
    venue(bot).simulated = False  # a strategy that picks its venue at run time picked a real one
    for n in range(10):
        assert bot.strategies["s"].ctx.submit(intent(f"real-{n}")) is None
    alerts = orders_alerts(seen)
    assert len(alerts) == 1 and "paper mode" in alerts[0].message and "real venue" in alerts[0].message, alerts
    venue(bot).simulated = True
    assert bot.strategies["s"].ctx.submit(intent("sim-1")) is not None
    ends = orders_alerts(seen)[1:]
    assert len(ends) == 1 and "9 more like it" in ends[0].message, ends


async def test_a_closing_order_that_skips_the_checks_does_not_end_their_vetoes(bot):
    seen = heard(bot)
    for n in range(3):
        bot.on_veto(intent(f"cv-{n}"), Veto("limits", "daily loss limit exceeded"))
    assert bot.executor.submit(intent("flatten-1"), risk=False) is not None  # the host's flatten: no check asked
    assert [a.level for a in seen if a.kind == "risk"] == [AlertLevel.WARNING]
    bot.strategies["s"].ctx.submit(intent("after-1"))
    assert [a.level for a in seen if a.kind == "risk"] == [AlertLevel.WARNING, AlertLevel.INFO]


async def test_refusals_that_stop_without_an_order_going_through_are_reported_once_quiet(bot):
    """The strategy was paused after a burst of rejections: no order goes through and none is refused again. The
    episode's count is said once it has been quiet for the window, not left at the first alert's "1 rejection"."""
    seen = heard(bot)
    bot.executor.refusals.repeat_s = 0.2
    venue(bot).faults = ["reject"] * 5
    for n in range(5):
        bot.strategies["s"].ctx.submit(intent(f"q-{n}"))
    await wait_for(lambda: all(final_status(bot, f"q-{n}") is OrderStatus.REJECTED for n in range(5)))
    assert len(orders_alerts(seen)) == 1
    await wait_for(lambda: len(orders_alerts(seen)) == 2, what="the note that the refusals stopped")
    note = orders_alerts(seen)[1]
    assert note.level is AlertLevel.INFO and "no more" in note.message and "4 more like it" in note.message, note
    assert "5 in" in note.message, note.message
    venue(bot).faults = ["reject"]  # after the note, a refusal is a new problem: heard at once
    bot.strategies["s"].ctx.submit(intent("q-again"))
    await wait_for(lambda: final_status(bot, "q-again") is OrderStatus.REJECTED)
    assert len(orders_alerts(seen)) == 3 and "more like it are counted" in orders_alerts(seen)[2].message

