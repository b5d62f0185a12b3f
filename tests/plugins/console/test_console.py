"""The console notifier's line format: the host's timestamp format, cut to the console's width, NO_COLOR."""

from __future__ import annotations

import io

import pytest

from bot import logs
from bot.domain import Alert, AlertLevel
from plugins.console import RESET, ConsoleNotifier, ConsoleSettings, format_alert

TS_NS = 1_796_512_245_117_480_673  # 2026-12-05T23:10:45.117Z


def test_alert_line_has_time_level_source_message_and_figures():
    alert = Alert(AlertLevel.WARNING, "risk", "btc-grid", "limits blocked an order", {"qty": "0.1"}, ts_ns=TS_NS)
    assert format_alert(alert, colour=False) == ("2026-12-05T23:10:45.117Z WARNING  [btc-grid] limits blocked an order"
                                                 "  qty=0.1")
    assert format_alert(alert, colour=False).split()[0] == logs.format_ts(TS_NS)  # the logs' format too


def test_a_long_alert_is_cut_to_the_console_width_unless_verbose(monkeypatch):
    alert = Alert(AlertLevel.INFO, "arb", "sol-arb", "arbitrage done", {f"field{n}": "x" * 20 for n in range(12)},
                  ts_ns=TS_NS)
    short = format_alert(alert, colour=False)
    assert len(short) == logs.MAX_LINE and short.endswith("…")
    monkeypatch.setattr(logs, "_verbose", True)
    assert len(format_alert(alert, colour=False)) > 300


def test_colour_only_when_asked():
    alert = Alert(AlertLevel.ERROR, "bot", "host", "x", ts_ns=0)
    assert format_alert(alert, colour=True).endswith(RESET)
    assert RESET not in format_alert(alert, colour=False)


@pytest.mark.parametrize("no_color", ["1", ""])
async def test_no_color_wins_over_colour_always(monkeypatch, capsys, no_color):
    monkeypatch.setenv("NO_COLOR", no_color)
    notifier = ConsoleNotifier("console", ConsoleSettings(colour="always"), ctx=None)
    await notifier.send(Alert(AlertLevel.ERROR, "bot", "host", "feed lost", ts_ns=TS_NS))
    out = capsys.readouterr().out
    assert ("\033[" in out) is (not no_color)
    assert logs.colour_wanted(io.StringIO(), "auto") is False  # not a terminal


@pytest.mark.parametrize("colour", [False, True])
def test_control_characters_in_an_alert_are_shown_not_obeyed(colour):
    """An alert's text may quote what others sent (a venue's error body, an RPC node's message, another bot's alert):
    escape sequences in it must not reach the terminal, where they could clear it, retitle it or rewrite the line."""
    alert = Alert(AlertLevel.ERROR, "venue", "kraken\x1b[2J", "rejected: \x1b]0;owned\x07done\rfake line\nnext\x9b1m",
                  {"body": "\x1b[8mhidden"}, ts_ns=TS_NS)
    line = format_alert(alert, colour=colour)
    if colour:
        line = line.removeprefix("\033[31m").removesuffix(RESET)
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line), repr(line)
    assert "rejected: \\x1b]0;owned\\x07done\\rfake line\\nnext\\x9b1m" in line and "[kraken\\x1b[2J]" in line
