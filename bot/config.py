"""TOML -> typed, validated config. Every problem is reported at once, each with its key path.

Layout of a config file (``config.example.toml`` documents every key)::

    mode = "paper"                 # observe | paper | live
    [bot] [plugins] [executor] [scheduler] [alerts]     host settings
    [exchanges.NAME] [strategies.NAME] [risk.NAME] [notifiers.NAME]
                                   one component each; ``type`` names the registered class
                                   (default: NAME); the other keys are that plugin's settings.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
import socket
import stat
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from .conflicts import (
    NAME_PATTERN,
    check_names,
    check_owned_files,
    check_socket_path,
    check_venue_features,
    check_venue_kind,
    check_venue_market,
)
from .domain import AlertLevel
from .plugins import COMPONENT_KINDS, ComponentLoadError, Registry
from .quotelimits import place_base_limits, place_quote_limits, strategy_bases, strategy_quotes
from .redact import REDACTOR, add_url
from .settings import ConfigError, ConfigIssue, Secret, did_you_mean, got, option, parse_settings, secrets_in

MODES = ("observe", "paper", "live")
BOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A bot's name: safe in a NATS subject token, a metric label, a client order id and a file name."""
BACKTEST_BOT = "backtest"
"""The bot name of a backtest's rows when its config names none (never the host name: results are the same on
every machine). No config may take it, so ``arbot report`` can tell a backtest's store by it."""

# config table -> component kind
SECTIONS: dict[str, str] = {"exchanges": "exchange", "strategies": "strategy", "risk": "risk", "notifiers": "notifier"}
assert set(SECTIONS.values()) == set(COMPONENT_KINDS)


@dataclass(frozen=True)
class BotSettings:
    name: str = option("", max_len=64, help="this bot's name in a fleet: on its stored rows, alerts, metrics, stream "
                                            "events and client order ids; letters, digits, - and _ (empty: the "
                                            "machine's host name; a backtest's: \"backtest\", which no config "
                                            "may take)")
    db_url: str = option("sqlite:///arbot.db", help="URL of the store: sqlite:///PATH (relative to data_dir) or "
                                                     "postgresql://USER:PASSWORD@HOST:PORT/DB, or a secret reference "
                                                     "env:NAME / file:PATH holding the URL")
    migrate_wait_s: float = option(60.0, ge=1, le=3600, help="on a PostgreSQL database shared with other bots: how "
                                                             "long to wait for another bot's schema upgrade before "
                                                             "refusing to start")
    store_wait_s: float = option(120.0, ge=0, le=3600, help="at start, how long to wait for a database server "
                                                            "that cannot be reached (refused, timed out, still "
                                                            "starting) before `arbot run` exits 1 for the service "
                                                            "manager to restart it (`arbot report` and `arbot db` "
                                                            "wait as long, then exit 1); 0: do not wait")
    data_dir: str = option(".", help="directory for the bot's files (store, paper venue state, control socket)")
    control_socket: str = option("arbot.sock", help="Unix socket for `arbot ctl`, relative to data_dir; "
                                                     "empty string disables local control")
    control_allowed_uids: list[int] = option([], help="uids besides the bot's own allowed on the control socket "
                                                      "(each gets the admin role; root too only when listed)")
    on_shutdown: Literal["cancel", "keep"] = option("cancel", help="what happens to resting orders on stop")
    shutdown_timeout_s: float = option(10.0, ge=0.1, le=600, help="how long a stop waits for orders in flight, "
                                       "and for each plugin's shutdown hook and stop()")
    flatten_price_wait_s: float = option(30.0, ge=0, le=3600, help="a flatten asked before a market's first price "
                                         "(a loss limit already past at start): how long it waits for each "
                                         "market's price before giving up on closing its position (alerted)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = option("INFO", help="console log level")
    log_format: Literal["text", "json"] = option("text", help='"text": short lines for people; "json": one '
                                                               "object per stderr line (ts, level, logger, msg, "
                                                               "extras) for journald, Loki and the like")

    def validate(self) -> list[tuple[str, str]]:
        problems = [("control_allowed_uids", f"{uid} is not a uid (0 to 4294967294)")
                    for uid in self.control_allowed_uids if not 0 <= uid < 2**32 - 1]
        if self.name and not BOT_NAME.fullmatch(self.name):
            problems.append(("name", f'"{self.name}" is not a bot name: use letters, digits, - and _ '
                                     '(at most 64, starting with a letter or digit), e.g. "vps-1"'))
        elif self.name == BACKTEST_BOT:
            problems.append(("name", f'"{BACKTEST_BOT}" names the rows of a backtest whose config names no bot: '
                                     'choose another name (or none, in a backtest)'))
        return problems

    def resolved_name(self) -> str:
        """``name``, or the machine's host name made into a bot name when it is empty."""
        if self.name:
            return self.name
        host = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname().split(".")[0]).strip("-_")[:64]
        return host if host and BOT_NAME.fullmatch(host) else "arbot"


