"""What a trader reads: a quiet stop, short lines, one timestamp format, json logs, NO_COLOR, a narrow plugin list."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import app, cli, logs
from bot.alerts import Alerts
from bot.domain import Alert, AlertLevel
from bot.redact import REDACTOR
from tests.helpers.processes import arbot


def default_toml_text() -> str:
    return (Path(cli.__file__).parent / "default.toml").read_text()


ESCAPE = "\033["
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """cli.main configures the root logger: put pytest's handlers and levels back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs._verbose = logs._json = False


@pytest.fixture
def once_started(monkeypatch) -> list[str]:
    """``arbot run`` in these tests stops as soon as its start has finished (``--for`` counts from the launch, and on a
    loaded machine a short one ended the run before its start had: no "arbot started" to read); the argv tail that
    bounds it."""
    start = app.Bot.start

    async def start_then_stop(self) -> None:
        await start(self)
        self.request_stop()

    monkeypatch.setattr(app.Bot, "start", start_then_stop)
    return ["--for", "60s"]


def quiet_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f"""
        mode = "paper"
        [bot]
        data_dir = "{tmp_path}"
        control_socket = ""
        {extra}
        [notifiers.console]
        colour = "always"
    """.replace("\n        ", "\n"))
    return path


def test_json_log_format_makes_every_stderr_line_an_object(tmp_path, capsys, once_started):
    assert cli.main(["run", "--config", str(quiet_config(tmp_path, 'log_format = "json"')), *once_started]) == 0
    err = capsys.readouterr().err
    entries = [json.loads(line) for line in err.splitlines()]  # a line that is not JSON fails here
    assert len(entries) >= 3 and {"ts", "level", "logger", "msg"} <= set(entries[0])
    assert any(e["msg"] == "stopping" and e["logger"] == "arbot" for e in entries)
    assert all(re.fullmatch(TS, e["ts"]) for e in entries)


def test_json_log_format_keeps_stderr_json_when_the_console_writes_alerts_there(tmp_path, capsys, once_started):
    """`[notifiers.console] stream = "stderr"` with `log_format = "json"`: the alert lines were plain text among the
    JSON objects (docs/deploy.md: each line on stderr is one JSON object). They are objects too, with the alert's
    kind, level, source and figures."""
    config = quiet_config(tmp_path, 'log_format = "json"')
    config.write_text(config.read_text().replace('colour = "always"', 'stream = "stderr"'))
    assert cli.main(["run", "--config", str(config), *once_started]) == 0
    captured = capsys.readouterr()
    entries = [json.loads(line) for line in captured.err.splitlines()]  # a line that is not JSON fails here
    [started] = [e for e in entries if e["msg"].startswith("arbot started")]
    assert started["level"] == "INFO" and started["kind"] == "bot" and started["source"] == "host"
    assert captured.out == ""


def test_json_log_format_says_a_refusal_to_start_as_an_object_too(tmp_path, capsys):
    config = quiet_config(tmp_path, 'log_format = "json"')
    config.write_text(config.read_text().replace('mode = "paper"', 'mode = "live"'))
    assert cli.main(["run", "--config", str(config), "--for", "0.2s"]) == cli.EXIT_USAGE
    [entry] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert entry["level"] == "ERROR" and "arbot run --live" in entry["msg"]


def test_json_lines_carry_extras_and_tracebacks_uncut():
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    log = logging.getLogger("arbot.test")
    log.info("order %s placed " + "x" * 200, "o1", extra={"order": "o1", "qty": 3})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    placed, failed = (json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))
    assert placed["order"] == "o1" and placed["qty"] == 3 and len(placed["msg"]) > 200
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exc"]


