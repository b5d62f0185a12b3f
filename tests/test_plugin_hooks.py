"""How arbot calls hooks: in pluggy's order, one plugin at a time; wrappers refused; lazy components."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from bot import hookimpl
from bot.api import Exchange, MarketInfo, Notifier, Strategy
from bot.cli import cmd_plugins
from bot.config import build_config, parse_toml
from bot.plugins import ComponentLoadError, collect, load_plugins
from bot.settings import ConfigError


class Recorder:
    """Plugins that append their name when their ``startup`` hook runs."""

    def __init__(self):
        self.calls: list[str] = []

    def plugin(self, name: str, **marks):
        calls = self.calls

        class plugin:
            @staticmethod
            @hookimpl(**marks)
            def startup(bot):
                calls.append(name)

        return name, plugin


async def test_implementations_run_in_pluggys_order_tryfirst_first():
    rec = Recorder()
    plugins = load_plugins(entry_points=[], extra=[rec.plugin("late", trylast=True), rec.plugin("a"),
                                                   rec.plugin("first", tryfirst=True), rec.plugin("b")])
    plugins.pm.hook.startup(operator=None, bot=None)  # pluggy's own caller
    by_pluggy, rec.calls[:] = list(rec.calls), []
    await plugins.call_each_async("startup", operator=None, bot=None)
    assert rec.calls == by_pluggy == ["first", "b", "a", "late"]


async def test_a_raising_implementation_is_isolated_and_the_rest_run_in_order(caplog):
    rec = Recorder()

    class boom:
        @staticmethod
        @hookimpl
        def startup(bot):
            raise RuntimeError("startup failed")

    seen = []
    plugins = load_plugins(entry_points=[], extra=[rec.plugin("a"), ("boom", boom), rec.plugin("first", tryfirst=True)],
                           report=lambda info, message: seen.append(f"{info.label}: {message}"))
    with caplog.at_level(logging.DEBUG, logger="arbot.plugins"):
        await plugins.call_each_async("startup", operator=None, bot=None)
    assert rec.calls == ["first", "a"]
    assert seen == ['plugin "boom": startup raised RuntimeError: startup failed']
    [record] = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert 'raise RuntimeError("startup failed")' in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("marks", [{"wrapper": True}, {"hookwrapper": True}])
def test_a_hook_wrapper_is_refused_at_load_with_a_clear_message(marks):
    class wrapping:
        @staticmethod
        @hookimpl(**marks)
        def register_strategies(register):
            yield

    seen = []
    plugins = load_plugins(entry_points=[], extra=[("wrapping", wrapping)],
                           report=lambda info, message: seen.append(f"{info.label}: {message}"))
    assert not plugins.pm.has_plugin("wrapping")
    assert seen == ['plugin "wrapping": declares the hook wrapper(s) register_strategies, which arbot does not '
                    "support: arbot calls each plugin's hook on its own so that one failing plugin cannot stop the "
                    "others; use a plain @hookimpl (tryfirst=True or trylast=True to order it)"]


def test_an_unknown_hook_refuses_that_plugin_by_name_with_a_did_you_mean_and_the_others_load():
    class typo:
        @staticmethod
        @hookimpl
        def register_strategy(register):  # one letter short of register_strategies
            register("never", "nowhere:Never")

    class fine:
        @staticmethod
        @hookimpl
        def startup(operator):
            return None

    seen = []
    plugins = load_plugins(entry_points=[], extra=[("typo", typo), ("fine", fine)],
                           report=lambda info, message: seen.append(f"{info.label}: {message}"))
    assert not plugins.pm.has_plugin("typo") and plugins.pm.has_plugin("fine")
    assert seen == ['plugin "typo": implements register_strategy, which is not an arbot hook (did you mean '
                    'register_strategies?); rename it to one of the hooks in docs/plugins.md ("The hooks")']


def test_an_implementation_taking_an_argument_the_hook_does_not_have_names_the_hooks_arguments():
    class misnamed:
        @staticmethod
        @hookimpl
        def register_jobs(reg, config):
            return None

    seen = []
    plugins = load_plugins(entry_points=[], extra=[("misnamed", misnamed)],
                           report=lambda info, message: seen.append(f"{info.label}: {message}"))
    assert not plugins.pm.has_plugin("misnamed")
    assert seen == ['plugin "misnamed": register_jobs(reg, config) takes reg, which the hook does not pass; '
                    "register_jobs passes register, config (take any of them, by these names)"]


def test_entry_point_import_failure_logs_its_traceback_at_debug(tmp_path: Path, monkeypatch, caplog):
    (tmp_path / "arbot_broken_deep.py").write_text("def f():\n    raise ImportError('needs libfoo')\nf()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint(name="deep", value="arbot_broken_deep", group="arbot")
    with caplog.at_level(logging.DEBUG, logger="arbot.plugins"):
        plugins = load_plugins(entry_points=[entry], report=lambda info, message: None)
    assert plugins.infos["deep"].errors == ["failed to import arbot_broken_deep: ImportError: needs libfoo"]
    assert "Traceback" in caplog.text and "in f" in caplog.text


def test_a_component_registered_by_reference_loads_when_the_config_uses_it(tmp_path: Path, monkeypatch):
    (tmp_path / "arbot_lazy_impl.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass
        from bot.api import Strategy
        from bot.settings import option

        @dataclass(frozen=True)
        class LazySettings:
            size: int = option(1, ge=1, help="a size")

        class Lazy(Strategy):
            Settings = LazySettings
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "arbot_lazy_impl", raising=False)

    class lazy_plugin:
        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("lazy", "arbot_lazy_impl:Lazy")
            register("broken", "arbot_no_such_module_xyz:Thing")

    seen = []
    registry = collect(load_plugins(entry_points=[], extra=[("lazy", lazy_plugin)],
                                    report=lambda info, message: seen.append(message)))
    assert "lazy" in registry.classes("strategy") and "arbot_lazy_impl" not in sys.modules
    config = build_config(parse_toml('[strategies.s]\ntype = "lazy"\nsize = 3\n', "t"), registry, "t")
    assert config.components["strategy"]["s"].settings.size == 3 and "arbot_lazy_impl" in sys.modules
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml('[strategies.s]\ntype = "broken"\n', "t"), registry, "t")
    assert ('strategies.s: plugin "lazy": strategy "broken" (arbot_no_such_module_xyz:Thing) could not be loaded: '
            "ModuleNotFoundError") in str(info.value)
    assert seen and seen[0].startswith('strategy "broken" (arbot_no_such_module_xyz:Thing) could not be loaded')


def test_a_reference_to_the_wrong_kind_of_class_is_refused_when_loaded():
    class wrong:
        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("wrong", "bot.api:Notifier")
            register("notaref", "just text")

    seen = []
    registry = collect(load_plugins(entry_points=[], extra=[("wrong", wrong)],
                                    report=lambda info, message: seen.append(message)))
    assert seen == ["register_strategies: \"notaref\": 'just text' is not a \"package.module:Class\" reference"]
    with pytest.raises(ComponentLoadError, match="not a subclass of bot.api.Strategy"):
        registry.classes("strategy")["wrong"]


def test_arbot_plugins_shows_both_sides_of_a_conflict(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "arbot_twin_grid.py").write_text(textwrap.dedent("""
        from bot import hookimpl
        @hookimpl
        def register_strategies(register):
            register("grid", "plugins.grid.strategy:GridStrategy")
            register("twin-only", "plugins.grid.strategy:GridStrategy")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = importlib.metadata.entry_points
    twin = importlib.metadata.EntryPoint(name="twin", value="arbot_twin_grid", group="arbot")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [*real(**kw), *([twin] if kw.get("group") == "arbot" else [])])
    assert cmd_plugins(argparse.Namespace(config=None, verbose=True)) == 1  # the wide view: one line each
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip() and " " in line.strip()}
    assert "strategy:grid(conflict)" in lines["grid"] and lines["grid"].rstrip().endswith("conflict")
    assert "strategy:grid(conflict)" in lines["twin"] and "strategy:twin-only" in lines["twin"]
    assert lines["twin"].rstrip().endswith("conflict") and "strategy" in lines["twin"].split()[1]
    assert 'conflict: strategy "grid" is registered by both' in out


