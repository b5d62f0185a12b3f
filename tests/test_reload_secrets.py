"""Secrets rotated while the bot runs: `arbot ctl reload-secrets` (and SIGHUP) re-read every env:/file: reference.

A live-mode bot trades on the fake Kraken (which checks every request's API-Sign with the secret it
holds) and answers on the fake Telegram Bot API (which answers only its current token). Both
rotate: after `arbot ctl reload-secrets` the fakes see the new credentials, the same components go
on (nothing restarted), and every order exists once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
from decimal import Decimal
from pathlib import Path

import pytest

from bot import cli
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.domain import AlertLevel, OrderIntent, OrderStatus, Side
from bot.plugins import collect, load_plugins
from tests.fakes.kraken import API_KEY, API_SECRET, FakeKrakenREST, FakeKrakenWS, FakePair, populate
from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers.waiting import wait_for

TOKEN, NEW_TOKEN = "123456:old-token-before-rotation", "123456:new-token-after-rotation"
NEW_KEY = "rotated-kraken-api-key"
NEW_SECRET = base64.b64encode(b"the rotated kraken secret, for tests only" * 2).decode()
ADMIN, ALERTS = 1001, -700
SYMBOL = "BTC/USD"


def write_secret(path: Path, value: str) -> None:
    path.write_text(value)
    path.chmod(0o600)


@pytest.fixture
async def fakes():
    pair = FakePair(SYMBOL, price_decimals=1, qty_decimals=8)
    populate(pair)
    ws, rest, api = await FakeKrakenWS([pair]).start(), await FakeKrakenREST().start(), await FakeBotAPI(TOKEN).start()
    yield ws, rest, api
    await api.close()
    await rest.close()
    await ws.close()


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def config_text(tmp_path: Path, ws: FakeKrakenWS, rest: FakeKrakenREST, api: FakeBotAPI) -> str:
    return f"""mode = "live"
