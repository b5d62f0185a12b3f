"""breaker: N consecutive failures open the circuit, a cool-down, one probe; fee spikes open it too."""

from __future__ import annotations

import json

from bot.clock import ManualClock
from bot.domain import OrderState, OrderStatus, Side
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, fill, intent, risk_check, trips
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

PLUGINS = [("venue", venue_plugin), ("kit", kit_plugin)]
CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
[notifiers.rec]
type = "alerts"
[risk.breaker]
max_failures = 3
window_s = 60.0
cooldown_s = 30.0
max_fee_bps = "50"
"""


async def start(make_bot):
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    return bot, clock, bot.strategies["s"].ctx


async def place(bot, ctx, cid: str, fault: str | None = None) -> OrderStatus:
    if fault:
        bot.exchanges["v"].faults.append(fault)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", cid)) == cid
    await wait_for(lambda: bot.executor.order(cid).status in (OrderStatus.OPEN, OrderStatus.REJECTED))
    return bot.executor.order(cid).status


async def test_failures_open_the_circuit_then_cool_down_and_one_probe(make_bot):
    bot, clock, ctx = await start(make_bot)
    for n in range(2):
        assert await place(bot, ctx, f"r-{n}", "reject") is OrderStatus.REJECTED
    assert not trips(bot)
    await place(bot, ctx, "r-2", "reject")  # the third in a row: open
    [trip] = trips(bot)
    assert (trip.reason, trip.action, trip.exchange) == ("circuit opened: consecutive order failures",
                                                         "open circuit", "v")
    assert json.loads(trip.details)["failures"] == 3
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "circuit for v is open" in bot.store.risk_events(1)[0].reason
    clock.advance(29.999)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    clock.advance(0.001)  # cool-down over: half-open
    assert risk_check(bot, "breaker").status()["circuit v"].startswith("half-open")
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "probe")) == "probe"
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None  # one probe at a time
    await wait_for(lambda: bot.executor.order("probe").status is OrderStatus.OPEN)
    assert risk_check(bot, "breaker").status()["circuit v"].startswith("closed")
    assert await place(bot, ctx, "after") is OrderStatus.OPEN


async def test_a_failed_probe_opens_the_circuit_again(make_bot):
    bot, clock, ctx = await start(make_bot)
    for n in range(3):
        await place(bot, ctx, f"r-{n}", "reject")
    clock.advance(30)
    assert await place(bot, ctx, "probe", "reject") is OrderStatus.REJECTED
    assert [t.reason for t in trips(bot)] == ["circuit opened: consecutive order failures",
                                              "circuit re-opened: the probe order failed"]
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None


async def test_a_probe_that_ends_cancelled_closes_the_circuit(make_bot):
    """An IOC probe that found nothing at its limit ends CANCELLED: the venue answered, the circuit closes (it
    used to stay half-open with "its probe order in flight", vetoing every order until a restart)."""
    bot, clock, ctx = await start(make_bot)
    for n in range(3):
        await place(bot, ctx, f"r-{n}", "reject")
    clock.advance(30)  # cool-down over: half-open
    venue = bot.exchanges["v"]
    accepted_then_expired = venue.place_order

    async def ioc_miss(order):  # accepted, then expired unfilled
        await accepted_then_expired(order)
        state = venue.orders[order.client_order_id] = OrderState(order.client_order_id, OrderStatus.CANCELLED,
                                                                 exchange_order_id="X")
        return state

    venue.place_order = ioc_miss
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "probe")) == "probe"
    await wait_for(lambda: bot.executor.order("probe").status is OrderStatus.CANCELLED)
    venue.place_order = accepted_then_expired
    assert risk_check(bot, "breaker").status()["circuit v"].startswith("closed")
    clock.advance(3600)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "later")) == "later", bot.store.risk_events(1)[0].reason
    closed = "circuit closed: the venue answered the probe order"
    await wait_for(lambda: [a for a in Alerts.sent if a.message == closed])
    assert next(a for a in Alerts.sent if a.message == closed).fields["status"] == "cancelled"


async def test_a_probe_never_sent_holds_the_half_open_circuit_for_cooldown_s_at_most(make_bot):
    """The gate accepted the probe but it never left (dropped with its intent, refused by the executor): no update
    of it ever comes. After cooldown_s the next order is a new probe, whose answer settles the circuit."""
    bot, clock, ctx = await start(make_bot)
    for n in range(3):
        await place(bot, ctx, f"r-{n}", "reject")
    clock.advance(30)
    assert bot.risk.check(intent("s", Side.BUY, "0.01", "100", "dropped")) is None  # accepted, never sent
    clock.advance(29.999)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "its probe order dropped is in flight" in bot.store.risk_events(1)[0].reason
    clock.advance(0.001)
    assert await place(bot, ctx, "probe") is OrderStatus.OPEN
    assert risk_check(bot, "breaker").status()["circuit v"].startswith("closed")


async def test_a_success_or_the_window_restarts_the_count(make_bot):
    bot, clock, ctx = await start(make_bot)
    await place(bot, ctx, "r-0", "reject")
    await place(bot, ctx, "r-1", "reject")
    await place(bot, ctx, "ok-1")
    await place(bot, ctx, "r-2", "reject")
    await place(bot, ctx, "r-3", "reject")
    clock.advance(60.001)  # the two failures above fall out of the window
    await place(bot, ctx, "r-4", "reject")
    assert not trips(bot)


async def test_a_fee_above_its_bound_opens_the_circuit(make_bot):
    bot, clock, ctx = await start(make_bot)
    await place(bot, ctx, "f-1")
    await place(bot, ctx, "f-2")
    bot.bus.publish(fill("f-1", Side.BUY, "0.01", "100", fee="0.005"))  # exactly 50 bps
    assert not trips(bot)
    bot.bus.publish(fill("f-2", Side.BUY, "0.01", "100", fee="0.00501"))
    [trip] = trips(bot)
    assert trip.reason == "circuit opened: fee above its bound"
    assert json.loads(trip.details)["fee_bps"] == "50.10"
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None


async def test_a_fee_paid_in_the_base_asset_counts_at_the_fills_price(make_bot):
    """A CEX buy's fee taken from the coin bought is as much a fee as one in quote: 0.0000501 BTC on 0.01 BTC
    is 50.1 bps, above the bound; a fee in a third asset has no price here and is left to the ledger."""
    bot, clock, ctx = await start(make_bot)
    await place(bot, ctx, "b-1")
    await place(bot, ctx, "b-2")
    await place(bot, ctx, "b-3")
    bot.bus.publish(fill("b-1", Side.BUY, "0.01", "100", fee="0.00005", fee_asset="BTC"))  # exactly 50 bps
    bot.bus.publish(fill("b-2", Side.BUY, "0.01", "100", fee="1", fee_asset="SOL"))  # unpriced: not judged
    assert not trips(bot)
    bot.bus.publish(fill("b-3", Side.BUY, "0.01", "100", fee="0.0000501", fee_asset="BTC"))
    [trip] = trips(bot)
    assert trip.reason == "circuit opened: fee above its bound"
    details = json.loads(trip.details)
    assert (details["fee_bps"], details["fee"]) == ("50.10", "0.0000501 BTC")


async def test_an_order_only_observed_neither_probes_nor_closes_the_circuit(make_bot):
    """In observe mode an order is recorded, never sent: the venue answered nothing. It must not close a half-open
    circuit (the venue that failed would then take every order once observe is off) nor reset the failure count."""
    bot, clock, ctx = await start(make_bot)
    for n in range(2):
        await place(bot, ctx, f"r-{n}", "reject")
    bot.set_observe(True, "operator")
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "seen-1")) == "seen-1"
    await wait_for(lambda: bot.executor.order("seen-1").status is OrderStatus.OBSERVED)
    bot.set_observe(False, "operator")
    await place(bot, ctx, "r-2", "reject")  # the third failure in a row: the observed order was not a success
    assert [t.reason for t in trips(bot)] == ["circuit opened: consecutive order failures"]

    clock.advance(30)  # half-open
    bot.set_observe(True, "operator")
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "seen-2")) == "seen-2"
    await wait_for(lambda: bot.executor.order("seen-2").status is OrderStatus.OBSERVED)
    assert risk_check(bot, "breaker").status()["circuit v"].startswith("half-open")
    bot.set_observe(False, "operator")
    assert await place(bot, ctx, "probe", "reject") is OrderStatus.REJECTED  # the real probe: it fails
    assert trips(bot)[-1].reason == "circuit re-opened: the probe order failed"


async def test_an_open_circuit_and_its_probe_hold_across_a_restart(make_bot):
    """The open circuit is kept in the store's bot_state: a restart within cooldown_s does not send the next order
    straight to the failing venue; once the cool-down is over one probe goes, and an unanswered probe holds the
    circuit across a restart too."""
    bot, clock, ctx = await start(make_bot)
    risk_check(bot, "breaker").open("v", "circuit opened: consecutive order failures")
    clock.advance(10)
    await bot.stop()

    clock = ManualClock(clock.time_ns())
    second = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    ctx = second.strategies["s"].ctx
    assert risk_check(second, "breaker").status()["circuit v"].startswith("open")
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "circuit for v is open for 20.0s more" in second.store.risk_events(1)[0].reason
    clock.advance(20)  # cool-down over: one probe, which the gate accepts; no answer came before the stop
    probe = intent("s", Side.BUY, "0.01", "100", "probe-1")
    assert risk_check(second, "breaker").check(probe, second.portfolio) is None
    risk_check(second, "breaker").accepted(probe)
    await second.stop()

    third = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(clock.time_ns() + 1_000_000_000))
    ctx = third.strategies["s"].ctx
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "probe order probe-1 is in flight" in third.store.risk_events(1)[0].reason


async def test_unreadable_stored_circuits_start_open_for_a_cool_down(make_bot):
    bot, clock, ctx = await start(make_bot)
    bot.store.set_state("risk:breaker", "{not json")
    await bot.stop()
    clock = ManualClock(clock.time_ns())
    second = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    ctx = second.strategies["s"].ctx
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None  # fail closed
    clock.advance(30)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100", "probe-1")) == "probe-1"  # then one probe, as after a trip
