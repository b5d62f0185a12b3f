"""Config validation: every mistake is named by its key path with the expected form."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path

import pytest

from bot.api import Exchange, Strategy
from bot.config import build_config, load_config, parse_toml, plugins_disabled, resolve_secrets
from bot.plugins import Registered, Registry, collect, load_plugins
from bot.settings import ConfigError, Secret, option


@dataclasses.dataclass(frozen=True)
class VenueSettings:
    api_key: Secret | None = option(None, help="key reference")


class Venue(Exchange):
    simulated = True
    Settings = VenueSettings


class RealVenue(Exchange):
    simulated = False


@dataclasses.dataclass(frozen=True)
class GridLikeSettings:
    exchange: str = option(help="venue")
    levels: int = option(10, ge=2, help="levels")
    size: Decimal = option(Decimal("0.01"), gt=0, help="size")
    spacing: str = option("arithmetic", help="spacing")


class GridLike(Strategy):
    Settings = GridLikeSettings


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.components["exchange"]["venue"] = Registered("venue", Venue, "test")
    reg.components["exchange"]["real"] = Registered("real", RealVenue, "test")
    reg.components["strategy"]["gridlike"] = Registered("gridlike", GridLike, "test")
    return reg


def problems(text: str, registry: Registry) -> list[str]:
    try:
        build_config(parse_toml(text, "t.toml"), registry, "t.toml")
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def test_valid_config_builds_typed_settings(registry):
    config = build_config(parse_toml("""
        mode = "paper"
        [exchanges.v]
        type = "venue"
        [strategies.g]
        type = "gridlike"
        exchange = "v"
        levels = 4
        size = 0.125
    """, "t"), registry, "t")
    settings = config.of_kind("strategy")["g"].settings
    assert settings.levels == 4
    assert settings.size == Decimal("0.125") and isinstance(settings.size, Decimal)


def test_wrong_type_names_key_and_expected_form(registry):
    out = problems("""
        [exchanges.v]
        type = "venue"
        [strategies.btc-grid]
        type = "gridlike"
        exchange = "v"
        levels = "ten"
    """, registry)
    assert out == ['strategies.btc-grid.levels: expected an integer >= 2, got "ten"']


def test_out_of_range_and_every_error_at_once(registry):
    out = problems("""
        mode = "yolo"
        [executor]
        orders_per_s = 0
        [exchanges.v]
        type = "venue"
        [strategies.g]
        type = "gridlike"
        exchange = "v"
        levels = 1
        size = "-1"
    """, registry)
    assert 'mode: expected one of "observe", "paper", "live", got "yolo"' in out
    assert "executor.orders_per_s: expected a number >= 0.01 and <= 1000000, got 0" in out
    assert "strategies.g.levels: expected an integer >= 2, got 1" in out
    assert any(p.startswith("strategies.g.size: expected a decimal number > 0") for p in out)
    assert len(out) == 4


def test_unknown_keys_suggest_the_right_one(registry):
    out = problems("""
        mdoe = "paper"
        [executor]
        order_per_s = 5
        [exchanges.v]
        type = "venue"
        [strategies.g]
        type = "gridlike"
        exchange = "v"
        level = 3
    """, registry)
    assert 'mdoe: unknown key; did you mean "mode"?' in out
    assert 'executor.order_per_s: unknown key; did you mean "orders_per_s"?' in out
    assert 'strategies.g.level: unknown key; did you mean "levels"?' in out


def test_plugins_table_mistakes_name_the_key_and_the_plugin_meant():
    """[plugins] disabled may name only installed plugins, and a [plugins.NAME] table only a plugin with settings:
    a misspelt name would otherwise leave that plugin loaded (or its table unread) without a word."""
    def plugins_problems(text: str) -> list[str]:
        raw = parse_toml(text, "t.toml")
        registry = collect(load_plugins(disabled=plugins_disabled(raw), report=lambda info, message: None))
        try:
            build_config(raw, registry, "t.toml")
        except ConfigError as exc:
            return [str(issue) for issue in exc.issues]
        return []

    assert plugins_problems('[plugins]\ndisabled = ["telgram"]\n') == [
        'plugins.disabled: no installed plugin is named "telgram"; did you mean "telegram"?']
    [nowhere] = plugins_problems('[plugins]\ndisabled = ["nowhere"]\n')
    assert nowhere.startswith('plugins.disabled: no installed plugin is named "nowhere"; installed: ')
    assert "telegram" in nowhere
    assert plugins_problems("[plugins.webb]\nenabled = true\n") == [
        'plugins.webb: no installed plugin has settings of this name; did you mean "web"?']
    assert plugins_problems('[plugins]\ndisabled = ["web"]\n[plugins.web]\nenabled = true\n') == [
        'plugins.web: plugin "web" is disabled ([plugins] disabled), so nothing reads this table; enable the '
        "plugin or remove the table"]
    assert plugins_problems("[plugins.grid]\nlevels = 3\n") == [
        'plugins.grid: plugin "grid" has no [plugins.grid] settings; remove the table']
    assert plugins_problems('[plugins]\ndisable = ["web"]\n') == [
        'plugins.disable: unknown key; did you mean "disabled"?']
    assert plugins_problems('[plugins]\ndisabled = ["telegram"]\n[plugins.web]\nenabled = false\n') == []


def test_unknown_plugin_type_and_dangling_exchange(registry):
    out = problems("""
        [exchanges.v]
        type = "venu"
        [strategies.g]
        type = "gridlike"
        exchange = "nowhere"
    """, registry)
    assert 'exchanges.v.type: no exchange plugin provides "venu"; did you mean "venue"?' in out
    assert 'strategies.g.exchange: no exchange named "nowhere" is configured' in out


def test_missing_required_key(registry):
    out = problems("""
        [strategies.g]
        type = "gridlike"
    """, registry)
    assert out == ["strategies.g.exchange: missing required key (a string: venue)"]


def test_real_venue_is_a_data_source_outside_live_mode(registry):
    assert problems('[exchanges.k]\ntype = "real"\n', registry) == []  # a market-data source (e.g. mirrored)
    trading = '[exchanges.k]\ntype = "real"\n[strategies.g]\ntype = "gridlike"\nexchange = "k"\n'
    out = problems(trading, registry)
    assert len(out) == 1 and out[0].startswith('strategies.g.exchange: exchange "k" (type "real") places real orders')
    assert 'market = "mirror", source = "k"' in out[0]
    assert problems('mode = "observe"\n' + trading, registry) == []  # observe mode sends nothing
    config = build_config(parse_toml('mode = "live"\n' + trading, "t"), registry, "t")
    assert config.mode == "live"


def test_malformed_toml_is_one_paragraph_with_the_line(tmp_path: Path, registry):
    path = tmp_path / "bad.toml"
    path.write_text('mode = "paper\n[bot]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    text = str(info.value)
    assert "not valid TOML" in text and "line 1" in text
    assert "Traceback" not in text


def test_missing_env_secret_is_named_without_a_value(registry, monkeypatch):
    monkeypatch.delenv("ARBOT_TEST_KEY", raising=False)
    config = build_config(parse_toml('[exchanges.v]\ntype = "venue"\napi_key = "env:ARBOT_TEST_KEY"\n', "t"),
                          registry, "t")
    with pytest.raises(ConfigError) as info:
        resolve_secrets(config)
    assert str(info.value.issues[0]) == (
        "exchanges.v.api_key: environment variable ARBOT_TEST_KEY is not set (referenced as env:ARBOT_TEST_KEY)")


def test_secret_resolves_and_never_shows_in_repr(registry, monkeypatch):
    monkeypatch.setenv("ARBOT_TEST_KEY", "s3cr3t-value")
    config = build_config(parse_toml('[exchanges.v]\ntype = "venue"\napi_key = "env:ARBOT_TEST_KEY"\n', "t"),
                          registry, "t")
    resolve_secrets(config)
    secret = config.of_kind("exchange")["v"].settings.api_key
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(secret)


def test_literal_secret_in_config_is_refused_without_echo(registry):
    out = problems('[exchanges.v]\ntype = "venue"\napi_key = "hunter2-super-secret"\n', registry)
    assert len(out) == 1 and "hunter2" not in out[0]
    assert 'exchanges.v.api_key: expected a secret reference "env:NAME" or "file:PATH"' in out[0]


def test_secret_file_readable_by_others_is_refused(tmp_path: Path, registry):
    key = tmp_path / "key"
    key.write_text("abc")
    os.chmod(key, 0o644)
    config = build_config(parse_toml(f'[exchanges.v]\ntype = "venue"\napi_key = "file:{key}"\n', "t"), registry, "t")
    with pytest.raises(ConfigError) as info:
        resolve_secrets(config)
    assert "readable by group or others" in str(info.value) and "chmod 600" in str(info.value)
    os.chmod(key, 0o600)
    resolve_secrets(config)
    assert config.of_kind("exchange")["v"].settings.api_key.reveal() == "abc"


def test_bad_timezone(registry):
    out = problems('[scheduler]\ntimezone = "Mars/Olympus"\n', registry)
    assert out == ['scheduler.timezone: expected an IANA time zone such as "UTC" or "Europe/Berlin", '
                   'got "Mars/Olympus"']


def test_a_removed_key_is_refused_with_its_fix_not_as_unknown(registry):
    @dataclasses.dataclass(frozen=True)
    class Moved:
        REMOVED_KEYS = {"zone": "set [scheduler] timezone instead"}
        symbol: str = option("BTC/USD", help="market")

    registry.components["strategy"]["moved"] = Registered("moved", type("M", (Strategy,), {"Settings": Moved}),
                                                          "test")
    out = problems('[strategies.m]\ntype = "moved"\nzone = "UTC"\nsymbl = "x"\n', registry)
    assert out == ["strategies.m.zone: removed: set [scheduler] timezone instead",
                   'strategies.m.symbl: unknown key; did you mean "symbol"?']


def commented_tables(text: str) -> dict[str, dict]:
    """The commented-out ``# [section.name]`` tables of a config file, uncommented and parsed."""
    import re

    tables, lines, name = {}, [], None
    for line in text.splitlines() + [""]:
        header = re.match(r"# \[([a-z0-9_.-]+)\]\s*$", line)
        if name and (header or not line.startswith("#")):
            tables[name] = parse_toml("\n".join(lines), f"# [{name}]")
            name = None
        if header:
            name, lines = header.group(1), []
        elif name:
            lines.append(line[1:])
    return tables


