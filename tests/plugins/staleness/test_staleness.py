"""staleness with a manual clock: stale exactly one step past stale_after_s, resumes after resume_after_s."""

from __future__ import annotations

import json
from dataclasses import replace

from bot import hookimpl
from bot.api import Caller
from bot.clock import ManualClock
from bot.domain import FeedState, FeedStatus, Side
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, Recorder, book, fill, intent, risk_check, trips
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
[risk.staleness]
stale_after_s = 10.0
resume_after_s = 5.0
check_every_s = 3600.0
"""


async def start(make_bot, extra_config: str = ""):
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(CONFIG + extra_config, extra=PLUGINS, clock=clock)
    return bot, clock, risk_check(bot, "staleness")


def risk_alerts(message_part: str):
    return [a for a in Alerts.sent if a.kind == "risk" and message_part in a.message]


async def test_stale_one_step_past_stale_after_pauses_and_fresh_data_resumes(make_bot):
    bot, clock, check = await start(make_bot)
    s = bot.strategies["s"]
    bot.bus.publish(book("100"))
    clock.advance(10)  # silent for exactly stale_after_s: not yet
    check.check_markets()
    assert not s.paused and not trips(bot)
    clock.advance(0.001)
    check.check_markets()
    assert s.paused and bot.strategy_state("s") == "paused by risk staleness"
    [trip] = trips(bot)
    assert (trip.check_name, trip.action, trip.exchange, trip.symbol) == ("staleness", "pause", "v", "BTC/USD")
    assert json.loads(trip.details)["silent_s"] == "10.001"
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None  # paused: nothing placed
    await wait_for(lambda: risk_alerts("market data stale"))

    bot.bus.publish(book("100"))  # fresh data starts
    clock.advance(4.999)
    bot.bus.publish(book("100"))
    check.check_markets()
    assert s.paused
    clock.advance(0.001)
    check.check_markets()
    assert not s.paused
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None
    await wait_for(lambda: [a for a in Alerts.sent if a.message == "market data fresh again"])
    fresh = next(a for a in Alerts.sent if a.message == "market data fresh again")
    assert fresh.fields["resumed"] == "s"
    assert len(trips(bot)) == 1


async def test_a_resyncing_feed_is_stale_even_while_books_arrive(make_bot):
    bot, clock, check = await start(make_bot)
    bot.bus.publish(book("100"))
    bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.RESYNCING, 0, "sequence gap"))
    for _ in range(10):
        clock.advance(1)
        bot.bus.publish(book("100"))
    check.check_markets()
    assert not bot.strategies["s"].paused
    clock.advance(0.001)
    check.check_markets()
    assert bot.strategies["s"].paused
    assert json.loads(trips(bot)[0].details)["feed"] == "not live"
    bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.LIVE, 0))
    clock.advance(5)
    check.check_markets()
    assert bot.strategies["s"].paused  # live again, but no book yet
    bot.bus.publish(book("100"))
    clock.advance(5)
    bot.bus.publish(book("100"))
    check.check_markets()
    assert not bot.strategies["s"].paused


async def test_without_auto_resume_an_operator_resumes(make_bot):
    bot, clock, check = await start(make_bot, "auto_resume = false\n")
    bot.bus.publish(book("100"))
    clock.advance(11)
    check.check_markets()
    bot.bus.publish(book("100"))
    clock.advance(6)
    bot.bus.publish(book("100"))
    check.check_markets()
    assert bot.strategies["s"].paused
    await wait_for(lambda: [a for a in Alerts.sent if a.message == "market data fresh again"])
    assert next(a for a in Alerts.sent if a.message == "market data fresh again").fields["waiting_for_resume"] == "s"
    reply = await bot.commands.dispatch(Caller("test", "op", "operator"), "resume", ["s"])
    assert reply.ok and not bot.strategies["s"].paused


async def test_an_operator_pause_is_never_undone_by_auto_resume(make_bot):
    bot, clock, check = await start(make_bot)
    bot.pause(["s"], by="test:op")
    bot.bus.publish(book("100"))
    clock.advance(11)
    check.check_markets()
    bot.bus.publish(book("100"))
    clock.advance(6)
    bot.bus.publish(book("100"))
    check.check_markets()
    assert bot.strategy_state("s") == "paused by test:op"


async def test_repeated_trips_are_all_stored_and_alerted_once_with_a_count(make_bot):
    bot, clock, check = await start(make_bot)
    for _ in range(3):
        bot.bus.publish(book("100"))
        clock.advance(11)
        check.check_markets()  # stale
        bot.bus.publish(book("100"))
        clock.advance(5)
        bot.bus.publish(book("100"))
        check.check_markets()  # fresh again
    assert len(trips(bot, "staleness")) == 3
    await wait_for(lambda: risk_alerts("market data stale"))
    await bot.alerts.flush()
    stale = risk_alerts("market data stale")
    assert [a.message for a in stale] == ["staleness: market data stale; action: pause",
                                          "staleness: market data stale; action: pause (2 more in 60 s)"]
    assert stale[1].fields["repeats"] == 2


async def test_a_traded_market_silent_since_the_start_goes_stale(make_bot):
    """A market a strategy trades whose feed has sent nothing since the (re)start is silent too: its strategies
    are paused as for a market that went quiet after one book (it used to be watched only once heard)."""
    bot, clock, check = await start(make_bot)
    s = bot.strategies["s"]  # trades ("v", "BTC/USD"); no book ever arrives
    clock.advance(10)
    check.check_markets()
    assert not s.paused and not trips(bot)
    clock.advance(0.001)
    check.check_markets()
    assert s.paused, check.status()
    [trip] = trips(bot)
    assert (trip.exchange, trip.symbol, json.loads(trip.details)["silent_s"]) == ("v", "BTC/USD", "10.001")


async def test_an_order_to_a_traded_market_that_never_had_data_is_vetoed_once_stale_after_s_passed(make_bot):
    bot, clock, check = await start(make_bot)
    clock.advance(3600)
    check.check_markets()
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == "market data for v BTC/USD is stale"


async def test_a_market_no_strategy_trades_or_on_an_unwatched_exchange_is_watched_only_once_heard(make_bot):
    bot, clock, check = await start(make_bot, 'exchanges = ["w"]\n[exchanges.w]\ntype = "scripted"\n')  # not v
    clock.advance(3600)
    check.check_markets()
    assert not trips(bot) and not bot.strategies["s"].paused
    # not watched for a trip, but no data, no trade: an order to it is refused until it is heard
    assert check.check(intent("s", Side.BUY, "0.01", "100", symbol="ETH/USD", exchange="w"),
                       bot.portfolio) == "no market data for w ETH/USD since the start"
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) is None  # v is not watched
    bot.bus.publish(book("100", exchange="w", symbol="ETH/USD"))  # heard: watched from now on
    clock.advance(10.001)
    check.check_markets()
    assert [(t.exchange, t.symbol) for t in trips(bot)] == [("w", "ETH/USD")]


async def test_a_pause_from_before_a_restart_is_resumed_by_fresh_data(make_bot):
    """The host keeps a pause across a restart; the check takes over the ones it made: their markets are stale
    until their data has been fresh for resume_after_s, then the strategies resume, as before the restart."""
    bot, clock, check = await start(make_bot)
    bot.bus.publish(book("100"))
    clock.advance(10.001)
    check.check_markets()
    assert bot.strategies["s"].paused
    await bot.stop()

    again = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    s, check = again.strategies["s"], risk_check(again, "staleness")
    assert again.strategy_state("s") == "paused by risk staleness"
    check.check_markets()  # the first check takes the pause over: the market is stale
    assert check.check(intent("s", Side.BUY, "0.01", "100"), again.portfolio) is not None
    again.bus.publish(book("100"))
    clock.advance(5)
    again.bus.publish(book("100"))
    check.check_markets()
    assert not s.paused and s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None


TWO_VENUES = """
[exchanges.v]
type = "scripted"
[exchanges.w]
type = "scripted"
[strategies.s]
type = "two-venues"
[notifiers.rec]
type = "alerts"
[risk.staleness]
stale_after_s = 10.0
resume_after_s = 5.0
check_every_s = 3600.0
"""


class TwoVenues(Recorder):
    def markets(self):
        return [("v", "BTC/USD"), ("w", "BTC/USD")]


class two_venues_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("two-venues", TwoVenues)


async def test_a_reduce_only_order_on_the_fresh_venue_passes_a_pause_for_the_other_venues_data(make_bot):
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(TWO_VENUES, extra=[*PLUGINS, ("two", two_venues_plugin)], clock=clock)
    check = risk_check(bot, "staleness")
    s = bot.strategies["s"]
    bot.portfolio.on_fill(fill("x", Side.BUY, "1", "100", exchange="w"))  # 1 BTC long, held on w
    bot.bus.publish(book("100", exchange="v"))
    bot.bus.publish(book("100", exchange="w"))
    clock.advance(6)
    bot.bus.publish(book("100", exchange="v"))  # v keeps sending, w is silent
    clock.advance(5)
    check.check_markets()
    assert bot.strategy_state("s") == "paused by risk staleness"

    def sell(exchange: str, qty: str = "0.5", reduce_only: bool = True):
        return replace(intent("s", Side.SELL, qty, "100", exchange=exchange), reduce_only=reduce_only)
    assert s.ctx.submit(sell("w")) is None  # on the stale venue
    assert s.ctx.submit(sell("v", qty="2.5")) is None  # past zero: adds exposure the other way
    assert s.ctx.submit(sell("v", reduce_only=False)) is None  # not marked reduce-only
    assert s.ctx.submit(sell("v")) is not None  # a hedge on the fresh venue
    assert s.ctx.submit(sell("v")) is not None  # the rest (the first counts as filled): down to flat
    assert s.ctx.submit(sell("v", qty="0.1")) is None  # flat with both in flight: this one adds exposure
    bot.portfolio.on_fill(fill("y", Side.BUY, "1", "100", exchange="w"))  # another 1 BTC held
    clock.advance(10.001)  # v silent too now (its last book 10.001 s ago): no longer fresh
    assert s.ctx.submit(sell("v", qty="0.1")) is None


async def test_the_kill_switch_over_a_staleness_pause_holds_when_the_data_comes_back(make_bot):
    """Only an operator releases the kill switch: fresh data resumes what this check paused, never a killed one,
    in the run of the kill and after a restart."""
    bot, clock, check = await start(make_bot)
    s = bot.strategies["s"]
    bot.bus.publish(book("100"))
    clock.advance(10.001)
    check.check_markets()
    assert bot.strategy_state("s") == "paused by risk staleness"
    bot.kill("operator", "something is wrong")

    bot.bus.publish(book("100"))  # the data comes back and stays fresh for resume_after_s
    clock.advance(5)
    bot.bus.publish(book("100"))
    check.check_markets()
    assert s.paused and bot.killed("s")
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    await bot.stop()

    again = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    s, check = again.strategies["s"], risk_check(again, "staleness")
    check.check_markets()
    again.bus.publish(book("100"))
    clock.advance(5)
    again.bus.publish(book("100"))
    check.check_markets()
    assert s.paused and again.killed("s")
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None


async def test_an_order_to_a_market_silent_past_stale_after_s_is_vetoed_before_the_periodic_check(make_bot):
    """The gate reads the silence itself: a feed that stopped sending (socket open, heartbeats only, no book) is
    stale stale_after_s after its last book, not when the next periodic check happens to run."""
    bot, clock, check = await start(make_bot)  # check_every_s = 3600: no periodic check in this test
    s = bot.strategies["s"]
    bot.bus.publish(book("100"))
    clock.advance(10)
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None  # exactly stale_after_s: not yet
    clock.advance(0.001)
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == "market data for v BTC/USD is stale"
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.LIVE, 0, "heartbeat"))  # a live feed with no book
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    bot.bus.publish(FeedStatus("v", "ETH/USD", FeedState.STALE, 0, "connection lost"))
    clock.advance(10.001)  # a market heard only as not live, never checked since
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100", symbol="ETH/USD")) is None
    bot.bus.publish(book("100"))  # data again: fresh, before and after a periodic check
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None
    check.check_markets()
    assert not s.paused


async def test_a_reduce_only_order_counted_against_a_resting_order_the_other_way_is_refused(make_bot):
    """Long 1 BTC with a resting bid of 2 BTC: a "reduce-only" sell of 2.5 BTC reduces only if that bid fills. If
    it does not, the sell leaves 1.5 BTC short, more exposure than before, through the pause: refused. A sell the
    bid's fate cannot turn past zero still goes."""
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(TWO_VENUES, extra=[*PLUGINS, ("two", two_venues_plugin)], clock=clock)
    check = risk_check(bot, "staleness")
    s = bot.strategies["s"]
    bot.portfolio.on_fill(fill("x", Side.BUY, "1", "100", exchange="w"))  # 1 BTC long, held on w
    bot.bus.publish(book("100", exchange="v"))
    bot.bus.publish(book("100", exchange="w"))
    assert s.ctx.submit(intent("s", Side.BUY, "2", "90", exchange="v")) is not None  # a bid resting on v
    clock.advance(6)
    bot.bus.publish(book("100", exchange="v"))  # v keeps sending, w is silent
    clock.advance(5)
    check.check_markets()
    assert bot.strategy_state("s") == "paused by risk staleness"

    def sell(qty: str):
        return replace(intent("s", Side.SELL, qty, "100", exchange="v"), reduce_only=True)
    assert s.ctx.submit(sell("2.5")) is None
    assert s.ctx.submit(sell("1.5")) is None
    assert s.ctx.submit(sell("1")) is not None  # flat if the bid does not fill, 2 BTC long if it does


