"""The daily summary across real restarts of `arbot run`: missed while the process was down, it is sent once by
the next process; the process after that, the same day, does not send it again."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.store import engine_url
from tests.helpers.processes import arbot
from tests.helpers.store_kit import query_db

CONFIG = """
[bot]
name = "restarted"
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
[scheduler]
timezone = "UTC"
daily_summary_at = "00:00"
[notifiers.console]
min_level = "info"
stream = "stdout"
colour = "never"
"""

RECORD = "select value from bot_state where bot = 'restarted' and key = 'daily_job:daily-summary'"


QUIET_S = "1s"
"""How long a process that must not send the summary runs: a run due at the start (``next_run_time`` now) is made
at the scheduler's first wake-up, tens of milliseconds after the start."""


def run_for_a_moment(config: Path, cwd: Path, until: str | None = None) -> str:
    """``arbot run`` for :data:`QUIET_S`; ``until``: until it prints that, then stopped by SIGTERM (a clean stop)."""
    errors = cwd / "stderr.txt"
    with errors.open("w") as stderr, subprocess.Popen(
            arbot("run", "--config", str(config), "--for", "60s" if until else QUIET_S), cwd=cwd,
            stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:
        assert process.stdout is not None
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if until is not None and until in line:
                    process.send_signal(signal.SIGTERM)
                    until = None
            returncode = process.wait(timeout=60)
        finally:
            process.kill()
    out = "".join(lines)
    assert returncode == 0, out[-2000:] + errors.read_text()[-2000:]
    return out


@pytest.mark.slow
def test_a_daily_summary_missed_while_the_process_was_down_is_sent_once_by_the_next(tmp_path: Path, db_url: str):
    if dt.datetime.now(dt.UTC).time() < dt.time(0, 1):
        time.sleep(60)  # the summary's time (00:00 UTC) must be past today, by more than a start takes
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, db_url=db_url))
    first = run_for_a_moment(config, tmp_path)  # a new bot, started after 00:00: nothing to make up today
    assert "daily summary" not in first
    [(stored,)] = query_db(db_url, RECORD)
    assert json.loads(stored)["last_run_ns"] is None
    # as if that process had been started the day before and had sent yesterday's summary, then stopped
    midnight = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), dt.UTC)
    yesterdays_ns = int((midnight - dt.timedelta(days=1)).timestamp()) * 1_000_000_000
    record = {"last_run_ns": yesterdays_ns, "since_ns": time.time_ns() - 2 * 86_400 * 10**9}
    engine = create_engine(engine_url(db_url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("update bot_state set value = :value where bot = 'restarted' "
                              "and key = 'daily_job:daily-summary'"), {"value": json.dumps(record)})
    finally:
        engine.dispose()

    second = run_for_a_moment(config, tmp_path, until="daily summary:")
    assert second.count("daily summary:") == 1, second[-3000:]
    [(stored,)] = query_db(db_url, RECORD)
    assert json.loads(stored)["last_run_ns"] == int(midnight.timestamp()) * 1_000_000_000  # today's run, due 00:00
    third = run_for_a_moment(config, tmp_path)
    assert "daily summary" not in third, third[-3000:]
