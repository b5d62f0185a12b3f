"""Services as a component kind: registered, configured in [plugins.NAME], started and stopped in order.

A test service plugin starts after the strategies, hears alerts and bus events through its
Context, reads the bot through the Operator, and stops (in reverse order) before the strategies
stop; a service that fails to start is reported with its plugin's name and the others run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from bot.api import (
    Alert,
    AlertLevel,
    BookUpdate,
    Caller,
    Refused,
    Service,
    Strategy,
    hookimpl,
    option,
)
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.store_kit import audit_lines

CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "quiet"
"""

EVENTS: list[str] = []


class Quiet(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]

    async def stop(self) -> None:
        EVENTS.append(f"strategy {self.name} stops")


@dataclass(frozen=True)
class EarSettings:
    greeting: str = option("hello", help="what the service logs on start")
    log_file: Path = option(Path("ear.log"), help="a file path: relative ones are resolved by the host")
    spare: Path | None = option(None, help="an optional path")
    enabled: bool = option(True, help="run it")


class Ear(Service):
    """Hears alerts and book updates; remembers them on itself (the service's own state)."""

    Settings = EarSettings

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.alerts: list[Alert] = []
        self.books: list[BookUpdate] = []

    async def start(self) -> None:
        strategies = ", ".join(self.ctx.operator.strategies)
        EVENTS.append(f"{self.name} starts ({self.settings.greeting}; strategies {strategies})")
        self.ctx.subscribe_alerts(self.alerts.append)
        self.ctx.bus.subscribe(BookUpdate, self.books.append, owner=self.name)

    async def stop(self) -> None:
        EVENTS.append(f"{self.name} stops")


class SecondEar(Ear):
    pass


class Deaf(Service):
    async def start(self) -> None:
        raise OSError("port 9 in use")


class EarPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("quiet", Quiet)

    @staticmethod
    @hookimpl
    def register_services(register):
        register("ear", Ear)
        register("deaf", Deaf)
        register("second-ear", SecondEar)


PLUGINS = [("venue", venue_plugin), ("ears", EarPlugin)]


def book(price: str) -> BookUpdate:
    p = Decimal(price)
    return BookUpdate("v", "BTC/USD", ((p, Decimal(1)),), ((p + 1, Decimal(1)),), 1)


async def test_a_service_starts_hears_alerts_and_events_and_stops_in_order(make_bot):
    EVENTS.clear()
    bot = await make_bot(CONFIG + '[plugins.ears]\ngreeting = "hi"\nspare = "~/spare.log"\n', extra=PLUGINS)
    ear, second = bot.operator.service("ear"), bot.operator.service("second-ear")
    assert isinstance(ear, Ear) and isinstance(second, SecondEar)
    assert ear.settings.log_file == bot.data_dir / "ear.log"  # the host resolved the relative path
    assert ear.settings.spare == Path.home() / "spare.log"
    assert EVENTS == ["ear starts (hi; strategies s)", "second-ear starts (hi; strategies s)"]
    assert bot.operator.service("deaf") is None  # failed to start: left out, reported, the others run
    assert bot.plugins.infos["ears"].errors == ['service "deaf" failed to start: OSError: port 9 in use']

    bot.bus.publish(book("100"))
    bot.alert(AlertLevel.WARNING, "test", "something to hear")
    assert [b.bids[0][0] for b in ear.books] == [Decimal("100")]
    assert "something to hear" in [a.message for a in ear.alerts]

    await bot.stop()
    assert EVENTS[2:] == ["second-ear stops", "ear stops", "strategy s stops"]
    heard = len(ear.alerts)
    bot.alerts.emit(Alert(level=AlertLevel.INFO, kind="late", source="t", message="after stop", ts_ns=1))
    bot.bus.publish(book("101"))
    assert len(ear.alerts) == heard and len(ear.books) == 1  # unsubscribed with it


async def test_a_disabled_service_is_not_started_and_settings_are_validated(make_bot):
    from bot.config import build_config, parse_toml
    from bot.plugins import collect, load_plugins
    from bot.settings import ConfigError

    EVENTS.clear()
    bot = await make_bot(CONFIG + "[plugins.ears]\nenabled = false\n", extra=PLUGINS)
    assert bot.operator.service("ear") is None and EVENTS == []

    registry = collect(load_plugins(extra=list(PLUGINS)))
    with pytest.raises(ConfigError, match=r"plugins\.ears\.greting"):
        build_config(parse_toml(CONFIG + '[plugins.ears]\ngreting = "typo"\n', "t.toml"), registry, "t.toml")