[bot]
data_dir = "{tmp_path}"
control_socket = "ctl.sock"
[exchanges.kraken]
symbols = ["{SYMBOL}"]
ws_url = "{ws.url}"
rest_url = "{rest.url}"
api_key = "file:{tmp_path}/kraken.key"
api_secret = "file:{tmp_path}/kraken.secret"
private_stream = false
request_timeout_s = 2
start_timeout_s = 5
[notifiers.tg]
type = "telegram"
token = "file:{tmp_path}/tg.token"
base_url = "{api.base_url}"
users = {{ {ADMIN} = "admin" }}
alert_chats = {{ {ALERTS} = "bot" }}
poll_timeout_s = 1
"""


async def started_bot(tmp_path: Path, text: str) -> Bot:
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(parse_toml(text, "c.toml"), registry, "c.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


def submit(bot: Bot, cid: str) -> None:
    bot.executor.submit(OrderIntent(strategy="manual", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                                    qty=Decimal("0.01"), price=Decimal("29000"), client_order_id=cid))


async def ctl_reload(config_path: Path, capsys) -> tuple[int, str]:
    """`arbot ctl reload-secrets`, the real command line (its own event loop, in a thread)."""
    status = await asyncio.to_thread(cli.main, ["ctl", "--config", str(config_path), "reload-secrets"])
    return status, capsys.readouterr().out


async def test_rotated_venue_and_telegram_secrets_are_used_without_a_restart(tmp_path, fakes, capsys):
    ws, rest, api = fakes
    write_secret(tmp_path / "kraken.key", API_KEY)
    write_secret(tmp_path / "kraken.secret", API_SECRET)
    write_secret(tmp_path / "tg.token", TOKEN)
    config_path = tmp_path / "c.toml"
    config_path.write_text(config_text(tmp_path, ws, rest, api))
    bot = await started_bot(tmp_path, config_path.read_text())
    try:
        kraken, notifier = bot.exchanges["kraken"], bot.notifiers["tg"]
        rest_client, started_ns = kraken.rest, bot.started_ns
        submit(bot, "before-1")
        await wait_for(lambda: (o := bot.executor.order("before-1")) is not None and o.status is OrderStatus.OPEN,
                       what="the first order open")
        await api.command(ADMIN, "/status")
        assert (await api.next_message(ADMIN))["text"].startswith("<pre>Status")

        # the operator rotates both at the services, then writes the new values to the files
        rest.key, rest.secret, api.token = NEW_KEY, NEW_SECRET, NEW_TOKEN
        write_secret(tmp_path / "kraken.key", NEW_KEY)
        write_secret(tmp_path / "kraken.secret", NEW_SECRET)
        write_secret(tmp_path / "tg.token", NEW_TOKEN)
        status, out = await ctl_reload(config_path, capsys)
        assert status == 0, out
        assert "3 changed, 0 unchanged, 0 failed" in out
        assert "kraken: new value of exchanges.kraken.api_key, exchanges.kraken.api_secret in use" in out
        assert "tg: new value of notifiers.tg.token in use" in out
        assert NEW_SECRET not in out and NEW_TOKEN not in out
        reloaded_at = len(api.calls)

        submit(bot, "after-1")  # signed with the new secret, or the fake refuses it
        await wait_for(lambda: (o := bot.executor.order("after-1")) is not None and o.status is OrderStatus.OPEN,
                       timeout_s=10, what="an order placed with the rotated key")
        await api.command(ADMIN, "/status")
        assert (await api.next_message(ADMIN, timeout_s=10))["text"].startswith("<pre>Status")
        assert [m["text"][:11] for m in api.messages_to(ADMIN)] == ["<pre>Status"] * 2  # none handled twice
        assert {c.token for c in api.calls[reloaded_at:]} == {NEW_TOKEN}
        assert all(c.status != 401 for c in api.calls[reloaded_at:])

        # nothing restarted, no order lost or doubled
        assert bot.exchanges["kraken"] is kraken and kraken.rest is rest_client and bot.notifiers["tg"] is notifier
        assert bot.started_ns == started_ns
        assert len(rest.orders_with("before-1")) == 1 and len(rest.orders_with("after-1")) == 1
        assert [m for _, m, _ in rest.log].count("AddOrder") == 2
        assert {o.client_order_id for o in bot.executor.open_orders()} >= {"before-1", "after-1"}
    finally:
        await bot.stop()


async def test_a_reference_that_no_longer_resolves_keeps_the_old_value_and_alerts(tmp_path, fakes):
    ws, rest, api = fakes
    write_secret(tmp_path / "kraken.key", API_KEY)
    write_secret(tmp_path / "kraken.secret", API_SECRET)
    write_secret(tmp_path / "tg.token", TOKEN)
    bot = await started_bot(tmp_path, config_text(tmp_path, ws, rest, api))
    alerts = []
    bot.alerts.subscribe(alerts.append, owner="test")
    try:
        (tmp_path / "tg.token").unlink()
        (tmp_path / "kraken.secret").chmod(0o644)
        lines = await bot.reload_secrets(by="test")
        assert lines[0] == "secrets re-read by test: 0 changed, 1 unchanged, 2 failed"
        assert any(line.startswith("exchanges.kraken.api_secret: secret file") and "chmod 600" in line
                   for line in lines)
        assert any(line.startswith("notifiers.tg.token: cannot read secret file") for line in lines)
        warned = [a for a in alerts if a.level is AlertLevel.WARNING and "no longer resolves" in a.message]
        assert sorted(a.fields["key"] for a in warned) == ["exchanges.kraken.api_secret", "notifiers.tg.token"]
        submit(bot, "still-1")  # the old values are still in force
        await wait_for(lambda: (o := bot.executor.order("still-1")) is not None and o.status is OrderStatus.OPEN,
                       what="an order with the old secret")
        await api.command(ADMIN, "/status")
        assert (await api.next_message(ADMIN))["text"].startswith("<pre>Status")
    finally:
        await bot.stop()


async def test_sighup_rereads_the_secrets(tmp_path, fakes, monkeypatch):
    """`arbot run` turns SIGHUP into the same re-read (here: the handler cli.cmd_run installs, on this loop)."""
    ws, rest, api = fakes
    write_secret(tmp_path / "kraken.key", API_KEY)
    write_secret(tmp_path / "kraken.secret", API_SECRET)
    write_secret(tmp_path / "tg.token", TOKEN)
    bot = await started_bot(tmp_path, config_text(tmp_path, ws, rest, api))
    loop = asyncio.get_running_loop()
    try:
        cli.on_sighup(loop, bot)
        rest.key, rest.secret = NEW_KEY, NEW_SECRET
        write_secret(tmp_path / "kraken.key", NEW_KEY)
        write_secret(tmp_path / "kraken.secret", NEW_SECRET)
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(lambda: bot.config.of_kind("exchange")["kraken"].settings.api_key.reveal() == NEW_KEY,
                       what="the re-read after SIGHUP")
        submit(bot, "after-hup")
        await wait_for(lambda: (o := bot.executor.order("after-hup")) is not None and o.status is OrderStatus.OPEN,
                       timeout_s=10, what="an order placed with the key read after SIGHUP")
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        await bot.stop()


async def test_a_services_own_token_references_are_read_again(tmp_path, make_bot):
    """The web console keeps user tokens inside a table the host does not walk: it is asked all the same."""
    from plugins.web import running_server

    write_secret(tmp_path / "alice.token", "alice-token-before-rotation")
    bot = await make_bot(f"""
        [plugins.web]
        enabled = true
        port = 0
        users = {{ alice = {{ role = "viewer", token = "file:{tmp_path}/alice.token" }} }}
    """)
    server = running_server(bot.operator)
    assert server is not None and server.users.by_token("alice-token-before-rotation") is not None
    write_secret(tmp_path / "alice.token", "alice-token-after-rotation")
    assert "web: secrets re-read" in await bot.reload_secrets(by="test")
    assert server.users.by_token("alice-token-after-rotation") is not None
    assert server.users.by_token("alice-token-before-rotation") is None
    (tmp_path / "alice.token").unlink()  # a token that no longer resolves: everyone keeps working
    lines = await bot.reload_secrets(by="test")
    assert any(line.startswith("web: ValueError") and line.endswith("the old values stay") for line in lines)
    assert server.users.by_token("alice-token-after-rotation") is not None
    assert running_server(bot.operator) is server  # nothing restarted


async def test_a_component_that_could_not_take_its_new_secret_is_asked_again_next_time(tmp_path, fakes, monkeypatch):
    ws, rest, api = fakes
    write_secret(tmp_path / "kraken.key", API_KEY)
    write_secret(tmp_path / "kraken.secret", API_SECRET)
    write_secret(tmp_path / "tg.token", TOKEN)
    bot = await started_bot(tmp_path, config_text(tmp_path, ws, rest, api))
    try:
        write_secret(tmp_path / "tg.token", NEW_TOKEN)  # written before the Bot API knows it (getMe: 401)
        lines = await bot.reload_secrets(by="test")
        assert any(line.startswith("tg: could not take the new value (BotAPIUnavailable") for line in lines)
        await api.command(ADMIN, "/status")  # the old token still works
        assert (await api.next_message(ADMIN))["text"].startswith("<pre>Status")
        api.token = NEW_TOKEN  # now it is valid: the file did not change, the notifier is asked again
        assert "tg: new value of notifiers.tg.token in use" in await bot.reload_secrets(by="test")
        await api.command(ADMIN, "/status")
        assert (await api.next_message(ADMIN, timeout_s=10))["text"].startswith("<pre>Status")
    finally:
        await bot.stop()



ROOT = Path(__file__).resolve().parent.parent
SIGHUP_DURING_PREPARE = """
import os, signal, sys
sys.path.insert(0, {root!r})
from bot import cli