async def test_a_component_that_fails_to_construct_or_start_logs_its_traceback_at_debug(make_bot, caplog):
    from bot.api import Notifier

    class Unbuildable(Notifier):
        def __init__(self, name, settings, ctx):
            raise ValueError("bad wiring in __init__")

    class Unstartable(Notifier):
        async def start(self) -> None:
            raise OSError("port taken in start")

        async def send(self, alert) -> None:
            pass

    class broken:
        @staticmethod
        @hookimpl
        def register_notifiers(register):
            register("unbuildable", Unbuildable)
            register("unstartable", Unstartable)

    with caplog.at_level(logging.DEBUG, logger="arbot.plugins"):
        bot = await make_bot("[exchanges.paper]\n[notifiers.a]\ntype = \"unbuildable\"\n"
                             "[notifiers.b]\ntype = \"unstartable\"\n", extra=[("broken", broken)])
    assert bot.plugins.infos["broken"].errors == [
        'notifier "a" could not be created: ValueError: bad wiring in __init__',
        'notifier "b" failed to start: OSError: port taken in start']
    tracebacks = [r for r in caplog.records if r.levelno == logging.DEBUG and (r.exc_info or r.exc_text)]
    assert len(tracebacks) == 2 and caplog.text.count("Traceback (most recent call last)") >= 2
    assert 'raise ValueError("bad wiring in __init__")' in caplog.text and 'raise OSError("port taken' in caplog.text


class HalfVenue(Exchange):
    """Implements ``market`` alone of the exchange's abstract methods."""

    simulated = True

    def market(self, symbol: str) -> MarketInfo:
        raise KeyError(symbol)


class SyncSendNotifier(Notifier):
    def send(self, alert):  # type: ignore[override]  # the mistake under test: the host awaits send
        return None