async def test_operator_verbs_check_roles_and_audit_outside_commands(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    op = bot.operator
    with pytest.raises(Refused, match="kill needs the admin role"):
        op.kill("from a viewer", Caller("stream", "watcher", "viewer"))
    assert not bot.strategies["s"].paused
    assert op.pause([], Caller("stream", "desk", "operator")) == ["s"]
    assert op.strategy_state("s") == "paused by stream:desk"
    rows = [(r.transport, r.user_id, r.command, r.outcome) for r in reversed(audit_lines(bot))]
    assert rows == [("stream", "watcher", "kill", "operator: refused: needs admin"),
                    ("stream", "desk", "pause", "operator: ok")]

    # Inside a command the command's own audit line covers the verb: one line per /pause.
    reply = await bot.commands.dispatch(Caller("local", "me", "operator"), "resume", [])
    assert reply.ok and not bot.strategies["s"].paused
    assert [(r.command, r.outcome) for r in audit_lines(bot, 1)] == [("resume", "ok")]
    assert len(audit_lines(bot)) == 3


async def test_old_bot_attributes_resolve_through_the_operator_with_a_deprecation(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    with pytest.warns(DeprecationWarning, match=r"bot\.executor: .*operator\.open_orders\(\)"):
        assert bot.operator.executor.open_orders() == []
    with pytest.raises(AttributeError):
        bot.operator.no_such_thing  # noqa: B018
    with pytest.warns(DeprecationWarning, match=r"bot\.pause\(names, by\): .*operator\.pause\(names, caller\)"):
        assert bot.operator.pause(["s"], by="my-plugin") == ["s"]
    assert bot.operator.strategy_state("s") == "paused by my-plugin"
    with pytest.warns(DeprecationWarning, match=r"bot\.resume"):
        bot.operator.resume(["s"], "my-plugin")
    assert bot.operator.strategy_state("s") == "running"


class LazyEarPlugin:
    """A service registered by reference, its settings declared: the class loads when the service starts."""

    @staticmethod
    @hookimpl
    def register_plugin_settings(register):
        register(EarSettings)

    @staticmethod
    @hookimpl
    def register_services(register):
        register("lazy-ear", "tests.test_services:SecondEar")
        register("missing-ear", "tests.test_services:NoSuchEar")


async def test_a_service_registered_by_reference_loads_when_it_starts(make_bot):
    EVENTS.clear()
    bot = await make_bot('[exchanges.v]\ntype = "scripted"\n', extra=[("venue", venue_plugin), ("lazy", LazyEarPlugin)],
                         start=False)
    assert not bot.registry.services["lazy-ear"].loaded
    await bot.start()
    try:
        assert isinstance(bot.operator.service("lazy-ear"), SecondEar) and bot.operator.service("missing-ear") is None
        errors = bot.plugins.infos["lazy"].errors
        assert len(errors) == 1 and "NoSuchEar" in errors[0]
    finally:
        await bot.stop()


class Tally(Service):
    """Publishes its own figures the generic way: facts for /status, counters and gauges for the metrics."""

    broken = False
    count = 0

    def status(self) -> dict[str, str]:
        if self.broken:
            raise RuntimeError("tally lost count")
        return {"seen": f"{self.count} things"}

    def counters(self) -> dict[str, int]:
        return {"seen": self.count}

    def gauges(self) -> dict[str, int | Decimal]:
        return {"backlog": 2, "ratio": Decimal("0.25")}


class tally_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("quiet", Quiet)

    @staticmethod
    @hookimpl
    def register_services(register):
        register("tally", Tally)


async def test_a_services_own_facts_are_in_status_and_one_that_raises_is_named_not_fatal(make_bot):
    """A service's counters were readable only through its own object: /status listed exchanges and notifiers, no
    service. Its status() facts are now rows named after it, as an exchange's are; one that raises shows
    "status() failed" and is reported against its plugin."""
    from bot.builtins import status

    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("tally", tally_plugin)])
    op = bot.operator
    tally = op.service("tally")
    assert isinstance(tally, Tally) and op.services["tally"] is tally
    tally.count = 3
    admin = Caller("local", "uid:0", "admin")
    assert dict((await status(op, admin, [])).rows)["tally seen"] == "3 things"
    tally.broken = True
    assert dict((await status(op, admin, [])).rows)["tally status()"] == "failed"
    assert any("tally lost count" in error for info in op.plugins() if info.name == "tally" for error in info.errors)
