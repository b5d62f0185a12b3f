"""bot.alerts: a full queue drops its oldest least urgent alert (counted); an alert no notifier took is dropped."""

from __future__ import annotations

from typing import Any

from bot import hookimpl
from bot.alerts import Alerts
from bot.api import Caller, Notifier
from bot.domain import Alert, AlertLevel


def alert(n: int, level: AlertLevel = AlertLevel.INFO) -> Alert:
    return Alert(level=level, kind="fill", source="s", message=f"fill {n}", fields={}, ts_ns=n)


class Recording(Notifier):
    """A notifier that keeps what it is sent, or raises on every send."""

    def __init__(self, name: str = "rec", broken: bool = False):
        super().__init__(name, None, None)
        self.broken = broken
        self.got: list[str] = []

    async def send(self, alert: Alert) -> None:
        if self.broken:
            raise ConnectionError("chat unreachable")
        self.got.append(alert.message)


def alerts(queue_size: int, *notifiers: Any) -> Alerts:
    result = Alerts(0, queue_size, lambda: 0.0)
    result.notifiers = list(notifiers)
    return result


async def test_a_full_queue_drops_the_oldest_least_urgent_alert_not_the_critical_before_a_burst():
    notifier = Recording()
    queue = alerts(3, notifier)
    queue.emit(alert(0, AlertLevel.CRITICAL))
    for n in range(1, 6):  # a burst of fills after the kill switch's CRITICAL
        queue.emit(alert(n))
    await queue.deliver()
    assert notifier.got == ["fill 0", "fill 4", "fill 5"]
    assert queue.dropped == 3


async def test_an_alert_less_urgent_than_everything_queued_is_the_one_dropped():
    notifier = Recording()
    queue = alerts(2, notifier)
    queue.emit(alert(0, AlertLevel.ERROR))
    queue.emit(alert(1, AlertLevel.WARNING))
    queue.emit(alert(2))
    await queue.deliver()
    assert notifier.got == ["fill 0", "fill 1"] and queue.dropped == 1


async def test_an_alert_every_notifier_failed_to_take_is_dropped_not_sent():
    broken, working = Recording("a", broken=True), Recording("b")
    queue = alerts(10, broken)
    queue.emit(alert(0))
    await queue.deliver()
    assert (queue.sent, queue.dropped) == (0, 1)
    queue.notifiers = [broken, working]  # one notifier took it: it reached a chat
    queue.emit(alert(1))
    await queue.deliver()
    assert (queue.sent, queue.dropped) == (1, 1)


async def test_status_shows_how_many_alerts_the_host_dropped(make_bot):
    bot = await make_bot("[alerts]\nqueue_size = 10\n")
    viewer = Caller("tg", "1", "viewer")
    quiet = await bot.commands.dispatch(viewer, "status", [])
    assert not [row for row in quiet.rows if row[0] == "alerts dropped"]  # nothing lost: no row
    for n in range(25):  # a burst, queued before the delivery task runs once: the queue holds 10
        bot.alert(AlertLevel.INFO, "fill", f"fill {n}")
    dropped = bot.operator.alerts_dropped()
    assert dropped >= 15
    status = await bot.commands.dispatch(viewer, "status", [])
    [row] = [row for row in status.rows if row[0] == "alerts dropped"]
    assert row[1].startswith(f"{dropped} ")


async def test_a_notifier_with_a_min_level_the_host_does_not_know_stops_no_delivery(caplog):
    """A third party's settings may take any text (``min_level = "warn"``): every alert still goes out, to it too."""
    from types import SimpleNamespace

    typo, working = Recording("typo"), Recording("ok")
    typo.settings = SimpleNamespace(min_level="warn")
    queue = alerts(10, typo, working)
    queue.emit(alert(0))
    queue.emit(alert(1, AlertLevel.CRITICAL))
    await queue.deliver()
    assert working.got == typo.got == ["fill 0", "fill 1"] and (queue.sent, queue.dropped) == (2, 0)
    assert [r for r in caplog.records if "typo" in r.getMessage() and "warn" in r.getMessage()]


