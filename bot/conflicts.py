"""Config checks across tables: component names, files two components would share, the venue kind a
strategy trades, and the control socket's path length.

Each check returns ``ConfigIssue``s (key path and the fix); :func:`bot.config.build_config` reports
them with every other problem, so ``arbot check-config`` catches a conflict before ``arbot run``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from .domain import ORDER_FEATURES
from .settings import ConfigIssue, got

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A component name (the NAME of ``[strategies.NAME]``): it reaches logs, metrics labels and client
order ids, so letters, digits, ``_ . -`` only, at most 64 characters, starting with a letter or digit."""

RESERVED_NAMES = frozenset({
    "alerts", "bot", "commands", "control", "executor", "flatten", "host", "local", "operator", "opportunities",
    "plugins", "portfolio", "risk", "scheduler", "store", "watchdog", "writer",
})
"""Names of the host's own parts: alerts, logs and task owners use them, so no component may take one
(``flatten``: the strategy name of the host's closing orders, which a strategy of that name paused would refuse)."""

SUN_PATH_MAX = 107
"""Longest Unix socket path Linux binds (``sun_path`` is 108 bytes with the final NUL)."""


def check_names(tables: Mapping[str, Any]) -> list[ConfigIssue]:
    """Every ``[SECTION.NAME]`` name safe, not reserved, and used once across the sections."""
    issues = []
    seen: dict[str, str] = {}
    for section, named in tables.items():
        if not isinstance(named, dict):
            continue
        for name in named:
            path = f"{section}.{name}" if NAME_PATTERN.fullmatch(name) else f"{section}.{got(name)}"
            if not NAME_PATTERN.fullmatch(name):
                issues.append(ConfigIssue(path, "a name has letters, digits, '_', '.' and '-' only (no spaces or "
                                                "control characters), starts with a letter or digit and has at most "
                                                "64 characters; rename the table"))
            elif name.lower() in RESERVED_NAMES:
                issues.append(ConfigIssue(path, f"{got(name)} is the name of a part of the host; choose another "
                                                f"name (reserved: {', '.join(sorted(RESERVED_NAMES))})"))
            elif name in seen:
                issues.append(ConfigIssue(path, f"the name is already used by [{seen[name]}.{name}]; every "
                                                "exchange, strategy, risk check and notifier needs its own name"))
            seen.setdefault(name, section)
    return issues


def owned_files(settings: Any) -> Iterable[tuple[str, str]]:
    """(key, value) of each non-empty ``option(owned_file=True)`` setting of a settings dataclass."""
    if not dataclasses.is_dataclass(settings):
        return
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.metadata.get("owned_file") and value:
            yield f.name, str(value)


def check_owned_files(owners: Iterable[tuple[str, Any]], data_dir: Path, db_path: str | None) -> list[ConfigIssue]:
    """No two components (``(path, settings)`` pairs) name the same file, nor the SQLite store's file."""
    issues = []
    taken: dict[str, str] = {}
    if db_path is not None:
        taken[_absolute(data_dir, db_path)] = "bot.db_url"
    for owner, settings in owners:
        for key, value in owned_files(settings):
            where = _absolute(data_dir, value)
            if where in taken:
                issues.append(ConfigIssue(f"{owner}.{key}", f"{got(value)} is also the file of {taken[where]}; two "
                                                            "components sharing one file would overwrite each "
                                                            "other's state: give each its own file"))
            else:
                taken[where] = f"{owner}.{key}"
    return issues


def _absolute(data_dir: Path, name: str) -> str:
    return os.path.normpath(os.path.abspath(data_dir / Path(name).expanduser()))


def check_venue_kind(path: str, key: str, exchange: str, exchange_cls: type, accepted: tuple[str, ...]) -> list[
        ConfigIssue]:
    """A strategy's ``key`` names an exchange of a kind it can trade (``Strategy.venue_kinds``)."""
    kind = getattr(exchange_cls, "venue_kind", "book")
    if kind in accepted:
        return []
    return [ConfigIssue(f"{path}.{key}", f'exchange "{exchange}" is a {kind} venue ({_KIND_TEXT.get(kind, kind)}); '
                                         f"this setting needs a {' or '.join(accepted)} venue "
                                         f"({', '.join(_KIND_TEXT.get(k, k) for k in accepted)})")]


_KIND_TEXT = {"book": "an order book taking limit orders", "pool": "a DEX pool taking swaps"}


def check_venue_features(path: str, key: str, exchange: str, strategy_cls: type, strategy_settings: object,
                         exchange_cls: type, exchange_settings: object) -> list[ConfigIssue]:
    """The exchange a strategy's ``key`` names can do the order features the strategy uses there."""
    needs = getattr(strategy_cls, "needs", None)
    lacks = getattr(exchange_cls, "lacks", None)
    wanted = tuple(needs(strategy_settings).get(key, ())) if needs else ()
    missing = lacks(exchange_settings, wanted) if wanted and lacks else []
    if not missing:
        return []
    what = "; ".join(ORDER_FEATURES.get(f, f) for f in missing)
    return [ConfigIssue(f"{path}.{key}", f'exchange "{exchange}" cannot do what this strategy needs there: {what}; '
                                         "trade it on another venue, or change the settings that need it")]


def check_venue_market(path: str, key: str, exchange: str, strategy_cls: type, strategy_settings: object,
                       exchange_cls: type, exchange_settings: object) -> list[ConfigIssue]:
    """The exchange a strategy's ``key`` names trades the symbol the strategy trades there."""
    symbols_at = getattr(strategy_cls, "symbols_at", None)
    markets_of = getattr(exchange_cls, "markets_of", None)
    symbol = symbols_at(strategy_settings).get(key) if symbols_at else None
    offered: Collection[str] | None = markets_of(exchange_settings) if markets_of else None
    if not symbol or offered is None or symbol in offered:
        return []
    return [ConfigIssue(f"{path}.{key}", f'exchange "{exchange}" has no market "{symbol}" (it trades '
                                         f'{", ".join(offered) or "nothing"}); add it to [exchanges.{exchange}], '
                                         "or trade one of those")]


def check_socket_path(data_dir: Path, name: str) -> list[ConfigIssue]:
    """The control socket's path fits a Unix socket address."""
    if not name:
        return []
    length = len(os.fsencode(str(data_dir / name)))
    if length <= SUN_PATH_MAX:
        return []
    return [ConfigIssue("bot.control_socket", f"the socket path {data_dir / name} is {length} bytes; a Unix socket "
                                              f"path has at most {SUN_PATH_MAX}: use a shorter data_dir or "
                                              "control_socket")]
