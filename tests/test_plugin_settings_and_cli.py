"""Plugin-wide settings (``[plugins.NAME]``) and plugin subcommands (``register_cli``)."""

from __future__ import annotations

import dataclasses

import pytest

from bot import hookimpl
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
