"""``[plugins.web]`` mistakes are named with their key and fix; ``arbot web-token`` makes a token and its hash."""

from __future__ import annotations

import re
import subprocess

import pytest

from bot.api import ConfigError
from bot.api.testing import build_bot
from plugins.web.auth import token_hash
from tests.helpers.processes import arbot

from .conftest import web_plugins
from .test_web_process import subprocess_env


def problems(tmp_path, users: str) -> str:
    with pytest.raises(ConfigError) as caught:
        build_bot(f"[plugins.web]\nenabled = true\nport = 0\nusers = {users}\n", data_dir=tmp_path,
                  extra=web_plugins())
    return str(caught.value)


def test_user_mistakes_name_the_key_and_the_fix(tmp_path):
    text = problems(tmp_path, '{ bob = { role = "boss", token = "env:X" } }')
    assert "plugins.web.users.bob.role" in text and "viewer, operator, admin" in text
    text = problems(tmp_path, '{ bob = { role = "admin", token = "hunter2" } }')
    assert "plugins.web.users.bob.token" in text and "sha256:HEX" in text and "hunter2" not in text
    text = problems(tmp_path, '{ bob = { role = "admin", token = "sha256:abc" } }')
    assert "64 lowercase hex digits" in text
    text = problems(tmp_path, '{ bob = { role = "admin", token = "env:X", rol = "x" } }')
    assert "plugins.web.users.bob.rol" in text and "unknown key" in text
    text = problems(tmp_path, '{ bob = "admin" }')
    assert "plugins.web.users" in text and "a table of tables of strings" in text


def test_two_users_with_one_token_name_both_keys(tmp_path):
    """The console finds a user by token: two users given the same one are one user to it (the last of them by
    name: a viewer named before an admin logs in as that admin), and the audit log names the wrong person."""
    text = problems(tmp_path, '{ alice = { role = "viewer", token = "env:ARBOT_WEB_SAME" }, '
                              'zoe = { role = "admin", token = "env:ARBOT_WEB_SAME" } }')
    assert "plugins.web.users.zoe.token: the same token as users.alice" in text and "arbot web-token" in text
    hashed = token_hash("shared-token-0123456789")
    text = problems(tmp_path, f'{{ alice = {{ role = "viewer", token = "{hashed}" }}, '
                              f'zoe = {{ role = "admin", token = "{hashed}" }} }}')
    assert "plugins.web.users.zoe.token: the same token as users.alice" in text


async def test_two_users_whose_tokens_resolve_the_same_leave_the_console_out_with_the_reason(tmp_path, monkeypatch):
    """Two variables (or files) holding one token: known only once they are read, at start."""
    import aiohttp

    from plugins.web import running_server

    monkeypatch.setenv("ARBOT_WEB_ALICE_T", "shared-token-0123456789")
    monkeypatch.setenv("ARBOT_WEB_ZOE_T", "shared-token-0123456789")
    bot = build_bot('[exchanges.paper]\n[plugins.web]\nenabled = true\nport = 0\n'
                    'users = { alice = { role = "viewer", token = "env:ARBOT_WEB_ALICE_T" }, '
                    'zoe = { role = "admin", token = "env:ARBOT_WEB_ZOE_T" } }\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        server = running_server(bot.operator)
        if server is not None:  # what the viewer's token got
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{server.port}/api/v1/status",
                    headers={"Authorization": "Bearer shared-token-0123456789"}) as r:
                who = (await r.json())["user"]
            raise AssertionError(f"the console started; alice's token is {who}")
        errors = " ".join(bot.plugin_errors("web"))
        assert "users.zoe.token: the same token as users.alice" in errors, errors
        assert "shared-token" not in errors
    finally:
        await bot.stop()


@pytest.mark.parametrize("host, fix", [
    ("0.0.0.0:8080", 'expected an address without a port, got "0.0.0.0:8080": write host = "0.0.0.0" and port = 8080'),
    ("[::1]:8780", 'write host = "::1" and port = 8780'),
    ("http://127.0.0.1:8780", "not a URL"),
    ("my host", 'expected an IP address such as "127.0.0.1" or "::1", or a host name'),
])
def test_a_host_with_a_port_or_a_url_names_the_key_and_the_fix(tmp_path, host, fix):
    """Refused when the config is checked, not at start as a gaierror naming no key (the bot trading on without
    its console)."""
    with pytest.raises(ConfigError) as caught:
        build_bot(f'[plugins.web]\nenabled = true\nhost = "{host}"\n', data_dir=tmp_path, extra=web_plugins())
    [line] = [line for line in str(caught.value).splitlines() if "plugins.web.host: " in line]
    assert fix in line, line