@dataclass(frozen=True)
class PluginSettings:
    disabled: list[str] = option([], help="entry-point names of installed plugins not to load")


@dataclass(frozen=True)
class ExecutorSettings:
    orders_per_s: float = option(25.0, ge=0.01, le=1_000_000,
                                 help="token-bucket rate per exchange (requests per second)")
    burst: int = option(10, ge=1, le=1_000_000, help="token-bucket size: requests that may go at once")
    max_retries: int = option(5, ge=0, le=50, help="retries of a transient failure before giving up")
    backoff_initial_s: float = option(0.2, ge=0.001, le=60, help="first retry delay; doubles each retry, with jitter")
    backoff_max_s: float = option(10.0, ge=0.001, le=3600, help="longest retry delay")
    request_timeout_s: float = option(10.0, ge=0.01, le=600, help="a request slower than this is an unknown outcome")
    post_only_cross: Literal["limit", "reject"] = option(
        "limit", help='a post-only order that would cross the book: send as a plain "limit" or "reject" it')


@dataclass(frozen=True)
class SchedulerSettings:
    timezone: str = option("UTC", help="IANA time zone of the bot's one day (/pnl day, the daily summary, the web's "
                                       "today, the limits' daily loss) and of daily jobs, e.g. Europe/Berlin")
    reconcile_every_s: float = option(30.0, ge=0.1, le=86_400, help="how often orders and strategies are reconciled")
    balance_snapshot_every_s: float = option(300.0, ge=1, le=7 * 86_400, help="how often balances are stored")
    daily_summary_at: dt.time = option(dt.time(0, 0), help='time of the daily summary alert, "HH:MM"')
    misfire_grace_s: int = option(60, ge=1, le=86_400, help="a daily job missed by up to this long still runs (an "
                                                            "interval job: up to its period, if longer)")

    def validate(self) -> list[tuple[str, str]]:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return [("timezone", f'expected an IANA time zone such as "UTC" or "Europe/Berlin", '
                                 f'got {got(self.timezone)}')]
        return []


@dataclass(frozen=True)
class AlertSettings:
    coalesce_s: float = option(60.0, ge=0, le=86_400,
                               help="identical alerts within this window are sent once, with a count")
    queue_size: int = option(1000, ge=10, le=1_000_000,
                             help="alerts waiting for slow notifiers; beyond, the oldest least urgent is dropped")
    stall_after_s: float = option(1.0, ge=0, le=3600, help="dead-man alert when the event loop was blocked longer "
                                                           "than this; 0 disables")
    silent_after_s: float = option(60.0, ge=0, le=86_400, help="dead-man alert when no market data arrived for "
                                                               "this long while strategies run; 0 disables")


@dataclass(frozen=True)
class CommandSettings:
    per_user_per_min: int = option(20, ge=1, le=10_000, help="commands one user may send per minute, on any transport")
    confirm_ttl_s: float = option(60.0, ge=1, le=3600, help="how long a dangerous command waits for its confirmation")
    stranger_replies_per_min: int = option(10, ge=0, le=1000, help="refusals answered per minute to users "
                                                                    "without a role, all chats together (one per "
                                                                    "chat per minute at most); the rest are counted")


