"""The running host: lifecycle hooks, jobs, commands with roles and audit, isolation of failures."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

from bot import hookimpl
from bot.api import Caller, Command, Job, Notifier, Reply, RiskCheck, Strategy, option
from bot.control import send_command
from bot.domain import AlertLevel, BookUpdate, FeedState, FeedStatus, Side, Trade
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.store_kit import audit_lines
from tests.helpers.waiting import wait_for

CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "fragile"
[notifiers.rec]
type = "recording"
"""


class Fragile(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]

    def on_market(self, event):
        if event.bids and event.bids[0][0] == Decimal("13"):
            raise ValueError("unlucky price")
        self.last = event


class Picky(Strategy):
    """Hears books and feed states only (:attr:`Strategy.market_events`)."""

    market_events = (BookUpdate, FeedStatus)

    def markets(self):
        return [("v", "BTC/USD")]

    def on_market(self, event):
        self.heard = [*getattr(self, "heard", []), type(event).__name__]


class Everything(Picky):
    market_events = Strategy.market_events  # the default: every kind


class Recording(Notifier):
    sent: list = []

    async def send(self, alert):
        Recording.sent.append(alert)


class Lifecycle:
    calls: list[str] = []

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("fragile", Fragile)
        register("picky", Picky)
        register("everything", Everything)

    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("recording", Recording)

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def echo(bot, caller, args):
            return Reply("echo", text=" ".join(args))
        register(Command("echo", echo, "operator", "repeat the arguments"))

    @staticmethod
    @hookimpl
    def register_jobs(register, config):
        async def tick(bot):
            Lifecycle.calls.append("job")
        register(Job("tick", tick, every_s=0.05))

    @staticmethod
    @hookimpl
    async def startup(bot):
        Lifecycle.calls.append("startup")

    @staticmethod
    @hookimpl
    def shutdown(bot):
        Lifecycle.calls.append("shutdown")


class BrokenStartup:
    @staticmethod
    @hookimpl
    def startup(bot):
        raise RuntimeError("cannot reach my service")


PLUGINS = [("venue", venue_plugin), ("lifecycle", Lifecycle), ("brokenstartup", BrokenStartup)]


def book(price: str) -> BookUpdate:
    p = Decimal(price)
    return BookUpdate("v", "BTC/USD", ((p, Decimal(1)),), ((p + 1, Decimal(1)),), 1)


async def test_lifecycle_hooks_jobs_and_isolated_startup_failure(make_bot):
    Lifecycle.calls.clear()
    Recording.sent.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    assert "startup" in Lifecycle.calls  # the broken startup hook did not stop the others
    await wait_for(lambda: "job" in Lifecycle.calls, what="the registered job to run")
    await wait_for(lambda: any(a.kind == "plugin_error" for a in Recording.sent))
    errors = [a.message for a in Recording.sent if a.kind == "plugin_error"]
    assert errors == ['plugin "brokenstartup": startup raised RuntimeError: cannot reach my service']
    await bot.stop()
    assert Lifecycle.calls[-1] == "shutdown"


async def test_strategy_raising_on_an_event_is_isolated_and_reported(make_bot):
    Recording.sent.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    bot.bus.publish(book("10"))
    assert bot.strategies["s"].last.bids[0][0] == Decimal("10")
    bot.bus.publish(book("13"))
    assert bot.strategy_failed("s")
    bot.bus.publish(book("11"))  # no longer delivered
    assert bot.strategies["s"].last.bids[0][0] == Decimal("10")
    await wait_for(lambda: any("unlucky price" in a.message for a in Recording.sent))
    bot.resume(["s"], by="test")
    bot.bus.publish(book("12"))
    assert bot.strategies["s"].last.bids[0][0] == Decimal("12")