def test_example_config_is_valid_and_documents_every_key():
    import dataclasses
    import re

    from bot.config import HOST_SECTIONS, read_toml
    from bot.plugins import collect, load_plugins

    root = Path(__file__).resolve().parent.parent
    registry = collect(load_plugins())
    config = load_config(root / "config.example.toml", registry)
    assert config.mode == "paper"
    text = (root / "config.example.toml").read_text()
    raw = read_toml(root / "config.example.toml")

    def keys_in(table: dict) -> set[str]:
        return set(table)

    missing = []
    for section, cls in HOST_SECTIONS.items():
        missing += [f"{section}.{f.name}" for f in dataclasses.fields(cls) if f.name not in keys_in(raw[section])]
    for section, kind in (("exchanges", "exchange"), ("strategies", "strategy"), ("risk", "risk"),
                          ("notifiers", "notifier")):
        documented = {comp.type for comp in config.of_kind(kind).values()}
        for type_name, reg in registry.components[kind].items():
            if reg.plugin not in {"paper", "grid", "arb", "limits", "staleness", "breaker", "prediction", "console"}:
                continue  # first-party plugins are documented here; others in their own packages
            assert type_name in documented, f"config.example.toml has no [{section}.*] of type {type_name}"
            table = next(raw[section][c.name] for c in config.of_kind(kind).values() if c.type == type_name)
            missing += [f"{section}.{type_name}.{f.name}" for f in dataclasses.fields(reg.obj.Settings)
                        if f.name not in table]
    for plugin_name, reg in registry.plugin_settings.items():  # [plugins.NAME] of plugin-wide services
        if reg.plugin not in {"stream", "metrics", "charts", "web"}:
            continue
        table = raw.get("plugins", {}).get(plugin_name)
        assert table is not None, f"config.example.toml has no [plugins.{plugin_name}]"
        missing += [f"plugins.{plugin_name}.{f.name}" for f in dataclasses.fields(reg.obj) if f.name not in table]
    # chat notifiers need a token at check time, so they are shown as commented-out tables:
    # uncommented, each must be valid and show every key
    from bot.settings import parse_settings

    commented = commented_tables(text)
    for type_name, reg in registry.components["notifier"].items():
        if reg.plugin not in {"telegram"}:
            continue
        table = commented.get(f"notifiers.{type_name}")
        assert table is not None, f"config.example.toml has no commented-out # [notifiers.{type_name}]"
        issues: list = []
        assert parse_settings(reg.obj.Settings, table, f"notifiers.{type_name}", issues) is not None, issues
        missing += [f"notifiers.{type_name}.{f.name}" for f in dataclasses.fields(reg.obj.Settings)
                    if f.name not in table]
    assert not missing, f"config.example.toml does not show: {missing}"
    assert re.search(r"^mode = ", text, re.M)