async def test_a_token_from_a_missing_variable_leaves_the_console_out_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("ARBOT_WEB_NOT_SET", raising=False)
    bot = build_bot('[exchanges.paper]\n[plugins.web]\nenabled = true\nport = 0\n'
                    'users = { bob = { role = "admin", token = "env:ARBOT_WEB_NOT_SET" } }\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        assert bot.operator.service("web") is None
        errors = " ".join(bot.plugin_errors("web"))
        assert "users.bob.token" in errors and "ARBOT_WEB_NOT_SET is not set" in errors
    finally:
        await bot.stop()


def test_web_token_prints_a_token_and_the_config_line_with_its_hash(tmp_path):
    out = subprocess.run(arbot("web-token", "--name", "alice", "--role", "admin"), capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=subprocess_env(tmp_path))
    assert out.returncode == 0, out.stderr
    token = out.stdout.splitlines()[1].strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert f'alice = {{ role = "admin", token = "{token_hash(token)}" }}' in out.stdout


async def test_with_audit_reads_off_only_changes_and_refusals_are_audited(tmp_path):
    import aiohttp

    from bot.api.testing import wait_for
    from plugins.web import running_server

    bot = build_bot('[exchanges.paper]\n[strategies.g]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                    'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n'
                    f'[plugins.web]\nenabled = true\nport = 0\naudit_reads = false\n'
                    f'users = {{ v = {{ role = "viewer", token = "{token_hash("vvvvvvvvvvvv")}" }}, '
                    f'o = {{ role = "operator", token = "{token_hash("oooooooooooo")}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        url = f"http://127.0.0.1:{running_server(bot.operator).port}/api/v1"
        async with aiohttp.ClientSession() as http:
            for token, method, path, status in (("vvvvvvvvvvvv", "GET", "/status", 200),
                                                ("vvvvvvvvvvvv", "GET", "/audit", 403),
                                                ("oooooooooooo", "POST", "/strategies/g/pause", 200)):
                async with http.request(method, url + path, headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == status
        await wait_for(lambda: any(e.command == "POST /api/v1/strategies/g/pause" and e.transport == "web"
                                   for e in bot.operator.audit_log(50)), what="the pause audited")
        lines = {(e.user_id, e.command, e.outcome.split(":")[0]) for e in bot.operator.audit_log(50)
                 if e.transport == "web" and " /api/" in e.command}  # (the verb writes its own line too)
        assert lines == {("v", "GET /api/v1/audit", "refused"), ("o", "POST /api/v1/strategies/g/pause", "ok")}
    finally:
        await bot.stop()


def test_the_setup_example_in_docs_web_md_is_a_valid_config(tmp_path, monkeypatch):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "web.md").read_text()
    example = re.search(r"## Setup\n\n```toml\n(.*?)```", text, re.S).group(1)
    monkeypatch.setenv("ARBOT_WEB_ALICE", "alice-token-0123456789")
    bot = build_bot(example, data_dir=tmp_path, extra=web_plugins())
    settings = bot.operator.plugin_settings("web")
    assert settings.enabled and set(settings.users) == {"alice", "bob"}


def test_failed_logins_of_addresses_that_never_come_back_are_forgotten_after_their_minute():
    from plugins.web.auth import FailureWindow

    window = FailureWindow(per_min=3)
    for i in range(1000):  # a scanner: one wrong token a second, each from a new address
        window.failed(f"10.0.{i // 256}.{i % 256}", float(i))
    assert len(window._recent) <= 61
    for _ in range(3):
        window.failed("10.9.9.9", 2000.0)
    assert window.blocked("10.9.9.9", 2001.0) > 0  # a guessing address is still held back
    assert window.blocked("10.9.9.9", 2061.0) == 0