async def test_commands_check_roles_and_audit_every_attempt(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    viewer = Caller("test", "v1", "viewer", chat_id="c1")
    stranger = Caller("test", "x9", None, chat_id="c1")
    assert (await bot.commands.dispatch(Caller("test", "o1", "operator"), "echo", ["hi"])).text == "hi"
    refused = await bot.commands.dispatch(viewer, "echo", ["hi"])
    assert not refused.ok and "needs the operator role" in refused.title
    denied = await bot.commands.dispatch(stranger, "pause", [])
    assert not denied.ok and denied.title == "Not authorized."
    assert not bot.strategies["s"].paused
    status = await bot.commands.dispatch(viewer, "status", [])
    assert status.ok and ("mode", "paper") in status.rows
    help_text = (await bot.commands.dispatch(viewer, "help", [])).render_text()
    assert "/status" in help_text and "/echo" not in help_text  # only what the caller may use
    audit = [(a.user_id, a.command, a.outcome) for a in reversed(audit_lines(bot))]
    assert audit == [("o1", "echo", "ok"), ("v1", "echo", "refused: needs operator"),
                     ("x9", "pause", "refused: no role"), ("v1", "status", "ok"), ("v1", "help", "ok")]


async def test_local_control_socket_pauses_and_resumes(make_bot, tmp_path):
    bot = await make_bot(CONFIG, extra=PLUGINS, control_socket="ctl.sock")
    try:
        path = tmp_path / "ctl.sock"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        answer = await send_command(path, "pause", ["s"])
        assert answer["ok"] and "Paused: s" in answer["text"]
        assert bot.strategies["s"].paused
        answer = await send_command(path, "status", [])
        assert "paused by local:uid:" in answer["text"]
        answer = await send_command(path, "resume", [])
        assert answer["ok"] and not bot.strategies["s"].paused
        assert audit_lines(bot)[0].transport == "local"
    finally:
        await bot.stop()
    await asyncio.sleep(0)
    assert not (tmp_path / "ctl.sock").exists()


async def test_a_command_asking_first_over_the_control_socket_is_confirmed_by_the_same_uid_once(make_bot, tmp_path):
    """`arbot ctl kill` answers with the question and a token; {"confirm": TOKEN} runs it, as a Confirm button."""
    from bot.control import send_confirm

    bot = await make_bot(CONFIG, extra=PLUGINS, control_socket="ctl.sock")
    path = tmp_path / "ctl.sock"
    asked = await send_command(path, "kill", ["ctl", "test"])
    assert asked["ok"] and asked["text"].startswith("Kill switch: pause 1 strategy and") and asked["confirm_token"]
    assert not bot.killed("s")
    done = await send_confirm(path, asked["confirm_token"])
    assert done["ok"] and "Kill switch: 1 strategy paused," in done["text"] and bot.killed("s")
    again = await send_confirm(path, asked["confirm_token"])
    assert again == {"ok": False, "text": "Already confirmed once."}
    assert (await send_confirm(path, "made-up")) == {"ok": False, "text": "Nothing to confirm."}
    outcomes = [(a.transport, a.command, a.outcome) for a in reversed(audit_lines(bot))]
    assert outcomes == [("local", "kill", "awaiting confirmation"), ("local", "kill", "confirmed: ok"),
                        ("local", "kill", "refused: confirmation already used"),
                        ("local", "confirm", "refused: unknown confirmation")]


class Dangerous:
    ran: list[list[str]] = []

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def nuke(bot, caller, args):
            Dangerous.ran.append(args)
            return Reply("nuked")

        def question(bot, args):
            return None if args == ["dry"] else "Cancel everything?"

        register(Command("nuke", nuke, "admin", "cancel everything", confirm=question))


async def test_dangerous_command_needs_the_same_users_confirmation_in_time(make_bot):
    from bot.clock import ManualClock

    clock = ManualClock()
    Dangerous.ran.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS + [("dangerous", Dangerous)], clock=clock)
    admin, other_admin = Caller("tg", "1", "admin"), Caller("tg", "2", "admin")

    assert (await bot.commands.dispatch(admin, "nuke", ["dry"])).title == "nuked"  # no question: runs at once
    asked = await bot.commands.dispatch(admin, "nuke", ["all"])
    assert asked.confirm_token and asked.title == "Cancel everything?" and Dangerous.ran == [["dry"]]
    foreign = await bot.commands.confirm(other_admin, asked.confirm_token)
    assert not foreign.ok and Dangerous.ran == [["dry"]]
    other_transport = await bot.commands.confirm(Caller("discord", "1", "admin"), asked.confirm_token)
    assert not other_transport.ok
    done = await bot.commands.confirm(admin, asked.confirm_token)
    assert done.title == "nuked" and Dangerous.ran == [["dry"], ["all"]]
    replay = await bot.commands.confirm(admin, asked.confirm_token)
    assert not replay.ok and Dangerous.ran == [["dry"], ["all"]]

    late = await bot.commands.dispatch(admin, "nuke", ["late"])
    clock.advance(60.5)
    expired = await bot.commands.confirm(admin, late.confirm_token)
    assert not expired.ok and "expired" in expired.title and ["late"] not in Dangerous.ran
    outcomes = [a.outcome for a in reversed(audit_lines(bot))]
    assert outcomes == ["ok", "awaiting confirmation", "refused: confirmation of another user",
                        "refused: confirmation of another user", "confirmed: ok",
                        "refused: confirmation already used", "awaiting confirmation",
                        "refused: confirmation expired"]