def test_embedded_default_config_is_valid():
    from bot.config import DEFAULT_SOURCE, build_config, default_toml
    from bot.plugins import collect, load_plugins

    registry = collect(load_plugins())
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    assert config.mode == "paper"
    assert {c.type for c in config.of_kind("exchange").values()} == {"paper", "paper-dex"}  # simulated only
    assert {c.type for c in config.of_kind("strategy").values()} == {"grid", "arb"}


def test_resolved_secrets_are_masked_in_logs_and_alerts(registry, monkeypatch, caplog):
    import logging

    from bot.alerts import Alerts
    from bot.domain import Alert, AlertLevel
    from bot.redact import REDACTOR

    monkeypatch.setenv("ARBOT_TEST_TOKEN", "tok-9f8e7d6c5b4a")
    config = build_config(parse_toml('[exchanges.v]\ntype = "venue"\napi_key = "env:ARBOT_TEST_TOKEN"\n', "t"),
                          registry, "t")
    resolve_secrets(config)
    caplog.handler.addFilter(REDACTOR)
    logging.getLogger("arbot.test").error("request failed: Authorization: tok-9f8e7d6c5b4a")
    assert "tok-9f8e7d6c5b4a" not in caplog.text and "Authorization: ***" in caplog.text
    alerts = Alerts(60, 10, lambda: 0.0)
    alerts.emit(Alert(AlertLevel.ERROR, "bot", "x", "bad token tok-9f8e7d6c5b4a"))
    assert alerts._queue[0].message == "bad token ***"


