"""A fake Discord on 127.0.0.1: the REST API and the gateway WebSocket, enough for discord.py 2.7.

It serves what a bot that uses slash commands and buttons touches: ``GET /users/@me`` and
``/oauth2/applications/@me`` (login), ``PUT`` of application commands (sync), ``POST
/channels/{id}/messages`` (alerts), ``POST /interactions/{id}/{token}/callback`` (replies, button
updates; one later than :attr:`FakeDiscord.answer_within_s`, 3 s as Discord's, gets 404 Unknown interaction, code
10062), ``POST /webhooks/{app}/{token}`` (follow-ups) and ``PATCH /webhooks/{app}/{token}/messages/@original`` (the
message a button press deferred with type 6 is on), with 401 for a wrong bot token; a message
with files comes as ``multipart/form-data`` (``payload_json`` + ``files[N]``), its bytes kept in
:attr:`FakeDiscord.uploads` under the attachment ids of the message; and the
gateway: HELLO -> IDENTIFY (4004 for a wrong token) -> READY and GUILD_CREATE, heartbeat ACKs,
RESUME after :meth:`FakeDiscord.drop`, zlib-stream compressed binary frames when the client asks
for them. Tests push ``INTERACTION_CREATE`` dispatches (a slash command, a button press) with
:meth:`FakeDiscord.slash` and :meth:`FakeDiscord.click`, which return the interaction's callback
once the bot has answered it.

Content as Discord checks it: a message's ``content`` of more than 2,000 characters (Unicode code points, what
Python's ``len`` counts: Discord's API is written in Python) is refused with 400 Invalid Form Body (code 50035,
``BASE_TYPE_MAX_LENGTH`` under ``errors.content``), on a channel message, an interaction's answer and a follow-up.

A channel in ``forbidden_channels`` refuses a message with 403 Missing Access (code 50001).

Rate limits: only on channel messages, on demand (:attr:`FakeDiscord.rate_limits`). Not modelled:
sharding, ``GET /gateway/bot`` (a plain Client does not call it),
Discord's checks that a pressed button still exists.

Bodies are sent with content-type exactly ``application/json``: discord.py parses JSON only then.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_USER_ID = 900000000000000002
GUILD_ID = 800000000000000001
CHANNEL_ID = 800000000000000010
OTHER_CHANNEL_ID = 800000000000000011
ALERT_CHANNEL_ID = 800000000000000020

_ids = itertools.count(700000000000000001)


def _snowflake() -> str:
    return str(next(_ids))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def user(user_id: int, name: str = "", bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name or f"user{user_id % 1000}", "discriminator": "0",
            "global_name": None, "avatar": None, "bot": bot, "flags": 0, "public_flags": 0}


MAX_CONTENT = 2000
"""A message's content, in code points."""


def _content_refusal(body: Any) -> web.Response | None:
    """Discord's 400 for a message whose content is over :data:`MAX_CONTENT`; None when it fits."""
    if not isinstance(body, dict):
        return None
    data = body.get("data") if "type" in body else body  # an interaction's answer carries the message in data
    content = data.get("content") or "" if isinstance(data, dict) else ""
    if len(content) <= MAX_CONTENT:
        return None
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [
        {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {MAX_CONTENT} or fewer in length."}]}}}, status=400)


def _json(payload: Any, status: int = 200) -> web.Response:
    # web.json_response would say "application/json; charset=utf-8", which discord.py reads as text.
    return web.Response(body=json.dumps(payload).encode(), status=status, headers={"Content-Type": "application/json"})


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """A message with files, as Discord takes it: ``payload_json`` plus ``files[0]``, ``files[1]``, ..."""
    form = await request.post()
    body = json.loads(form["payload_json"])
    uploads = sorted((int(k[6:-1]), v) for k, v in form.items() if k.startswith("files[") and k.endswith("]"))
    return body, [(v.filename, v.file.read()) for _, v in uploads]


@dataclass
class Callback:
    """One interaction callback the bot sent: ``type`` 4 message, 5 deferred, 6 deferred update (a button press:
    the message it is on is edited later), 7 message update."""

    interaction_id: str
    type: int
    data: dict[str, Any]
    message: dict[str, Any] | None = None
    """The message it created or updated (with its ``components``), for :meth:`FakeDiscord.click`."""

    @property
    def content(self) -> str:
        return self.data.get("content") or ""

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & 64)

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for row in self.data.get("components") or [] for c in row.get("components", [])
                if "custom_id" in c]


