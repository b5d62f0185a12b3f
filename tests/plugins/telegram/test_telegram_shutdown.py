"""SIGTERM ends a real `arbot run` within shutdown_timeout_s while Telegram holds a backlog of sends."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers.processes import arbot
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-for-the-shutdown-test"
ADMIN, STRANGER, GROUP = 1001, 6000, -500
SHUTDOWN_TIMEOUT_S = 5

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
db_url = "sqlite:///{data_dir}/arbot.db"
control_socket = ""
shutdown_timeout_s = {timeout}
[notifiers.tg]
type = "telegram"
token = "file:{token_file}"
base_url = "{base_url}"
users = {{ {admin} = "admin" }}
alert_chats = {{ {group} = "all" }}
poll_timeout_s = 1
"""


@pytest.mark.slow
async def test_sigterm_during_a_backlog_of_100_exits_within_shutdown_timeout(tmp_path: Path):
    api = await FakeBotAPI(TOKEN).start()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, timeout=SHUTDOWN_TIMEOUT_S, token_file=token_file,
                                    base_url=api.base_url, admin=ADMIN, group=GROUP))
    api.refuse_next("sendMessage", retry_after_s=30, count=1_000_000)  # Telegram holds every send back
    proc = await asyncio.create_subprocess_exec(
        *arbot("run", "--config", str(config)), cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    try:
        await api.wait(lambda: any(c.method == "getUpdates" for c in api.calls), timeout_s=60)
        for n in range(50):
            await api.command(STRANGER + n, "/pause", chat_id=GROUP)
            await api.command(STRANGER + 100 + n, "/status")  # each in their own private chat
        await api.command(ADMIN, "/status")
        await wait_for(lambda: any(c.method == "getUpdates" and int(c.params.get("offset") or 0) > 101
                                   for c in api.calls), timeout_s=30, what="all 101 updates fetched and handled")
        assert any(c.status == 429 for c in api.calls)  # and the bot is waiting out Telegram's retry_after
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            _, stderr = await proc.communicate()
        took_s = loop.time() - signalled
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await api.close()
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert took_s < SHUTDOWN_TIMEOUT_S, (took_s, text)
    assert "Traceback" not in text
