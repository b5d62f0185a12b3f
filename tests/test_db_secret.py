"""The store password never shows: a canary password in a PostgreSQL URL, looked for everywhere.

With ``ARBOT_TEST_DB_URL`` (a real PostgreSQL) the bot runs on a role whose password is the canary;
without it the URL points at a closed port on 127.0.0.1, and every command must fail cleanly,
naming the store, without the password.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot import cli, hookimpl
from bot.api import Caller, Notifier
from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.redact import REDACTOR, add_url, safe_url
from bot.store import Store, StoreError, engine_url
from tests.helpers.processes import arbot as arbot_command

CANARY = f"Canary{uuid.uuid4().hex}"
ON_POSTGRES = bool(os.environ.get("ARBOT_TEST_DB_URL"))

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
db_url = "env:ARBOT_CANARY_DB_URL"
control_socket = ""
store_wait_s = 1
[exchanges.paper]
tick_interval_ms = 20
[strategies.g]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 11
order_size = "0.01"
[notifiers.console]
min_level = "info"
"""


@pytest.fixture
def canary_url(db_url: str):
    """A PostgreSQL URL whose password is the canary: a real role on the test server, or a closed port."""
    if not ON_POSTGRES:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield f"postgresql://arbot:{CANARY}@127.0.0.1:{port}/arbot"
        return
    url = make_url(db_url)
    schema = url.query["options"].split("=", 1)[1]
    role = f"canary_{uuid.uuid4().hex[:12]}"
    admin = create_engine(engine_url(db_url), poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{CANARY}'"))
        conn.execute(text(f'GRANT ALL ON SCHEMA "{schema}" TO {role}'))
    try:
        yield url.set(username=role, password=CANARY).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role} CASCADE"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_the_password_is_in_no_output_of_any_command(tmp_path: Path, canary_url: str):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path))
    env = {**os.environ, "ARBOT_CANARY_DB_URL": canary_url, "PYTHONUNBUFFERED": "1"}
    commands = {
        "check-config": ("check-config", str(config)),
        "db current": ("db", "current", "--config", str(config)),
        "run": ("run", "-v", "--config", str(config), "--for", "3s"),  # -v: whole lines, not cut at 120
        "report": ("report", "--config", str(config)),
        "report --db": ("report", "--config", str(config), "--db", canary_url),
        "db upgrade": ("db", "upgrade", "--config", str(config)),
    }
    # Each command is a process of its own (its interpreter's start and imports, then the store's wait): run side by
    # side where none depends on another. Without a server each fails alone at the store; on PostgreSQL "run" writes
    # what "report" reads, so the commands before it, it, then those after it.
    steps = ([list(commands)] if not ON_POSTGRES
             else [["check-config", "db current"], ["run"], ["report", "report --db", "db upgrade"]])
    runs: dict[str, subprocess.CompletedProcess] = {}
    for step in steps:
        started = {name: subprocess.Popen(arbot_command(*commands[name]), env=env, cwd=tmp_path, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in step}
        try:
            for name, process in started.items():
                stdout, stderr = process.communicate(timeout=120)
                runs[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        finally:  # none outlives the test (one that timed out, and those beside it)
            for process in started.values():
                process.kill()
    runs = {name: runs[name] for name in commands}
    for name, out in runs.items():
        assert CANARY not in out.stdout + out.stderr, name
    assert runs["check-config"].returncode == 0
    if ON_POSTGRES:
        assert [out.returncode for out in runs.values()] == [0] * len(runs), runs["run"].stderr[-3000:]
        assert "store postgresql://canary_" in runs["run"].stderr and ":***@127.0.0.1" in runs["run"].stderr
        assert "g " in runs["report"].stdout or "g" in runs["report"].stdout.split()
    else:
        for name in ("db current", "run", "report", "report --db", "db upgrade"):
            out = runs[name]  # each waits for the store ([bot] store_wait_s), then exits 1 to be tried again later
            assert out.returncode == 1, (name, out.stderr)
            assert "store postgresql://arbot:***@127.0.0.1:" in out.stderr, (name, out.stderr)
            assert "Traceback" not in out.stderr, (name, out.stderr)


class Recording(Notifier):
    sent: list = []

    async def send(self, alert):
        Recording.sent.append(alert)


class RecordingPlugin:
    @hookimpl
    def register_notifiers(self, register):
        register("recording", Recording)


async def test_the_password_is_in_no_log_alert_or_reply(tmp_path: Path, canary_url: str, monkeypatch, caplog):
    monkeypatch.setenv("ARBOT_CANARY_DB_URL", canary_url)
    toml = CONFIG.format(data_dir=tmp_path).replace('[notifiers.console]\nmin_level = "info"',
                                                    '[notifiers.rec]\ntype = "recording"')
    plugins = load_plugins(extra=[("canary-kit", RecordingPlugin())])
    registry = collect(plugins)
    config = build_config(parse_toml(toml, "canary.toml"), registry, "canary.toml")
    Recording.sent = []
    caplog.set_level(logging.DEBUG)
    bot = Bot(config, plugins, registry)
    seen: list[str] = [bot.store.url]
    if not ON_POSTGRES:
        with pytest.raises(StoreError) as raised:
            await bot.start()
        seen.append(str(raised.value))
        assert "127.0.0.1" in str(raised.value)
    else:
        await bot.start()
        try:
            viewer = Caller("test", "1", "viewer")
            commands = [c.name for c in bot.commands.visible_to(viewer)]
            assert {"report", "status", "pnl"} <= set(commands)
            for command in commands:  # every command a viewer may send, /report and /status included
                reply = await bot.commands.dispatch(viewer, command, [])
                seen.append(reply.render_text())
        finally:
            await bot.stop()
        assert any("arbot started" in a.message for a in Recording.sent)
    seen += [caplog.text, *(f"{a.message} {a.fields}" for a in Recording.sent)]
    assert all(CANARY not in text for text in seen)


SLASHED = "postgresql://arbot:pa/ss?w#rd99@127.0.0.1:1/arbot"
"""SQLAlchemy's make_url reads the password "pa/ss?w#rd99" (up to the "@" before the host); port 1 is closed."""


def test_a_password_holding_a_slash_a_question_mark_or_a_hash_is_masked(capsys, tmp_path):
    assert safe_url(SLASHED) == "postgresql://arbot:***@127.0.0.1:1/arbot"
    store = Store(SLASHED)
    with pytest.raises(StoreError) as raised:
        store.open()
    assert store.url == safe_url(SLASHED) and "pa/ss" not in str(raised.value), str(raised.value)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        config = tmp_path / "arbot.toml"
        config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\nstore_wait_s = 0\n')  # the server is never up
        assert cli.main(["report", "--config", str(config), "--db", SLASHED]) == 1  # refused: to try again later
    finally:
        root.handlers[:] = handlers  # cli.main put a handler writing to capsys's stream on the root logger
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "store postgresql://arbot:***@127.0.0.1:1/arbot: cannot" in err and "pa/ss" not in err, err


def test_every_password_of_a_url_list_is_masked_a_short_one_where_a_url_holds_it():
    servers = "nats://bot:p2@h1:4222,nats://bot:longer-pw@h2:4222"
    assert safe_url(servers) == "nats://bot:***@h1:4222,nats://bot:***@h2:4222"
    add_url(servers)
    assert REDACTOR.redact(f"lost {servers}") == "lost nats://bot:***@h1:4222,nats://bot:***@h2:4222"
    assert REDACTOR.redact("no longer-pw, a p2p link") == "no ***, a p2p link"  # a short one only inside a URL


def test_db_url_as_a_file_reference_and_a_missing_reference(tmp_path: Path, monkeypatch):
    from bot.config import resolve_secrets
    from bot.settings import ConfigError

    secret = tmp_path / "db-url"
    secret.write_text(f"postgresql://arbot:{CANARY}@db.example:5432/arbot\n")
    secret.chmod(0o600)
    registry = collect(load_plugins())

    def config(db_url: str):
        return build_config(parse_toml(f'[bot]\ndata_dir = "{tmp_path}"\ndb_url = "{db_url}"\n', "t.toml"),
                            registry, "t.toml")

    from_file = config(f"file:{secret}")
    resolve_secrets(from_file)
    assert from_file.db_url == f"postgresql://arbot:{CANARY}@db.example:5432/arbot"
    assert CANARY not in repr(from_file)  # the settings hold the reference, not the URL
    monkeypatch.delenv("ARBOT_NO_SUCH_DB_URL", raising=False)
    missing = config("env:ARBOT_NO_SUCH_DB_URL")
    with pytest.raises(ConfigError, match=r"bot\.db_url: environment variable ARBOT_NO_SUCH_DB_URL is not set"):
        resolve_secrets(missing)
    with pytest.raises(ConfigError, match=r"bot\.db_url"):
        missing.db_url  # noqa: B018
    assert config("sqlite:///x.db").db_url == f"sqlite:///{tmp_path}/x.db"
