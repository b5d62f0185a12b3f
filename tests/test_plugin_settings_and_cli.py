"""Plugin-wide settings (``[plugins.NAME]``), a plugin's Settings code that fails while a config is validated, and
plugin subcommands (``register_cli``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import bot.cli
from bot import hookimpl
from bot.api import Strategy
from bot.cli import build_parser
from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError, option


@dataclasses.dataclass(frozen=True)
class WidgetSettings:
    enabled: bool = option(False, help="on or off")
    port: int = option(9000, ge=0, le=65535, help="a port")


class widget_plugin:
    @staticmethod
    @hookimpl
    def register_plugin_settings(register):
        register(WidgetSettings)

    @staticmethod
    @hookimpl
    def register_cli(register):
        parser = register("widget", lambda args: 7 if args.loud else 0, help="do the widget thing")
        parser.add_argument("--loud", action="store_true")


def registry_with(*extra):
    return collect(load_plugins(entry_points=[], extra=list(extra)))


def test_plugin_table_is_validated_with_key_paths():
    registry = registry_with(("widget", widget_plugin))
    config = build_config(parse_toml("[plugins]\ndisabled = []\n[plugins.widget]\nenabled = true\nport = 1\n", "t"),
                          registry, "t")
    assert config.plugin_settings["widget"] == WidgetSettings(enabled=True, port=1)
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml("[plugins.widget]\nprot = 1\nport = -1\n[plugins.gadget]\nx = 1\n", "t"), registry, "t")
    issues = [str(i) for i in info.value.issues]
    assert 'plugins.widget.prot: unknown key; did you mean "port"?' in issues
    assert any(i.startswith("plugins.widget.port: expected an integer >= 0") for i in issues)
    assert any(i.startswith("plugins.gadget: no installed plugin has settings of this name") for i in issues)


def test_missing_plugin_table_gives_the_defaults():
    config = build_config(parse_toml("", "t"), registry_with(("widget", widget_plugin)), "t")
    assert config.plugin_settings["widget"] == WidgetSettings()


def test_registering_something_else_is_reported_by_plugin_name():
    errors = []

    class bad:
        @staticmethod
        @hookimpl
        def register_plugin_settings(register):
            register("not a dataclass")

    plugins = load_plugins(entry_points=[], extra=[("bad", bad)],
                           report=lambda info, msg: errors.append((info.name, msg)))
    registry = collect(plugins)
    assert "bad" not in registry.plugin_settings
    assert errors == [("bad", "register_plugin_settings: register exactly one settings dataclass")]


@dataclasses.dataclass(frozen=True)
class RaisingValidate:
    size: int = option(1, ge=1, le=10, help="order size")

    def validate(self) -> list[tuple[str, str]]:
        raise ValueError("a bug in the plugin's validate()")


@dataclasses.dataclass(frozen=True)
class RaisingPostInit:
    size: int = option(1, ge=1, le=10, help="order size")

    def __post_init__(self) -> None:
        if self.size > 5:
            raise ValueError("size must be at most 5")


@dataclasses.dataclass(frozen=True)
class UnsupportedType:
    sizes: tuple[str, ...] = option((), help="sizes")  # not one of the setting types bot.settings reads


@dataclasses.dataclass
class NotFrozen:
    size: int = option(1, ge=1, le=10, help="order size")  # a component could change it under the host


def strategy_plugin(settings: type) -> object:
    class Mine(Strategy):
        Settings = settings

    class plugin:
        @staticmethod
        @hookimpl
        def register_strategies(register: Any) -> None:
            register("mine", Mine)

    return plugin


@pytest.mark.parametrize(("settings", "table", "problem"), [
    (RaisingValidate, "size = 2",
     'plugin "my-plugin": its Settings.validate() raised ValueError: a bug in the plugin\'s validate()'),
    (RaisingPostInit, "size = 7",
     'plugin "my-plugin": its Settings class RaisingPostInit raised ValueError: size must be at most 5'),
    (UnsupportedType, 'sizes = ["1"]',
     'plugin "my-plugin": strategy "mine" could not be loaded: its Settings (UnsupportedType) has fields of a type '
     "settings cannot hold: sizes (tuple[str, ...])"),
    (NotFrozen, "size = 2",
     'plugin "my-plugin": strategy "mine" could not be loaded: its Settings (NotFrozen) is not frozen: declare it '
     "@dataclass(frozen=True) (settings are read-only once validated)"),
])
def test_check_config_names_the_plugin_and_key_when_its_settings_code_fails(
        settings: type, table: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    load = bot.cli.load_plugins
    monkeypatch.setattr(bot.cli, "load_plugins",
                        lambda **kw: load(entry_points=[], extra=[("my-plugin", strategy_plugin(settings))], **kw))
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\n[strategies.s]\ntype = "mine"\n{table}\n', encoding="utf-8")
    status = bot.cli.main(["check-config", str(config)])  # before: the plugin's exception, a raw traceback
    assert status == 2
    assert f"strategies.s: {problem}" in capsys.readouterr().err


def test_plugin_settings_of_a_type_settings_cannot_hold_are_refused_when_registered():
    errors = []

    class odd:
        @staticmethod
        @hookimpl
        def register_plugin_settings(register):
            register(UnsupportedType)

    registry = collect(load_plugins(entry_points=[], extra=[("odd", odd)],
                                    report=lambda info, msg: errors.append((info.name, msg))))
    assert "odd" not in registry.plugin_settings
    assert errors == [("odd", "register_plugin_settings: UnsupportedType has fields of a type settings cannot hold: "
                              "sizes (tuple[str, ...])")]


def test_plugin_settings_that_are_not_frozen_are_refused_when_registered():
    errors = []

    class loose:
        @staticmethod
        @hookimpl
        def register_plugin_settings(register):
            register(NotFrozen)

    registry = collect(load_plugins(entry_points=[], extra=[("loose", loose)],
                                    report=lambda info, msg: errors.append((info.name, msg))))
    assert "loose" not in registry.plugin_settings
    assert errors == [("loose", "register_plugin_settings: NotFrozen is not frozen: declare it "
                                "@dataclass(frozen=True) (settings are read-only once validated)")]


def test_plugins_add_subcommands():
    parser = build_parser(load_plugins(entry_points=[], extra=[("widget", widget_plugin)]))
    args = parser.parse_args(["widget", "--loud"])
    assert args.func(args) == 7


def test_a_subcommand_clash_names_the_plugin(capsys):
    class clash:
        @staticmethod
        @hookimpl
        def register_cli(register):
            register("run", lambda args: 0)

    build_parser(load_plugins(entry_points=[], extra=[("clash", clash)]))
    assert 'plugin "clash": register_cli raised ValueError: subcommand "run" already exists' in capsys.readouterr().err


def test_a_register_cli_that_raises_is_quoted_short_and_masked(capsys):
    from bot.redact import REDACTOR

    REDACTOR.add("sk-register-cli-secret")

    class broken:
        @staticmethod
        @hookimpl
        def register_cli(register):
            raise RuntimeError("cannot open /home/u/secret-project/x.py with key sk-register-cli-secret")

    build_parser(load_plugins(entry_points=[], extra=[("broken", broken)]))
    err = capsys.readouterr().err
    assert 'plugin "broken": register_cli raised RuntimeError: cannot open …/x.py with key ' in err, err
    assert "/home/" not in err and "sk-register-cli-secret" not in err, err


@dataclasses.dataclass(frozen=True)
class GadgetSettings:
    size: int = option(1, ge=0, help="a size")


async def test_plugin_settings_given_its_class_returns_it_typed_and_names_the_plugin_and_class_when_it_is_not(
        make_bot):
    """``operator.plugin_settings("widget", WidgetSettings)`` is a WidgetSettings to mypy --strict and at run time
    (before: the one form took no class and was typed Any, so a plugin author's every use of it was unchecked)."""
    import typing

    from bot.api import Operator

    bot = await make_bot("[plugins.widget]\nport = 1\n", extra=[("widget", widget_plugin)], start=False)
    operator = bot.operator
    settings = operator.plugin_settings("widget", WidgetSettings)
    typing.assert_type(settings, WidgetSettings)
    assert settings == WidgetSettings(port=1) and operator.plugin_settings("widget") is settings  # untyped: as before
    with pytest.raises(TypeError) as wrong:
        operator.plugin_settings("widget", GadgetSettings)
    assert str(wrong.value) == (
        'plugin "widget": its settings ([plugins.widget]) are tests.test_plugin_settings_and_cli.WidgetSettings, not '
        "tests.test_plugin_settings_and_cli.GadgetSettings")
    with pytest.raises(TypeError) as none:
        operator.plugin_settings("gadget", GadgetSettings)
    assert str(none.value) == (
        'plugin "gadget" has no settings ([plugins.gadget]): not installed, disabled, or it registers none; '
        "expected tests.test_plugin_settings_and_cli.GadgetSettings")
    assert operator.plugin_settings("gadget") is None
    typed = typing.get_overloads(Operator.plugin_settings)  # what mypy reads: the class in, an instance of it out
    hints = [typing.get_type_hints(f) for f in typed]
    assert [h["return"] for h in hints] == [Any, hints[1]["cls"].__args__[0]], hints