def test_json_lines_mask_known_secrets_in_every_extra():
    secret = 'tok-"extra"-0123456789'
    REDACTOR.add(secret)
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    request = {"url": f"https://x.example/?k={secret}", "headers": [("Authorization", f"Bearer {secret}")]}
    logging.getLogger("arbot.test").warning("request failed", extra={
        "reason": f"401 for {secret}", "request": request, "error": ValueError(secret), "qty": 3})
    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert secret not in repr(entry)
    assert entry["reason"] == "401 for ***" and entry["error"] == "***" and entry["qty"] == 3
    assert entry["request"] == {"url": "https://x.example/?k=***", "headers": [["Authorization", "Bearer ***"]]}
    assert request["url"].endswith(secret)  # the caller's object is left as it was


def test_json_lines_mask_known_secrets_in_the_extras_too(monkeypatch):
    """The json format writes a record's extras (`extra=`, for a plugin as for the host): the redactor masked the
    message and the traceback, and a secret in an extra went to the log as it was."""
    from bot.settings import Secret

    monkeypatch.setenv("ARBOT_TEST_LOG_KEY", "sk-live-0123456789abcdef")
    Secret("env:ARBOT_TEST_LOG_KEY").resolve()
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    logging.getLogger("arbot.test").warning("retrying", extra={"url": "https://api.example/?k=sk-live-0123456789abcdef",
                                                               "request": {"headers": ["sk-live-0123456789abcdef"]},
                                                               "attempt": 2})
    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "sk-live-0123456789abcdef" not in json.dumps(entry)
    assert entry["url"] == "https://api.example/?k=***" and entry["attempt"] == 2 and entry["msg"] == "retrying"


def test_text_lines_are_cut_to_the_console_width_unless_verbose_and_tracebacks_follow():
    stream = io.StringIO()
    logs.configure(stream=stream)
    log = logging.getLogger("arbot.test")
    log.warning("y" * 300)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second, *trace = stream.getvalue().splitlines()
    assert len(first) == logs.MAX_LINE and first.endswith("…") and re.match(TS + " WARNING arbot.test: y", first)
    assert second.endswith("ERROR   arbot.test: failed") and trace[-1] == "ValueError: boom"
    logs.configure(stream=stream, details=True)
    log.warning("z" * 300)
    assert stream.getvalue().splitlines()[-1].endswith("z" * 300)


@pytest.mark.parametrize("details", [False, True])
def test_a_message_with_line_breaks_stays_one_line_in_the_log_and_on_the_console(details):
    """A venue's error body or a plugin's message may hold line breaks: each event is still one line (a journal
    entry each; a second line could pass for another event), the breaks shown as \\n, with -v too."""
    from plugins.console import format_alert

    stream = io.StringIO()
    logs.configure(stream=stream, details=details)
    logging.getLogger("arbot.test").error("venue said: 400\r\n2026-01-01T00:00:00.000Z CRITICAL arbot: forged")
    [line] = stream.getvalue().splitlines()
    assert line.endswith("venue said: 400\\r\\n2026-01-01T00:00:00.000Z CRITICAL arbot: forged") or not details
    assert "venue said: 400\\r\\n2026" in line
    alert = Alert(level=AlertLevel.ERROR, kind="order", source="g", message="rejected:\nEOrder:Insufficient funds",
                  fields={"venue": "kraken\nx"}, ts_ns=1)
    [shown] = format_alert(alert, colour=False).splitlines()
    assert "rejected:\\nEOrder:Insufficient funds" in shown and "venue=kraken\\nx" in shown


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color_gives_no_escape_codes_even_with_colour_always(tmp_path, capsys, monkeypatch, how, once_started):
    monkeypatch.setenv("NO_COLOR", "1" if how == "NO_COLOR" else "")  # restored after the test either way
    argv = ["run", "--config", str(quiet_config(tmp_path)), *once_started]
    assert cli.main([*argv, "--no-color"] if how == "--no-color" else argv) == 0
    out, err = capsys.readouterr()
    assert "arbot started" in out and "arbot stopped" in out
    assert ESCAPE not in out + err


