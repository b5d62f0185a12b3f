"""The console notifier's line format."""

from __future__ import annotations

from bot.domain import Alert, AlertLevel
from plugins.console import RESET, format_alert


def test_alert_line_has_level_source_message_and_figures():
    alert = Alert(AlertLevel.WARNING, "risk", "btc-grid", "limits blocked an order", {"qty": "0.1"}, ts_ns=0)
    assert format_alert(alert, colour=False) == "--:--:-- WARNING  [btc-grid] limits blocked an order  qty=0.1"


def test_colour_only_when_asked():
    alert = Alert(AlertLevel.ERROR, "bot", "host", "x", ts_ns=0)
    assert format_alert(alert, colour=True).endswith(RESET)
    assert RESET not in format_alert(alert, colour=False)
