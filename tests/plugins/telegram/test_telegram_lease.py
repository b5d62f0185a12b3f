"""One Telegram token, one poller: two `arbot run` processes sharing a store and a token (the fake Bot API).

The first holds the token's store lease and polls; the second stands by (no polling, no sending);
SIGKILL the first and the second takes over. On SQLite (a flock next to the shared database file)
and, with ARBOT_TEST_DB_URL, on PostgreSQL (a session advisory lock). Also: a 409 Conflict from a
poller outside the lease is alerted once and survived.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from bot.config import resolve_secrets
from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers.processes import arbot
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-for-the-lease"
ADMIN = 1001

CONFIG = """
mode = "paper"
[bot]
name = "{name}"
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
[notifiers.tg]
type = "telegram"
token = "env:ARBOT_TEST_TG_TOKEN"
base_url = "{base_url}"
users = {{ {admin} = "admin" }}
alert_chats = {{ {admin} = "all" }}
poll_timeout_s = 2
lease_retry_s = 0.5
[notifiers.console]
min_level = "info"
"""


@pytest.fixture
async def api():
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


def shared_url(tmp_path: Path, db_url: str) -> str:
    """Both processes on one database: the PostgreSQL schema of ``db_url``, or one SQLite file."""
    return db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path}/shared.db"


def start(tmp_path: Path, name: str, db_url: str, api: FakeBotAPI) -> tuple[subprocess.Popen, Path]:
    data = tmp_path / name
    data.mkdir()
    config = data / "config.toml"
    config.write_text(CONFIG.format(name=name, data_dir=data, db_url=db_url, base_url=api.base_url, admin=ADMIN))
    log = data / "run.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ARBOT_TEST_TG_TOKEN": TOKEN}
    with log.open("wb") as sink:
        proc = subprocess.Popen(arbot("run", "--config", str(config)), env=env, cwd=data, stdout=sink,
                                stderr=subprocess.STDOUT)
    return proc, log


async def answer(api: FakeBotAPI, text: str, timeout_s: float = 30) -> dict:
    """The next message to ADMIN containing ``text`` (alerts in between are skipped)."""
    while text not in (message := await api.next_message(ADMIN, timeout_s=timeout_s))["text"]:
        pass
    return message


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_one_process_polls_the_other_stands_by_and_takes_over(tmp_path, db_url, api):
    url = shared_url(tmp_path, db_url)
    first, first_log = start(tmp_path, "one", url, api)
    second = None
    try:
        await wait_for(lambda: "@arbot_test_bot polling" in first_log.read_text() or first.poll() is not None,
                       timeout_s=60, what="the first bot polling")
        assert first.poll() is None, first_log.read_text()[-3000:]
        second, second_log = start(tmp_path, "two", url, api)
        await wait_for(lambda: "standing by" in second_log.read_text() or second.poll() is not None,
                       timeout_s=60, what="the second bot standing by")
        assert second.poll() is None, second_log.read_text()[-3000:]
        await api.command(ADMIN, "/status")
        reply = await answer(api, "tg chat")
        assert "live" in reply["text"]
        assert api.conflicts == 0  # never two long polls at once
        assert "@arbot_test_bot polling" not in second_log.read_text()

        first.send_signal(signal.SIGKILL)  # no goodbye: the lease goes with the process (or its session)
        first.wait(timeout=30)
        await wait_for(lambda: "took over" in second_log.read_text(), timeout_s=60, what="the take-over")
        await api.command(ADMIN, "/status")
        assert "live" in (await answer(api, "tg chat"))["text"]
        assert api.conflicts == 0
    finally:
        stop(first)
        if second is not None:
            stop(second)


async def test_an_update_handled_before_a_crash_is_not_run_again_by_the_standby(tmp_path, db_url, api):
    """The live front handles a command, then is SIGKILLed while its next getUpdates (the one that would confirm
    the update to Telegram) is failing: Telegram hands the update out again, and the standby taking over must not
    run it a second time (the handled update_id is in the shared store, per token)."""
    url = shared_url(tmp_path, db_url)
    first, first_log = start(tmp_path, "one", url, api)
    second = None
    try:
        await wait_for(lambda: "@arbot_test_bot polling" in first_log.read_text() or first.poll() is not None,
                       timeout_s=60, what="the first bot polling")
        assert first.poll() is None, first_log.read_text()[-3000:]
        second, second_log = start(tmp_path, "two", url, api)
        await wait_for(lambda: "standing by" in second_log.read_text() or second.poll() is not None,
                       timeout_s=60, what="the second bot standing by")
        # the poll in flight returns the command; the polls after it (confirming it) fail for ~4.75 s of backoff
        api.fail_next("getUpdates", 502, count=3)
        await api.command(ADMIN, "/pause drill-1")
        await answer(api, "drill-1")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert any(c.method == "getUpdates" and c.status == 502 for c in api.calls)  # never confirmed
        await wait_for(lambda: "took over" in second_log.read_text(), timeout_s=60, what="the take-over")
        await api.command(ADMIN, "/status")  # handled after the replayed update, if it were run
        await answer(api, "tg chat")
        assert [m["text"] for m in api.messages_to(ADMIN) if "drill-1" in m["text"]] != [], "the first reply"
        assert len([m for m in api.messages_to(ADMIN) if "drill-1" in m["text"]]) == 1, \
            [m["text"] for m in api.messages_to(ADMIN)]
        assert "handled already" in second_log.read_text()
    finally:
        stop(first)
        if second is not None:
            stop(second)


async def test_a_409_conflict_from_another_poller_is_alerted_and_survived(make_bot, api, monkeypatch):
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    bot = await make_bot(f"""
        [notifiers.tg]
        type = "telegram"
        token = "env:ARBOT_TEST_TG_TOKEN"
        base_url = "{api.base_url}"
        users = {{ {ADMIN} = "admin" }}
        alert_chats = {{ {ADMIN} = "all" }}
        poll_timeout_s = 2
    """, start=False)
    resolve_secrets(bot.config)
    await bot.start()
    try:
        tg = bot.notifiers["tg"]
        await wait_for(lambda: any(c.method == "getUpdates" for c in api.calls), what="polling")
        async with aiohttp.ClientSession() as rogue:  # another program polls the same token
            async with rogue.post(f"{api.base_url}/bot{TOKEN}/getUpdates", data={"timeout": "10"}) as reply:
                assert reply.status == 409  # the bot polled again after its backoff and ended this one
        await answer(api, "409 Conflict")
        assert "409 Conflict" in tg.status()["conflict"]
        await api.command(ADMIN, "/status")
        assert "live" in (await answer(api, "tg chat"))["text"]  # polling again: the command is answered
        assert tg.status().get("conflict") is None  # updates arrive again: the conflict is over
    finally:
        await bot.stop()


OTHER_BOT_TOKEN = "777000:TEST-token-of-another-bot"
"""A token of another Telegram bot (another id before ':'), whose updates are numbered on their own."""
NEW_TOKEN = "123456:TEST-new-token-of-the-same-bot"
"""A new token of the same bot (the old one revoked at @BotFather): its updates go on from the old token's."""