def test_colour_always_colours_without_no_color(tmp_path, capsys, monkeypatch, once_started):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli.main(["run", "--config", str(quiet_config(tmp_path)), *once_started]) == 0
    assert ESCAPE in capsys.readouterr().out  # the check above can fail


def test_arbot_plugins_fits_100_columns_and_v_is_the_wide_view(capsys):
    cli.main(["plugins"])
    narrow = capsys.readouterr().out.splitlines()
    assert max(map(len, narrow)) <= cli.PLUGINS_WIDTH
    assert any(line.startswith("telegram ") and "notifier:telegram" in line for line in narrow)
    cli.main(["plugins", "-v"])
    wide = capsys.readouterr().out.splitlines()
    assert max(map(len, wide)) > cli.PLUGINS_WIDTH and len(wide) < len(narrow)  # one line per plugin


def test_alert_fields_are_redacted_like_messages():
    REDACTOR.add("s3cr3t-token-value")
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: 0.0)
    seen: list[Alert] = []
    alerts.subscribe(seen.append, owner="test")
    alerts.emit(Alert(AlertLevel.ERROR, "bot", "host", "request with s3cr3t-token-value failed",
                      {"url": "https://x.example/?token=s3cr3t-token-value", "count": 3, "error": ValueError(
                          "bad s3cr3t-token-value")}))
    [alert] = seen
    assert alert.message == "request with *** failed"
    assert alert.fields == {"url": "https://x.example/?token=***", "count": 3, "error": "bad ***"}


async def test_alerts_go_out_in_time_order_with_arbot_stopped_last():
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: 0.0)
    for ts in (1, 2, 3):  # repeats: the summary carries the last one's time
        alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked", ts_ns=ts))
    alerts.emit(Alert(AlertLevel.INFO, "bot", "host", "arbot stopped", ts_ns=10))
    sent: list[str] = []

    class Collect:
        name, settings = "collect", None

        async def send(self, alert: Alert) -> None:
            sent.append(alert.message)

    alerts.notifiers = [Collect()]
    await alerts.flush()
    assert sent == ["order blocked", "order blocked (2 more in 60 s)", "arbot stopped"]


async def test_a_coalesced_summary_is_stamped_when_it_is_sent_so_the_console_stays_in_time_order():
    clock = {"mono": 0.0, "ns": 1_000}
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: clock["mono"], time_ns=lambda: clock["ns"])
    sent: list[tuple[int, str]] = []

    class Collect:
        name, settings = "collect", None

        async def send(self, alert: Alert) -> None:
            sent.append((alert.ts_ns, alert.message))

    alerts.notifiers = [Collect()]
    for _ in range(2):
        alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", "buy filled", ts_ns=clock["ns"]))
    clock["ns"] = 5_000
    alerts.emit(Alert(AlertLevel.INFO, "arb", "arb", "arbitrage done", ts_ns=clock["ns"]))
    await alerts.deliver()
    clock["mono"], clock["ns"] = 61.0, 9_000  # the window closes after the arbitrage line went out
    alerts.close_windows()
    await alerts.deliver()
    assert sent == [(1_000, "buy filled"), (5_000, "arbitrage done"), (9_000, "buy filled (1 more in 60 s)")]
    assert [ts for ts, _ in sent] == sorted(ts for ts, _ in sent)


@pytest.mark.slow
def test_the_readme_demo_stops_without_tracebacks_or_retry_noise(tmp_path):
    """`make run ARGS="--for 60s"`, shorter: the same code path (start, trade, stop on --for).

    The embedded default config, with the reconcile job every 5 s instead of 30 s: as at 60 s, a run of
    it starts just before the stop (the job that used to end in a CancelledError traceback)."""
    config = tmp_path / "demo.toml"
    config.write_text(default_toml_text() + "\n[scheduler]\nreconcile_every_s = 5\n")
    env = {k: v for k, v in os.environ.items() if k not in ("ARBOT_CONFIG", "NO_COLOR")}
    result = subprocess.run(arbot("run", "--config", str(config), "--for", "15s"), cwd=tmp_path,
                            capture_output=True, text=True, timeout=180, env=env)
    out, err = result.stdout, result.stderr
    assert result.returncode == 0, err
    both = out + err
    for noise in ("Traceback", "CancelledError", "trying again", "raised an exception", "not started"):
        assert noise not in both, both
    alerts = out.splitlines()
    assert "arbot started" in alerts[0] and "arbot stopped" in alerts[-1]
    times = [line.split()[0] for line in alerts]
    assert times == sorted(times)  # in time order
    for line in both.splitlines():
        assert len(line) <= logs.MAX_LINE, line
        assert re.match(TS + " ", line), line  # one timestamp format on both streams
    assert ESCAPE not in both  # not a terminal


