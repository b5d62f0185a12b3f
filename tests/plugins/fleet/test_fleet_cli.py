"""``arbot fleet`` as an operator runs it: a real subprocess, a real nats-server, a running bot that decides."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path

from plugins.fleet import running_link
from tests.helpers.nats_server import fleet_plugin_path
from tests.helpers.processes import arbot
from tests.helpers.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]


def entry_point_dir(tmp_path: Path) -> Path:
    return fleet_plugin_path(tmp_path / "ep")


async def fleet_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *arbot("fleet", *args), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={**os.environ, **(env or {}), "PYTHONPATH": f"{ROOT}{os.pathsep}{entry_point_dir(tmp_path)}"})
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def cli_config(tmp_path: Path, url_ref: str, extra: str = "") -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(f'[plugins.fleet]\nnats_url = "{url_ref}"\njetstream = true\ncall_timeout_s = 10\n{extra}')
    return path


async def test_status_pause_and_kill_over_the_fleet_from_the_cli(nats_server, fleet_bot, tmp_path):
    me = getpass.getuser()
    grid = await fleet_bot("grid-1", nats_server.url, fleet=f'jetstream = true\nroles = {{ "cli:{me}" = "admin" }}\n')
    other = await fleet_bot("grid-2", nats_server.url, fleet=f'jetstream = true\nroles = {{ "cli:{me}" = "viewer" }}\n')
    link = running_link(grid.operator)
    await wait_for(lambda: {m.name for m in link.members()} == {"grid-1", "grid-2"}, timeout_s=20, what="both bots")
    config = cli_config(tmp_path, "env:FLEET_URL")
    env = {"FLEET_URL": nats_server.url}

    code, out, err = await fleet_cli(tmp_path, "status", "-c", str(config), env=env)
    assert code == 0, (out, err)
    assert "== grid-1 ==" in out and "== grid-2 ==" in out and "Status" in out and "grid" in out

    code, out, err = await fleet_cli(tmp_path, "pause", "grid", "--bot", "grid-1", "-c", str(config), env=env)
    assert code == 0, (out, err)
    assert "Paused: grid" in out
    assert grid.operator.strategy_state("grid").startswith("paused")
    await wait_for(lambda: any(e.command == "pause" for e in grid.operator.audit_log()), what="the audit row")
    entry = next(e for e in grid.operator.audit_log() if e.command == "pause")
    assert (entry.transport, entry.user_id, entry.role) == ("cli@cli", me, "admin")

    # grid-2 lets this user only look: the kill is refused there, so the exit status says a bot refused
    code, out, err = await fleet_cli(tmp_path, "kill", "maintenance", "--yes", "-c", str(config), env=env)
    assert code == 1, (out, err)
    assert "== grid-1 ==" in out and "== grid-2 (FAILED) ==" in out
    await wait_for(lambda: grid.operator.killed("grid"), what="grid-1's kill switch")
    assert not other.operator.killed("grid") and other.operator.strategy_state("grid") == "running"
    await wait_for(lambda: any(e.command == "kill" for e in other.operator.audit_log()), what="grid-2's refusal row")
    refusal = next(e for e in other.operator.audit_log() if e.command == "kill")
    assert refusal.transport == "cli@cli" and "refused" in refusal.outcome

    # resuming what a kill switch stopped: grid-1 asks, the CLI asks here once (no terminal: --yes), sends again
    code, out, err = await fleet_cli(tmp_path, "resume", "--bot", "grid-1", "-c", str(config), env=env)
    assert code == 2 and "--yes" in err and "grid-1: Resume grid after the kill switch?" in out
    assert grid.operator.killed("grid")
    code, out, err = await fleet_cli(tmp_path, "resume", "--bot", "grid-1", "--yes", "-c", str(config), env=env)
    assert code == 0, (out, err)
    assert "Resumed: grid" in out and grid.operator.strategy_state("grid") == "running"


async def test_kill_without_a_terminal_asks_for_yes_and_sends_nothing(nats_server, fleet_bot, tmp_path):
    me = getpass.getuser()
    grid = await fleet_bot("grid-1", nats_server.url, fleet=f'jetstream = true\nroles = {{ "cli:{me}" = "admin" }}\n')
    await wait_for(lambda: running_link(grid.operator).stats()["connected"], timeout_s=20, what="the bot on NATS")
    code, out, err = await fleet_cli(tmp_path, "kill", "-c", str(cli_config(tmp_path, nats_server.url)))
    assert code == 2 and "--yes" in err and "Traceback" not in err
    assert grid.operator.strategy_state("grid") == "running"


async def test_unreachable_nats_and_a_bad_config_are_one_clear_line(nats_server, tmp_path):
    secret_url = f"nats://fleet:Hunter2Hunter2@127.0.0.1:{nats_server.port}"
    nats_server.stop()
    code, out, err = await fleet_cli(tmp_path, "status", "-c", str(cli_config(tmp_path, "env:FLEET_URL")),
                                     env={"FLEET_URL": secret_url})
    assert code == 1 and "cannot reach NATS at nats://127.0.0.1:" in err
    assert "Hunter2Hunter2" not in out + err and "Traceback" not in err
    bad = tmp_path / "bad.toml"
    for table, key in (('heartbeat_s = 0', "plugins.fleet.heartbeat_s: expected a number >= 0.05"),
                       ('nats_url = "http://x"', "plugins.fleet.nats_url: expected nats://HOST:PORT")):
        bad.write_text(f"[plugins.fleet]\n{table}\n")
        code, out, err = await fleet_cli(tmp_path, "status", "-c", str(bad))
        assert code == 2 and key in err and "Traceback" not in err
    code, out, err = await fleet_cli(tmp_path, "status", env={"ARBOT_CONFIG": ""})
    assert code == 2 and "--config" in err


def test_help_does_not_load_the_nats_client(tmp_path):
    import json
    import subprocess

    code = ("import atexit, json, sys\n"
            "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
            "from bot.cli import main\n"
            "sys.exit(main(['--help']))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": f"{ROOT}{os.pathsep}{entry_point_dir(tmp_path)}", "PATH": "/usr/bin:/bin"})
    assert "fleet" in out.stdout  # the subcommand is there...
    [line] = [line for line in out.stderr.splitlines() if line.startswith("MODULES ")]
    modules = set(json.loads(line.removeprefix("MODULES ")))
    assert "plugins.fleet" in modules
    assert not any(m == "nats" or m.startswith("nats.") for m in modules)  # ...without its client
    assert "plugins.fleet.link" not in modules and "plugins.fleet.cli" in modules


async def test_the_cli_reaches_a_bot_without_jetstream_when_the_bucket_lists_others(nats_server, fleet_bot, tmp_path):
    """grid-1 keeps its status in the KV bucket, arb-1 (``jetstream = false``) only sends heartbeats: the CLI
    reading the bucket must still listen for them, or ``arbot fleet kill`` neither lists nor kills arb-1."""
    me = getpass.getuser()
    roles = f'roles = {{ "cli:{me}" = "admin" }}\n'
    grid = await fleet_bot("grid-1", nats_server.url, fleet=f"jetstream = true\n{roles}")
    arb = await fleet_bot("arb-1", nats_server.url, fleet=f"jetstream = false\n{roles}")
    await wait_for(lambda: {m.name for m in running_link(grid.operator).members()} == {"grid-1", "arb-1"},
                   timeout_s=20, what="both bots")
    config = cli_config(tmp_path, nats_server.url, "heartbeat_s = 0.5\n")
    code, out, err = await fleet_cli(tmp_path, "kill", "drill", "--yes", "-c", str(config))
    assert code == 0, (out, err)
    assert "== grid-1 ==" in out and "== arb-1 ==" in out, out
    await wait_for(lambda: grid.operator.killed("grid") and arb.operator.killed("grid"), what="both kill switches")


async def test_the_cli_knows_the_fleet_at_once_and_shows_a_departed_bot_as_skipped(nats_server, fleet_bot, tmp_path):
    """A bot's status carries its view of the fleet: one recent status of a bot up for a while (in the KV bucket with
    JetStream, else its next heartbeat) lists every bot alive, a bot without JetStream too, so ``arbot fleet``
    answers without listening 1.5 heartbeats (8 s by default) first. A bot whose status in the bucket is old is
    skipped as not heard from, as before."""
    import time

    import nats

    from plugins.fleet import wire

    me = getpass.getuser()
    roles = f'roles = {{ "cli:{me}" = "admin" }}\n'
    grid = await fleet_bot("grid-1", nats_server.url, fleet=f"jetstream = true\n{roles}")
    arb = await fleet_bot("arb-1", nats_server.url, fleet=f"jetstream = false\n{roles}")
    await wait_for(lambda: (view := running_link(grid.operator).view())["complete"] and "arb-1" in view["alive"]
                   and running_link(arb.operator).view()["complete"], timeout_s=20, what="both bots' views whole")
    nc = await nats.connect(nats_server.url)
    try:  # a bot that left an hour ago: its last status stays in the bucket
        kv = await nc.jetstream().key_value(wire.BUCKET)
        await kv.put("gone-1", wire.event("gone-1", "status", 7, time.time_ns() - 3600 * 10**9, {"mode": "paper"}))
    finally:
        await nc.close()
    for jetstream in ("true", "false"):  # the bucket read at once; or the first heartbeat heard
        config = tmp_path / f"cli-{jetstream}.toml"
        config.write_text(f'[plugins.fleet]\nnats_url = "{nats_server.url}"\njetstream = {jetstream}\n')
        began = time.monotonic()
        code, out, err = await fleet_cli(tmp_path, "status", "-c", str(config))
        took_s = time.monotonic() - began
        assert code == 0, (out, err)
        assert "== grid-1 ==" in out and "== arb-1 ==" in out, out
        if jetstream == "true":
            assert "gone-1: not heard from within 15 s; skipped" in out, out
        assert "gone-1 ==" not in out
        assert took_s < 5, f"arbot fleet status took {took_s:.1f} s (listening 8 s for heartbeats)"
