"""A sweep's settings applied to a backtest's config (:mod:`.sweep` says how keys and values are read)."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from ..config import SECTIONS
from ..settings import ConfigError, ConfigIssue, did_you_mean

SWEEP_TABLE = "sweep"
"""The config's table of sweep axes (``key = [values]``); a normal run ignores it."""


BOOLEANS = {"true": True, "false": False}
"""A sweep value's spellings of a boolean (any case): the settings' own ``true or false``."""


def _typed(value: str, current: Any) -> Any:
    """The sweep text ``value`` as the type of the config's ``current`` value (None: not in the config).

    One rule for a boolean whether the config sets the key or not: ``true``/``false`` (any case) are
    booleans, any other text stays text, which a boolean setting refuses naming its key and ``true or
    false`` (a misspelt ``flase`` must never run as false under its own label).
    """
    boolean = BOOLEANS.get(value.lower())
    if isinstance(current, bool):
        return value if boolean is None else boolean
    if isinstance(current, str):
        return value
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            return value  # the settings refuse it, naming the key
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            return value
    if boolean is not None:
        return boolean
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def strategy_settings(raw: Mapping[str, Any], registry: Any) -> dict[str, set[str]]:
    """Each configured strategy's setting names: those its table writes and those its type's ``Settings`` has."""
    found: dict[str, set[str]] = {}
    tables = raw.get("strategies")
    classes = registry.classes("strategy")
    for name, table in (tables.items() if isinstance(tables, dict) else ()):
        if not isinstance(table, dict):
            continue
        settings_cls = getattr(classes.get(table.get("type")), "Settings", None) if table.get("type") else None
        known = {f.name for f in dataclasses.fields(settings_cls)} if dataclasses.is_dataclass(settings_cls) else set()
        found[name] = set(table) | known
    return found


def targets(raw: Mapping[str, Any], key: str, registry: Any) -> list[tuple[str, ...]]:
    """The config paths ``key`` sets: itself when dotted, else that setting of every strategy whose type has it."""
    if "." in key:
        return [tuple(key.split("."))]
    return [("strategies", name, key) for name, keys in strategy_settings(raw, registry).items() if key in keys]


def apply_overrides(raw: dict[str, Any], overrides: Sequence[tuple[str, str]], registry: Any, source: str) -> None:
    """Set each (key, value) in the raw config (see the module's doc); ConfigError for a key nothing has."""
    raw.pop(SWEEP_TABLE, None)
    issues = []
    for key, value in overrides:
        paths = targets(raw, key, registry)
        if not paths:
            settings = set().union(*strategy_settings(raw, registry).values()) - {"type"}
            hint = did_you_mean(key, settings).removeprefix("; ")
            issues.append(ConfigIssue(f"{SWEEP_TABLE}.{key}", "no configured strategy has this setting; "
                                      + (f"{hint} Else name" if hint else "name") + " its path (e.g. "
                                      "strategies.NAME.min_edge_bps or exchanges.NAME.fee_bps)"))
        for path in paths:
            if path[0] in SECTIONS and len(path) > 2:  # a component's setting: the component must be configured
                tables = raw.get(path[0])
                names = sorted(tables) if isinstance(tables, dict) else []
                if path[1] not in names:
                    issues.append(ConfigIssue(f"{SWEEP_TABLE}.{key}", f"the config has no [{path[0]}.{path[1]}] "
                                              f"(configured: {', '.join(names) or 'none'}); name one of them"))
                    continue
            table: Any = raw
            for part in path[:-1]:
                nxt = table.get(part) if isinstance(table, dict) else None
                if not isinstance(nxt, dict):
                    if isinstance(table, dict) and nxt is None:
                        nxt = table[part] = {}
                    else:
                        issues.append(ConfigIssue(".".join(path), "the sweep cannot set it: "
                                                  f"{part} is not a table in the config"))
                        break
                table = nxt
            else:
                table[path[-1]] = _typed(value, table.get(path[-1]))
    if issues:
        raise ConfigError(issues, source)
