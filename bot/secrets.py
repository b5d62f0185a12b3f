"""Secrets rotated without a restart: re-read every ``env:``/``file:`` reference of a running config.

``arbot ctl reload-secrets`` and SIGHUP come here (through :meth:`bot.app.Bot.reload_secrets`).
Each :class:`~bot.settings.Secret` of a component's settings or a plugin's ``[plugins.NAME]``
table is read again in place, so every holder sees the new value; the host then calls
``reload_secrets()`` on each component whose secrets changed. A reference that no longer resolves
keeps its old value and is reported. ``[bot] db_url`` is read at start only (the store's
connections are made with it): it is reported, not re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Config
from .settings import secrets_in


@dataclass
class Rotation:
    """What one re-read found: the owners whose secrets changed, and the references that failed."""

    changed: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(kind, name) -> the key paths whose value changed. kind is a component kind or "plugin"."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(key path, why): references that no longer resolve (their old value stays)."""
    unchanged: int = 0


def reread(config: Config) -> Rotation:
    """Read every secret reference of ``config`` again, in place; nothing is revealed in the result."""
    rotation = Rotation()
    owners = [((comp.kind, comp.name), comp.path, comp.settings)
              for table in config.components.values() for comp in table.values()]
    owners += [(("plugin", name), f"plugins.{name}", settings) for name, settings in config.plugin_settings.items()]
    for owner, path, settings in owners:
        for key, secret in secrets_in(settings):
            try:
                changed = secret.reload()
            except ValueError as exc:
                rotation.failed.append((f"{path}.{key}", str(exc)))
                continue
            if changed:
                rotation.changed.setdefault(owner, []).append(f"{path}.{key}")
            else:
                rotation.unchanged += 1
    return rotation