real = cli.prepare
def prepare(*args, **kwargs):  # the signal arrives while the config and its secrets are read
    out = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGHUP)
    return out
cli.prepare = prepare
sys.exit(cli.main(["run", "--config", {config!r}, "--for", "2s"]))
"""


def test_a_sighup_while_arbot_run_starts_is_held_not_fatal(tmp_path):
    """`systemctl reload arbot` right after `start` (Type=exec: systemd takes the service as started at once)
    reached `arbot run` while it was still reading its config and secrets, before the loop's handler existed:
    SIGHUP's default action ended the process. It is held, and the re-read runs once the loop does."""
    import subprocess
    import sys

    config = tmp_path / "arbot.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n')
    code = SIGHUP_DURING_PREPARE.format(root=str(ROOT), config=str(config))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "secrets re-read by SIGHUP" in out.stderr


async def test_the_docs_of_the_re_read_say_the_store_url_needs_a_restart(tmp_path, monkeypatch):
    """The re-read answers that `[bot] db_url` is read at start only, but the runbook and docs/deploy.md said every
    env:/file: reference is read again without a restart: an operator rotating the database password would revoke
    the old one and find out from the store alerts."""
    monkeypatch.setenv("ARBOT_TEST_RELOAD_DB", f"sqlite:///{tmp_path}/arbot.db")
    bot = await started_bot(tmp_path, f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n'
                                      'db_url = "env:ARBOT_TEST_RELOAD_DB"\n')
    try:
        lines = await bot.reload_secrets(by="test")
    finally:
        await bot.stop()
    assert "bot.db_url: read at start only; restart to use a new one" in lines
    root = Path(__file__).resolve().parent.parent
    runbook = (root / "docs" / "runbook.md").read_text()
    rotating = runbook.split("## Rotating secrets")[1]
    [reread_row] = [line for line in runbook.splitlines() if line.startswith("| re-read secrets")]
    secrets = (root / "docs" / "deploy.md").read_text().split("## Secrets")[1].split("\n## ")[0]
    for text in (rotating, reread_row, secrets):
        assert "db_url" in text and "restart" in text, text