HOST_SECTIONS: dict[str, type] = {
    "bot": BotSettings,
    "plugins": PluginSettings,
    "executor": ExecutorSettings,
    "scheduler": SchedulerSettings,
    "alerts": AlertSettings,
    "commands": CommandSettings,
}


@dataclass(frozen=True)
class ComponentConfig:
    """One ``[exchanges.NAME]``-style table: the instance name, its registered type and settings."""

    kind: str
    name: str
    type: str
    settings: Any
    path: str


@dataclass(frozen=True)
class Config:
    source: str
    mode: str = "paper"
    bot: BotSettings = field(default_factory=BotSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    commands: CommandSettings = field(default_factory=CommandSettings)
    components: dict[str, dict[str, ComponentConfig]] = field(default_factory=dict)
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    """Plugin name -> its validated ``[plugins.NAME]`` settings (see ``register_plugin_settings``)."""

    def of_kind(self, kind: str) -> dict[str, ComponentConfig]:
        return self.components.get(kind, {})

    @property
    def data_dir(self) -> Path:
        return Path(self.bot.data_dir).expanduser()

    @property
    def db_url(self) -> str:
        """The store URL: a secret reference read now, a relative SQLite path resolved against data_dir.

        Its password is added to the log redactor; show it only through :func:`bot.redact.safe_url`.
        Raises ConfigError when a reference cannot be read, or when the URL holds more than one "@" (a password's
        "@" not percent-encoded: the rest of it would be read as the host, and shown).
        """
        url = self.bot.db_url
        if url.startswith(("env:", "file:")):
            secret = Secret(url)
            try:
                secret.resolve()
            except ValueError as exc:
                raise ConfigError([ConfigIssue("bot.db_url", str(exc))], self.source) from None
            url = secret.reveal()
        rest = url.partition("://")[2]
        if rest.count("@") > 1:  # SQLAlchemy would take the password's tail for the host, and show it
            REDACTOR.add_url_password(rest[:rest.rfind("@")].partition(":")[2])  # masked whole wherever it shows
            raise ConfigError([ConfigIssue("bot.db_url", 'the URL holds more than one "@": percent-encode "@" in the '
                                                         'password as %40 (and "%" as %25); as written, the part of '
                                                         'the password after its first "@" would be read as the '
                                                         "host")], self.source)
        add_url(url)
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url[len(prefix):] != ":memory:":
            return prefix + str(self.data_dir / url[len(prefix):])
        return url


DEFAULT_SOURCE = "<embedded default>"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; floats become Decimal so no amount ever passes through a float."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block the read
            raise ConfigError([ConfigIssue("", "not a regular file; give the path of a TOML file")], str(path))
        if path.stat().st_size > CONFIG_MAX_BYTES:
            raise ConfigError([ConfigIssue("", f"larger than {CONFIG_MAX_BYTES // 1_000_000} MB; a config file is "
                                               "a few kB")], str(path))
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")  # the BOM Windows editors may write
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read the file: {exc.strerror}")], str(path)) from None
    except UnicodeDecodeError as exc:
        line = text_line(exc.object, exc.start)
        raise ConfigError([ConfigIssue("", f"not UTF-8 text (byte {exc.start}, line {line}); save the file as "
                                           "UTF-8")], str(path)) from None
    data = parse_toml(text, str(path))
    if not data:  # would run a bot with nothing in it, silently: almost always the wrong file or a truncated one
        raise ConfigError([ConfigIssue("", "the file is empty (no settings); write one with `arbot init FILE`, or "
                                           "leave out --config to run the embedded default")], str(path))
    return data


CONFIG_MAX_BYTES = 10_000_000


def text_line(data: bytes, offset: int) -> int:
    """The 1-based line number of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except RecursionError:
        raise ConfigError([ConfigIssue("", "not valid TOML: arrays or tables nested too deeply")], source) from None
    except tomllib.TOMLDecodeError as exc:
        twice = written_twice(text, str(exc))
        if twice is not None:
            raise ConfigError([twice], source) from None
        raise ConfigError(
            [ConfigIssue("", f"not valid TOML: {exc}. Check the quotes, brackets and '=' on that line.")], source
        ) from None


_KEY_PART = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*""")
_TABLE_HEADER = re.compile(r"\s*\[\[?([^\[\]]*)\]\]?\s*(?:#.*)?$")


