"""A store that cannot be reached at start is waited for (`[bot] store_wait_s`), then `arbot run` exits 1, which
a service manager restarts; a wrong password or a missing database stays a usage error (exit 2) naming the fix.

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
    """``arbot run ARGS`` on the store ``url``; (its result, how long it took)."""
    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, wait_s=wait_s))
    env = {**os.environ, "ARBOT_WAIT_DB_URL": url}
    started = time.monotonic()
    out = subprocess.run(arbot_command("run", "--config", str(config), *args), cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    return out, time.monotonic() - started


def test_a_store_that_refuses_connections_is_waited_for_then_the_run_exits_1_for_a_restart(tmp_path):
    out, took_s = run(tmp_path, f"postgresql://arbot:{PASSWORD}@127.0.0.1:{free_port()}/arbot", 2, "--for", "5s")
    assert out.returncode == 1, out.stderr  # before: 2, which the unit's RestartPreventExitStatus=2 never restarts
    assert 2 <= took_s < 60, took_s
    assert "cannot be reached" in out.stderr and "store_wait_s" in out.stderr, out.stderr
    assert PASSWORD not in out.stdout + out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL (ARBOT_TEST_DB_URL)")
async def test_a_store_that_comes_up_while_the_bot_waits_is_used(tmp_path, db_url):
    """PostgreSQL starts listening 2 s after the bot: the bot waits for it and runs."""
    real = make_url(db_url)
    port = free_port()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(real.host, real.port)

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

    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, wait_s=60))
    env = {**os.environ, "ARBOT_WAIT_DB_URL": real.set(host="127.0.0.1", port=port).render_as_string(
        hide_password=False)}
    proc = await asyncio.create_subprocess_exec(*arbot_command("run", "--config", str(config), "--for", "8s"),
                                                cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    await asyncio.sleep(2)
    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        server.close()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert "cannot be reached" in err.decode() and "waiting" in err.decode()


@pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL (ARBOT_TEST_DB_URL)")
@pytest.mark.parametrize("change, said, fix", [
    ({"password": PASSWORD}, "password authentication failed", "db_url"),
    ({"database": "arbot_no_such_db"}, 'database "arbot_no_such_db" does not exist', "createdb"),
])
def test_a_wrong_password_or_a_missing_database_is_a_usage_error_at_once_naming_the_fix(tmp_path, db_url, change,
                                                                                         said, fix):
    url = make_url(db_url).set(**change).render_as_string(hide_password=False)
    out, took_s = run(tmp_path, url, 60, "--for", "5s")
    assert out.returncode == 2 and took_s < 30, (took_s, out.stderr)  # not waited for: a restart cannot fix it
    assert said in out.stderr and fix in out.stderr, out.stderr
    assert "cannot be reached" not in out.stderr and "Traceback" not in out.stderr
    assert make_url(db_url).password not in out.stdout + out.stderr