def write_token(path: Path, token: str) -> None:
    path.write_text(token)
    path.chmod(0o600)


async def test_a_token_of_another_bot_runs_that_bots_updates_whatever_the_old_bot_handled(make_bot, api, tmp_path):
    """The operator moves the chat to another bot: the old bot's handled update ids say nothing of the new bot's
    (Telegram numbers each bot's updates on its own), so none of the new bot's is confirmed away or skipped."""
    token_file = tmp_path / "tg.token"
    write_token(token_file, TOKEN)
    bot = await make_bot(f"""
        [notifiers.tg]
        type = "telegram"
        token = "file:{token_file}"
        base_url = "{api.base_url}"
        users = {{ {ADMIN} = "admin" }}
        poll_timeout_s = 1
    """, start=False)
    resolve_secrets(bot.config)
    await bot.start()
    try:
        for _ in range(3):
            await api.command(ADMIN, "/status")
            await answer(api, "tg chat")
        api.switch_bot(OTHER_BOT_TOKEN)  # BotFather: another bot; the admin writes to it before the reload
        await api.command(ADMIN, "/status")  # the new bot's update 1: below the 3 the old bot handled
        write_token(token_file, OTHER_BOT_TOKEN)
        await bot.reload_secrets(by="test")
        assert (await answer(api, "tg chat", timeout_s=10))["text"].startswith("<pre>Status")
        await api.command(ADMIN, "/status")  # the new bot's update 2
        await answer(api, "tg chat", timeout_s=10)
        assert len(api.messages_to(ADMIN)) == 5
        handled = {key: bot.store.get_state(key) for key in ("chat_handled:telegram 123456",
                                                            "chat_handled:telegram 777000")}
        assert handled == {"chat_handled:telegram 123456": "3", "chat_handled:telegram 777000": "2"}
    finally:
        await bot.stop()