def test_every_alert_names_its_bot_and_repeats_coalesce_per_bot():
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: 0.0, bot="alpha")
    seen: list[Alert] = []
    alerts.subscribe(seen.append, owner="test")
    alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked"))
    alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked", bot="beta"))  # relayed from beta
    alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked"))  # alpha's repeat: counted
    assert [a.bot for a in seen] == ["alpha", "beta"]


def test_alerts_that_can_reach_nobody_are_dropped_as_they_are_emitted_until_someone_listens():
    from decimal import Decimal

    from bot.dispatch import Dispatch
    from bot.domain import Fill, Liquidity, Side

    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: 0.0)
    alerts.emit(Alert(AlertLevel.INFO, "bot", "host", "queued for a notifier attached later"))
    assert alerts.heard and len(alerts._queue) == 1  # by default a notifier may still come
    alerts.nowhere = True  # a backtest: no notifier ever
    alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", "buy filled"))
    assert not alerts.heard and len(alerts._queue) == 1 and len(alerts._windows) == 1  # neither queued nor counted
    seen: list[Alert] = []
    unsubscribe = alerts.subscribe(seen.append, owner="test")  # a plugin listens: it hears every alert again
    alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", "buy filled"))
    assert alerts.heard and [a.message for a in seen] == ["buy filled"] and len(alerts._queue) == 2
    unsubscribe()

    composed: list[str] = []

    class Bus:
        def publish(self, event: object) -> None:
            pass

    class Portfolio:
        def on_fill(self, fill: Fill) -> None:
            pass

    dispatch = Dispatch(portfolio=Portfolio(), risk_checks=list, bus=Bus(), deliver=lambda name, method, event: None,  # type: ignore[arg-type]
                        guard=lambda owner, func, arg: func(arg), alert=lambda *a, **k: composed.append(a[2]),
                        alerts_heard=lambda: alerts.heard)
    fill = Fill(exchange="paper", symbol="BTC/USD", client_order_id="c1", trade_id="t1", side=Side.BUY,
                price=Decimal("100"), qty=Decimal("1"), fee=Decimal("0.1"), fee_asset="USD", liquidity=Liquidity.TAKER,
                ts_ns=1)
    dispatch.fill("grid", fill)
    assert composed == []  # nobody hears it: not even composed
    alerts.subscribe(seen.append, owner="test")
    dispatch.fill("grid", fill)
    assert composed == ["buy 1 BTC/USD at 100"]
    fee_only = Fill(exchange="dex", symbol="SOL/USDC", client_order_id="c2", trade_id="sig", side=Side.SELL,
                    price=Decimal("150"), qty=Decimal(0), fee=Decimal("0.000015"), fee_asset="SOL",
                    liquidity=Liquidity.TAKER, ts_ns=2)
    dispatch.fill("arb", fee_only)  # a swap that landed and failed paid its fee: not "sell 0 SOL/USDC"
    assert composed[-1] == "fee paid on SOL/USDC, nothing filled"