@dataclass
class FakeDiscord:
    guild_id: int = GUILD_ID
    channel_ids: tuple[int, ...] = (CHANNEL_ID, OTHER_CHANNEL_ID, ALERT_CHANNEL_ID)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every REST request, in order."""
    channel_messages: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    synced: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Application commands PUT by the bot, by scope ("global" or the guild id)."""
    token: str = "discord-test-token"
    """The bot token the fake accepts (``Authorization: Bot TOKEN``); anything else gets 401."""
    rate_limits: list[float] = field(default_factory=list)
    """Answer the next channel messages with 429 and these ``retry_after`` seconds, one each."""
    message_times: list[tuple[float, int]] = field(default_factory=list)
    """(loop time, status) of every channel message request."""
    forbidden_channels: set[int] = field(default_factory=set)
    """Channels the bot may no longer post in (its role or the channel's permissions changed): 403 Missing Access."""
    refuse_sync: bool = False
    """Answer command syncs with 403 (an invite without the applications.commands scope)."""
    uploads: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """Attachment id -> (filename, bytes) of every file the bot uploaded."""
    answer_within_s: float = 3.0
    """How long after an interaction its first callback is taken; later, 404 Unknown interaction (10062), as
    Discord answers (and the user sees "This interaction failed")."""
    late_callbacks: int = 0
    """Callbacks refused as later than ``answer_within_s``."""
    identifies: int = 0
    resumes: int = 0
    heartbeats: int = 0

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self._waiters: dict[str, asyncio.Future[Callback]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._created: dict[str, float] = {}
        """Interaction id -> the loop time it was sent to the bot."""
        self._deferred: dict[str, dict[str, Any]] = {}
        """Interaction token -> a button press answered with type 6, whose message ``@original`` edits."""
        self.ready = asyncio.Event()
        """Set once a client identified and got READY."""
        self.resumed = asyncio.Event()
        """Set once a client resumed its session after :meth:`drop`."""
        self.base = ""
        self.compression: str | None = None
        """The ``compress`` the client asked for on its last gateway connection."""
        self._zlib: Any = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"{self.base}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/gateway"

    # --- REST ----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        self.requests.append((request.method, path))
        if request.headers.get("Authorization") != f"Bot {self.token}" and not path.startswith("/interactions/") \
                and not path.startswith("/webhooks/"):  # interaction and webhook routes use their own token
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            body, files = await _read_multipart(request)
        else:
            body = await request.json() if request.can_read_body else None
        parts = path.strip("/").split("/")
        if request.method in ("POST", "PATCH"):
            refusal = _content_refusal(body)
            if refusal is not None:
                self.message_times.append((asyncio.get_running_loop().time(), 400))
                return refusal
        match request.method, parts:
            case "GET", ["users", "@me"]:
                return _json(user(BOT_USER_ID, "arbot", bot=True))
            case "GET", ["oauth2", "applications", "@me"]:
                return _json({"id": str(APP_ID), "name": "arbot", "icon": None, "description": "",
                              "bot_public": False, "bot_require_code_grant": False, "verify_key": "00",
                              "owner": user(1, "owner"), "team": None, "flags": 0})
            case "PUT", ["applications", *_] if self.refuse_sync:
                return _json({"message": "Missing Access", "code": 50001}, status=403)
            case "PUT", ["applications", _, "commands"]:
                return _json(self._sync("global", body))
            case "PUT", ["applications", _, "guilds", guild, "commands"]:
                return _json(self._sync(guild, body))
            case "POST", ["channels", channel, "messages"] if int(channel) in self.forbidden_channels:
                self.message_times.append((asyncio.get_running_loop().time(), 403))
                return _json({"message": "Missing Access", "code": 50001}, status=403)
            case "POST", ["channels", channel, "messages"]:
                now = asyncio.get_running_loop().time()
                if self.rate_limits:
                    retry_after = self.rate_limits.pop(0)
                    self.message_times.append((now, 429))
                    response = _json({"message": "You are being rate limited.", "retry_after": retry_after,
                                      "global": False}, status=429)
                    response.headers.update({"Via": "1.1 google", "Retry-After": str(retry_after),
                                             "X-RateLimit-Scope": "user"})
                    return response
                self.message_times.append((now, 200))
                message = self._message(channel, body, files=files)
                self.channel_messages.append(message)
                return _json(message)
            case "POST", ["interactions", interaction_id, _, "callback"]:
                created = self._created.pop(interaction_id, None)
                if created is not None and asyncio.get_running_loop().time() - created > self.answer_within_s:
                    self.late_callbacks += 1
                    self._pending.pop(interaction_id, None)
                    return _json({"message": "Unknown interaction", "code": 10062}, status=404)
                return _json(self._callback(interaction_id, body, files))
            case "PATCH", ["webhooks", _, token, "messages", "@original"] if token in self._deferred:
                pending = self._deferred[token]
                message = {**pending["message"], **{k: v for k, v in body.items() if k in ("content", "components")},
                           "edited_timestamp": _now()}
                pending["message"] = message
                self._messages[message["id"]] = message
                return _json(message)
            case "POST", ["webhooks", _, _]:
                message = self._message(str(CHANNEL_ID), body, files=files)
                self.followups.append(message)
                return _json(message)
        return _json({"message": f"404: Not Found ({request.method} {path})", "code": 0}, status=404)

    def _sync(self, scope: str, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [{"id": _snowflake(), "application_id": str(APP_ID), "version": _snowflake(), "type": 1,
                "default_member_permissions": None, "nsfw": False, **c} for c in commands]
        if scope != "global":
            for c in out:
                c["guild_id"] = scope
        self.synced[scope] = out
        return out

    def _message(self, channel_id: str, body: dict[str, Any], author: dict[str, Any] | None = None,
                 message_id: str | None = None, files: list[tuple[str, bytes]] = ()) -> dict[str, Any]:
        attachments = []
        for filename, data in files:
            attachment_id = _snowflake()
            self.uploads[attachment_id] = (filename, data)
            url = f"{self.base}/attachments/{channel_id}/{attachment_id}/{filename}"
            attachments.append({"id": attachment_id, "filename": filename, "size": len(data), "url": url,
                                "proxy_url": url, "content_type": "image/png" if filename.endswith(".png") else
                                "application/octet-stream"})
        message = {
            "id": message_id or _snowflake(), "channel_id": channel_id, "type": 0,
            "author": author or user(BOT_USER_ID, "arbot", bot=True),
            "content": body.get("content") or "", "timestamp": _now(), "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": attachments,
            "embeds": [], "pinned": False, "flags": body.get("flags", 0), "components": body.get("components") or [],
        }
        self._messages[message["id"]] = message
        return message

    def _callback(self, interaction_id: str, body: dict[str, Any],
                  files: list[tuple[str, bytes]] = ()) -> dict[str, Any]:
        kind, data = body["type"], body.get("data") or {}
        pending = self._pending.pop(interaction_id)
        message = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._message(pending["channel_id"], data, files=files)
            message["interaction_metadata"] = {"id": interaction_id, "type": pending["type"],
                                               "user": pending["member"]["user"]}
        elif kind == 6:  # DEFERRED_UPDATE_MESSAGE: the message the button was on is edited later (@original)
            self._deferred[pending["token"]] = pending
        elif kind == 7:  # UPDATE_MESSAGE: the message the button was on
            message = {**pending["message"], **{k: v for k, v in data.items() if k in ("content", "components")},
                       "edited_timestamp": _now()}
            self._messages[message["id"]] = message
        callback = Callback(interaction_id, kind, data, message)
        self.callbacks.append(callback)
        waiter = self._waiters.pop(interaction_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(callback)
        response: dict[str, Any] = {"interaction": {
            "id": interaction_id, "type": pending["type"], "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(data.get("flags", 0) & 64)}, "resource": {"type": kind}}
        if message is not None:
            response["interaction"]["response_message_id"] = message["id"]
            response["resource"]["message"] = message
        return response

    # --- gateway -------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.compression = request.query.get("compress")
        # As Discord does: with compress=zlib-stream every frame is binary, one zlib stream per
        # connection, each message ending in a sync flush. Other compressions: plain text frames.
        self._zlib = zlib.compressobj() if self.compression == "zlib-stream" else None
        await self._send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op = payload["op"]
                if op == 1:  # heartbeat
                    self.heartbeats += 1
                    await self._send({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:  # identify
                    if payload["d"].get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    self.identifies += 1
                    await self._dispatch("READY", {
                        "v": 10, "user": user(BOT_USER_ID, "arbot", bot=True), "session_id": "fake-session",
                        "resume_gateway_url": self.gateway_url, "guilds": [{"id": str(self.guild_id),
                                                                            "unavailable": True}],
                        "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [],
                        "relationships": [],
                    })
                    await self._dispatch("GUILD_CREATE", self._guild())
                    self.ready.set()
                elif op == 6:  # resume
                    self.resumes += 1
                    await self._dispatch("RESUMED", {})
                    self.resumed.set()
        finally:
            if self._ws is ws:
                self._ws = None
        return ws

    async def drop(self, code: int = 4000) -> None:
        """Close the client's gateway connection as Discord does before asking it to resume."""
        if self._ws is not None:
            self.resumed.clear()
            await self._ws.close(code=code, message=b"fake gateway dropped the connection")

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        if self._ws is None:
            raise AssertionError("no client is connected to the fake gateway")
        self._seq += 1
        await self._send({"op": 0, "s": self._seq, "t": event, "d": data})

    async def _send(self, payload: dict[str, Any]) -> None:
        assert self._ws is not None
        text = json.dumps(payload)
        if self._zlib is None:
            await self._ws.send_str(text)
        else:
            await self._ws.send_bytes(self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))

    def _guild(self) -> dict[str, Any]:
        channels = [{"id": str(c), "type": 0, "name": f"chan-{c % 100}", "position": n, "guild_id": str(self.guild_id),
                     "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                     "last_message_id": None, "rate_limit_per_user": 0}
                    for n, c in enumerate(self.channel_ids)]
        return {
            "id": str(self.guild_id), "name": "desk", "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": "1", "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "system_channel_id": None,
            "system_channel_flags": 0, "features": [], "roles": [{"id": str(self.guild_id), "name": "@everyone",
                                                                  "permissions": "0", "position": 0, "color": 0,
                                                                  "hoist": False, "managed": False,
                                                                  "mentionable": False, "flags": 0}],
            "emojis": [], "stickers": [], "channels": channels, "threads": [], "members": [], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [], "member_count": 1,
            "large": False, "unavailable": False, "joined_at": _now(),
        }

    # --- injecting interactions ----------------------------------------------------------------

    def _interaction(self, kind: int, user_id: int, channel_id: int, data: dict[str, Any],
                     guild_id: int | None, message: dict[str, Any] | None = None) -> dict[str, Any]:
        interaction_id = _snowflake()
        payload: dict[str, Any] = {
            "id": interaction_id, "application_id": str(APP_ID), "type": kind, "token": f"tok-{interaction_id}",
            "version": 1, "channel_id": str(channel_id), "data": data, "locale": "en-US",
            "app_permissions": "0", "entitlements": [], "attachment_size_limit": 10485760,
            "channel": {"id": str(channel_id), "type": 0, "name": f"chan-{channel_id % 100}"},
        }
        if guild_id is not None:
            payload.update(guild_id=str(guild_id), guild_locale="en-US", context=0,
                           authorizing_integration_owners={"0": str(guild_id)},
                           member={"user": user(user_id), "roles": [], "joined_at": _now(), "deaf": False,
                                   "mute": False, "flags": 0, "permissions": "0", "pending": False, "nick": None})
            payload["channel"]["guild_id"] = str(guild_id)
        else:
            payload.update(user=user(user_id), context=1, authorizing_integration_owners={"1": str(user_id)})
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user(user_id)]}
            payload["member"] = {"user": user(user_id)}  # kept for the fake's own bookkeeping only
        if message is not None:
            payload["message"] = message
        return payload

    async def _inject(self, payload: dict[str, Any], timeout_s: float) -> Callback:
        waiter: asyncio.Future[Callback] = asyncio.get_running_loop().create_future()
        self._waiters[payload["id"]] = waiter
        self._pending[payload["id"]] = payload
        self._created[payload["id"]] = asyncio.get_running_loop().time()
        sent = dict(payload)
        if "user" in sent:
            sent.pop("member")
        await self._dispatch("INTERACTION_CREATE", sent)
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        finally:
            self._waiters.pop(payload["id"], None)

    def _slash_payload(self, user_id: int, name: str, args: str, channel_id: int,
                       guild_id: int | None) -> dict[str, Any]:
        data: dict[str, Any] = {"id": _snowflake(), "name": name, "type": 1}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)  # set by Discord for guild commands
        if args:
            data["options"] = [{"name": "args", "type": 3, "value": args}]
        return self._interaction(2, user_id, channel_id, data, guild_id)

    async def slash(self, user_id: int, name: str, args: str = "", *, channel_id: int = CHANNEL_ID,
                    guild_id: int | None = GUILD_ID, timeout_s: float = 5.0) -> Callback:
        """A user runs ``/name args:<args>``; returns the bot's callback to it."""
        return await self._inject(self._slash_payload(user_id, name, args, channel_id, guild_id), timeout_s)

    async def slash_later(self, user_id: int, name: str, args: str = "", *, channel_id: int = CHANNEL_ID,
                          guild_id: int | None = GUILD_ID) -> str:
        """Like :meth:`slash` without waiting for the answer (a flood); returns the interaction id, whose
        callback, if the bot ever sends one, lands in :attr:`callbacks`."""
        payload = self._slash_payload(user_id, name, args, channel_id, guild_id)
        self._pending[payload["id"]] = payload
        self._created[payload["id"]] = asyncio.get_running_loop().time()
        sent = dict(payload)
        if "user" in sent:
            sent.pop("member")
        await self._dispatch("INTERACTION_CREATE", sent)
        return str(payload["id"])

    async def click(self, message: dict[str, Any], user_id: int, custom_id: str | None = None, *,
                    guild_id: int | None = GUILD_ID, timeout_s: float = 5.0) -> Callback:
        """A user presses a button of ``message`` (the first one unless ``custom_id``).

        ``message`` is sent as given: pressing an earlier copy of a message whose button was since
        removed is a double tap that reached Discord before the update did."""
        buttons = [c for row in message.get("components") or [] for c in row.get("components", [])]
        custom_id = custom_id or buttons[0]["custom_id"]
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._interaction(3, user_id, int(message["channel_id"]), data, guild_id,
                                    message=message)
        return await self._inject(payload, timeout_s)

    def message_now(self, message_id: str) -> dict[str, Any]:
        """A message as it is now (after the edits the bot made to it)."""
        return self._messages[message_id]

    async def wait_channel_message(self, channel_id: int, contains: str, timeout_s: float = 5.0) -> dict[str, Any]:
        """The first message posted to ``channel_id`` whose content contains ``contains``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            for message in self.channel_messages:
                if message["channel_id"] == str(channel_id) and contains in message["content"]:
                    return message
            if loop.time() > deadline:
                raise AssertionError(f"no message containing {contains!r} in channel {channel_id}: "
                                     f"{[m['content'] for m in self.channel_messages]}")
            await asyncio.sleep(0.005)
