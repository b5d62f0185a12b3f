"""SIGTERM stops a real `arbot run` cleanly: exit 0, resting orders cancelled or kept as configured."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from bot.api import AlertLevel, Caller, Command, Notifier, RateLimited, Reply, Service, Strategy, hookimpl
from bot.domain import OrderIntent, OrderStatus, Side
from tests.fakes.venue import ScriptedVenue
from tests.helpers.processes import arbot as arbot_command
from tests.helpers.processes import wait_until
from tests.helpers.store_kit import query, query_db
from tests.helpers.waiting import wait_for

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
on_shutdown = "{on_shutdown}"
[exchanges.paper]
tick_interval_ms = 20
[strategies.g]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 11
order_size = "0.01"
[notifiers.console]
min_level = "error"
"""


@pytest.mark.slow
@pytest.mark.parametrize("on_shutdown", ["cancel", "keep"])
def test_sigterm_stops_cleanly(tmp_path: Path, on_shutdown: str, db_url: str):
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, on_shutdown=on_shutdown, db_url=db_url))
    venue_db = tmp_path / "paper-exchange.db"
    proc = subprocess.Popen([*arbot_command(), "run", "--config", str(config)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The grid rests a buy on each of the levels below 30000.
        assert wait_until(lambda: (query_db(db_url, "select count(*) from orders where status='open'") or [(0,)])[0][0]
                          >= 5, 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    venue_open = query(venue_db, "select client_order_id from orders where status='open' order by 1")
    bot_open = query_db(db_url, "select client_order_id from orders where status in ('open', 'pending') order by 1")
    assert venue_open == bot_open  # the store agrees with the venue
    assert (len(venue_open) == 0) == (on_shutdown == "cancel")


class _SlowStart(ScriptedVenue):
    """A venue whose start never ends (a venue that accepts the connection and never answers)."""

    async def start(self) -> None:
        await asyncio.Event().wait()


class _SlowPlugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("slow-start", _SlowStart)


@pytest.mark.parametrize("how", ["duration", "stop request"])
async def test_a_stop_while_a_venue_is_still_starting_ends_the_run(make_bot, how):
    bot = await make_bot('[exchanges.v]\ntype = "slow-start"\n', extra=[("slow", _SlowPlugin)], start=False)
    if how == "stop request":  # SIGTERM and SIGINT call request_stop
        asyncio.get_running_loop().call_later(0.3, bot.request_stop)
    async with asyncio.timeout(10):  # before: run() waited for the venue's start, forever here
        await bot.run(duration_s=0.3 if how == "duration" else None)
    assert bot._stopping  # stopped cleanly, with what had started


class _SlowNotifier(Notifier):
    """A chat transport with a backlog it cannot send (a 429 it keeps waiting out)."""

    async def send(self, alert) -> None:
        pass

    async def stop(self) -> None:
        await asyncio.sleep(3600)


class _SlowNotifierPlugin:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("slow-notifier", _SlowNotifier)


async def test_a_notifier_with_a_backlog_cannot_hold_the_stop_past_the_shutdown_timeout(make_bot):
    bot = await make_bot('shutdown_timeout_s = 0.5\n[notifiers.n]\ntype = "slow-notifier"\n',  # in [bot]
                         extra=[("slow-notifier", _SlowNotifierPlugin)])
    async with asyncio.timeout(10):  # before: the stop waited as long as the notifier did
        await bot.stop()



class _HangingSend(Notifier):
    """A chat transport whose send waits forever (a request without a timeout)."""

    async def send(self, alert) -> None:
        await asyncio.sleep(3600)


class _HangingSendPlugin:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("hanging-send", _HangingSend)


async def test_a_notifier_whose_send_hangs_cannot_hold_the_stop_and_is_named(make_bot, monkeypatch, caplog):
    bot = await make_bot('shutdown_timeout_s = 0.5\n[notifiers.n]\ntype = "hanging-send"\n',  # in [bot]
                         extra=[("hanging-send", _HangingSendPlugin)])
    closed = closing(bot, monkeypatch)
    async with asyncio.timeout(10):  # before: the stop's last flush awaited the send forever, the store left open
        await bot.stop()
    assert closed == ["store"]
    assert ('plugin "hanging-send": notifier "n" did not send the last alerts within [bot] shutdown_timeout_s; '
            "cancelled") in caplog.text


class _HangingShutdown:
    @staticmethod
    @hookimpl
    async def shutdown(operator) -> None:
        await asyncio.sleep(3600)  # a slow network call with no timeout

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def hang(op, caller, args):
            await asyncio.sleep(3600)  # a command waiting on a slow network call with no timeout
            return Reply("never")

        register(Command("hang", hang, "viewer", "a command that hangs"))


class _PoliteShutdown:
    calls: list[str] = []

    @staticmethod
    @hookimpl
    def shutdown(operator) -> None:
        _PoliteShutdown.calls.append("polite")


class _HangingService(Service):
    async def stop(self) -> None:
        await asyncio.sleep(3600)


class _HangingVenue(ScriptedVenue):
    async def stop(self) -> None:
        await asyncio.sleep(3600)


class _HangingStops:
    @staticmethod
    @hookimpl
    def register_services(register):
        register("hanging-svc", _HangingService)

    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("hanging-venue", _HangingVenue)


def closing(bot, monkeypatch) -> list[str]:
    """The store's close, recorded: the stop went on to its end."""
    closed: list[str] = []
    close = bot.store.close
    monkeypatch.setattr(bot.store, "close", lambda: (closed.append("store"), close())[1])
    return closed


async def test_a_hanging_shutdown_hook_is_cut_off_and_the_rest_of_the_stop_runs(make_bot, monkeypatch):
    _PoliteShutdown.calls.clear()
    bot = await make_bot("shutdown_timeout_s = 0.5\n",  # in [bot]
                         extra=[("polite", _PoliteShutdown), ("hanging", _HangingShutdown)])
    closed = closing(bot, monkeypatch)
    async with asyncio.timeout(10):  # before: the stop waited for the hook, forever
        await bot.stop()
    assert _PoliteShutdown.calls == ["polite"]  # the hanging one runs first (registered last), the polite one after
    assert bot.plugins.info("hanging").errors == ["shutdown did not finish within 0.5 s; cancelled"]
    assert closed == ["store"]


async def test_a_service_or_component_whose_stop_hangs_is_cut_off_and_named(make_bot, monkeypatch):
    bot = await make_bot('shutdown_timeout_s = 0.5\n[exchanges.v]\ntype = "hanging-venue"\n',
                         extra=[("stuck", _HangingStops)])
    closed = closing(bot, monkeypatch)
    async with asyncio.timeout(10):  # before: the stop waited for the service, forever
        await bot.stop()
    assert bot.plugins.info("stuck").errors == [
        'service "hanging-svc" stop() did not finish within 0.5 s; cancelled',
        'exchange "v" stop() did not finish within 0.5 s; cancelled']
    assert closed == ["store"]


class _HangsOnGoodbyes(Notifier):
    """Sends the bot's alerts, then hangs on what another notifier alerts as it stops."""

    async def send(self, alert) -> None:
        if "token released" in alert.message:
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        self.ctx.alert(AlertLevel.WARNING, "chat", f"{self.name}: token released")


class _GoodbyePlugin:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("hangs-on-goodbyes", _HangsOnGoodbyes)


async def test_a_send_hanging_on_an_alert_raised_while_notifiers_stop_cannot_hold_the_stop(make_bot, monkeypatch,
                                                                                           caplog):
    bot = await make_bot('shutdown_timeout_s = 0.5\n[notifiers.first]\ntype = "hangs-on-goodbyes"\n'
                         '[notifiers.second]\ntype = "hangs-on-goodbyes"\n', extra=[("goodbyes", _GoodbyePlugin)])
    closed = closing(bot, monkeypatch)
    async with asyncio.timeout(10):  # before: the flush after "second" stopped awaited "first"'s send forever
        await bot.stop()
    assert closed == ["store"]
    assert 'notifier "first" did not send the alerts raised while notifiers stopped' in caplog.text


async def test_the_stop_bound_deploy_md_gives_holds_and_one_shutdown_timeout_does_not(make_bot, monkeypatch):
    """Each hanging part of the stop gets `shutdown_timeout_s` of its own, so a stop timeout of "more than
    shutdown_timeout_s" is not enough: docs/deploy.md gives the bound from bot/app.py's stop, and a stop with a hanging
    command, shutdown hook, service and venue ends within it, and after more than one shutdown_timeout_s."""
    import time

    from bot.app import NOTIFIER_STOP_FLOOR_S
    from bot.commands import CANCEL_GRACE_S

    deploy = " ".join((Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text().split())
    assert "shutdown_timeout_s × (H + S + C + 5) + 1 s × (2N + 2)" in deploy
    assert NOTIFIER_STOP_FLOOR_S == CANCEL_GRACE_S == 1.0  # the formula's "1 s"
    timeout_s = 0.3
    bot = await make_bot(f'shutdown_timeout_s = {timeout_s}\n[exchanges.v]\ntype = "hanging-venue"\n',
                         extra=[("stuck", _HangingStops), ("hanging", _HangingShutdown)])
    hooks = len(bot.plugins.pm.hook.shutdown.get_hookimpls())
    services, components = len(bot.services), len(bot._started) - len(bot.notifiers)
    bound_s = (timeout_s * (hooks + services + components + 5)
               + NOTIFIER_STOP_FLOOR_S * (2 * len(bot.notifiers) + 1) + CANCEL_GRACE_S)
    hanging = asyncio.ensure_future(bot.commands.dispatch(Caller("test", "me", "admin"), "hang", []))
    await asyncio.sleep(0)  # one loop turn: the dispatch has handed its handler to the command table
    started = time.monotonic()
    await bot.stop()
    assert hanging.done()
    took_s = time.monotonic() - started
    assert 3 * timeout_s <= took_s <= bound_s, (took_s, bound_s)


class _RateLimitedVenue(ScriptedVenue):
    """A venue that answers an order with "slow down" for ``retry_after_s`` once ``slow_down`` is set, and whose own
    client then waits that quiet out before any request, as Kraken's REST bucket does: the executor's lane for it
    hands out no token meanwhile, nor does the venue answer."""

    slow_down = False
    retry_after_s = 60.0

    def __init__(self, *args):
        super().__init__(*args)
        self.quiet_until = 0.0

    async def _wait_out_the_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.quiet_until - loop.time()))

    async def place_order(self, order):
        if _RateLimitedVenue.slow_down and not self.quiet_until:
            self.quiet_until = asyncio.get_running_loop().time() + self.retry_after_s
            raise RateLimited("429 Too Many Requests", retry_after_s=self.retry_after_s)
        await self._wait_out_the_quiet()
        return await super().place_order(order)

    async def balances(self):
        await self._wait_out_the_quiet()
        return await super().balances()

    async def cancel_orders(self, symbol, client_order_ids):
        await self._wait_out_the_quiet()
        return await super().cancel_orders(symbol, client_order_ids)


class _Orders(Strategy):
    """Places what the test hands its ctx; nothing of its own."""


class _RateLimitedPlugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("rate-limited", _RateLimitedVenue)

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("orders", _Orders)


def _buy(cid: str) -> OrderIntent:
    return OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.1"), Decimal("100"), client_order_id=cid)


async def _rate_limited_bot(make_bot, caplog, retry_after_s: float):
    """A bot with a resting order ``rest-1`` on venue "v", which then answered ``late-1`` with "slow down for
    ``retry_after_s``": the retry waits behind that quiet. The stop's bound is 1 s; resting orders are cancelled."""
    import logging

    caplog.set_level(logging.INFO, logger="arbot.executor")
    _RateLimitedVenue.slow_down, _RateLimitedVenue.retry_after_s = False, retry_after_s
    bot = await make_bot('shutdown_timeout_s = 1.0\non_shutdown = "cancel"\n'
                         '[executor]\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.02\n'
                         '[exchanges.v]\ntype = "rate-limited"\n[strategies.s]\ntype = "orders"\n',
                         extra=[("rate-limited", _RateLimitedPlugin)])
    ctx = bot.strategies["s"].ctx
    ctx.submit(_buy("rest-1"))
    await wait_for(lambda: (o := bot.executor.order("rest-1")) is not None and o.status is OrderStatus.OPEN)
    _RateLimitedVenue.slow_down = True
    ctx.submit(_buy("late-1"))  # answered "slow down": retried after its backoff, behind the quiet
    await wait_for(lambda: "order late-1: RateLimited: 429 Too Many Requests; retry 1" in caplog.text)
    return bot


async def test_a_stop_does_not_wait_for_a_rate_limit_block_that_ends_after_its_bound(make_bot, caplog, db_url):
    """The venue asked for a minute's quiet; the stop's bound is 1 s. No request to it can leave in time, so the stop
    does not wait for one (before: the queued retry held the executor's close the whole bound, the cancel of the
    resting order another, the balance snapshot a third, 3.0 s, and "cancelling resting orders failed:" said nothing
    of why): the resting order is left, the queued one is not sent, no balances are asked for, and the log says each
    and why."""
    import time

    bot = await _rate_limited_bot(make_bot, caplog, retry_after_s=60.0)
    started = time.monotonic()
    await bot.stop()
    took_s = time.monotonic() - started
    assert took_s < 1.0, took_s  # before: 3.0 s (three waits of the whole bound); now 0.03 s
    assert bot.exchanges["v"].orders["rest-1"].status is OrderStatus.OPEN  # left resting: not cancelled
    assert "late-1" not in bot.exchanges["v"].orders  # never sent
    assert query_db(db_url, "select status, reason from orders where client_order_id = 'late-1'") == [
        ("cancelled", "cancelled before it was sent")]
    quiet = 'exchange "v" takes no request for another 60 s (its rate limit), past [bot] shutdown_timeout_s (1 s): '
    assert quiet + "1 queued order not sent at the stop (cancelled before it was sent): late-1" in caplog.text
    assert quiet + "1 resting order not cancelled at the stop, left as they are: rest-1" in caplog.text
    assert ('balances of exchange "v" not stored at stop: it asked for no request for another 60 s (its rate '
            "limit), past [bot] shutdown_timeout_s (1 s)") in caplog.text
    assert "still in flight" not in caplog.text and "cancelling resting orders" not in caplog.text


async def test_a_stop_waits_out_a_rate_limit_block_that_ends_within_its_bound(make_bot, caplog, db_url):
    """The same, with a quiet of 0.2 s: it ends within the stop's bound, so the stop waits for it, sends the queued
    order, cancels both and stores the balances, as before."""
    bot = await _rate_limited_bot(make_bot, caplog, retry_after_s=0.2)
    await bot.stop()
    venue_orders = bot.exchanges["v"].orders
    assert {cid: venue_orders[cid].status for cid in ("rest-1", "late-1")} == {
        "rest-1": OrderStatus.CANCELLED, "late-1": OrderStatus.CANCELLED}
    assert query_db(db_url, "select count(*) from balance_snapshots where exchange = 'v'") == [(2,)]  # start, stop
    assert "its rate limit" not in caplog.text and "cancelling resting orders" not in caplog.text