async def test_an_order_to_a_market_never_heard_from_since_the_start_is_vetoed_from_the_first_order(make_bot):
    """No data, no trade: before the first periodic check (check_every_s = 3600 here) and within stale_after_s of
    the start, an order to a market that has sent no book since the start is refused; its first book lets it go."""
    bot, clock, check = await start(make_bot)
    s = bot.strategies["s"]
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == (
        "no market data for v BTC/USD since the start")
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.LIVE, 0, "subscribed"))  # live, still no book
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    check.check_markets()  # watched now, still never heard
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None and not s.paused
    bot.bus.publish(book("100"))
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None


async def test_a_feed_flapping_to_live_without_data_goes_stale(make_bot):
    """Data age is the age of the last book: a feed that drops and comes back LIVE again and again without a book
    never sent data, so it is stale stale_after_s after its last book (veto, pause, trip, alert)."""
    bot, clock, check = await start(make_bot)
    s = bot.strategies["s"]
    bot.bus.publish(book("100"))
    for _ in range(5):  # every 3 s: lost, then live again a second later; never a book
        clock.advance(2)
        bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.STALE, 0, "connection lost"))
        clock.advance(1)
        bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.LIVE, 0, "reconnected"))
        check.check_markets()
    # 15 s after the last book, LIVE again for the last time just now
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == "market data for v BTC/USD is stale"
    assert s.paused and bot.strategy_state("s") == "paused by risk staleness"
    [trip] = trips(bot)
    assert json.loads(trip.details)["feed"] == "live"
    await wait_for(lambda: risk_alerts("market data stale"))