def test_a_repeat_after_its_window_closed_counts_the_closed_windows_repeats_first():
    """The runner may wake a while after a window's time is up: a repeat arriving first closes it (its summary
    queued before the repeat, which opens a new window and goes out at once), so no repeat goes uncounted."""
    clock = {"mono": 0.0}
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: clock["mono"])
    seen: list[str] = []
    alerts.subscribe(lambda alert: seen.append(alert.message), owner="test")
    for mono in (0.0, 10.0, 20.0):
        clock["mono"] = mono
        alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked"))
    clock["mono"] = 61.0  # the window's time is up; the runner has not woken yet
    alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked"))
    alerts.emit(Alert(AlertLevel.WARNING, "risk", "limits", "order blocked"))  # counted in the new window
    assert seen == ["order blocked", "order blocked (2 more in 60 s)", "order blocked"]
    clock["mono"] = 121.0
    alerts.close_windows()
    assert seen[3:] == ["order blocked (1 more in 60 s)"] and not alerts._windows


def test_windows_close_oldest_first_and_the_ones_still_open_stay_open():
    clock = {"mono": 0.0}
    alerts = Alerts(coalesce_s=60, queue_size=100, monotonic=lambda: clock["mono"])
    seen: list[str] = []
    alerts.subscribe(lambda alert: seen.append(alert.message), owner="test")
    for i in range(6):  # a window opens every 20 s, its alert repeated once right away
        clock["mono"] = 20.0 * i
        for _ in range(2):
            alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", f"fill {i}"))
        if i == 2:
            alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", "fill 1"))  # a repeat keeps its window's place
    seen.clear()
    clock["mono"] = 100.5  # the windows opened at 0, 20 and 40 s are due; 60, 80 and 100 s are not
    alerts._close_windows()
    assert seen == ["fill 0 (1 more in 60 s)", "fill 1 (2 more in 60 s)", "fill 2 (1 more in 60 s)"]
    assert [key[3] for key in alerts._windows] == ["fill 3", "fill 4", "fill 5"]


HOSTILE = "venue said: \x1b[2J\x07\x7f\x9b31m \u202eevil\u202c \u2066x\u2069\x00"
"""A stranger's text (a venue's error body, a chat message) with what a terminal obeys: ESC (clear screen), BEL,
DEL, the C1 CSI, bidi overrides and isolates, NUL."""
RAW = [chr(c) for c in (*range(32), *range(127, 160), *range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("details", [False, True])
def test_text_log_lines_show_every_control_character_escaped_never_sent(details):
    """`logging.getLogger("x").warning("\\x1b[2J")` under `arbot run` cleared the operator's terminal: the text
    format escaped line breaks only. Every C0/DEL/C1 control and bidi override is now shown as its escape, in the
    message and in a traceback's text, with -v too."""
    stream = io.StringIO()
    logs.configure(stream=stream, details=details)
    log = logging.getLogger("arbot.test")
    log.warning(HOSTILE)
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception("failed")
    out = stream.getvalue()
    assert not [ch for ch in out if ch in RAW and ch != "\n"], out
    first = out.splitlines()[0]
    assert "venue said: \\x1b[2J\\x07\\x7f\\x9b31m \\u202eevil\\u202c \\u2066x\\u2069\\x00" in first or not details
    assert out.splitlines()[-1].startswith("ValueError: venue said: \\x1b[2J")


def test_json_log_lines_carry_control_characters_escaped_and_stay_json():
    """JSON escapes C0 by itself; DEL, C1 (CSI 0x9b) and bidi overrides went out raw (``ensure_ascii=False``): each
    is now a ``\\uXXXX`` escape, and the object still reads back to the very same text."""
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    log = logging.getLogger("arbot.test")
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception(HOSTILE, extra={"reason": HOSTILE, "venue": "крак€n"})
    [line] = stream.getvalue().splitlines()
    assert not [ch for ch in line if ch in RAW], line
    entry = json.loads(line)
    assert entry["msg"] == HOSTILE and entry["reason"] == HOSTILE and HOSTILE in entry["exc"]
    assert entry["venue"] == "крак€n" and "крак€n" in line  # other text stays readable
