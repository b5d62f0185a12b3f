"""Local control channel: ``arbot ctl`` talks to a running bot over a Unix socket.

Who may connect: the user running the bot, and the uids listed in ``[bot] control_allowed_uids``;
each connection's peer uid is read from the kernel (``SO_PEERCRED``) and any other uid, root
included, is refused before its request is read. Whoever is let in is the **admin** of the local
transport (every command, no confirmation by another person). The socket file is 0600 when only the
bot's own user may connect, 0666 when other uids are listed (the uid check is then the gate; they
also need search permission on the data directory). Each request is one JSON line
``{"command": "pause", "args": ["btc-grid"]}``; the answer is one JSON line
``{"ok": true, "text": "..."}``, plus ``"image": PATH`` when the reply carries a PNG (a chart),
which the server writes under ``data_dir/images`` (the client is on the same host). Commands go
through the same :class:`CommandTable` (roles, confirmations, audit) as the chat transports: a
command that asks for a confirmation (``kill``, ``resume`` after a kill, ``observe off``) answers
with its question and ``"confirm_token": TOKEN``, and the request ``{"confirm": TOKEN}`` from the
same uid, within ``[commands] confirm_ttl_s``, runs it (what a chat's Confirm button does).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
import socket
import struct
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .api import Caller, CommandDispatcher
from .clock import Clock
from .errors import UserError

log = logging.getLogger("arbot.control")
MAX_REQUEST = 4096
CTL_TIMEOUT_S = 10.0
"""How long ``arbot ctl`` waits for the running bot's answer."""


def socket_path(bot_data_dir: Path, name: str) -> Path:
    return bot_data_dir / name


class ControlServer:
    """Serves ``commands`` on the socket ``data_dir/socket_name`` (none when the name is empty)."""

    def __init__(self, commands: CommandDispatcher, *, data_dir: Path, socket_name: str, clock: Clock,
                 allowed_uids: Collection[int] = ()):
        self.commands = commands
        self.allowed_uids = frozenset({os.getuid(), *allowed_uids})
        """Peer uids let in: the bot's own and ``[bot] control_allowed_uids``."""
        self.refused = 0
        self.data_dir = data_dir
        self.socket_name = socket_name
        self.clock = clock
        self.path: Path | None = None
        self._server: asyncio.AbstractServer | None = None

    async def refuse_if_taken(self) -> None:
        """Raise :class:`UserError` when a live bot serves this socket, or something else holds its path.

        The bot calls it first in its start, before it opens the store: a second ``arbot run`` on a running bot's
        config changes nothing of the first's (its store identity, its orders in flight, its balances)."""
        if not self.socket_name:
            return
        path = socket_path(self.data_dir, self.socket_name)
        if path.is_socket():
            if await _alive(path):
                raise UserError(f"another arbot is already running with control socket {path}; stop it, or give "
                                "this one another data_dir or [bot] control_socket")
        elif path.exists() or path.is_symlink():
            raise UserError(f"[bot] control_socket: {path} exists and is not a socket; move it away or choose "
                            "another name")

    async def start(self) -> None:
        if not self.socket_name:
            return
        await self.refuse_if_taken()  # again: one may have started since the bot's start began
        path = socket_path(self.data_dir, self.socket_name)
        if path.is_socket():
            path.unlink()  # left by a bot that did not stop cleanly
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(path), limit=MAX_REQUEST)
        except OSError as exc:
            raise UserError(f"[bot] control_socket: cannot listen on {path}: {exc.strerror}") from None
        finally:
            os.umask(old_umask)
        self.path = path  # ours to remove at stop
        os.chmod(path, 0o600 if self.allowed_uids == {os.getuid()} else 0o666)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self.path is not None and self.path.is_socket():
            self.path.unlink()
        self.path = None

    def _save_image(self, command: str, png: bytes) -> Path:
        """Write a reply's PNG to ``data_dir/images/COMMAND-UTCTIME.png`` and return the path."""
        folder = self.data_dir / "images"
        folder.mkdir(exist_ok=True)
        when = dt.datetime.fromtimestamp(self.clock.time_ns() / 1e9, dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        name = re.sub(r"[^a-z0-9_-]", "", command.lower())  # a registered name already; never a path
        path = folder / f"{name}-{when}.png"
        path.write_bytes(png)
        return path

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uid = peer_uid(writer.get_extra_info("socket"))
        if uid is None or uid not in self.allowed_uids:
            self.refused += 1
            who = "a peer whose uid cannot be read" if uid is None else f"uid {uid}"
            log.warning("control socket: refused %s (allowed: %s; see [bot] control_allowed_uids)", who,
                        ", ".join(map(str, sorted(self.allowed_uids))))
            try:
                writer.write(json.dumps({"ok": False, "text": f"refused: {who} may not use this control socket"})
                             .encode() + b"\n")
                await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()
            return
        try:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=5)
            except ValueError:  # longer than MAX_REQUEST: refused with the reason, not dropped without a word
                answer: dict[str, Any] = {"ok": False, "text": f"bad request: longer than {MAX_REQUEST} bytes"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
                return
            try:
                request = json.loads(line)
                token = request.get("confirm")
                command = "confirm" if token is not None else str(request["command"])
                args = [str(a) for a in request.get("args", [])]
            except (ValueError, KeyError, TypeError, AttributeError):
                answer = {"ok": False, "text": 'bad request: expected {"command": "...", "args": [...]} or '
                                               '{"confirm": "TOKEN"}'}
            else:
                caller = Caller(transport="local", user_id=f"uid:{uid}", role="admin")
                reply = await (self.commands.confirm(caller, str(token)) if token is not None
                               else self.commands.dispatch(caller, command, args))
                answer = {"ok": reply.ok, "text": reply.render_text()}
                if reply.confirm_token:
                    answer["confirm_token"] = reply.confirm_token
                if reply.image_png is not None:
                    answer["image"] = str(self._save_image(command, reply.image_png))
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("control connection dropped: %s", exc)
        finally:
            writer.close()


def peer_uid(sock: Any) -> int | None:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``); None when the
    platform or the socket cannot say (the caller refuses it)."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
    except (OSError, AttributeError):
        return None
    return int(uid)


