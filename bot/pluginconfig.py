"""A plugin's own settings read from a config file, without building a bot (public through :mod:`bot.api.kit`).

For a plugin's ``arbot`` subcommand (``register_cli``) that talks to running bots with the same
settings they use: ``arbot fleet status -c arbot.toml`` reads ``[plugins.fleet]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .config import read_toml
from .settings import ConfigError, ConfigIssue, parse_settings, secrets_in

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def read_plugin_settings(path: str | Path | None, plugin: str, cls: type[T]) -> T:
    """The ``[plugins.PLUGIN]`` table of the config file ``path`` (``$ARBOT_CONFIG`` when None),
    validated as ``cls`` like ``arbot run`` validates it, every :class:`~bot.api.Secret` in it resolved.

    Raises :class:`~bot.api.ConfigError` naming each bad key (or the missing file) with the fix;
    ``arbot`` prints it without a traceback. A missing table gives ``cls``'s defaults.
    """
    where = path if path is not None else os.environ.get("ARBOT_CONFIG")
    if not where:
        raise ConfigError([ConfigIssue("", "no config file: give one with --config/-c or set ARBOT_CONFIG")],
                          f"[plugins.{plugin}]")
    source = str(where)
    raw = read_toml(Path(where))
    plugins = raw.get("plugins", {})
    table = plugins.get(plugin, {}) if isinstance(plugins, dict) else {}
    issues: list[ConfigIssue] = []
    settings = parse_settings(cls, table, f"plugins.{plugin}", issues)
    if settings is None:
        raise ConfigError(issues, source)
    for key, secret in secrets_in(settings):
        try:
            secret.resolve()
        except ValueError as exc:
            issues.append(ConfigIssue(f"plugins.{plugin}.{key}", str(exc)))
    if issues:
        raise ConfigError(issues, source)
    return settings
