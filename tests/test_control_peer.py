"""The control socket lets in only the bot's own uid and ``[bot] control_allowed_uids``, by the peer
uid the kernel reports (SO_PEERCRED), whatever the socket file's mode."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from bot.api import Reply
from bot.clock import Clock
from bot.control import ControlServer, peer_uid, send_command
from bot.errors import UserError

NOBODY = 65534


class Echo:
    """A command dispatcher that answers every command with the caller it saw."""

    def __init__(self) -> None:
        self.callers: list = []

    async def dispatch(self, caller, command, args):
        self.callers.append(caller)
        return Reply(f"{command} by {caller.user_id}")


@pytest.fixture
def open_dir():
    """A data directory other users may traverse (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="arbot-ctl-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_peer_uid_reads_the_kernel_credentials():
    left, right = socket.socketpair(socket.AF_UNIX)
    try:
        assert peer_uid(left) == os.getuid()
    finally:
        left.close()
        right.close()
    assert peer_uid(object()) is None  # no credentials: the server refuses such a peer


async def test_the_bots_own_uid_gets_admin_and_the_socket_is_private(tmp_path):
    echo = Echo()
    server = ControlServer(echo, data_dir=tmp_path, socket_name="arbot.sock", clock=Clock())
    await server.start()
    try:
        assert (tmp_path / "arbot.sock").stat().st_mode & 0o777 == 0o600
        answer = await send_command(tmp_path / "arbot.sock", "status", [])
        assert answer == {"ok": True, "text": f"status by uid:{os.getuid()}"}
        assert echo.callers[0].role == "admin" and echo.callers[0].transport == "local"
    finally:
        await server.stop()


async def test_a_peer_whose_uid_is_not_allowed_is_refused_before_its_request(tmp_path, monkeypatch):
    echo = Echo()
    server = ControlServer(echo, data_dir=tmp_path, socket_name="arbot.sock", clock=Clock())
    monkeypatch.setattr("bot.control.peer_uid", lambda sock: os.getuid() + 1)
    await server.start()
    try:
        answer = await send_command(tmp_path / "arbot.sock", "kill", [])
        assert answer["ok"] is False and f"uid {os.getuid() + 1} may not use this control socket" in answer["text"]
        assert echo.callers == [] and server.refused == 1
    finally:
        await server.stop()


def _connect_as(uid: int, path: Path) -> dict:
    """Fork a child that becomes ``uid`` and sends one command over the socket; its answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no asyncio, no pytest, just the socket
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(20)
                sock.connect(str(path))
                try:
                    sock.sendall(b'{"command": "status", "args": []}\n')
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused and closed before the request was read: the refusal is still to be read
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            os.write(write_end, data or b'{"ok": null, "text": "closed without an answer"}\n')
            status = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent through the pipe
            os.write(write_end, json.dumps({"ok": None, "text": f"child: {exc!r}"}).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        os.waitpid(pid, 0)
    return json.loads(data)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a client as another uid")
@pytest.mark.parametrize("allowed", [(), (12345,), (NOBODY,)])
async def test_another_uid_is_refused_unless_listed(open_dir, allowed):
    echo = Echo()
    server = ControlServer(echo, data_dir=open_dir, socket_name="arbot.sock", clock=Clock(), allowed_uids=allowed)
    await server.start()
    try:
        if not allowed:  # mode 0600: the kernel refuses nobody's connect() before the uid check is needed
            (open_dir / "arbot.sock").chmod(0o666)  # as if an operator loosened it: the uid check still holds
        answer = await asyncio.to_thread(_connect_as, NOBODY, open_dir / "arbot.sock")
    finally:
        await server.stop()
    if NOBODY in allowed:
        assert answer == {"ok": True, "text": f"status by uid:{NOBODY}"}
    else:
        assert answer["ok"] is False and f"uid {NOBODY} may not use this control socket" in answer["text"], answer
        assert echo.callers == [] and server.refused == 1


async def test_a_socket_path_taken_by_a_file_or_a_live_bot_is_a_message_and_left_alone(tmp_path):
    (tmp_path / "taken").mkdir()
    server = ControlServer(Echo(), data_dir=tmp_path, socket_name="taken", clock=Clock())
    with pytest.raises(UserError, match="exists and is not a socket"):
        await server.start()
    await server.stop()
    assert (tmp_path / "taken").is_dir()
    first = ControlServer(Echo(), data_dir=tmp_path, socket_name="arbot.sock", clock=Clock())
    await first.start()
    try:
        second = ControlServer(Echo(), data_dir=tmp_path, socket_name="arbot.sock", clock=Clock())
        with pytest.raises(UserError, match="another arbot is already running"):
            await second.start()
        await second.stop()  # what a failed start does: the first bot's socket stays
        assert (await send_command(tmp_path / "arbot.sock", "status", []))["ok"]
    finally:
        await first.stop()
    assert not (tmp_path / "arbot.sock").exists()