@pytest.mark.parametrize("new_token", [NEW_TOKEN, OTHER_BOT_TOKEN], ids=["same bot", "another bot"])
async def test_an_update_handled_right_after_a_token_change_is_not_run_again_after_a_crash(tmp_path, db_url, api,
                                                                                          new_token):
    """The token changes (SIGHUP re-reads it), the bot handles a command with the new token and is SIGKILLed before
    Telegram had it confirmed: restarted with the new token, it must not run the command a second time. The record
    is the bot's (its id), not the token's lease, which moves to the new token only at the lease's next round."""
    url = shared_url(tmp_path, db_url)
    data = tmp_path / "one"
    data.mkdir()
    token_file = data / "tg.token"
    write_token(token_file, TOKEN)
    config = data / "config.toml"
    config.write_text(CONFIG.format(name="one", data_dir=data, db_url=url, base_url=api.base_url, admin=ADMIN)
                      .replace('"env:ARBOT_TEST_TG_TOKEN"', f'"file:{token_file}"')
                      .replace("lease_retry_s = 0.5", "lease_retry_s = 60"))
    log = data / "run.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run() -> subprocess.Popen:
        with log.open("ab") as sink:
            return subprocess.Popen(arbot("run", "--config", str(config)), env=env, cwd=data, stdout=sink,
                                    stderr=subprocess.STDOUT)

    first = run()
    second = None
    try:
        await wait_for(lambda: "@arbot_test_bot polling" in log.read_text() or first.poll() is not None,
                       timeout_s=60, what="the bot polling")
        assert first.poll() is None, log.read_text()[-3000:]
        await api.command(ADMIN, "/status")
        await answer(api, "tg chat")
        if new_token == NEW_TOKEN:
            api.token = new_token  # the old token revoked: the same bot, its updates numbered on
        else:
            api.switch_bot(new_token)
        write_token(token_file, new_token)
        first.send_signal(signal.SIGHUP)
        await wait_for(lambda: "polling with its new token" in log.read_text() or first.poll() is not None,
                       timeout_s=30, what="the new token in use")
        await wait_for(lambda: any(c.method == "getUpdates" and c.token == new_token and c.params.get("timeout")
                                   for c in api.calls), what="a long poll with the new token in flight")
        # the poll in flight returns the command; the polls after it (confirming it) fail for ~4.75 s of backoff
        api.fail_next("getUpdates", 502, count=3)
        await api.command(ADMIN, "/pause drill-1")
        await answer(api, "drill-1")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        second = run()
        await wait_for(lambda: log.read_text().count("@arbot_test_bot polling") == 2 or second.poll() is not None,
                       timeout_s=60, what="the restarted bot polling")
        await api.command(ADMIN, "/status")  # handled after the replayed update, if it were run
        await answer(api, "tg chat")
        drills = [m["text"] for m in api.messages_to(ADMIN) if "drill-1" in m["text"]]
        assert len(drills) == 1, [m["text"] for m in api.messages_to(ADMIN)]
        assert "handled already" in log.read_text()
    finally:
        stop(first)
        if second is not None:
            stop(second)
