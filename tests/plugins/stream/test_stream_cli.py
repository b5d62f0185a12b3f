"""``arbot keygen`` and ``arbot watch`` as a user runs them: real subprocesses, a real bot's stream."""

from __future__ import annotations

import asyncio
import json
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


def test_watch_shows_control_characters_in_an_event_escaped_never_sends_them_to_the_terminal():
    # an alert may quote what others wrote (a venue's error body): printed as it came, an escape sequence in it
    # retitled, cleared or rewrote the watcher's terminal, and a newline broke "one line per frame"
    from plugins.stream.cli import format_frame

    evil = "\x1b]0;owned\x07\x1b[2J\rfake line\nnext"
    lines = [
        format_frame({"type": "event", "bot": "b", "channel": "alerts", "seq": 3, "ts": 10**18,
                      "data": {"message": evil, "fields": {"body": evil}}}),
        format_frame({"type": "reset", "channel": "alerts", "seq": 4, "reason": evil}),
        format_frame({"type": "snapshot", "channel": "status", "seq": 5, "data": {"x": evil}}),
        format_frame({"type": evil, "x": 1}),
    ]
    for line in lines:
        assert not any(ord(c) < 32 or ord(c) == 127 for c in line), repr(line)
    assert "alerts#3 message=\\x1b]0;owned\\x07\\x1b[2J\\rfake line\\nnext" in lines[0]


def test_watch_prints_a_frame_it_cannot_read_as_json_instead_of_a_traceback():
    from plugins.stream.cli import format_frame

    assert format_frame({"type": "event", "channel": "fills"}) == 'event: {"type": "event", "channel": "fills"}'
    assert format_frame({"type": "event", "channel": "fills", "seq": 1, "ts": "x", "data": []}).startswith("event: ")


async def test_watch_prints_an_event_carrying_a_fractional_number_in_both_formats(make_bot, tmp_path, capsys):
    # the client reads a number with a fraction as a Decimal (never a float for an amount); printing the frame
    # then raised "Decimal is not JSON serializable": an alert with a figure such as lag_s=1.5 ended `arbot watch`
    import argparse

    from bot.domain import AlertLevel
    from plugins.stream.cli import _watch
    from plugins.stream.protocol import public_key_of, write_key_pair

    key = write_key_pair(tmp_path / "w.key")
    bot = await make_bot(f'[plugins.stream]\nenabled = true\nport = 0\n'
                         f'clients = {{ cli = "viewer:{public_key_of(key)}" }}\n')
    server = running_server(bot.operator)
    for as_json in (False, True):
        args = argparse.Namespace(url=f"ws://127.0.0.1:{server.port}", key=str(tmp_path / "w.key"),
                                  channels=["alerts"], json=as_json, once=True)
        watch = asyncio.create_task(_watch(args))
        printed = ""

        def shown(watch: asyncio.Task = watch) -> bool:
            nonlocal printed
            printed += capsys.readouterr().out
            return "lag_s" in printed or watch.done()

        try:
            await wait_for(lambda: server.channels["alerts"].subscribers, what="watch to subscribe")
            bot.alert(AlertLevel.INFO, "test", f"slow loop (json={as_json})", lag_s=1.5)
            await wait_for(shown, what="the alert printed")
            assert not watch.done(), watch.exception()
            if as_json:
                assert json.loads(printed)["data"]["fields"] == {"lag_s": 1.5}
            else:
                assert ' alerts#' in printed and 'fields={"lag_s": 1.5}' in printed
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            await wait_for(lambda: not server.clients, what="watch gone")


async def test_watch_once_that_cannot_connect_says_so_and_fails(tmp_path, capsys):
    # --once ended with status 0 and no word when no connection was ever made (a wrong port, the bot down): a
    # script could not tell "the stream ended" from "there was no stream"
    import argparse
    import socket

    from plugins.stream.cli import _watch
    from plugins.stream.protocol import write_key_pair

    write_key_pair(tmp_path / "w.key")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # nothing listens there once closed
    args = argparse.Namespace(url=f"ws://127.0.0.1:{port}", key=str(tmp_path / "w.key"), channels=["fills"],
                              json=False, once=True)
    assert await _watch(args) == 1
    err = capsys.readouterr().err
    assert f"ws://127.0.0.1:{port}" in err and "Traceback" not in err, err


def test_watch_json_prints_a_number_with_a_fraction_exactly_as_the_server_wrote_it():
    # `--json` wrote the client's Decimal through float: 1234567.123456789012 printed as 1234567.123456789, a
    # quantity 0.000000000000000001 short; amounts the server sends as strings stay strings
    from plugins.stream.cli import format_frame, to_json
    from plugins.stream.protocol import loads

    wire = ('{"type": "event", "channel": "alerts", "seq": 7, "ts": 1763820187512000000, "data": {"fields": '
            '{"qty": 1234567.123456789012, "tiny": 1E-30, "neg": -0.10, "lag_s": 1.5, "n": 3, "none": null, '
            '"ok": true, "list": [0.30000000000000004441, "2.50"]}, "price": "30000.10", "msg": "a \\"q\\" \\u00e9"}}')
    frame = loads(wire)
    assert to_json(frame) == wire
    assert json.loads(to_json(frame), parse_float=Decimal) == frame
    assert to_json(Decimal("0.1")) == "0.1" and to_json([Decimal("-2E+5")]) == "[-2E+5]"
    assert 'fields={"qty": 1234567.123456789012, "tiny": 1E-30' in format_frame(frame)


def test_watch_prints_a_frame_it_cannot_read_with_its_numbers_as_the_server_wrote_them():
    # a frame not of the documented shape was printed with json.dumps(default=str): 1.50 became the string "1.50"
    from plugins.stream.cli import format_frame
    from plugins.stream.protocol import loads

    frame = loads('{"type": "event", "channel": "fills", "lag_s": 1.50}')
    assert format_frame(frame) == 'event: {"type": "event", "channel": "fills", "lag_s": 1.50}'


def test_keygen_prints_a_block_that_turns_the_stream_on_pasted_as_is(tmp_path):
    """A user pasting what keygen prints into a config without [plugins.stream] gets a stream that is on."""
    import tomllib

    out = arbot("keygen", str(tmp_path / "p.key"), "--name", "laptop", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    block = out.stdout[out.stdout.rindex("\n[plugins.stream]\n"):]
    stream = tomllib.loads(block)["plugins"]["stream"]
    assert stream["enabled"] is True, block
    assert stream["clients"] == {"laptop": "viewer:" + (tmp_path / "p.key.pub").read_text().strip()}