class AsyncMarketStrategy(Strategy):
    async def on_market(self, event):  # type: ignore[override]  # the mistake under test: a hot-path callback
        return None


@pytest.mark.parametrize(("table", "cls", "problem"), [
    ("exchanges", HalfVenue, "HalfVenue does not implement balances, cancel_order, fetch_order, open_orders, "
                             "place_order (abstract in its base classes): define them"),
    ("notifiers", SyncSendNotifier, "its send() must be a coroutine (async def send): the host awaits it"),
    ("strategies", AsyncMarketStrategy, "its on_market() must be a plain def, not async def: the host calls it "
                                        "without awaiting, so its body would never run"),
])
def test_a_component_class_of_the_wrong_shape_is_refused_by_check_config_naming_the_method(table, cls, problem):
    kind, hook = {"exchanges": ("exchange", "register_exchanges"), "notifiers": ("notifier", "register_notifiers"),
                  "strategies": ("strategy", "register_strategies")}[table]

    class shaped:
        pass

    def register(register):
        register("shaped", cls)

    shaped.register = staticmethod(hookimpl(specname=hook)(register))  # type: ignore[attr-defined]
    registry = collect(load_plugins(entry_points=[], extra=[("shaped", shaped)], report=lambda info, message: None))
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml(f'[{table}.x]\ntype = "shaped"\n', "t"), registry, "t")
    assert f'{table}.x: plugin "shaped": {kind} "shaped" could not be loaded: {problem}' in str(info.value)


@pytest.mark.parametrize("extra_name", ["dup", "dup-local"])
def test_an_installed_plugin_passed_again_in_extra_is_refused_with_the_fix(tmp_path: Path, monkeypatch, extra_name):
    """The testing recipe passes a plugin in ``extra=``; once it is installed, its entry point loads it too. Before:
    pluggy's ValueError with every registered plugin in it, recorded against the installed plugin."""
    (tmp_path / "arbot_dup_mod.py").write_text("from bot import hookimpl\n\n@hookimpl\ndef startup(operator):\n"
                                               "    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "arbot_dup_mod", raising=False)
    import arbot_dup_mod  # type: ignore[import-not-found]

    entry = importlib.metadata.EntryPoint(name="dup", value="arbot_dup_mod", group="arbot")
    seen = []
    plugins = load_plugins(entry_points=[entry], extra=[(extra_name, arbot_dup_mod)],
                           report=lambda info, message: seen.append(f"{info.label}: {message}"))
    assert plugins.pm.get_plugin("dup") is arbot_dup_mod and plugins.infos["dup"].errors == []
    if extra_name == "dup":  # the very plugin the entry point loaded: nothing to add, nothing wrong
        assert seen == []
    else:
        assert seen == ['plugin "dup-local": arbot_dup_mod is already loaded as the installed plugin "dup" (its entry '
                        "point): pass it in extra= only when it is not installed, or build with entry_points=[]"]


def test_arbot_plugins_reports_broken_references_without_importing_the_good_ones(tmp_path: Path, monkeypatch, capsys):
    """A reference that cannot resolve (no such module, no such class in it), or a class the host cannot use, shows
    as an error in `arbot plugins`, before any config uses it; a sound reference is still not imported."""
    (tmp_path / "arbot_refs_impl.py").write_text(textwrap.dedent("""
        from bot.api import Strategy
        class Good(Strategy):
            pass
    """))
    (tmp_path / "arbot_refs.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass
        from bot import hookimpl
        from bot.api import Notifier, option

        @dataclass
        class Loose:
            size: int = option(1, ge=1, le=9, help="a size")

        class LooseNotifier(Notifier):
            Settings = Loose
            async def send(self, alert):
                pass

        @hookimpl
        def register_strategies(register):
            register("refs-good", "arbot_refs_impl:Good")
            register("refs-no-module", "arbot_refs_no_such_module:Thing")
            register("refs-no-class", "arbot_refs_impl:Missing")

        @hookimpl
        def register_notifiers(register):
            register("refs-loose", LooseNotifier)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint(name="refs", value="arbot_refs", group="arbot")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [ep] if kw.get("group") == "arbot" else [])
    assert cmd_plugins(argparse.Namespace(config=None, verbose=True)) == 1
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if line.startswith("refs ")]
    assert row.rstrip().endswith("error")
    assert ('strategy "refs-no-module" (arbot_refs_no_such_module:Thing) could not be loaded: ModuleNotFoundError: '
            "No module named 'arbot_refs_no_such_module'") in out
    assert ('strategy "refs-no-class" (arbot_refs_impl:Missing) could not be loaded: AttributeError: module '
            "'arbot_refs_impl' has no attribute 'Missing'") in out
    assert 'notifier "refs-loose" could not be loaded: its Settings (Loose) is not frozen' in out
    assert "refs-good" not in out.split("\n\n", 1)[1]  # no note on the sound one...
    assert "arbot_refs_impl" not in sys.modules  # ...and it was checked without importing it
