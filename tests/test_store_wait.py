"""A store that cannot be reached at start is waited for (`[bot] store_wait_s`), then `arbot run` exits 1, which
a service manager restarts; a wrong password or a missing database stays a usage error (exit 2) naming the fix.
`arbot report` and `arbot db` open the store the same way (a report from a cron job right after a reboot).

After a reboot PostgreSQL may come up after the bot: exit 2 there (`RestartPreventExitStatus=2`) left it down.
The tests that need a real PostgreSQL run with ``ARBOT_TEST_DB_URL``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url

from bot.store import Store
from tests.helpers.processes import arbot as arbot_command

ON_POSTGRES = bool(os.environ.get("ARBOT_TEST_DB_URL"))
PASSWORD = "Sesame4fa91c"

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
db_url = "env:ARBOT_WAIT_DB_URL"
control_socket = ""
store_wait_s = {wait_s}
[exchanges.paper]
[notifiers.console]
min_level = "error"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(tmp_path: Path, url: str, wait_s: float, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``arbot run ARGS`` (or ``arbot COMMAND ARGS`` when ARGS start with a command) on the store ``url``; (its
    result, how long it took)."""
    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, wait_s=wait_s))
    env = {**os.environ, "ARBOT_WAIT_DB_URL": url}
    command = args[:1] if args and not args[0].startswith("-") else ("run",)
    args = args[len(command):] if args[:1] == command else args
    started = time.monotonic()
    out = subprocess.run(arbot_command(*command, "--config", str(config), *args), cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    return out, time.monotonic() - started


def test_a_store_that_refuses_connections_is_waited_for_then_the_run_exits_1_for_a_restart(tmp_path):
    out, took_s = run(tmp_path, f"postgresql://arbot:{PASSWORD}@127.0.0.1:{free_port()}/arbot", 2, "--for", "5s")
    assert out.returncode == 1, out.stderr  # before: 2, which the unit's RestartPreventExitStatus=2 never restarts
    assert 2 <= took_s < 60, took_s
    assert "cannot be reached" in out.stderr and "store_wait_s" in out.stderr, out.stderr
    assert PASSWORD not in out.stdout + out.stderr and "Traceback" not in out.stderr


async def forward(host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Pipe one connection to ``host:port`` and back."""
    up_reader, up_writer = await asyncio.open_connection(host, port)

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


WAITING = "store cannot be reached yet; waiting for it"


async def up_late(tmp_path: Path, db_url: str, wait_s: float, *args: str) -> tuple[int, str, str]:
    """``arbot ARGS`` on the real PostgreSQL of ``db_url``, which starts listening (on a port of its own) only once
    the command has said it is waiting for it; (its exit status, stdout, stderr)."""
    real = make_url(db_url)
    port = free_port()
    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, wait_s=wait_s))
    env = {**os.environ, "ARBOT_WAIT_DB_URL": real.set(host="127.0.0.1", port=port).render_as_string(
        hide_password=False)}
    proc = await asyncio.create_subprocess_exec(*arbot_command(*args[:1], "--config", str(config), *args[1:]),
                                                cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    said = b""
    while WAITING.encode() not in said:  # the server comes up after the command found it down
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, said.decode()[-3000:]  # it ended without waiting
        said += line
    server = await asyncio.start_server(lambda r, w: forward(str(real.host), int(real.port or 5432), r, w),
                                        "127.0.0.1", port)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        server.close()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), (said + err).decode()


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL (ARBOT_TEST_DB_URL)")
async def test_a_store_that_comes_up_while_the_bot_waits_is_used(tmp_path, db_url):
    """PostgreSQL starts listening after the bot found it down: the bot waits for it and runs."""
    status, _, err = await up_late(tmp_path, db_url, 60, "run", "--for", "3s")
    assert status == 0, err[-3000:]


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL (ARBOT_TEST_DB_URL)")
@pytest.mark.parametrize("command", [("report",), ("report", "--all"), ("db", "current"), ("db", "upgrade")])
async def test_report_and_db_wait_for_a_server_that_comes_up_late(tmp_path, db_url, command):
    """A report from a cron job right after a reboot: before, exit 2 at once ("connection refused")."""
    if command[0] == "report":  # a report reads a store a bot made; it creates none (an empty database: exit 2)
        Store(db_url).open().close()
    status, out, err = await up_late(tmp_path, db_url, 60, *command)
    assert status == 0, err[-3000:]
    assert ("revision" in out) if command[0] == "db" else ("store: postgresql://arbot:***@" in out), out
    assert make_url(db_url).password not in out + err and "Traceback" not in err


@pytest.mark.parametrize("command", [("report",), ("db", "current"), ("db", "upgrade")])
def test_report_and_db_on_a_server_still_down_after_the_wait_exit_1(tmp_path, command):
    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, wait_s=1))
    env = {**os.environ, "ARBOT_WAIT_DB_URL": f"postgresql://arbot:{PASSWORD}@127.0.0.1:{free_port()}/arbot"}
    started = time.monotonic()
    out = subprocess.run(arbot_command(*command[:1], "--config", str(config), *command[1:]), cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    took_s = time.monotonic() - started
    assert out.returncode == 1, out.stderr  # before: 2 at once, as for a wrong password
    assert took_s >= 1 and WAITING in out.stderr, (took_s, out.stderr)
    assert "cannot be reached" in out.stderr and "store_wait_s = 1 s" in out.stderr, out.stderr
    assert PASSWORD not in out.stdout + out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL (ARBOT_TEST_DB_URL)")
@pytest.mark.parametrize("change, said, fix", [
    ({"password": PASSWORD}, "password authentication failed", "db_url"),
    ({"database": "arbot_no_such_db"}, 'database "arbot_no_such_db" does not exist', "createdb"),
])
@pytest.mark.parametrize("command", [("run", "--for", "5s"), ("report",), ("db", "upgrade")])
def test_a_wrong_password_or_a_missing_database_is_a_usage_error_at_once_naming_the_fix(tmp_path, db_url, change,
                                                                                         said, fix, command):
    url = make_url(db_url).set(**change).render_as_string(hide_password=False)
    out, took_s = run(tmp_path, url, 60, *command)
    assert out.returncode == 2 and took_s < 30, (took_s, out.stderr)  # not waited for: a restart cannot fix it
    assert said in out.stderr and fix in out.stderr, out.stderr
    assert "cannot be reached" not in out.stderr and "Traceback" not in out.stderr
    assert make_url(db_url).password not in out.stdout + out.stderr
