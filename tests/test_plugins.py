"""Plugin discovery and isolation: broken plugins are named, reported and skipped."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

from bot import hookimpl
from bot.api import Caller, Command, Exchange, Reply, Strategy
from bot.api.testing import wait_for
from bot.cli import prepare
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError, Secret


def ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="arbot")


class GoodStrategy(Strategy):
    pass


class good_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("good", GoodStrategy)


class raising_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("half", GoodStrategy)
        raise RuntimeError("boom in register")


def collect_messages():
    seen = []
    return seen, (lambda info, message: seen.append(f"{info.label}: {message}"))


def test_first_party_plugins_come_from_entry_points():
    plugins = load_plugins()
    registry = collect(plugins)
    assert {"paper", "grid", "limits", "console"} <= set(plugins.infos)
    assert plugins.infos["limits"].dist == "arbot"
    assert registry.components["risk"]["limits"].plugin == "limits"
    assert registry.components["notifier"]["console"].plugin == "console"


def test_plugin_that_fails_to_import_is_reported_and_skipped(tmp_path: Path, monkeypatch):
    (tmp_path / "arbot_broken_mod.py").write_text("raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen, report = collect_messages()
    plugins = load_plugins(entry_points=[ep("broken", "arbot_broken_mod"), ep("missing", "no_such_module_xyz")],
                           extra=[("good", good_plugin)], report=report)
    registry = collect(plugins)
    assert registry.classes("strategy") == {"good": GoodStrategy}
    assert any(m.startswith('plugin "broken": failed to import arbot_broken_mod: ImportError: needs libfoo')
               for m in seen)
    assert any(m.startswith('plugin "missing": failed to import no_such_module_xyz: ModuleNotFoundError')
               for m in seen)
    assert plugins.infos["broken"].errors


def test_plugin_raising_in_a_hook_is_isolated():
    seen, report = collect_messages()
    plugins = load_plugins(entry_points=[], extra=[("raiser", raising_plugin), ("good", good_plugin)], report=report)
    registry = collect(plugins)
    assert registry.classes("strategy") == {"good": GoodStrategy}  # nothing of the failed call is kept
    assert seen == ['plugin "raiser": register_strategies raised RuntimeError: boom in register']


def test_two_plugins_registering_one_name_is_an_error_naming_both():
    class twin:
        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("good", GoodStrategy)

    plugins = load_plugins(entry_points=[], extra=[("first", good_plugin), ("second", twin)])
    registry = collect(plugins)
    assert len(registry.conflicts) == 1
    text = registry.conflicts[0]
    assert 'strategy "good" is registered by both plugin "' in text
    assert '"first"' in text and '"second"' in text and "[plugins] disabled" in text


def test_conflict_stops_run_with_a_clear_error(tmp_path: Path, monkeypatch):
    (tmp_path / "arbot_twin_limits.py").write_text(textwrap.dedent("""
        from bot import hookimpl
        from bot.api import RiskCheck
        class Other(RiskCheck):
            pass
        @hookimpl
        def register_risk_checks(register):
            register("limits", Other)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = importlib.metadata.entry_points

    def with_twin(**kw):
        found = list(real(**kw))
        return found + [ep("twin", "arbot_twin_limits")] if kw.get("group") == "arbot" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", with_twin)
    with pytest.raises(ConfigError) as info:
        prepare(None, secrets=False)
    assert 'risk "limits" is registered by both plugin "twin" and plugin "limits" (arbot 0.1.0)' in str(info.value)
    assert '[plugins] disabled = ["limits"] or [plugins] disabled = ["twin"]' in str(info.value)


def test_bad_registrations_are_named():
    class sloppy:
        @staticmethod
        @hookimpl
        def register_exchanges(register):
            register("Bad Name", Exchange)
            register("notaclass", object())

    seen, report = collect_messages()
    plugins = load_plugins(entry_points=[], extra=[("sloppy", sloppy)], report=report)
    registry = collect(plugins)
    assert registry.classes("exchange") == {}
    assert len(seen) == 2 and all(m.startswith('plugin "sloppy": register_exchanges:') for m in seen)