def _key_path(text: str) -> tuple[str, ...] | None:
    """A TOML key (``a.b``, ``"a.b".c``) as its parts; None when ``text`` is not one."""
    parts: list[str] = []
    pos = 0
    while match := _KEY_PART.match(text, pos):
        token = match.group(1)
        parts.append(token[1:-1] if token[0] in "\"'" else token)
        pos = match.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            return None
        pos += 1
    return None


def _definitions(text: str) -> list[tuple[int, tuple[str, ...], bool]]:
    """Each table header and key at the start of a line, in order: (line number, the key's whole path, whether it
    is a table header). Only for naming lines in an error: a line inside a multi-line string may be taken for one."""
    found = []
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if header := _TABLE_HEADER.match(line):
            if (path := _key_path(header.group(1))) is not None:
                table = path
                found.append((number, path, True))
            continue
        name, equals, _ = line.partition("=")
        if equals and (path := _key_path(name)) is not None:
            found.append((number, table + path, False))
    return found


def written_twice(text: str, error: str) -> ConfigIssue | None:
    """TOML's "Cannot declare ('plugins', 'web') twice" or "Cannot overwrite a value" (a table or key written twice,
    as when a block from the docs is pasted into a config copied from the example, which has that table already) as
    an issue naming the key, both lines and the fix; None for any other error, or when the lines are not found."""
    declared = re.match(r"Cannot declare \((.*)\) twice \(at line (\d+)", error)
    if declared:
        import ast

        try:
            path = tuple(str(part) for part in ast.literal_eval(f"({declared.group(1)})"))
        except (ValueError, SyntaxError):
            return None
        second = int(declared.group(2))
    elif error.startswith("Cannot overwrite a value"):
        at = re.search(r"at line (\d+)", error)
        keys = [(n, p) for n, p, is_table in _definitions(text) if not is_table and (at is None or n <= int(at[1]))]
        if not keys:
            return None
        second, path = keys[-1]  # the key on the line TOML stopped at (the last one, at the end of the document)
    else:
        return None
    first = next(((n, is_table) for n, p, is_table in _definitions(text) if p == path and n < second), None)
    if first is None:
        return None
    name = ".".join(path)
    line, is_table = first
    if declared and is_table:
        return ConfigIssue(name, f"the table [{name}] is written twice, at line {line} and again at line {second}; "
                                 f"TOML takes each table once: move the keys under line {second} into the table at "
                                 f"line {line} (replacing the ones it already has) and delete the second [{name}]")
    if declared:
        return ConfigIssue(name, f"set at line {line} and written again as the table [{name}] at line {second}; TOML "
                                 f"takes each key once: keep one of them (delete the line {line} or the table)")
    return ConfigIssue(name, f"set twice, at line {line} and again at line {second}; TOML takes each key once: keep "
                             "one of them")


def default_toml() -> dict[str, Any]:
    text = importlib.resources.files("bot").joinpath("default.toml").read_text(encoding="utf-8")
    return parse_toml(text, DEFAULT_SOURCE)


def plugins_disabled(data: dict[str, Any]) -> list[str]:
    """The ``[plugins] disabled`` list, read before plugins are loaded (validated later with the rest)."""
    table = data.get("plugins")
    disabled = table.get("disabled", []) if isinstance(table, dict) else []
    return [d for d in disabled if isinstance(d, str)] if isinstance(disabled, list) else []


