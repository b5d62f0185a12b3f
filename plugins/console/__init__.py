"""``console`` notifier: alerts as lines on the terminal, coloured by level on a TTY."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Literal

from bot.api import Alert, AlertLevel, Notifier, hookimpl, option
from bot.api.kit import colour_wanted, escape_controls, fit, format_ts, json_lines

COLOURS = {
    AlertLevel.INFO: "\033[36m",
    AlertLevel.WARNING: "\033[33m",
    AlertLevel.ERROR: "\033[31m",
    AlertLevel.CRITICAL: "\033[1;31m",
}
RESET = "\033[0m"
ALERT_LOG = logging.getLogger("arbot.alert")
"""Where alerts go when the console writes to a stderr that carries JSON objects only (``log_format = "json"``)."""
ALERT_LOG.setLevel(logging.DEBUG)  # the console's min_level chooses, not [bot] log_level


@dataclass(frozen=True)
class ConsoleSettings:
    min_level: Literal["info", "warning", "error", "critical"] = option("info", help="quietest alert level shown")
    stream: Literal["stdout", "stderr"] = option("stdout", help="where alerts are written")
    colour: Literal["auto", "always", "never"] = option("auto", help='"auto" colours only on a terminal; '
                                                                     "NO_COLOR or --no-color wins over any")


def format_alert(alert: Alert, colour: bool) -> str:
    """One line: time, level, source, message, then the figures as key=value; cut to the console's
    width unless the run is verbose (``arbot run -v``). Control characters are shown escaped, never sent: an
    alert may quote what others wrote (a venue's error body), and the terminal would obey an escape sequence."""
    when = format_ts(alert.ts_ns) if alert.ts_ns else "-"
    level = alert.level.name
    extra = " ".join(f"{k}={v}" for k, v in alert.fields.items())
    line = f"{when} {level:<8} [{alert.source}] {alert.message}" + (f"  {extra}" if extra else "")
    text = fit(escape_controls(line))
    if colour:
        return f"{COLOURS[alert.level]}{text}{RESET}"
    return text


class ConsoleNotifier(Notifier):
    Settings = ConsoleSettings

    async def send(self, alert: Alert) -> None:
        stream = sys.stdout if self.settings.stream == "stdout" else sys.stderr
        if stream is sys.stderr and json_lines():  # one JSON object per stderr line: the alert becomes one too
            ALERT_LOG.log(logging.getLevelName(alert.level.name), "%s", alert.message,
                          extra={"kind": alert.kind, "source": alert.source, "fields": dict(alert.fields),
                                 "alert_ts": format_ts(alert.ts_ns) if alert.ts_ns else None})
            return
        colour = colour_wanted(stream, self.settings.colour)
        print(format_alert(alert, colour), file=stream, flush=True)


@hookimpl
def register_notifiers(register) -> None:
    register("console", ConsoleNotifier)
