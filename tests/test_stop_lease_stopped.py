"""An `arbot run` process holding a chat token's store lease (a Telegram notifier, the fake Bot API) on a real
PostgreSQL server stopped with SIGSTOP (``ARBOT_TEST_DB_URL``, :mod:`tests.helpers.pg_stop`): SIGTERM stops it within a
bound, whatever its lease calls wait for. Those calls (the lease's round every ``lease_retry_s``, its release at the
stop, the notifier's record of a handled update) run on daemon threads or the store's own read threads: a thread of
the loop's default executor waiting on the server held the process's exit (``asyncio.run`` and the interpreter join
them) until the server answered again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers.pg_stop import stopped_server
from tests.helpers.processes import arbot, wait_until
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-for-the-stop"
ADMIN = 1001
STOPPED_S = 30.0
"""How long the server stays stopped: a process whose exit waits for it exits after this long."""
EXIT_S = 15.0
"""The bound on the exit after SIGTERM: ``shutdown_timeout_s`` (2), a lease release (2), the store's close (2), the
interpreter's start and end."""

CONFIG = """
mode = "paper"
[bot]
name = "{name}"
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
shutdown_timeout_s = 2
[notifiers.tg]
type = "telegram"
token = "env:ARBOT_TEST_TG_TOKEN"
base_url = "{base_url}"
users = {{ {admin} = "admin" }}
alert_chats = {{ {admin} = "all" }}
poll_timeout_s = 1
lease_retry_s = 0.5
[notifiers.console]
min_level = "info"
"""


@pytest.fixture
async def api():
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


def start(tmp_path: Path, name: str, db_url: str, api: FakeBotAPI) -> tuple[subprocess.Popen, Path]:
    data = tmp_path / name
    data.mkdir()
    config = data / "config.toml"
    config.write_text(CONFIG.format(name=name, data_dir=data, db_url=db_url, base_url=api.base_url, admin=ADMIN))
    log = data / "run.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ARBOT_TEST_TG_TOKEN": TOKEN}
    with log.open("wb") as sink:
        proc = subprocess.Popen(arbot("run", "-v", "--config", str(config)), env=env, cwd=data, stdout=sink,
                                stderr=subprocess.STDOUT)
    return proc, log


async def _stopped_and_terminated(tmp_path: Path, db_url: str, api: FakeBotAPI, *, command: bool) -> tuple[float, str]:
    """Run a bot live on the token, stop the server, (send a command,) SIGTERM the bot: how long its exit took, and
    its log."""
    proc, log = start(tmp_path, "one", db_url, api)
    engine = create_engine(db_url)
    try:
        await wait_for(lambda: ("@arbot_test_bot polling" in log.read_text() and "arbot started in" in log.read_text())
                       or proc.poll() is not None, timeout_s=60, what="the bot started and polling")
        assert proc.poll() is None, log.read_text()[-3000:]
        with stopped_server(engine, max_s=STOPPED_S) as server:
            if command:  # its update id is recorded before it runs: a write the server does not answer
                await api.command(ADMIN, "/status")
                await api.next_message(ADMIN, timeout_s=10)  # the command ran (its record waited 0.25 s at most)
            time.sleep(1.5)  # (blocking: nothing of this loop is needed) the lease's rounds are waiting too
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            wait_until(lambda: proc.poll() is not None, STOPPED_S + 10)
            took_s = time.monotonic() - started
            server.resume()
        return took_s, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        engine.dispose()


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


def _stop_line(text: str) -> str:
    """The line that ends the bot's stop (the last: a command still running is finished or cancelled before it, and
    what it could not store is said before it)."""
    ends = [line for line in text.splitlines() if line.endswith(("INFO    arbot: stopped", "(named above)"))]
    assert ends, text[-3000:]
    return ends[-1]


async def test_a_bot_holding_a_token_lease_exits_on_sigterm_while_the_server_is_stopped(tmp_path, db_url, postgresql,
                                                                                          api):
    took_s, text = await _stopped_and_terminated(tmp_path, db_url, api, command=False)
    print(f"exit after SIGTERM: {took_s:.2f} s (server stopped {STOPPED_S} s); last line: {_last_line(text)}")
    assert took_s < EXIT_S, f"the exit took {took_s:.2f} s; the log ends:\n{text[-3000:]}"
    assert "not released" in text, text[-3000:]  # by the notifier's release or the store's close: named
    assert _last_line(text) == _stop_line(text), text[-3000:]


async def test_a_bot_that_recorded_a_handled_update_exits_on_sigterm_while_the_server_is_stopped(
        tmp_path, db_url, postgresql, api):
    took_s, text = await _stopped_and_terminated(tmp_path, db_url, api, command=True)
    print(f"exit after SIGTERM: {took_s:.2f} s (server stopped {STOPPED_S} s); last line: {_last_line(text)}")
    assert took_s < EXIT_S, f"the exit took {took_s:.2f} s; the log ends:\n{text[-3000:]}"
    # before, "a command's audit line not stored: WriterClosed" came after "stopped": the /status still reading
    assert _last_line(text) == _stop_line(text), text[-3000:]