def plugin_table_issues(table: dict[str, Any], registry: Registry) -> list[ConfigIssue]:
    """A ``[plugins.NAME]`` table no plugin reads: a misspelt or disabled plugin, or one without settings."""
    issues = []
    disabled = table.get("disabled", [])
    for name, value in table.items():
        if not isinstance(value, dict) or name in registry.plugin_settings:
            continue  # a [plugins] setting (checked with PluginSettings), or a plugin's own table
        if isinstance(disabled, list) and name in disabled:
            problem = (f'plugin "{name}" is disabled ([plugins] disabled), so nothing reads this table; enable the '
                       "plugin or remove the table")
        elif name in registry.installed:
            problem = f'plugin "{name}" has no [plugins.{name}] settings; remove the table'
        else:
            problem = ("no installed plugin has settings of this name"
                       + (did_you_mean(name, registry.plugin_settings)
                          or f"; plugins with settings: {', '.join(sorted(registry.plugin_settings)) or 'none'}"))
        issues.append(ConfigIssue(f"plugins.{name}", problem))
    return issues


def check_min_level(path: str, settings: Any, owner: str) -> list[ConfigIssue]:
    """A notifier's ``min_level``, which the alert queue filters on, must name an alert level: one it cannot read
    would stop every notifier's alerts."""
    level = getattr(settings, "min_level", "info")
    if isinstance(level, str) and level.upper() in AlertLevel.__members__:
        return []
    levels = ", ".join(f'"{name.lower()}"' for name in AlertLevel.__members__)
    return [ConfigIssue(f"{path}.min_level", f"{owner}: expected one of {levels} (the alert levels notifiers are sent "
                                             f"from), got {got(level)}")]


def _exchange_refs(cls: type, settings: object) -> list[tuple[str, str]]:
    """(key, exchange name) for each name in the fields ``cls.exchange_settings`` lists: one name, or a list of
    names (a risk check's ``exchanges``: a misspelt one would leave every real venue unwatched)."""
    refs = []
    for key in getattr(cls, "exchange_settings", ("exchange",)):
        value = getattr(settings, key, None)
        for ref in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(ref, str) and ref:
                refs.append((key, ref))
    return refs


def _market_ref_issues(components: dict[str, dict[str, ComponentConfig]], registry: Registry,
                       plugin_settings: dict[str, Any]) -> list[ConfigIssue]:
    """A symbol a ``market_settings`` field names (a per-market risk limit) or a ``base_settings`` table has as a key
    (``max_position``'s per-symbol entries), or an asset an ``asset_settings`` field names (a per-asset cap), that no
    configured exchange trades: the limit would hold nothing. Not judged when some
    exchange knows its markets only once it runs."""
    offered: set[str] = set()
    for exchange in components.get("exchange", {}).values():
        markets_of = getattr(registry.classes("exchange")[exchange.type], "markets_of", None)
        markets = markets_of(exchange.settings) if markets_of is not None else None
        if markets is None:
            return []
        offered.update(markets)
    assets = {asset for symbol in offered for asset in symbol.split("/")}
    owners: list[tuple[str, Any, Any]] = [  # (path, the class naming the fields, settings)
        (comp.path, registry.classes(comp.kind)[comp.type], comp.settings)
        for named in components.values() for comp in named.values()]
    owners += [(f"plugins.{name}", settings, settings) for name, settings in plugin_settings.items()]
    issues = []
    for path, owner, settings in owners:
        for keys, known, what, hint in ((getattr(owner, "market_settings", ()), offered, "", "markets"),
                                        (getattr(owner, "asset_settings", ()), assets, "the asset ", "assets")):
            for key in keys:
                value = getattr(settings, key, None)
                for name in value if isinstance(value, (list, tuple, dict)) else ():
                    if isinstance(name, str) and name not in known:
                        where = f"{path}.{key}.{name}" if isinstance(value, dict) else f"{path}.{key}"
                        issues.append(ConfigIssue(where, f"no configured exchange trades {what}{got(name)} (they "
                                                         f"trade {', '.join(sorted(known)) or 'nothing'}); name one "
                                                         f"of those {hint}"))
        for key in getattr(owner, "base_settings", ()):  # a quantity limit's symbol keys name markets too
            value = getattr(settings, key, None)
            for name in value if isinstance(value, dict) else ():
                if isinstance(name, str) and "/" in name and name not in offered:
                    issues.append(ConfigIssue(f"{path}.{key}.{name}", f"no configured exchange trades {got(name)} "
                                                                      f"(they trade {', '.join(sorted(offered))}); "
                                                                      f"name one of those markets, or a base asset"))
    return issues