async def test_per_user_rate_limit(make_bot):
    from bot.clock import ManualClock

    clock = ManualClock()
    bot = await make_bot(CONFIG + "[commands]\nper_user_per_min = 3\n", extra=PLUGINS, clock=clock)
    viewer = Caller("tg", "7", "viewer")
    replies = [await bot.commands.dispatch(viewer, "help", []) for _ in range(4)]
    assert [r.ok for r in replies] == [True, True, True, False]
    assert "Too many commands" in replies[-1].title
    assert (await bot.commands.dispatch(Caller("tg", "8", "viewer"), "help", [])).ok  # per user
    clock.advance(60)
    assert (await bot.commands.dispatch(viewer, "help", [])).ok


async def test_a_confirm_press_refused_by_the_rate_limit_can_be_pressed_again(make_bot):
    """A press the per-user rate limit refuses does not use the confirmation up: once the minute is over, the
    same user's press runs the command, within the confirmation's time."""
    from bot.clock import ManualClock

    clock = ManualClock()
    Dangerous.ran.clear()
    bot = await make_bot(CONFIG + "[commands]\nper_user_per_min = 2\nconfirm_ttl_s = 600\n",
                         extra=PLUGINS + [("dangerous", Dangerous)], clock=clock)
    admin = Caller("tg", "1", "admin")
    asked = await bot.commands.dispatch(admin, "nuke", ["all"])
    await bot.commands.dispatch(admin, "help", [])
    refused = await bot.commands.confirm(admin, asked.confirm_token)
    assert not refused.ok and refused.title.startswith("Too many commands") and Dangerous.ran == []
    clock.advance(61)  # the rate window is over, the confirmation (600 s) is not
    done = await bot.commands.confirm(admin, asked.confirm_token)
    assert done.ok and done.title == "nuked" and Dangerous.ran == [["all"]]
    outcomes = [a.outcome for a in reversed(audit_lines(bot))]
    assert outcomes == ["awaiting confirmation", "ok", "refused: rate limit", "confirmed: ok"]


def test_fill_prices_are_shown_to_eight_significant_digits():
    from bot.units import price

    assert price(Decimal("150.49")) == "150.49"
    assert price(Decimal("0.10000000")) == "0.1"
    assert price(Decimal("1501.123828") / Decimal("9.9")) == "151.62867"  # a DEX swap's quote/base ratio


async def test_a_strategy_receives_only_the_market_events_it_declares(make_bot):
    two = '[strategies.p]\ntype = "picky"\n[strategies.e]\ntype = "everything"\n'
    bot = await make_bot(CONFIG + two, extra=PLUGINS)
    trade = Trade("v", "BTC/USD", Decimal(10), Decimal(1), Side.BUY, 1)
    for event in (trade, book("10"), FeedStatus("v", "BTC/USD", FeedState.STALE, 2), trade):
        bot.bus.publish(event)
    assert bot.strategies["p"].heard == ["BookUpdate", "FeedStatus"]
    assert bot.strategies["e"].heard == ["Trade", "BookUpdate", "FeedStatus", "Trade"]


class Moody(Strategy):
    """A strategy whose ``status()`` has a bug while ``failing``."""

    failing = True

    def status(self):
        if Moody.failing:
            raise ZeroDivisionError("a bug in the plugin's status()")
        return {"slots": "3"}


class Calm(Strategy):
    def status(self):
        return {"fine": "yes"}


class BrokenCheck(RiskCheck):
    def status(self):
        raise ZeroDivisionError("a bug in the plugin's status()")

    def usage(self):
        raise ZeroDivisionError("a bug in the plugin's usage()")


class CalmPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("calm", Calm)


class MoodyPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("moody", Moody)

    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        register("broken-check", BrokenCheck)


MOODY = [("calm-plugin", CalmPlugin), ("moody-plugin", MoodyPlugin)]


async def test_a_status_that_raises_is_a_failed_row_reported_against_its_plugin_once_per_streak(make_bot):
    Moody.failing = True
    bot = await make_bot("[strategies.calm]\n[strategies.moody]\n", extra=MOODY)
    viewer = Caller("test", "v1", "viewer")
    for _ in range(2):  # before: "/status failed: ZeroDivisionError" for every strategy, venue and notifier
        status = await bot.commands.dispatch(viewer, "status", [])
        assert status.ok, status.render_text()
        assert ("calm", "running; fine yes") in status.rows and ("moody", "running; status() failed") in status.rows
    errors = bot.plugins.info("moody-plugin").errors
    assert errors == ['strategy "moody": status() raised ZeroDivisionError: a bug in the plugin\'s status()']
    assert bot.plugins.info("arbot").errors == []  # not the host's /status: the plugin's status()
    Moody.failing = False
    assert ("moody", "running; slots 3") in (await bot.commands.dispatch(viewer, "status", [])).rows
    Moody.failing = True
    await bot.commands.dispatch(viewer, "status", [])
    assert len(bot.plugins.info("moody-plugin").errors) == 2  # a new streak is reported again