async def test_a_feed_going_down_does_not_restart_the_silence_of_its_last_book(make_bot):
    """A feed that says it is not live 9 s after its last book has been silent for stale_after_s one second later,
    not ten: not being live never makes the data younger."""
    bot, clock, check = await start(make_bot)
    bot.bus.publish(book("100"))
    clock.advance(9)
    bot.bus.publish(FeedStatus("v", "BTC/USD", FeedState.RESYNCING, 0, "sequence gap"))
    clock.advance(1.001)
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == "market data for v BTC/USD is stale"
    check.check_markets()
    assert bot.strategies["s"].paused
    assert json.loads(trips(bot)[0].details)["silent_s"] == "10.001"


class JumpingClock(ManualClock):
    """A manual clock whose wall time can be set back or forward without time passing (an NTP step, a VM resumed)."""

    def jump(self, seconds: float) -> None:
        self._ns += int(seconds * 1_000_000_000)


async def test_the_wall_clock_stepping_back_does_not_hide_a_silent_feed(make_bot):
    """Silence is measured on the monotonic clock: the wall clock set back an hour must not make a feed that stopped
    look fresh for that hour, nor one set forward make a live feed look stale."""
    Alerts.sent.clear()
    clock = JumpingClock()
    bot = await make_bot(CONFIG, extra=PLUGINS, clock=clock)
    check = risk_check(bot, "staleness")
    bot.bus.publish(book("100"))
    clock.jump(3600)  # forward: no time passed, nothing is stale
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) is None
    check.check_markets()
    assert not bot.strategies["s"].paused
    clock.jump(-7200)  # back an hour past where it was
    clock.advance(10.001)
    assert check.check(intent("s", Side.BUY, "0.01", "100"), bot.portfolio) == "market data for v BTC/USD is stale"
    check.check_markets()
    assert bot.strategies["s"].paused
    assert json.loads(trips(bot)[0].details)["silent_s"] == "10.001"


