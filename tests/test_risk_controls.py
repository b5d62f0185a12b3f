"""Risk controls in the host: the kill switch against the paper venue, /risk, /pause and /resume, the report."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot import hookimpl
from bot.api import Caller, Strategy, TransientError
from bot.domain import BookUpdate, OrderIntent, OrderStatus, Side, TimeInForce
from bot.report import report_reply
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, fill, intent, trips
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

ADMIN = Caller("test", "root", "admin")
OPERATOR = Caller("test", "op", "operator")
VIEWER = Caller("test", "eye", "viewer")


class Churn(Strategy):
    """Rests one bid far below the market, then buys at the ask and sells at the bid, one order per book."""

    def __init__(self, *args):
        super().__init__(*args)
        self.n = 0
        self.long = False
        self.placed: list[str] = []
        self.waiting = False

    def markets(self):
        return [("paper", "BTC/USD")]

    def on_market(self, event):
        if not isinstance(event, BookUpdate) or not event.bids or self.waiting:
            return
        self.n += 1
        if self.n == 1:
            self._submit(Side.BUY, event.best_bid - 1000, TimeInForce.GTC)
            return
        if self.settings_churn:
            side = Side.SELL if self.long else Side.BUY
            self.waiting = self._submit(side, event.best_bid if side is Side.SELL else event.best_ask,
                                        TimeInForce.IOC)
        else:
            self._submit(Side.BUY, event.best_bid - 1000 - self.n, TimeInForce.GTC)

    settings_churn = True

    def _submit(self, side, price, tif) -> bool:
        cid = self.ctx.submit(OrderIntent(self.name, "paper", "BTC/USD", side, Decimal("0.01"), price, tif=tif,
                                          client_order_id=f"{self.name}-{self.n}"))
        if cid:
            self.placed.append(cid)
        return cid is not None

    def on_order_update(self, update):
        if update.status.terminal and update.client_order_id.endswith(f"-{self.n}"):
            self.waiting = False
            if update.status is OrderStatus.FILLED:
                self.long = not self.long


class Ladder(Churn):
    """Rests one more bid below the market on every book."""

    settings_churn = False


class strategies_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("churn", Churn)
        register("ladder", Ladder)


PAPER = """
[exchanges.paper]
volatility_bps = 0
tick_interval_ms = 0
state_file = ""
[notifiers.rec]
type = "alerts"
"""
PLUGINS = [("kit", kit_plugin), ("strategies", strategies_plugin)]


async def settle(bot) -> None:
    await wait_for(lambda: all(o.status is OrderStatus.OPEN for o in bot.executor.open_orders()))


async def test_kill_command_halts_new_orders_at_once_and_cancels_resting_ones(make_bot):
    Alerts.sent.clear()
    bot = await make_bot(PAPER + "[strategies.ladder]\ntype = \"ladder\"\n", extra=PLUGINS)
    paper, ladder = bot.exchanges["paper"], bot.strategies["ladder"]
    for _ in range(3):
        paper.step()
        await settle(bot)
    assert len(await paper.open_orders()) == 3
    refused = await bot.commands.dispatch(OPERATOR, "kill", [])
    assert not refused.ok and "admin" in refused.title
    question = await bot.commands.dispatch(ADMIN, "kill", ["fat", "finger"])
    assert question.confirm_token and question.title == (
        "Kill switch: pause 1 strategy and cancel 3 resting orders?")
    assert not ladder.paused  # nothing happens before the confirmation
    reply = await bot.commands.confirm(ADMIN, question.confirm_token)
    assert reply.ok
    placed = list(ladder.placed)
    paper.step()  # the very next event places nothing
    assert ladder.placed == placed and ladder.paused
    await wait_for(lambda: not bot.executor.open_orders())
    assert await paper.open_orders() == []
    assert {bot.executor.order(cid).status for cid in placed} == {OrderStatus.CANCELLED}
    await wait_for(lambda: any(a.kind == "risk" and a.message.startswith("kill switch") for a in Alerts.sent))
    assert bot.strategy_state("ladder") == "paused by test:root"
    question = await bot.commands.dispatch(OPERATOR, "resume", [])
    assert question.title == "Resume ladder after the kill switch?" and ladder.paused
    await bot.commands.confirm(OPERATOR, question.confirm_token)
    paper.step()
    assert len(ladder.placed) == len(placed) + 1  # re-armed


async def test_a_loss_breach_with_action_stop_kills_within_one_event(make_bot):
    bot = await make_bot(PAPER + '[strategies.churn]\ntype = "churn"\n[risk.limits]\nmax_daily_loss = "3"\n'
                                 'action = "stop"\n', extra=PLUGINS)
    paper, churn = bot.exchanges["paper"], bot.strategies["churn"]
    for _ in range(40):
        paper.step()
        await wait_for(lambda: not churn.waiting)
        if trips(bot):
            break
    [trip] = trips(bot)
    assert (trip.reason, trip.action) == ("daily realized loss limit exceeded", "stop")
    assert churn.paused
    placed = list(churn.placed)
    for _ in range(3):
        paper.step()
    assert churn.placed == placed  # nothing after the breach
    await wait_for(lambda: not bot.executor.open_orders())
    assert await paper.open_orders() == []  # the resting bid was cancelled
    assert bot.executor.order("churn-1").status is OrderStatus.CANCELLED


async def test_risk_command_and_report_show_limits_use_and_trips(make_bot):
    bot = await make_bot(PAPER + '[strategies.ladder]\ntype = "ladder"\n[risk.limits]\nmax_daily_loss = "100"\n'
                                 '[risk.staleness]\n', extra=PLUGINS)
    bot.kill(by="test", reason="drill")
    bot.record_trip("limits", "daily realized loss limit exceeded", "pause", figures={"loss": Decimal("100.01")})
    await bot.writer.drained()  # the trip's row is written on the store writer's thread
    reply = await bot.commands.dispatch(VIEWER, "risk", [])
    text = reply.render_text()
    assert "0 / 100" in text and "paper BTC/USD" in text
    assert "ladder (paused by test)" in text
    assert "limits  pause  daily realized loss limit exceeded" in text
    report = report_reply(bot.store).render_text()
    assert "Risk events: limits pause 1" in report
    assert "daily realized loss limit exceeded" in report and "loss 100.01" in report


class Broken:
    """A third-party risk plugin whose on_fill raises."""

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        from bot.api import RiskCheck

        class Boom(RiskCheck):
            def on_fill(self, strategy, fill):
                raise RuntimeError("boom")

        register("boom", Boom)


async def test_a_risk_check_that_raises_on_a_fill_is_reported_and_the_strategy_still_hears_it(make_bot):
    from tests.fakes.venue import plugin as venue_plugin
    from tests.helpers.risk_kit import fill, intent

    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n[risk.boom]\n',
                         extra=[("venue", venue_plugin), ("kit", kit_plugin), ("broken", Broken)])
    ctx = bot.strategies["s"].ctx
    ctx.submit(intent("s", Side.BUY, "1", "100", "f-1"))
    await wait_for(lambda: bot.executor.order("f-1").status is OrderStatus.OPEN)
    bot.bus.publish(fill("f-1", Side.BUY, "1", "100"))
    assert len(bot.strategies["s"].fills) == 1
    assert any("boom" in e for e in bot.plugins.infos["broken"].errors)


async def test_a_risk_check_that_raises_vetoes_and_is_logged_with_its_plugins_name(make_bot, caplog):
    from bot.api import RiskCheck

    class Broken(RiskCheck):
        def check(self, intent, view):
            raise ValueError("risk bug")

    class broken:
        @staticmethod
        @hookimpl
        def register_risk_checks(register):
            register("broken-check", Broken)

    bot = await make_bot('[risk.r]\ntype = "broken-check"\n', extra=[("broken", broken)])
    veto = bot.risk.check(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("100")))
    assert veto is not None and veto.reason == "risk check failed (ValueError: risk bug); order blocked"
    assert 'plugin "broken": risk check "r" raised ValueError: risk bug; the order is vetoed' in caplog.text


async def test_the_kill_switch_sends_none_of_the_orders_still_waiting_in_a_send_queue(make_bot):
    """Orders queued behind the venue's rate limit when the kill switch is pulled never leave: they end CANCELLED
    unsent, instead of going out one token at a time and being cancelled at the venue afterwards."""
    ScriptedVenue.instances.clear()
    bot = await make_bot('[executor]\norders_per_s = 1.0\nburst = 1\n[exchanges.v]\ntype = "scripted"\n'
                         '[strategies.s]\ntype = "recorder"\n', extra=[*PLUGINS, ("venue", venue_plugin)])
    venue = ScriptedVenue.instances[0]
    ids = [bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", str(90 - i))) for i in range(4)]
    assert all(ids)
    await wait_for(lambda: len(venue.received) == 1)
    bot.kill("operator", "fat finger")
    await wait_for(lambda: not bot.executor.open_orders(), timeout_s=10)
    assert [o.client_order_id for o in venue.received] == ids[:1]
    assert bot.executor.order(ids[0]).status is OrderStatus.CANCELLED  # cancelled at the venue
    for cid in ids[1:]:  # never sent: cancelled unsent (one whose row was not written yet is not stored at all)
        order = bot.executor.order(cid)
        assert order is None or order.status is OrderStatus.CANCELLED
    assert [u.status for u in bot.strategies["s"].updates if u.client_order_id in ids[1:]].count(
        OrderStatus.CANCELLED) == 3


async def test_a_paused_strategys_order_waiting_to_be_retried_is_not_sent_again(make_bot):
    """A pause (a risk trip, an operator's) lands while an order waits for its retry after a 503: the retry never
    leaves; the order ends CANCELLED unsent. A reduce-only order (a hedge through the pause) is still retried."""
    ScriptedVenue.instances.clear()
    bot = await make_bot('[executor]\nbackoff_initial_s = 0.2\nbackoff_max_s = 0.2\n[exchanges.v]\ntype = "scripted"\n'
                         '[strategies.s]\ntype = "recorder"\n', extra=[*PLUGINS, ("venue", venue_plugin)])
    venue = ScriptedVenue.instances[0]
    venue.faults = ["transient"]
    cid = bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "90"))
    await wait_for(lambda: not venue.faults)  # the first attempt was refused; its retry waits
    bot.pause_for_risk("limits", ["s"], "daily realized loss limit exceeded")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED)
    await bot.executor.settle(2)
    assert venue.received == []

    bot.portfolio.on_fill(fill("x", Side.BUY, "1", "100"))  # long 1 BTC: a sell only reduces it
    bot.resume(["s"], "operator")
    venue.faults = ["transient"]
    hedge = replace(intent("s", Side.SELL, "0.5", "100"), reduce_only=True)
    cid = bot.strategies["s"].ctx.submit(hedge)
    await wait_for(lambda: not venue.faults)
    bot.pause_for_risk("limits", ["s"], "daily realized loss limit exceeded")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN)
    assert [o.client_order_id for o in venue.received] == [cid]


async def test_a_strategy_cannot_trade_under_another_name_past_its_pause_or_the_kill_switch(make_bot):
    """An intent carries the name its pause and the kill switch are looked up by: a strategy that wrote another name
    in it (a running strategy's, or one no strategy has) was sent through its own pause and through /kill."""
    ScriptedVenue.instances.clear()
    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n'
                         '[strategies.t]\ntype = "recorder"\n', extra=[*PLUGINS, ("venue", venue_plugin)])
    s, t = bot.strategies["s"], bot.strategies["t"]
    bot.pause(["s"], "operator")
    assert s.ctx.submit(intent("t", Side.BUY, "0.01", "90")) is None  # t runs, s is paused
    assert t.ctx.submit(intent("t", Side.BUY, "0.01", "90")) is not None
    bot.kill("operator", "fat finger")
    assert t.ctx.submit(intent("ghost", Side.BUY, "0.01", "90")) is None
    assert s.ctx.submit(intent("s", Side.BUY, "0.01", "90")) is None


async def test_the_kill_switch_keeps_cancelling_an_order_the_venue_refused_to_cancel(make_bot):
    """/kill cancels every resting order: one whose cancel the venue refused (a 503) is asked again, with backoff,
    until it is cancelled, not left resting (and able to fill) until someone notices."""
    ScriptedVenue.instances.clear()
    bot = await make_bot('[executor]\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.1\n[exchanges.v]\ntype = "scripted"\n'
                         '[strategies.s]\ntype = "recorder"\n', extra=[*PLUGINS, ("venue", venue_plugin)])
    venue = ScriptedVenue.instances[0]
    cid = bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "90"))
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN)
    cancel, refused = venue.cancel_order, []

    async def flaky_cancel(symbol, client_order_id):
        if len(refused) < 2:
            refused.append(client_order_id)
            raise TransientError("503 service unavailable")
        return await cancel(symbol, client_order_id)
    venue.cancel_order = flaky_cancel
    bot.kill("operator", "fat finger")
    await wait_for(lambda: venue.orders[cid].status is OrderStatus.CANCELLED)
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.CANCELLED)
    assert len(refused) == 2


