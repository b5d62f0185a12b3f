"""The two-machine fleet example in deploy/fleet/ (docs/fleet.md), each file checked by the tool that owns its format.

The compose file with ``docker-compose config``, the systemd template unit with ``systemd-analyze verify``,
the bots' configs with ``arbot check-config``, and the nats-server config for real: a nats-server runs
it (TLS with a throwaway certificate, the users and permissions as shipped) while the front and grid
bots of the example, in this process, steer each other through it, and a bot's user is refused what
the config does not allow it. ``.ci/run`` installs the tools; outside CI a missing one skips its test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.api import Caller
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import collect, load_plugins
from tests.helpers.fleet import arbot_env, fleet_unless_installed
from tests.helpers.processes import arbot
from tests.helpers.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "deploy" / "fleet"
PASSWORD = "test-only-nats-password-4f1c"


def tool(name: str) -> str:
    """The tool's path; in CI a missing tool fails the test, elsewhere it skips it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:" + str(Path(sys.executable).parent))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run should install it")
        pytest.skip(f"{name} is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_hub_compose_file_is_valid(tmp_path: Path):
    deploy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", deploy)
    for name in ("nats.env", "front.env", "grid-1.env", "pg_password.txt"):  # the files a user creates beside it
        (deploy / "fleet" / name).write_text("")
    out = subprocess.run([tool("docker-compose"), "-f", str(deploy / "fleet" / "compose.yaml"), "config"],
                         capture_output=True, text=True, cwd=deploy / "fleet")
    assert out.returncode == 0, out.stderr
    services = subprocess.run([tool("docker-compose"), "-f", str(deploy / "fleet" / "compose.yaml"), "config",
                               "--services"], capture_output=True, text=True, cwd=deploy / "fleet")
    assert set(services.stdout.split()) == {"nats", "postgres", "front", "grid-1"}
    text = out.stdout
    assert "127.0.0.1:4222" in text and "127.0.0.1:5432" in text  # published on this host only by default
    for name in ("front.toml", "grid-1.toml", "nats-server.conf"):
        assert (FLEET / name).exists(), name
    # the bots are built from the Dockerfile: the image must carry the NATS client
    assert re.search(r'pip install .*"\.\[[^]]*\bfleet\b[^]]*\]"', (ROOT / "Dockerfile").read_text())


def test_the_member_unit_verifies(tmp_path: Path):
    unit = (FLEET / "arbot@.service").read_text()
    assert "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit and "%i" in unit
    local = tmp_path / "arbot@arb-1.service"  # an instance; ExecStart pointed at this venv's arbot
    local.write_text(unit.replace("/opt/arbot/bin/arbot", str(Path(sys.executable).parent / "arbot")))
    out = subprocess.run([tool("systemd-analyze"), "verify", str(local)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


@pytest.mark.parametrize("name", ["front", "grid-1", "arb-1"])
def test_the_example_bots_check(tmp_path: Path, name: str):
    config = tmp_path / f"{name}.toml"
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    config.write_text(re.sub(r'tls_ca = "[^"]+"', f'tls_ca = "{ca}"', (FLEET / f"{name}.toml").read_text()))
    env = {**arbot_env(tmp_path), "ARBOT_DB_URL": "postgresql://arbot:x@127.0.0.1:1/arbot",
           "ARBOT_NATS_PASSWORD": "x", "ARBOT_TELEGRAM_TOKEN": "1:x"}
    out = subprocess.run(arbot("check-config", str(config)), capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# --- the nats-server config, run -----------------------------------------------------------------------


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed server certificate for 127.0.0.1 (and its key): the bots' tls_ca is the certificate itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "arbot test nats")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "server-cert.pem", folder / "server-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_config(folder: Path, port: int) -> Path:
    """deploy/fleet/nats-server.conf as shipped, but for its paths and ports (a test's own)."""
    cert_file, key_file = certificate(folder)
    text = (FLEET / "nats-server.conf").read_text()
    text = text.replace("/etc/nats/tls/server-cert.pem", str(cert_file))
    text = text.replace("/etc/nats/tls/server-key.pem", str(key_file))
    text = text.replace("/data/jetstream", str(folder / "jetstream"))
    text = text.replace('listen: "0.0.0.0:4222"', f'listen: "127.0.0.1:{port}"')
    text = text.replace('http: "127.0.0.1:8222"', f'http: "127.0.0.1:{free_port()}"')
    config = folder / "nats-server.conf"
    config.write_text(text)
    return config


def bot_from_example(name: str, folder: Path, port: int, ca: Path) -> str:
    """An example bot's config, pointed at the test's server and a SQLite store of its own, without Telegram."""
    text = (FLEET / f"{name}.toml").read_text()
    text = re.sub(r"\[notifiers\.telegram\].*?\n\n", "", text, flags=re.S)
    text = re.sub(r'nats_url = "[^"]+"', f'nats_url = "tls://127.0.0.1:{port}"', text)
    text = re.sub(r'tls_ca = "[^"]+"', f'tls_ca = "{ca}"', text)
    text = text.replace('db_url = "env:ARBOT_DB_URL"', f'db_url = "sqlite:///{folder}/arbot.db"\n'
                                                       f'data_dir = "{folder}"\ncontrol_socket = ""')
    return text


async def test_the_nats_config_lets_the_example_bots_work_and_nothing_more(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    import nats
    import nats.errors

    binary = tool("nats-server")
    port = free_port()
    config = server_config(tmp_path, port)
    env = {**os.environ, **{f"{who}_NATS_PASSWORD": PASSWORD for who in ("FRONT", "GRID", "ARB", "CLI")}}
    checked = subprocess.run([binary, "-t", "-c", str(config)], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    server = subprocess.Popen([binary, "-c", str(config)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    monkeypatch.setenv("ARBOT_NATS_PASSWORD", PASSWORD)
    ca = tmp_path / "server-cert.pem"
    bots: list[Bot] = []
    try:
        plugins = load_plugins(extra=fleet_unless_installed(), report=lambda info, message: None)
        registry = collect(plugins)
        for name in ("front", "grid-1"):
            folder = tmp_path / name
            folder.mkdir()
            text = bot_from_example(name, folder, port, ca)
            built = build_config(parse_toml(text, name), registry, name)
            resolve_secrets(built)  # as `arbot run` does: the NATS password from the environment
            bot = Bot(built, plugins, registry)
            await bot.start()
            bots.append(bot)
        front, grid = bots
        link = front.commands.fleet
        assert link is not None
        await wait_for(lambda: [m.name for m in link.members() if m.alive] == ["front", "grid-1"], timeout_s=30,
                       what="both bots on the TLS server as their own users")
        admin = Caller("telegram", "123456789", "admin")
        reply = await front.commands.dispatch(admin, "pause", ["grid-1:btc-grid"])
        assert reply.ok, reply.render_text()
        assert grid.strategy_state("btc-grid").startswith("paused")
        # JetStream as the bots set it up through their permissions: the stream and the status bucket
        member = await nats.connect(f"tls://127.0.0.1:{port}", user="grid-1", password=PASSWORD,
                                    tls=_context(ca), allow_reconnect=False)
        try:
            js = member.jetstream()
            assert (await js.stream_info("ARBOT_EVENTS")).config.name == "ARBOT_EVENTS"
            assert {"front", "grid-1"} <= set(await (await js.key_value("arbot_fleet")).keys())
            # grid-1's user may not speak as another bot nor command one
            with pytest.raises(nats.errors.Error):
                await member.request("arbot.front.cmd", b"{}", timeout=2)
            errors: list[Exception] = []
            await member.close()
            member = await nats.connect(f"tls://127.0.0.1:{port}", user="grid-1", password=PASSWORD,
                                        tls=_context(ca), allow_reconnect=False, error_cb=_collect(errors))
            await member.publish("arbot.front.evt.fill", b"{}")
            await member.flush()
            await wait_for(lambda: errors, timeout_s=10, what="a permissions violation")
            assert "permissions violation" in str(errors[0]).lower()
        finally:
            await member.close()
        with pytest.raises(nats.errors.Error):  # a wrong password is refused
            await nats.connect(f"tls://127.0.0.1:{port}", user="grid-1", password="wrong", tls=_context(ca),
                               allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5)
    finally:
        for bot in bots:
            await bot.stop()
        server.terminate()
        await asyncio.to_thread(server.wait)


def _context(ca: Path):
    import ssl

    return ssl.create_default_context(cafile=str(ca))


def _collect(errors: list[Exception]):
    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    return on_error