class sloppy_commands:
    @staticmethod
    @hookimpl
    def register_commands(register):
        async def handler(op, caller, args):
            return Reply("done")

        register(Command("flatten", handler, "Admin", "close every position"))  # "Admin": a typo of "admin"
        register(Command("Flatten", handler, "admin", "upper case: /Flatten is never dispatched"))
        register(Command("flat-all", handler, "admin", "a hyphen: `arbot ctl flat-all` dispatches /flat_all"))
        register(Command("tidy", handler, "viewer", "a good one: still registered"))


async def test_a_command_with_an_unknown_role_or_a_bad_name_is_refused_at_registration(make_bot):
    seen, report = collect_messages()
    registry = collect(load_plugins(entry_points=[], extra=[("sloppy", sloppy_commands)], report=report))
    assert "tidy" in registry.commands and not {"flatten", "Flatten", "flat-all"} & set(registry.commands)
    assert seen[0] == ('plugin "sloppy": register_commands: command "flatten": role \'Admin\' is not one of '
                       "'viewer', 'operator', 'admin'")
    assert len(seen) == 3 and all("command name" in m and "must match" in m for m in seen[1:])
    bot = await make_bot("", extra=[("sloppy", sloppy_commands)])
    reply = await bot.commands.dispatch(Caller("telegram", "1", "viewer"), "help", [])  # /help lists every command
    assert reply.ok and "/tidy" in reply.render_text()


def test_disabled_plugins_are_not_loaded():
    plugins = load_plugins(disabled=["console"])
    assert "console" not in collect(plugins).classes("notifier")


KEY = "sk-live-0123456789abcdef"


class leaky:
    @staticmethod
    @hookimpl
    def executions(store, strategy, since_ns, until_ns, limit):
        raise RuntimeError(f"401 from https://api.example/v1?api_key={KEY}")  # a library quoting its request


async def test_plugin_errors_are_kept_with_resolved_secrets_masked(make_bot, monkeypatch):
    """What /plugins, `arbot plugins` and GET /api/v1/plugins serve is masked as the log and the alerts are."""
    monkeypatch.setenv("ARBOT_TEST_LEAKY_KEY", KEY)
    Secret("env:ARBOT_TEST_LEAKY_KEY").resolve()  # as the host does for every env:/file: setting
    bot = await make_bot("[exchanges.paper]\nsymbols = [\"BTC/USD\"]\n", extra=[("leaky", leaky)])
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")
    bot.operator.executions()
    await wait_for(lambda: alerts, what="the plugin_error alert")
    [served] = [p.errors for p in bot.operator.plugins() if p.name == "leaky"]
    assert served and all(KEY not in e and "api_key=***" in e for e in served), served
    assert all(KEY not in a.message for a in alerts)


async def test_stored_opportunities_start_the_hosts_list_newest_kept_and_a_raising_plugin_is_named(make_bot):
    from decimal import Decimal

    from bot.api import Opportunity

    def stored(ts_ns: int) -> Opportunity:
        return Opportunity("old-arb", "SOL/USDC", "a", "b", Decimal(100), Decimal(101), Decimal(1), Decimal(50), ts_ns)

    class keeper:
        @staticmethod
        @hookimpl
        def stored_opportunities(store, limit):
            return [stored(ts) for ts in range(100, 100 - limit - 5, -1)]  # newest first, more than kept

    class broken:
        @staticmethod
        @hookimpl
        def stored_opportunities(store, limit):
            raise RuntimeError("no table")

    bot = await make_bot("[exchanges.paper]\nsymbols = [\"BTC/USD\"]\n", extra=[("keeper", keeper), ("broken", broken)])
    latest = bot.operator.opportunities(100)
    assert [o.ts_ns for o in latest] == list(range(100, 50, -1))  # the newest 50, newest first
    [errors] = [p.errors for p in bot.operator.plugins() if p.name == "broken"]
    assert any("stored_opportunities raised RuntimeError: no table" in e for e in errors), errors