class Fragile(Strategy):
    """Raises on the first book; keeps a timer of its own that would still trade."""

    def markets(self):
        return [("v", "BTC/USD")]

    def on_market(self, event):
        raise RuntimeError("a bug in on_market")


class fragile_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("fragile", Fragile)


async def test_a_strategy_stopped_for_raising_cannot_trade_from_its_own_timer(make_bot):
    """A strategy that raised is "stopped until /resume": its callbacks are cut, and an order from a task of its own
    (a timer) is refused too, until an operator resumes it."""
    from tests.helpers.risk_kit import book

    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.f]\ntype = "fragile"\n',
                         extra=[*PLUGINS, ("venue", venue_plugin), ("fragile", fragile_plugin)])
    f = bot.strategies["f"]
    bot.bus.publish(book("100"))
    assert bot.strategy_failed("f")
    assert f.ctx.submit(intent("f", Side.BUY, "0.01", "90")) is None
    bot.resume(["f"], "operator")
    assert f.ctx.submit(intent("f", Side.BUY, "0.01", "90")) is not None


class BrokenStart:
    """A risk plugin whose check fails to start (its state could not be read)."""

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        from bot.api import RiskCheck

        class Unread(RiskCheck):
            async def start(self):
                raise RuntimeError("today's fills could not be read")

            def check(self, intent, view):
                return None

        register("unread", Unread)