def misplaced_table(key: str, registry: Registry) -> str:
    """For an unknown top-level ``key`` that names a plugin with settings (``[web]``) or a registered component type
    (``[kraken]``): where its table goes; else ""."""
    if key in registry.plugin_settings:
        return f"; did you mean [plugins.{key}]? (a plugin's settings are a [plugins.NAME] table)"
    for section, kind in SECTIONS.items():
        if key in registry.components.get(kind, {}):
            return f"; did you mean [{section}.{key}]? (each {kind} is a table [{section}.NAME])"
    return ""


def build_config(data: dict[str, Any], registry: Registry, source: str) -> Config:
    """Validate everything; raise one ConfigError listing every problem."""
    issues: list[ConfigIssue] = []
    known = {"mode", *HOST_SECTIONS, *SECTIONS, "sweep"}  # [sweep]: axes of `arbot backtest` (bot.backtest.sweep)
    for key in data:
        if key not in known:
            issues.append(ConfigIssue(key, "unknown key" + (misplaced_table(key, registry)
                                                             or did_you_mean(key, known))))

    mode = data.get("mode", "paper")
    if mode not in MODES:
        issues.append(ConfigIssue("mode", f"expected one of {', '.join(map(repr, MODES))}, got {got(mode)}"
                                  .replace("'", '"')))
        mode = "paper"

    host: dict[str, Any] = {}
    plugins_table = data.get("plugins", {})
    tables = frozenset(registry.plugin_settings)  # [plugins.NAME]: read below; one no plugin reads is reported here
    if isinstance(plugins_table, dict):
        tables |= {name for name, value in plugins_table.items() if isinstance(value, dict)}
        issues += plugin_table_issues(plugins_table, registry)
    for section, cls in HOST_SECTIONS.items():
        ignore = tables if section == "plugins" else frozenset()
        parsed = parse_settings(cls, data.get(section, {}), section, issues, ignore=ignore)
        host[section] = parsed if parsed is not None else cls()
    for name in host["plugins"].disabled:
        if name not in registry.installed:
            hint = did_you_mean(name, registry.installed) or f"; installed: {', '.join(sorted(registry.installed))}"
            issues.append(ConfigIssue("plugins.disabled", f"no installed plugin is named {got(name)}{hint}"))

    # [plugins.NAME]: settings of plugin-wide services (register_plugin_settings); defaults when absent
    plugin_settings: dict[str, Any] = {}
    for plugin_name, reg in registry.plugin_settings.items():
        table = plugins_table.get(plugin_name, {}) if isinstance(plugins_table, dict) else {}
        parsed = parse_settings(reg.obj, table, f"plugins.{plugin_name}", issues, owner=f'plugin "{plugin_name}"')
        if parsed is not None:
            plugin_settings[plugin_name] = parsed

    issues += check_names({section: data.get(section, {}) for section in SECTIONS})
    components: dict[str, dict[str, ComponentConfig]] = {}
    for section, kind in SECTIONS.items():
        tables = data.get(section, {})
        if not isinstance(tables, dict):
            issues.append(ConfigIssue(section, f"expected a table of [{section}.NAME] tables, got {got(tables)}"))
            continue
        classes = registry.classes(kind)
        components[kind] = {}
        for name, table in tables.items():
            if not NAME_PATTERN.fullmatch(name):
                continue  # reported by check_names; its path would carry the bad characters into every message
            path = f"{section}.{name}"
            if not isinstance(table, dict):
                issues.append(ConfigIssue(path, f"expected a table, got {got(table)}"))
                continue
            type_name = table.get("type", name)
            if not isinstance(type_name, str) or type_name not in classes:
                hint = did_you_mean(str(type_name), classes) or (
                    f"; installed: {', '.join(sorted(classes)) or 'none'}")
                issues.append(ConfigIssue(f"{path}.type" if "type" in table else path,
                                          f"no {kind} plugin provides {got(type_name)}{hint}"))
                continue
            try:
                cls = classes[type_name]  # a plugin's module is imported here, when the config uses it
            except ComponentLoadError as exc:
                issues.append(ConfigIssue(path, str(exc)))
                continue
            owner = f'plugin "{registry.components[kind][type_name].plugin}"'
            settings = parse_settings(cls.Settings, table, path, issues, ignore=frozenset({"type"}), owner=owner)
            if settings is not None:
                components[kind][name] = ComponentConfig(kind, name, type_name, settings, path)
                if kind == "notifier":
                    issues += check_min_level(path, settings, owner)

    exchanges = components.get("exchange", {})
    # an exchange whose own table is wrong is reported there; the components naming it are not told it is missing
    tables = data.get("exchanges", {})
    declared = declared_exchanges = frozenset(tables) if isinstance(tables, dict) else frozenset()
    for kind in ("exchange", "strategy", "risk", "notifier"):
        for comp in components.get(kind, {}).values():
            cls = registry.classes(kind)[comp.type]
            for key, ref in _exchange_refs(cls, comp.settings):
                if ref not in exchanges:
                    if ref in declared:
                        continue
                    issues.append(ConfigIssue(f"{comp.path}.{key}", f"no exchange named {got(ref)} is configured"
                                              + did_you_mean(ref, exchanges)))
                    continue
                venue_cls = registry.classes("exchange")[exchanges[ref].type]
                accepted = getattr(cls, "venue_kinds", {}).get(key) if kind == "strategy" else None
                if accepted:
                    issues += check_venue_kind(comp.path, key, ref, venue_cls, accepted)
                if kind == "strategy":
                    issues += check_venue_market(comp.path, key, ref, cls, comp.settings, venue_cls,
                                                 exchanges[ref].settings)
                    issues += check_venue_features(comp.path, key, ref, cls, comp.settings, venue_cls,
                                                   exchanges[ref].settings)
                if (kind == "strategy" and mode == "paper"
                        and key in getattr(cls, "order_settings", ("exchange",))
                        and not getattr(venue_cls, "simulated", False)):
                    issues.append(ConfigIssue(f"{comp.path}.{key}", f'exchange "{ref}" (type '
                                              f'"{exchanges[ref].type}") places real orders; in paper mode trade a '
                                              f'simulated exchange, e.g. a paper exchange mirroring it (type = '
                                              f'"paper", market = "mirror", source = "{ref}"), or set mode = '
                                              f'"live" and start with --live to trade for real'))
    # a strategy a component's settings name (a risk limit of its own): a misspelt name gives it none
    strategies = components.get("strategy", {})
    tables = data.get("strategies", {})
    declared = frozenset(tables) if isinstance(tables, dict) else frozenset()
    for named in components.values():
        for comp in named.values():
            cls = registry.classes(comp.kind)[comp.type]
            for key in getattr(cls, "strategy_settings", ()):
                value = getattr(comp.settings, key, None)
                refs = list(value) if isinstance(value, (list, tuple, dict)) else []
                for ref in refs:
                    if isinstance(ref, str) and ref not in strategies and ref not in declared:
                        issues.append(ConfigIssue(f"{comp.path}.{key}", f"no strategy named {got(ref)} is "
                                                  "configured" + did_you_mean(ref, strategies)))
    # a money limit is in a quote asset: a plain value in the one every strategy trades, a table per quote
    # and a quantity limit in a base asset: a plain value in the one every strategy trades, a table per base
    quotes = strategy_quotes(strategies, registry.classes("strategy"))
    bases = strategy_bases(strategies, registry.classes("strategy"))
    for named in components.values():
        for name, comp in named.items():
            cls = registry.classes(comp.kind)[comp.type]
            named[name], found = place_quote_limits(comp, cls, quotes)
            named[name], more = place_base_limits(named[name], cls, bases)
            issues += found + more
    if set(declared_exchanges) <= set(components.get("exchange", {})):  # else an exchange's own table is wrong
        issues += _market_ref_issues(components, registry, plugin_settings)
    bot: BotSettings = host["bot"]
    data_dir = Path(bot.data_dir).expanduser()
    issues += check_socket_path(data_dir, bot.control_socket)
    sqlite_prefix = "sqlite:///"
    db_file = bot.db_url[len(sqlite_prefix):] if bot.db_url.startswith(sqlite_prefix) else None
    owners = [(comp.path, comp.settings) for named in components.values() for comp in named.values()]
    owners += [(f"plugins.{name}", settings) for name, settings in plugin_settings.items()]
    issues += check_owned_files(owners, data_dir, db_file if db_file not in (None, "", ":memory:") else None)
    if issues:
        raise ConfigError(issues, source)
    return Config(source=source, mode=mode, components=components, plugin_settings=plugin_settings, **host)