async def test_a_risk_check_whose_status_and_usage_raise_leaves_risk_answering(make_bot):
    bot = await make_bot("[strategies.calm]\n[risk.broken-check]\n", extra=MOODY)
    risk = await bot.commands.dispatch(Caller("test", "v1", "viewer"), "risk", [])
    assert risk.ok, risk.render_text()  # before: "/risk failed: ZeroDivisionError"
    assert ("broken-check", "status()", "failed") in risk.rows
    assert [(v.name, dict(v.facts), dict(v.usage)) for v in bot.operator.risk()] == [
        ("broken-check", {"status()": "failed"}, {})]
    assert sorted(bot.plugins.info("moody-plugin").errors) == [
        'risk "broken-check": status() raised ZeroDivisionError: a bug in the plugin\'s status()',
        'risk "broken-check": usage() raised ZeroDivisionError: a bug in the plugin\'s usage()']


class Unmapped(Strategy):
    """Its markets() raises: a bug reading its settings. While ``failing`` is False it trades v BTC/USD."""

    failing = True

    def markets(self):
        if Unmapped.failing:
            raise KeyError("symbol")
        return [("v", "BTC/USD")]


class Quiet(Strategy):
    pass


class UnmappedPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("unmapped", Unmapped)
        register("quiet", Quiet)


async def test_a_strategy_whose_markets_raises_at_start_is_left_out_not_the_bot(make_bot):
    Unmapped.failing = True
    bot = await make_bot("[strategies.unmapped]\n[strategies.quiet]\n", extra=[("mapless", UnmappedPlugin)])
    assert list(bot.strategies) == ["quiet"]  # before: KeyError out of Bot.start, and no bot at all
    assert bot.plugins.info("mapless").errors == [
        "strategy \"unmapped\" failed to start: markets() raised KeyError: 'symbol'"]


async def test_a_strategy_whose_markets_raises_later_trades_nothing_as_the_others_see_it(make_bot):
    Unmapped.failing = False
    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.unmapped]\n[strategies.quiet]\n',
                         extra=[("venue", venue_plugin), ("mapless", UnmappedPlugin)])
    assert bot.strategies_using("v") == ["unmapped"]
    Unmapped.failing = True
    assert bot.strategies_using("v") == []  # before: the KeyError went to the risk check that asked
    rows = (await bot.commands.dispatch(Caller("test", "v1", "viewer"), "strategies", [])).rows
    assert ("unmapped", "unmapped", "running", "markets() failed") in rows
    assert bot.plugins.info("mapless").errors == ["strategy \"unmapped\": markets() raised KeyError: 'symbol'"]


async def test_a_strategy_naming_an_exchange_no_table_configures_is_left_out_saying_so(make_bot):
    class Lost(Strategy):
        def markets(self):
            return [("v", "BTC/USD"), ("nope", "BTC/USD")]

    class lost:
        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("lost", Lost)

    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n[strategies.s]\ntype = "lost"\n',
                         extra=[("venue", venue_plugin), ("lost", lost)])
    assert "s" not in bot.strategies
    assert bot.plugins.info("lost").errors == [
        'strategy "s": its markets() name exchange(s) nope, which no [exchanges.NAME] table configures; '
        "configured: v"]


@dataclasses.dataclass(frozen=True)
class ListedSettings:
    symbols: list[str] = option(["BTC/USD"], help="the markets it trades")


class ListedVenue(ScriptedVenue):
    """A venue that says what it trades only through its settings' ``symbols`` (no markets_of of its own)."""

    Settings = ListedSettings


class Elsewhere(Strategy):
    """Names its markets in markets() only (no symbols_at), one of them a market its venue does not trade."""

    def markets(self):
        return [("v", "BTC/USD"), ("v", "ETH/USD")]


class listed:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("listed", ListedVenue)

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("elsewhere", Elsewhere)