async def test_a_risk_check_that_failed_to_start_blocks_every_order_as_one_that_raises(make_bot):
    """A configured check that could not start would judge nothing: the bot ran without it, every order unchecked.
    Fail closed, as for a check that raises: every order is vetoed, naming it, until the bot starts with it."""
    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n[risk.unread]\n',
                         extra=[*PLUGINS, ("venue", venue_plugin), ("unread", BrokenStart)])
    assert bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "90")) is None
    await bot.writer.drained()  # the veto's row is written on the store writer's thread
    [event] = bot.store.risk_events(1)
    assert event.check_name == "unread" and "failed to start" in event.reason
    assert any("failed to start" in e for e in bot.plugins.infos["unread"].errors)


@pytest.mark.parametrize("qty, price", [("-5", "100"), ("0", "100"), ("5", "-100"), ("5", "0"), ("NaN", "100"),
                                        ("Infinity", "100"), ("5", "Infinity")])
async def test_an_order_with_a_quantity_or_price_no_venue_can_take_is_refused_before_the_gate(make_bot, qty, price):
    """A "buy -5" passed max_order_notional (its value -500 is below any limit) and max_position (it lowers the
    position) and reached the venue: every check assumes a positive, finite quantity and price. The host refuses such
    an intent before any check, naming the figure, with or without risk checks configured."""
    ScriptedVenue.instances.clear()
    for limits in ("", '[risk.limits]\nmax_order_notional = "100"\nmax_position = "1"\n'):
        bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n' + limits,
                             extra=[*PLUGINS, ("venue", venue_plugin)])
        venue = ScriptedVenue.instances[-1]
        order = OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal(qty), Decimal(price))
        assert bot.strategies["s"].ctx.submit(order) is None
        await bot.executor.settle(1)
        assert venue.received == []
        await bot.stop()