def resolve_secrets(config: Config) -> None:
    """Read every ``env:``/``file:`` secret now; one ConfigError lists the missing ones (no values)."""
    issues = []
    if config.bot.db_url.startswith(("env:", "file:")):
        try:
            Secret(config.bot.db_url).resolve()
        except ValueError as exc:
            issues.append(ConfigIssue("bot.db_url", str(exc)))
    for kind_components in config.components.values():
        for comp in kind_components.values():
            for key, secret in secrets_in(comp.settings):
                try:
                    secret.resolve()
                except ValueError as exc:
                    issues.append(ConfigIssue(f"{comp.path}.{key}", str(exc)))
    for plugin_name, settings in config.plugin_settings.items():
        for key, secret in secrets_in(settings):
            try:
                secret.resolve()
            except ValueError as exc:
                issues.append(ConfigIssue(f"plugins.{plugin_name}.{key}", str(exc)))
    if issues:
        raise ConfigError(issues, config.source)


def learn_secrets(config: Config) -> list[str]:
    """Make every secret of ``config`` that resolves here known to the redactor, for output that must be masked
    without the bot running (``arbot report`` prints stored text: rows older than the store's masking, plugins'
    own tables). Each ``env:``/``file:`` reference (a component's, a ``[plugins.NAME]`` table's, one inside a
    table such as the web console's users, ``[bot] db_url``) and each URL's password and keys. A reference that
    does not resolve is skipped: its key path is returned, never a value."""
    skipped: list[str] = []
    try:
        config.db_url  # noqa: B018 (reading it resolves it and makes its password known)
    except ConfigError:
        skipped.append("bot.db_url")
    for kind_components in config.components.values():
        for comp in kind_components.values():
            _learn(comp.settings, comp.path, skipped)
    for plugin_name, settings in config.plugin_settings.items():
        _learn(settings, f"plugins.{plugin_name}", skipped)
    return skipped


def _learn(value: Any, path: str, skipped: list[str]) -> None:
    """:func:`learn_secrets` for one value of a settings table, and what it holds."""
    if isinstance(value, Secret):
        try:
            value.resolve()
        except ValueError:
            skipped.append(path)
            return
        if "://" in value.reveal():  # a URL kept secret whole (a NATS URL): its password is masked even when short
            add_url(value.reveal())
    elif isinstance(value, str):
        if value.startswith(("env:", "file:")):
            _learn(Secret(value), path, skipped)
        elif "://" in value:
            add_url(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _learn(item, f"{path}.{key}", skipped)
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            _learn(item, f"{path}[{n}]", skipped)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            _learn(getattr(value, f.name), f"{path}.{f.name}", skipped)


def load_config(path: Path | None, registry: Registry) -> Config:
    """Read ``path`` (or the embedded default), validate against the registered plugins."""
    if path is None:
        return build_config(default_toml(), registry, DEFAULT_SOURCE)
    return build_config(read_toml(path), registry, str(path))