async def test_a_strategy_whose_markets_name_a_symbol_its_venue_does_not_trade_is_left_out_saying_so(make_bot):
    """Before: it ran, subscribed to a market that never publishes, and heard nothing, with no error anywhere."""
    bot = await make_bot('[exchanges.v]\ntype = "listed"\n[strategies.s]\ntype = "elsewhere"\n',
                         extra=[("listed", listed)])
    assert "s" not in bot.strategies
    assert bot.operator.strategies_not_started["s"] == 'exchange "v" does not trade ETH/USD'
    assert bot.plugins.info("listed").errors == [
        'strategy "s": its markets() name "ETH/USD" on exchange "v", which trades BTC/USD only; add it to '
        "[exchanges.v] (or trade it on a venue that has it), or change [strategies.s] to a market v trades"]


async def test_a_venue_whose_balances_fail_at_start_is_logged_with_its_plugins_name(make_bot, caplog):
    from tests.fakes.venue import ScriptedVenue

    class NoBalances(ScriptedVenue):
        async def balances(self):
            raise RuntimeError("balances broke")

    class broke:
        @staticmethod
        @hookimpl
        def register_exchanges(register):
            register("no-balances", NoBalances)

    await make_bot('[exchanges.v]\ntype = "no-balances"\n', extra=[("broke", broke)])
    assert ('plugin "broke": balances of exchange "v" not stored at start: RuntimeError: balances broke'
            in caplog.text)


async def test_a_second_bot_on_a_running_bots_data_dir_is_refused_before_it_touches_the_store(make_bot, tmp_path):
    """`arbot run` started by hand while the service runs (same config): the second process opened the store,
    took the store identity, recovered the running bot's orders as "left by the previous run" (an order still
    being sent, not yet at the venue, is marked FAILED so), snapshotted balances and started strategies, and only
    then found the control socket taken. It is refused first."""
    from bot.errors import UserError

    running = await make_bot(CONFIG, extra=PLUGINS, control_socket="ctl.sock")
    second = await make_bot(CONFIG, extra=PLUGINS, control_socket="ctl.sock", start=False)
    recovered = []
    real_recover = second.executor.recover

    async def recover(*args, **kwargs):
        recovered.append(1)
        return await real_recover(*args, **kwargs)

    second.executor.recover = recover  # type: ignore[method-assign]
    try:
        try:
            await second.start()
            raise AssertionError("the second bot started")
        except UserError as exc:
            assert "another arbot is already running" in str(exc)
        assert second.identity is None and recovered == []
        assert (await send_command(tmp_path / "ctl.sock", "status", []))["ok"]  # the first still answers
    finally:
        await second.stop()
        await running.stop()


class _VenueThatWillNotStart(ScriptedVenue):
    async def start(self) -> None:
        raise ConnectionError("venue down")


class _WillNotStartPlugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("will-not-start", _VenueThatWillNotStart)


async def test_a_strategy_left_out_at_start_stays_visible_as_failed_and_is_alerted(make_bot):
    """A strategy whose venue did not start is left out of the run; it must not vanish: its state is failed with
    the reason (so /status, /strategies, the metrics and every surface list it), /resume names why it cannot, and
    an alert says it does not trade."""
    from bot.builtins import status, strategies

    Unmapped.failing = False  # trades v BTC/USD, whose venue fails to start
    bot = await make_bot('[exchanges.v]\ntype = "will-not-start"\n[strategies.unmapped]\n[strategies.quiet]\n',
                         start=False, extra=[("down", _WillNotStartPlugin), ("mapless", UnmappedPlugin)])
    heard: list = []
    bot.subscribe_alerts(heard.append, owner="test")
    await bot.start()
    try:
        op = bot.operator
        assert list(op.strategies) == ["quiet"]
        assert op.strategy_names() == ["quiet", "unmapped"]
        assert op.strategy_state("unmapped") == "failed (not started: exchange(s) v did not start)"
        assert op.strategy_failed("unmapped")
        admin = Caller("local", "uid:0", "admin")
        rows = dict((await status(op, admin, [])).rows)
        assert rows["unmapped"].startswith("failed (not started")
        assert (await status(op, admin, [])).data["summary"]["running"] == "1/2"
        listed = {row[0]: row for row in (await strategies(op, admin, [])).rows}
        assert listed["unmapped"][2].startswith("failed (not started")
        try:
            op.resume(["unmapped"], admin)
        except KeyError as exc:
            assert "was not started" in str(exc) and "restart" in str(exc)
        else:
            raise AssertionError("resume of a strategy that never started succeeded")
        assert any(a.level is AlertLevel.CRITICAL and "unmapped" in a.message and "not trading" in a.message
                   for a in heard), [a.message for a in heard]
    finally:
        await bot.stop()