class BrokenInit:
    """A risk plugin whose check cannot even be created."""

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        from bot.api import RiskCheck

        class Unmade(RiskCheck):
            def __init__(self, name, settings, ctx):
                raise RuntimeError("no model file")

        register("unmade", Unmade)


async def test_a_risk_check_that_could_not_be_created_blocks_every_order_too(make_bot):
    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n[risk.unmade]\n',
                         extra=[*PLUGINS, ("venue", venue_plugin), ("unmade", BrokenInit)])
    assert bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "90")) is None
    await bot.writer.drained()  # the veto's row is written on the store writer's thread
    [event] = bot.store.risk_events(1)
    assert event.check_name == "unmade" and "could not be created" in event.reason and "no model file" in event.reason


@pytest.mark.parametrize("act", ["pause", "kill"])
async def test_a_risk_check_acting_in_its_start_holds_the_strategies_built_after_it(make_bot, act):
    """Risk checks start before the strategies are built: a pause or kill asked for in start() (a limit found past
    in what the store holds) is done on them once they are, not dropped for want of strategies."""
    from bot.api import RiskCheck

    class AtStart(RiskCheck):
        async def start(self):
            if act == "pause":
                self.paused = self.ctx.pause(["s"], "past at start")
            else:
                self.ctx.kill("past at start")

    class at_start:
        @staticmethod
        @hookimpl
        def register_risk_checks(register):
            register("at-start", AtStart)

    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "recorder"\n'
                         '[strategies.t]\ntype = "recorder"\n[risk.r]\ntype = "at-start"\n',
                         extra=[("venue", venue_plugin), ("kit", kit_plugin), ("at", at_start)])
    check = bot.risk.checks[0]
    assert bot.strategies["s"].paused
    assert bot.strategies["t"].paused is (act == "kill")
    if act == "pause":
        assert check.paused == ["s"] and bot.strategy_state("s") == "paused by risk r"
        assert check.ctx.paused_by_me() == ["s"]
    else:
        assert bot.killed("s") and bot.killed("t")
