"""A pause outlives a crash or a restart: the kill switch, an operator's /pause and a risk check's trip hold until
/resume (or, for a risk check's, that check itself) lifts them; /resume clears them for the next run too."""

from __future__ import annotations

from bot.api import Caller, TransientError
from bot.domain import OrderStatus, Side
from tests.fakes.venue import KeptVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, intent, trips
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for
from tests.plugins.prediction.test_prediction import CONFIG, PLUGINS, result

ADMIN = Caller("test", "x", "admin")


async def test_a_risk_checks_trip_holds_across_a_restart_until_resume(make_bot):
    first = await make_bot(CONFIG, extra=PLUGINS)
    for _ in range(3):
        first.bus.publish(result("10", "-10"))
    assert first.strategies["arb"].paused and trips(first)
    await first.stop()

    second = await make_bot(CONFIG, extra=PLUGINS)  # the same store: nobody resumed it
    arb = second.strategies["arb"]
    assert arb.paused and second.strategy_state("arb") == "paused by risk prediction"
    assert arb.ctx.submit(intent("arb", Side.BUY, "0.01", "100")) is None
    second.resume(["arb"], "operator")
    await second.stop()

    third = await make_bot(CONFIG, extra=PLUGINS)
    assert not third.strategies["arb"].paused


async def test_the_kill_switch_and_an_operators_pause_hold_across_a_restart(make_bot):
    first = await make_bot(CONFIG, extra=PLUGINS)
    first.operator.pause(["arb"], ADMIN)
    await first.stop()
    second = await make_bot(CONFIG, extra=PLUGINS)
    assert second.strategies["arb"].paused and not second.killed("arb")
    second.kill("operator", "something is wrong")
    await second.stop()

    third = await make_bot(CONFIG, extra=PLUGINS)  # the runbook: "find the cause, then /resume"
    assert third.strategies["arb"].paused and third.killed("arb")
    reply = await third.commands.dispatch(Caller("telegram", "1", "operator"), "resume", ["arb"])
    assert reply.confirm_token  # resuming after the kill switch asks first, after a restart too


async def test_a_strategy_left_out_of_a_run_keeps_its_pause_for_the_next(make_bot):
    first = await make_bot(CONFIG, extra=PLUGINS)
    first.operator.pause(["other"], ADMIN)
    await first.stop()
    without = await make_bot(CONFIG.replace('[strategies.other]\ntype = "recorder"\n', ""), extra=PLUGINS)
    assert "other" not in without.strategies
    without.resume(["arb"], "operator")  # a change of the pauses while it is left out
    await without.stop()
    again = await make_bot(CONFIG, extra=PLUGINS)
    assert again.strategies["other"].paused and not again.strategies["arb"].paused


async def test_orders_the_kill_switch_could_not_cancel_are_cancelled_at_the_next_start(make_bot):
    """The kill switch cancels every resting order; one the venue would not cancel then (a 503) and that outlived
    the bot (on_shutdown = "keep", or a crash) is cancelled when the bot starts again, still killed."""
    KeptVenue.ORDERS = {}
    KeptVenue.on_list = None
    Alerts.sent.clear()
    config = ('on_shutdown = "keep"\n[exchanges.v]\ntype = "kept"\n[strategies.s]\ntype = "recorder"\n'
              '[notifiers.rec]\ntype = "alerts"\n')
    extra = [("venue", venue_plugin), ("kit", kit_plugin)]
    first = await make_bot(config, extra=extra)
    cid = first.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "90"))
    await wait_for(lambda: first.executor.order(cid).status is OrderStatus.OPEN)
    refused = []

    async def cancel_order(symbol, client_order_id):
        refused.append(client_order_id)
        raise TransientError("503 service unavailable")
    first.exchanges["v"].cancel_order = cancel_order
    first.kill("operator", "fat finger")
    await wait_for(lambda: refused)
    await first.executor.settle(2)
    await first.stop()
    assert KeptVenue.ORDERS[cid].status is OrderStatus.OPEN  # still resting at the venue

    second = await make_bot(config, extra=extra)
    assert second.killed("s")
    await wait_for(lambda: KeptVenue.ORDERS[cid].status is OrderStatus.CANCELLED)
    await wait_for(lambda: second.executor.order(cid).status is OrderStatus.CANCELLED)


async def test_a_strategy_two_checks_paused_resumes_only_when_both_have_resumed_it(make_bot):
    """staleness paused arb, then prediction tripped on it too: staleness resuming it (its data fresh again) must not
    lift prediction's pause, which only an operator lifts, across a restart too."""
    first = await make_bot(CONFIG, extra=PLUGINS)
    arb = first.strategies["arb"]
    assert first.pause_for_risk("staleness", ["arb"], "market data stale") == ["arb"]
    first.pause_for_risk("prediction", ["arb"], "realized PnL strays from predicted")
    assert first.paused_by("staleness") == ["arb"] and first.paused_by("prediction") == ["arb"]
    assert first.resume_for_risk("staleness", ["arb"], "market data fresh") == []
    assert arb.paused and first.strategy_state("arb") == "paused by risk prediction"
    assert arb.ctx.submit(intent("arb", Side.BUY, "0.01", "100")) is None
    first.pause_for_risk("staleness", ["arb"], "market data stale")
    await first.stop()

    second = await make_bot(CONFIG, extra=PLUGINS)
    arb = second.strategies["arb"]
    assert second.paused_by("staleness") == ["arb"]
    assert second.resume_for_risk("staleness", ["arb"], "market data fresh") == []
    assert arb.paused and second.strategy_state("arb") == "paused by risk prediction"
    assert second.resume_for_risk("prediction", ["arb"], "its own reason") == ["arb"]
    assert not arb.paused


async def test_the_kill_switch_holds_a_strategy_added_after_the_kill_and_a_restart(make_bot):
    """The kill switch is the bot's, not each strategy's: a strategy configured after the kill starts killed too,
    until an operator resumes it; once the operator has resumed every killed strategy the switch is released."""
    without_other = CONFIG.replace('[strategies.other]\ntype = "recorder"\n', "")
    first = await make_bot(without_other, extra=PLUGINS)
    assert "other" not in first.strategies
    first.kill("operator", "something is wrong")
    await first.stop()

    second = await make_bot(CONFIG, extra=PLUGINS)  # "other" added to the config meanwhile
    other = second.strategies["other"]
    assert other.paused and second.killed("other") and second.killed("arb")
    assert other.ctx.submit(intent("other", Side.BUY, "0.01", "100")) is None
    reply = await second.commands.dispatch(Caller("telegram", "1", "operator"), "resume", ["other"])
    assert reply.confirm_token  # resuming after the kill switch asks first
    second.resume(["arb", "other"], "operator")
    await second.stop()

    third = await make_bot(CONFIG + '[strategies.third]\ntype = "recorder"\n', extra=PLUGINS)
    assert not any(s.paused for s in third.strategies.values())  # resumed: the switch is released
    assert not third.killed("third")
