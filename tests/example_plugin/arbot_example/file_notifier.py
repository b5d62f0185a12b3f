"""``example-file``: a notifier that appends every alert to a file, one JSON object a line."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.api import Notifier
from bot.domain import Alert
from bot.settings import option


@dataclass(frozen=True, kw_only=True)
class FileSettings:
    """The ``[notifiers.NAME]`` table of a file notifier."""

    path: str = option(help="file the alerts are appended to; a relative path is relative to [bot] data_dir")
    min_level: Literal["info", "warning", "error", "critical"] = option(
        "info", help="quietest alert level written (the host applies it before calling send)")


def alert_record(alert: Alert) -> dict[str, Any]:
    """The JSON object written for one alert."""
    return {"ts_ns": alert.ts_ns, "level": alert.level.name.lower(), "kind": alert.kind,
            "source": alert.source, "message": alert.message, "fields": alert.fields}


class FileNotifier(Notifier[FileSettings]):
    """Appends alerts as JSON lines. Decimals in the fields are written as strings, never floats."""

    Settings = FileSettings

    async def start(self) -> None:
        path = Path(self.settings.path).expanduser()
        self.path = path if path.is_absolute() else self.ctx.data_dir / path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def send(self, alert: Alert) -> None:
        line = json.dumps(alert_record(alert), default=str) + "\n"
        await asyncio.to_thread(self._append, line)  # disk I/O off the event loop

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