async def _alive(path: Path) -> bool:
    try:
        _reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False
    writer.close()
    return True


async def send_command(path: Path, command: str, args: list[str], timeout_s: float | None = None) -> dict[str, Any]:
    """Client side of ``arbot ctl``: the answer (with ``confirm_token`` when the command asks first).
    :class:`UserError` when the bot gives none within ``timeout_s`` (:data:`CTL_TIMEOUT_S`)."""
    return await _request(path, {"command": command, "args": args}, timeout_s)


async def send_confirm(path: Path, token: str, timeout_s: float | None = None) -> dict[str, Any]:
    """Confirm the command that answered with ``confirm_token``: the answer of running it, or why not."""
    return await _request(path, {"confirm": token}, timeout_s)


async def _request(path: Path, request: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
    wait_s = CTL_TIMEOUT_S if timeout_s is None else timeout_s
    data = json.dumps(request).encode() + b"\n"
    if len(data) > MAX_REQUEST:
        raise UserError(f"The command is {len(data)} bytes long; the control socket takes at most {MAX_REQUEST} "
                        "bytes: shorten its arguments. Nothing was sent.")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), wait_s)
    except TimeoutError:
        raise UserError(f"The arbot on {path} did not take the connection within {wait_s:g} s; nothing was sent. "
                        "Is its loop stalled? Its log says more.") from None
    try:
        writer.write(data)
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), wait_s)
        except TimeoutError:
            what = "the confirmation" if "confirm" in request else f"/{request.get('command')}"
            raise UserError(f"The arbot on {path} sent no answer within {wait_s:g} s: {what} may still run or "
                            "have run. Check with `arbot ctl status` and the audit log before sending it "
                            "again.") from None
        if not line:
            raise UserError(f"The arbot on {path} closed the connection without an answer; its log says why.")
        answer: dict[str, Any] = json.loads(line)
        return answer
    finally:
        writer.close()