async def test_a_pause_for_a_market_no_longer_watched_after_a_restart_is_released(make_bot):
    """Paused for w's silence; restarted with w no longer among the strategy's markets (taken out of the config) and
    nothing it trades watched: no market of it can ever come back, so the pause this check took over would hold
    forever. It is released at the first check, with an alert saying why."""
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(TWO_VENUES, extra=[*PLUGINS, ("two", two_venues_plugin)], clock=clock)
    check = risk_check(bot, "staleness")
    bot.bus.publish(book("100", exchange="v"))
    clock.advance(10.001)
    check.check_markets()
    assert bot.strategy_state("s") == "paused by risk staleness"
    await bot.stop()

    # s now trades only v, and the check watches only w
    again = await make_bot(CONFIG.replace('type = "scripted"', 'type = "scripted"\n[exchanges.w]\ntype = "scripted"')
                           + 'exchanges = ["w"]\n', extra=PLUGINS, clock=clock)
    check = risk_check(again, "staleness")
    assert again.strategy_state("s") == "paused by risk staleness"
    check.check_markets()
    assert not again.strategies["s"].paused
    await wait_for(lambda: [a for a in Alerts.sent if a.message == "market data no longer watched"])
    released = next(a for a in Alerts.sent if a.message == "market data no longer watched")
    assert released.fields["resumed"] == "s"