async def test_a_notifier_that_fails_to_send_is_logged_with_its_plugins_name(make_bot, caplog):
    from bot import hookimpl
    from tests.helpers.waiting import wait_for

    class Unreachable(Notifier):
        async def send(self, alert: Alert) -> None:
            raise ConnectionError("chat unreachable")

    class flaky:
        @staticmethod
        @hookimpl
        def register_notifiers(register):
            register("flaky-chat", Unreachable)

    await make_bot('[notifiers.n]\ntype = "flaky-chat"\n', extra=[("flaky", flaky)])
    expected = 'plugin "flaky": notifier "n" failed to send an alert: ConnectionError: chat unreachable'
    await wait_for(lambda: expected in caplog.text, what="the failed send logged against the plugin")


class SaysGoodbye(Notifier):
    """A notifier that alerts as it stops (a chat transport's notice when it lets its token go)."""

    got: dict[str, list[str]] = {}

    async def start(self) -> None:
        SaysGoodbye.got[self.name] = []

    async def send(self, alert: Alert) -> None:
        SaysGoodbye.got[self.name].append(alert.message)

    async def stop(self) -> None:
        self.ctx.alert(AlertLevel.WARNING, "chat", f"{self.name}: token released")


class Goodbyes:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("goodbye", SaysGoodbye)


async def test_an_alert_raised_while_notifiers_stop_goes_to_those_still_running_and_the_rest_is_counted(make_bot):
    bot = await make_bot('[notifiers.first]\ntype = "goodbye"\n[notifiers.second]\ntype = "goodbye"\n',
                         extra=[("goodbyes", Goodbyes)])
    await bot.stop()  # notifiers stop last, in reverse order: "second", then "first"
    assert SaysGoodbye.got["first"][-1] == "second: token released"  # "first" still ran: it took it
    assert "first: token released" not in SaysGoodbye.got["second"]  # nobody runs after "first": lost, counted
    assert bot.operator.alerts_dropped() == 1 and not bot.alerts._queue


async def test_an_alert_a_stopped_notifier_would_have_taken_is_counted_once_none_running_takes_it():
    from types import SimpleNamespace

    loud, quiet = Recording("loud"), Recording("quiet")
    quiet.settings = SimpleNamespace(min_level="error")
    queue = alerts(10, loud, quiet)
    queue.retire(loud)
    queue.emit(alert(0))  # only "loud" wanted an INFO: it stopped
    queue.emit(alert(1, AlertLevel.ERROR))  # "quiet" still runs and takes it
    await queue.deliver()
    assert quiet.got == ["fill 1"] and loud.got == [] and (queue.sent, queue.dropped) == (1, 1)
    queue.retire(quiet)
    queue.emit(alert(2, AlertLevel.CRITICAL))  # nobody runs any more: counted at once, never left queued
    assert queue.dropped == 2 and not queue._queue


async def test_the_same_words_about_another_market_are_a_new_problem_sent_at_once():
    """A risk trip's message is a fixed sentence with the market in its fields ("staleness: market data stale;
    action: pause"): a second market going stale inside the first one's coalescing window is heard at once, not
    folded into the first one's count a minute later. A repeat about the same market still coalesces."""
    notifier = Recording()
    queue = Alerts(60, 10, lambda: 0.0)
    queue.notifiers = [notifier]

    def trip(exchange: str, symbol: str, silent_s: str) -> Alert:
        return Alert(AlertLevel.WARNING, "risk", "staleness", "staleness: market data stale; action: pause",
                     {"exchange": exchange, "symbol": symbol, "silent_s": silent_s})

    queue.emit(trip("kraken", "BTC/USD", "10.2"))
    queue.emit(trip("coinbase", "ETH/USD", "11.0"))
    queue.emit(trip("kraken", "BTC/USD", "12.5"))  # the same market again: counted
    await queue.deliver()
    assert len(notifier.got) == 2, notifier.got
