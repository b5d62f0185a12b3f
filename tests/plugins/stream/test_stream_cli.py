"""``arbot keygen`` and ``arbot watch`` as a user runs them: real subprocesses, a real bot's stream."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from decimal import Decimal
from pathlib import Path

from bot.domain import Fill, FillApplied, Liquidity, Side
from plugins.stream import running_server
from plugins.stream.protocol import read_signing_key
from tests.helpers.processes import arbot as arbot_command
from tests.helpers.waiting import wait_for


def arbot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(arbot_command(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})


def test_keygen_writes_a_private_key_only_we_can_read_and_prints_the_config_line(tmp_path):
    out = arbot("keygen", str(tmp_path / "w.key"), "--name", "laptop", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE((tmp_path / "w.key").stat().st_mode) == 0o600
    public = (tmp_path / "w.key.pub").read_text().strip()
    assert f'clients = {{ laptop = "viewer:{public}" }}' in out.stdout
    key = read_signing_key(tmp_path / "w.key")
    assert len(bytes(key.verify_key)) == 32
    again = arbot("keygen", str(tmp_path / "w.key"), cwd=tmp_path)
    assert again.returncode == 2 and "not overwriting" in again.stderr


async def test_watch_prints_live_events(make_bot, tmp_path):
    arbot("keygen", str(tmp_path / "w.key"), cwd=tmp_path)
    public = (tmp_path / "w.key.pub").read_text().strip()
    bot = await make_bot(f'[plugins.stream]\nenabled = true\nport = 0\nclients = {{ cli = "viewer:{public}" }}\n')
    server = running_server(bot.operator)
    proc = await asyncio.create_subprocess_exec(
        *arbot_command(), "watch", "--url", f"ws://127.0.0.1:{server.port}", "--key",
        str(tmp_path / "w.key"), "--once", "fills", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    try:
        await wait_for(lambda: server.channels["fills"].subscribers, timeout_s=30, what="watch to subscribe")
        bot.bus.publish(FillApplied("g", Fill(
            exchange="paper", symbol="BTC/USD", client_order_id="g-1", trade_id="t1", side=Side.SELL,
            price=Decimal("30001.5"), qty=Decimal("0.02"), fee=Decimal("0.1"), fee_asset="USD",
            liquidity=Liquidity.TAKER, ts_ns=1)))
        async with asyncio.timeout(10):
            line = (await proc.stdout.readline()).decode()
        assert " fills#1 " in line and "price=30001.5" in line and "side=sell" in line
    finally:
        proc.terminate()
        await proc.wait()


async def test_watch_with_a_key_the_bot_does_not_know_is_refused(make_bot, tmp_path):
    arbot("keygen", str(tmp_path / "stranger.key"), cwd=tmp_path)
    bot = await make_bot("[plugins.stream]\nenabled = true\nport = 0\n")
    url = f"ws://127.0.0.1:{running_server(bot.operator).port}"
    proc = await asyncio.create_subprocess_exec(
        *arbot_command(), "watch", "--url", url, "--key", str(tmp_path / "stranger.key"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == 1
    assert "refused" in err.decode() and "Traceback" not in err.decode()


def test_watch_refuses_a_key_file_others_can_read(tmp_path):
    arbot("keygen", str(tmp_path / "w.key"), cwd=tmp_path)
    os.chmod(tmp_path / "w.key", 0o644)
    out = arbot("watch", "--url", "ws://127.0.0.1:9", "--key", str(tmp_path / "w.key"), cwd=tmp_path)
    assert out.returncode == 1 and "chmod 600" in out.stderr and "Traceback" not in out.stderr