MANY = [f"C{i}/USD" for i in range(400)]


class ManyMarkets(Recorder):
    def markets(self):
        return [("v", symbol) for symbol in MANY]


class many_markets_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("many", ManyMarkets)


async def test_many_markets_coming_back_at_once_are_checked_in_linear_time(make_bot):
    """A venue with 400 markets reconnects: all of them come back in one check. Which strategies may resume is
    worked out once for the check, not again over every stale market for each market that comes back (that was
    400 x 400 look-ups of every strategy's markets, seconds of a blocked loop)."""
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(CONFIG.replace('type = "recorder"', 'type = "many"'),
                         extra=[*PLUGINS, ("many", many_markets_plugin)], clock=clock)
    check = risk_check(bot, "staleness")
    asked = []
    markets = ManyMarkets.markets
    bot.strategies["s"].markets = lambda: (asked.append(1), markets(bot.strategies["s"]))[1]
    for symbol in MANY:
        bot.bus.publish(book("100", symbol=symbol))
    clock.advance(10.001)
    check.check_markets()
    assert bot.strategies["s"].paused and sum(m.stale for m in check.markets.values()) == len(MANY)
    for symbol in MANY:
        bot.bus.publish(book("100", symbol=symbol))
    clock.advance(5)
    for symbol in MANY:
        bot.bus.publish(book("100", symbol=symbol))
    asked.clear()
    check.check_markets()
    assert not bot.strategies["s"].paused
    assert len(asked) <= 10, len(asked)  # once or twice per check, not once per stale market per market back
