"""prediction: realized PnL off predicted by more than max_error_pct over the last N executions pauses."""

from __future__ import annotations

import json
from decimal import Decimal

from bot.api import Caller
from bot.domain import ExecutionResult, Side
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, intent, risk_check, trips
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

PLUGINS = [("venue", venue_plugin), ("kit", kit_plugin)]
CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.arb]
type = "recorder"
[strategies.other]
type = "recorder"
[notifiers.rec]
type = "alerts"
[risk.prediction]
executions = 3
max_error_pct = "20"
"""


def result(predicted: str, realized: str, strategy: str = "arb") -> ExecutionResult:
    return ExecutionResult(strategy, Decimal(predicted), Decimal(realized), "USD", 0)


async def test_error_at_the_bound_passes_one_step_past_pauses(make_bot):
    Alerts.sent.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    for realized in ("8", "8", "8"):  # 24 realized against 30 predicted: exactly 20 % off
        bot.bus.publish(result("10", realized))
    assert not bot.strategies["arb"].paused
    bot.bus.publish(result("10", "5.99"))  # last three: 21.99 against 30, 26.7 % off
    assert bot.strategies["arb"].paused and not bot.strategies["other"].paused
    [trip] = trips(bot)
    figures = json.loads(trip.details)
    assert (trip.reason, trip.strategy) == ("realized PnL strays from predicted", "arb")
    assert (figures["predicted"], figures["realized"], figures["error_pct"]) == ("30", "21.99", "26.70")
    assert bot.strategies["arb"].ctx.submit(intent("arb", Side.BUY, "0.01", "100")) is None
    await wait_for(lambda: any(a.kind == "risk" for a in Alerts.sent))

    reply = await bot.commands.dispatch(Caller("test", "op", "operator"), "resume", ["arb"])
    assert reply.ok and not bot.strategies["arb"].paused
    bot.bus.publish(result("10", "0"))  # the window started again after the trip: one result is not enough
    assert not bot.strategies["arb"].paused


async def test_fewer_than_n_executions_are_not_judged_and_others_are_ignored(make_bot):
    bot = await make_bot(CONFIG + 'strategies = ["arb"]\n', extra=PLUGINS)
    bot.bus.publish(result("10", "-50"))
    bot.bus.publish(result("10", "-50"))
    for _ in range(5):
        bot.bus.publish(result("10", "-50", strategy="other"))
    assert not bot.strategies["arb"].paused and not bot.strategies["other"].paused
    assert not trips(bot)


async def test_results_in_different_quotes_are_judged_apart(make_bot):
    """A strategy trading BTC/USD and ETH/BTC: 0.003 BTC predicted and -0.0015 BTC realized is a 150 % miss, not a
    rounding error beside 30 USD predicted and earned (USD and BTC are never summed)."""
    bot = await make_bot(CONFIG, extra=PLUGINS)
    for _ in range(3):
        bot.bus.publish(result("10", "10"))
        bot.bus.publish(ExecutionResult("arb", Decimal("0.001"), Decimal("-0.0005"), "BTC", 0))
    assert bot.strategies["arb"].paused
    [trip] = trips(bot)
    figures = json.loads(trip.details)
    assert (figures["quote"], figures["predicted"], figures["realized"], figures["error_pct"]) == (
        "BTC", "0.003", "-0.0015", "150.00")
    assert "error arb BTC" in bot.risk.checks[0].status()


async def test_an_unreadable_result_is_refused_by_name_and_pauses_its_strategy(make_bot):
    """A result that is not a finite Decimal in a named quote cannot be compared: it is refused (never summed into
    the window, which would stop the judging of every later result) and its strategy paused until an operator looks."""
    Alerts.sent.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    bot.bus.publish(ExecutionResult("arb", Decimal("10"), Decimal("NaN"), "USD", 0))
    assert bot.strategies["arb"].paused
    [trip] = trips(bot)
    assert trip.reason == "unreadable execution result" and trip.strategy == "arb"
    assert "realized_pnl" in json.loads(trip.details)["problem"]
    bot.bus.publish(ExecutionResult("other", 10.0, Decimal("10"), "USD", 0))  # a float: not exact money
    bot.bus.publish(ExecutionResult("other", Decimal("10"), Decimal("10"), "", 0))
    assert bot.strategies["other"].paused
    assert [json.loads(t.details)["problem"] for t in trips(bot)[1:]] == [
        "predicted_pnl is 10.0 (float), not a finite Decimal",
        "quote is empty: the asset its PnL is in is unknown"]
    bot.resume(["arb"], "operator")
    for realized in ("10", "10", "-50"):  # the window judges the next results as ever
        bot.bus.publish(result("10", realized))
    assert bot.strategies["arb"].paused and trips(bot)[-1].reason == "realized PnL strays from predicted"


async def test_the_window_of_results_survives_a_restart(make_bot):
    """A strategy whose predictions stray gets no fresh window at each start: the latest results are kept in the
    store's bot_state and restored, so the third miss pauses it whether or not the bot restarted in between."""
    first = await make_bot(CONFIG, extra=PLUGINS)
    first.bus.publish(result("10", "-10"))
    first.bus.publish(result("10", "-10"))
    first.bus.publish(result("10", "10", strategy="other"))
    assert not first.strategies["arb"].paused
    await first.stop()

    second = await make_bot(CONFIG, extra=PLUGINS)
    assert risk_check(second, "prediction").status()["error arb USD"] == "200.00% over 2 / 3 executions"
    second.bus.publish(result("10", "-10"))
    assert second.strategies["arb"].paused
    await second.stop()

    third = await make_bot(CONFIG, extra=PLUGINS)  # the trip started the window again, after the restart too
    assert "error arb USD" not in risk_check(third, "prediction").status()
    assert third.strategies["arb"].paused  # the pause itself is the host's (tests/test_pauses_restart.py)


async def test_a_corrected_result_replaces_the_first_and_is_not_another_execution(make_bot):
    """A late fill changed a finished execution's realized PnL: its correction (``corrects``) takes the first
    figure's place in the window; it is not one more execution, and one no longer in the window is not counted."""
    Alerts.sent.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    bot.bus.publish(ExecutionResult("arb", Decimal(10), Decimal(2), "USD", 0, "a"))  # 80 % off, alone
    bot.bus.publish(ExecutionResult("arb", Decimal(10), Decimal(10), "USD", 1, "a", corrects=True))  # in fact 10
    bot.bus.publish(ExecutionResult("arb", Decimal(10), Decimal(10), "USD", 2, "b"))
    bot.bus.publish(ExecutionResult("arb", Decimal(10), Decimal(2), "USD", 3, "gone", corrects=True))  # not here
    gate = risk_check(bot, "prediction")
    assert [(r.opportunity_id, r.realized_pnl) for r in gate.windows[("arb", "USD")]] == [("a", 10), ("b", 10)]
    bot.bus.publish(ExecutionResult("arb", Decimal(10), Decimal(10), "USD", 4, "c"))  # 30 of 30: on the mark
    assert not bot.strategies["arb"].paused and not trips(bot)
