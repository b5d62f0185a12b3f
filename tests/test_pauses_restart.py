"""A pause outlives a crash or a restart: the kill switch, an operator's /pause and a risk check's trip hold until
/resume (or, for a risk check's, that check itself) lifts them; /resume clears them for the next run too."""

from __future__ import annotations

from bot.api import Caller
from bot.domain import Side
from tests.helpers.risk_kit import intent, trips
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
