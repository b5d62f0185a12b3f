"""An `arbot run` process whose start waits on a real PostgreSQL server stopped with SIGSTOP (``ARBOT_TEST_DB_URL``,
:mod:`tests.helpers.pg_stop`): SIGTERM is heard at once and the process exits within a bound, its last line saying
it stopped. The start's store calls (the store's identity, the strategy names' claim, the kept observe mode and
pauses, ...) run on the store writer's thread, awaited: before, they ran on the loop, whose SIGTERM handler then ran
only when the server answered again.

To stop the server while the start is in the middle of its store calls (not before it reached the store: that wait
is ``Store.wait_reachable``'s, in a worker thread already), the test first holds a lock on the store's ``bot_state``
table: the start's first read of its identity waits for it, and the server is stopped then."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.store import Store
from tests.helpers.pg_stop import stopped_server
from tests.helpers.processes import arbot, wait_until

STOPPED_S = 20.0
"""How long the server stays stopped at most: a process that hears SIGTERM only when it answers exits after this."""
SHUTDOWN_TIMEOUT_S = 2.0
EXIT_S = SHUTDOWN_TIMEOUT_S + 2.0
"""The bound on the exit after SIGTERM: the stop's wait for the store writer (``shutdown_timeout_s``), then the
interpreter's end."""

CONFIG = """
mode = "paper"
[bot]
name = "one"
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
shutdown_timeout_s = {shutdown_timeout_s}
[notifiers.console]
min_level = "info"
"""


def _waiting_on_the_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND query ILIKE '%bot_state%'")).scalar_one())


def _last_line(log: Path) -> str:
    lines = log.read_text().strip().splitlines()
    return lines[-1] if lines else ""


def test_sigterm_during_a_start_waiting_on_a_stopped_server_is_heard(tmp_path, db_url, postgresql):
    Store(db_url, bot="one").open().close()  # the host's tables, so that one of them can be locked
    data = tmp_path / "one"
    data.mkdir()
    config = data / "config.toml"
    config.write_text(CONFIG.format(data_dir=data, db_url=db_url, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S))
    log = data / "run.log"
    engine = create_engine(db_url)
    locker = engine.connect()
    locker.execute(text("LOCK TABLE bot_state IN ACCESS EXCLUSIVE MODE"))  # held until rolled back
    proc = None
    try:
        with log.open("wb") as sink:
            proc = subprocess.Popen(arbot("run", "-v", "--config", str(config)), stdout=sink, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=data)
        assert wait_until(lambda: _waiting_on_the_lock(engine) or proc.poll() is not None, 60), log.read_text()
        assert proc.poll() is None, log.read_text()[-3000:]
        with stopped_server(engine, max_s=STOPPED_S) as server:
            time.sleep(0.5)  # (blocking: nothing of this test's loop is needed)
            asked = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            exited = wait_until(lambda: proc.poll() is not None, STOPPED_S - 1)
            took_s = time.monotonic() - asked
            server.resume()
        locker.rollback()  # a process that did not hear SIGTERM goes on now, and hears it
        if not exited:
            wait_until(lambda: proc.poll() is not None, 30)
            took_s = time.monotonic() - asked
        text_ = log.read_text()
        print(f"exit after SIGTERM: {took_s:.2f} s (server stopped {STOPPED_S} s at most); last line: "
              f"{_last_line(log)}")
        assert exited and took_s < EXIT_S, f"the exit took {took_s:.2f} s; the log ends:\n{text_[-3000:]}"
        assert "stopping before the start finished" in text_, text_[-3000:]
        assert _last_line(log).endswith(("INFO    arbot: stopped", "(named above)")), text_[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        locker.close()
        engine.dispose()