def test_a_urls_passwords_and_api_keys_are_masked_once_it_is_added():
    from bot.redact import REDACTOR, add_url, safe_url

    url = ("https://u:pw-4f3e2d1c@rpc.example/?api-key=key-9a8b7c6d&apikey=key-1a2b3c4d&access_token=tok-5e6f7a8b"
           "&sslkey=/etc/client.key")
    assert safe_url(url) == "https://u:***@rpc.example/?api-key=***&apikey=***&access_token=***&sslkey=/etc/client.key"
    assert "key-9a8b7c6d" in REDACTOR.redact(url)
    add_url(url)
    assert REDACTOR.redact(f"GET {url} failed") == f"GET {safe_url(url)} failed"


def test_an_exchange_naming_another_exchange_is_checked_at_load():
    registry = collect(load_plugins())
    text = '[exchanges.p]\ntype = "paper"\nmarket = "mirror"\nsource = "krakn"\n'
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml(text, "t.toml"), registry, "t.toml")
    assert 'exchanges.p.source: no exchange named "krakn" is configured' in str(info.value)


def test_a_notifier_min_level_that_is_no_alert_level_is_refused_at_its_key_naming_the_plugin():
    """The alert queue filters on ``min_level``: a value it cannot read ("debug") stopped every notifier's
    alerts and the bot's stop. It is refused when the config is read."""
    from dataclasses import dataclass

    from bot import hookimpl
    from bot.api import Notifier, option
    from bot.config import build_config, parse_toml
    from bot.plugins import collect, load_plugins

    @dataclass(frozen=True)
    class ChattySettings:
        min_level: str | None = option("debug", help="quietest level sent")

    class Chatty(Notifier):
        Settings = ChattySettings

        async def send(self, alert):
            return None

    class chatty:
        @staticmethod
        @hookimpl
        def register_notifiers(register):
            register("chatty", Chatty)

    registry = collect(load_plugins(entry_points=[], extra=[("chatty", chatty)], report=lambda info, message: None))
    levels = 'expected one of "info", "warning", "error", "critical" (the alert levels notifiers are sent from)'
    for value, shown in (("", '"debug"'), ('min_level = "trace"\n', '"trace"')):
        with pytest.raises(ConfigError) as info:
            build_config(parse_toml(f'[notifiers.c]\ntype = "chatty"\n{value}', "t"), registry, "t")
        assert [str(issue) for issue in info.value.issues] == [f'notifiers.c.min_level: plugin "chatty": {levels}, '
                                                               f"got {shown}"]
    config = build_config(parse_toml('[notifiers.c]\ntype = "chatty"\nmin_level = "WARNING"\n', "t"), registry, "t")
    assert config.components["notifier"]["c"].settings.min_level == "WARNING"
