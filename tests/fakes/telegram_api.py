"""A fake Telegram Bot API on 127.0.0.1: enough of https://core.telegram.org/bots/api for PTB 22.

Calls arrive as ``POST /bot<token>/<method>``, form-encoded, non-string values JSON-encoded.
Answers use the Bot API envelope ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": N}}``.

Methods: getMe (the bot's ``id`` is its token's part before ':'), getUpdates (``offset`` confirms earlier
updates; long polls up to ``timeout``
seconds, woken by new updates, never by sleeping; a second long poll of the same token ends the one
in flight with 409 "Conflict: terminated by other getUpdates request", as Telegram does when two
instances poll one bot, counted in ``conflicts``), sendMessage, sendPhoto (the photo uploaded as
``multipart/form-data``, as the Bot API takes new files; the bytes are kept under ``photo_bytes``),
editMessageText, answerCallbackQuery, deleteWebhook, setMyCommands. A chat in ``kicked`` refuses sendMessage
with 403 "Forbidden: bot was kicked from the supergroup chat". A group upgraded to a supergroup
(:meth:`FakeBotAPI.upgrade`) answers every call naming its old id with 400 "Bad Request: group chat was upgraded
to a supergroup chat" and ``"parameters": {"migrate_to_chat_id": NEW_ID}`` (the Bot API's ResponseParameters),
as Telegram does. :meth:`FakeBotAPI.switch_bot` makes it another bot (another id, its
own updates). Tests enqueue updates with
:meth:`FakeBotAPI.command` and :meth:`FakeBotAPI.press`, inject a 429 with
:meth:`FakeBotAPI.refuse_next`, a server error with :meth:`FakeBotAPI.fail_next`, and read what
the bot sent with :meth:`FakeBotAPI.next_message`.

Lengths as the Bot API counts them: a message's text must be 1-4096 characters and a caption at most 1024
"after entities parsing", in UTF-16 code units (what MessageEntity offsets count: an astral character, most
emoji, is two), with the tags of ``parse_mode=HTML`` dropped and its character references decoded; longer
is refused with 400 "Bad Request: message is too long" (sendMessage, editMessageText) or "message caption is
too long" (sendPhoto), as Telegram does; answerCallbackQuery's text of more than 200 gets 400
"Bad Request: MESSAGE_TOO_LONG".

Limits as https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this states
them: more than ``group_limit_per_min`` (20) messages a minute to one group get 429 with the
``retry_after`` that frees the next slot. Forum topics: a message sent with
``FakeBotAPI.command(..., thread_id=N)`` comes from topic N of a forum supergroup
(``is_topic_message``, ``message_thread_id``); a message the bot sends with
``message_thread_id`` lands in that topic and carries it, as the Bot API's Message does.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "arbot", "username": "arbot_test_bot"}
MAX_TEXT_UTF16 = 4096
"""A message's text, after entities parsing, in UTF-16 code units."""
MAX_CAPTION_UTF16 = 1024
"""A photo's caption, after entities parsing, in UTF-16 code units."""
MAX_TOAST_UTF16 = 200
"""answerCallbackQuery's notification text (0-200 characters; Telegram answers 400 MESSAGE_TOO_LONG beyond)."""


def parsed_length(text: str, parse_mode: str | None) -> int:
    """The length Telegram checks: UTF-16 code units of the text as shown (HTML tags dropped, references decoded)."""
    if parse_mode == "HTML":
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _bad_request(description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {description}"},
                             status=400)


def _text_refusal(params: dict) -> web.Response | None:
    """sendMessage's and editMessageText's 400 for an empty or too long text, as the Bot API answers; None: fine."""
    length = parsed_length(str(params.get("text") or ""), params.get("parse_mode"))
    if length == 0:
        return _bad_request("message text is empty")
    if length > MAX_TEXT_UTF16:
        return _bad_request("message is too long")
    return None


@dataclass
class Call:
    """One request the bot made: method, decoded parameters, loop time it arrived."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    token: str = ""
    """The bot token the call was made with (rotated tokens: which one the bot used when)."""


@dataclass
class _Refusal:
    method: str
    retry_after_s: int
    count: int
    chat_id: str | None = None


@dataclass
class _Failure:
    method: str
    status: int
    count: int
    description: str = "Bad Gateway"


@dataclass
class FakeBotAPI:
    token: str
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    """Every message the bot sent (sendMessage and sendPhoto results), in order; edits update them in place."""
    answered: list[dict] = field(default_factory=list)
    """answerCallbackQuery parameters, in order."""
    group_limit_per_min: int = 20
    """Messages a minute one group takes before 429 (Telegram: 20)."""
    conflicts: int = 0
    """Long polls ended with 409 Conflict because another one arrived while they waited."""
    kicked: set[int] = field(default_factory=set)
    """Chats the bot was removed from (or blocked in): a message to one gets 403, as Telegram answers."""
    upgraded: dict[int, int] = field(default_factory=dict)
    """Groups upgraded to a supergroup: old chat id -> the supergroup's id (see :meth:`upgrade`)."""

    def __post_init__(self) -> None:
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._read: dict[str, int] = {}
        self._refusals: list[_Refusal] = []
        self._failures: list[_Failure] = []
        self._chats: dict[str, dict] = {}
        self._group_sends: dict[str, deque[float]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._polls: list[dict] = []
        """Long polls in flight: ``{"terminated": bool}`` each."""

    # --- server ------------------------------------------------------------------------------

    async def start(self) -> FakeBotAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = {k: _decode(k, v) for k, v in (await request.post()).items()}
        call = Call(method, params, asyncio.get_running_loop().time(), token=request.match_info["token"])
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        refusal = next((r for r in self._refusals if r.method == method
                        and r.chat_id in (None, str(params.get("chat_id")))), None)
        if refusal is not None:
            refusal.count -= 1
            if refusal.count == 0:
                self._refusals.remove(refusal)
            call.status = 429
            async with self._changed:
                self._changed.notify_all()
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {refusal.retry_after_s}",
                                      "parameters": {"retry_after": refusal.retry_after_s}}, status=429)
        failure = next((f for f in self._failures if f.method == method), None)
        if failure is not None:
            failure.count -= 1
            if failure.count == 0:
                self._failures.remove(failure)
            call.status = failure.status
            return web.json_response({"ok": False, "error_code": failure.status,
                                      "description": failure.description}, status=failure.status)
        moved_to = self.upgraded.get(_chat_id(params.get("chat_id")))
        if moved_to is not None:  # the old group is gone: Telegram names the new id in the error's parameters
            call.status = 400
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: group chat was upgraded to a supergroup chat",
                                      "parameters": {"migrate_to_chat_id": moved_to}}, status=400)
        retry_after_s = self._group_limited(method, params)
        if retry_after_s:
            call.status = 429
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {retry_after_s}",
                                      "parameters": {"retry_after": retry_after_s}}, status=429)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        result = await handler(params)
        if isinstance(result, web.Response):
            call.status = result.status
            return result
        return web.json_response({"ok": True, "result": result})

    def _group_limited(self, method: str, params: dict) -> int:
        """Seconds to wait when this message would be over a group's per-minute limit; 0 to accept it."""
        if method not in ("sendMessage", "sendPhoto") or not str(params.get("chat_id", "")).startswith("-"):
            return 0
        now = time.monotonic()
        sent = self._group_sends.setdefault(str(params["chat_id"]), deque())
        while sent and now - sent[0] >= 60:
            sent.popleft()
        if len(sent) >= self.group_limit_per_min:
            return max(1, math.ceil(60 - (now - sent[0])))
        sent.append(now)
        return 0

    # --- Bot API methods ---------------------------------------------------------------------

    async def _m_getMe(self, p: dict) -> dict:
        head = self.token.partition(":")[0]  # a bot's id is the part of its token before ':', as Telegram's
        return {**BOT_USER, "id": int(head) if head.isdigit() else BOT_USER["id"], "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _m_deleteWebhook(self, p: dict) -> bool:
        return True

    async def _m_setMyCommands(self, p: dict) -> bool:
        return True

    async def _m_getUpdates(self, p: dict) -> list[dict] | web.Response:
        offset = int(p.get("offset") or 0)
        if offset:  # confirms (forgets) every update before offset
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = int(p.get("limit") or 100)
        timeout_s = float(p.get("timeout") or 0)

        def pending() -> list[dict]:
            return [u for u in self._updates if u["update_id"] >= offset][:limit]

        poll = {"terminated": False}
        async with self._changed:
            if timeout_s > 0:  # one long poller per token: this one ends any other in flight
                for other in self._polls:
                    other["terminated"] = True
                    self.conflicts += 1
                self._changed.notify_all()
                self._polls.append(poll)
            try:
                if not pending() and timeout_s > 0 and not self._closing:
                    try:
                        async with asyncio.timeout(timeout_s):
                            await self._changed.wait_for(lambda: bool(pending()) or self._closing
                                                         or poll["terminated"])
                    except TimeoutError:
                        pass
            finally:
                self._polls = [other for other in self._polls if other is not poll]
        if poll["terminated"]:
            return web.json_response({"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                                      "getUpdates request; make sure that only one bot instance is running"},
                                     status=409)
        return pending()

    async def _m_sendMessage(self, p: dict) -> dict | web.Response:
        if int(p["chat_id"]) in self.kicked:
            return web.json_response({"ok": False, "error_code": 403, "description":
                                      "Forbidden: bot was kicked from the supergroup chat"}, status=403)
        refusal = _text_refusal(p)
        if refusal is not None:
            return refusal
        chat = self._chat(p["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                   "from": BOT_USER, "text": p["text"], **_topic(chat, p)}
        if "reply_markup" in p:
            message["reply_markup"] = p["reply_markup"]
        message["parse_mode"] = p.get("parse_mode")  # not in the API's Message; kept for tests
        self.sent.append(message)
        async with self._changed:
            self._changed.notify_all()
        return {k: v for k, v in message.items() if k != "parse_mode"}

    async def _m_sendPhoto(self, p: dict) -> dict | web.Response:
        upload = p.get("photo")
        if not isinstance(upload, web.FileField):  # a file_id or URL string: not something the fake stores
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: photo must be uploaded as a file"}, status=400)
        if parsed_length(str(p.get("caption") or ""), p.get("parse_mode")) > MAX_CAPTION_UTF16:
            return _bad_request("message caption is too long")
        data = upload.file.read()
        width, height = png_size(data)
        n = next(self._message_ids)
        size = {"file_id": f"photo{n}", "file_unique_id": f"u{n}", "width": width, "height": height,
                "file_size": len(data)}
        chat = self._chat(p["chat_id"])
        message = {"message_id": n, "date": int(time.time()), "chat": chat, "from": BOT_USER,
                   "photo": [size], **_topic(chat, p)}
        if p.get("caption"):
            message["caption"] = p["caption"]
        if "reply_markup" in p:
            message["reply_markup"] = p["reply_markup"]
        api_message = dict(message)
        message.update(photo_bytes=data, filename=upload.filename, content_type=upload.content_type,
                       parse_mode=p.get("parse_mode"))  # not in the API's Message; kept for tests
        self.sent.append(message)
        async with self._changed:
            self._changed.notify_all()
        return api_message

    async def _m_editMessageText(self, p: dict) -> dict | web.Response:
        refusal = _text_refusal(p)
        if refusal is not None:
            return refusal
        for message in self.sent:
            if str(message["chat"]["id"]) == str(p.get("chat_id")) and message["message_id"] == int(p["message_id"]):
                message["text"] = p["text"]
                message["parse_mode"] = p.get("parse_mode")
                message.pop("reply_markup", None)
                if "reply_markup" in p:
                    message["reply_markup"] = p["reply_markup"]
                message["edit_date"] = int(time.time())
                async with self._changed:
                    self._changed.notify_all()
                return {k: v for k, v in message.items() if k != "parse_mode"}
        return web.json_response({"ok": False, "error_code": 400,
                                  "description": "Bad Request: message to edit not found"}, status=400)

    async def _m_answerCallbackQuery(self, p: dict) -> bool | web.Response:
        if parsed_length(str(p.get("text") or ""), None) > MAX_TOAST_UTF16:
            return _bad_request("MESSAGE_TOO_LONG")
        self.answered.append(p)
        async with self._changed:
            self._changed.notify_all()
        return True

    # --- test helpers ------------------------------------------------------------------------

    def _chat(self, chat_id: Any) -> dict:
        key = str(chat_id)
        if key not in self._chats:
            group = key.startswith("-")
            self._chats[key] = {"id": int(key), "type": "supergroup", "title": f"group {key}"} if group \
                else {"id": int(key), "type": "private", "first_name": f"user {key}"}
        return self._chats[key]

    async def _push(self, update: dict) -> None:
        self._updates.append(update)
        async with self._changed:
            self._changed.notify_all()

    async def command(self, user_id: int, text: str, chat_id: int | None = None, thread_id: int | None = None) -> dict:
        """Enqueue a message from ``user_id`` in ``chat_id`` (default: the private chat with them), in forum
        topic ``thread_id`` if given (the chat becomes a forum supergroup)."""
        chat = self._chat(user_id if chat_id is None else chat_id)
        head = text.split()[0]
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                   "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}, "text": text}
        if thread_id is not None:
            chat["is_forum"] = True
            message.update(message_thread_id=thread_id, is_topic_message=True)
        if head.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(head)}]
        update = {"update_id": next(self._update_ids), "message": message}
        await self._push(update)
        return update

    async def press(self, user_id: int, message: dict) -> dict:
        """Enqueue ``user_id`` pressing the (first) inline button of a message the bot sent."""
        button = message["reply_markup"]["inline_keyboard"][0][0]
        query = {"id": str(next(self._update_ids) * 1000), "chat_instance": f"ci{message['chat']['id']}",
                 "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
                 "message": {k: v for k, v in message.items() if k != "parse_mode"},
                 "data": button["callback_data"]}
        update = {"update_id": next(self._update_ids), "callback_query": query}
        await self._push(update)
        return update

    def switch_bot(self, token: str, first_update_id: int = 1) -> None:
        """From now on this server is another bot (``token``'s id before ':' differs): it answers only ``token``,
        and its updates are its own, numbered from ``first_update_id`` (Telegram numbers each bot's on its own);
        the old bot's unconfirmed updates are not this one's."""
        self.token = token
        self._updates = []
        self._update_ids = itertools.count(first_update_id)

    def refuse_next(self, method: str, retry_after_s: int, count: int = 1, chat_id: int | None = None) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id`` only, if given) get 429 Too Many Requests
        with ``retry_after``."""
        self._refusals.append(_Refusal(method, retry_after_s, count, None if chat_id is None else str(chat_id)))

    def upgrade(self, chat_id: int, supergroup_id: int) -> None:
        """Group ``chat_id`` becomes the supergroup ``supergroup_id`` (a new chat id): calls naming the old id are
        refused with its ``migrate_to_chat_id``."""
        self.upgraded[chat_id] = supergroup_id

    def fail_next(self, method: str, status: int = 502, count: int = 1, description: str = "Bad Gateway") -> None:
        """The next ``count`` calls of ``method`` fail with ``status`` and ``description`` (by default a server
        error: Telegram's front answers 502 Bad Gateway at times; a 400 such as a callback query answered too
        late); nothing is done."""
        self._failures.append(_Failure(method, status, count, description))

    def heal(self, method: str) -> None:
        """Calls of ``method`` fail no more (what :meth:`fail_next` asked for and is not used up yet is dropped)."""
        self._failures = [f for f in self._failures if f.method != method]

    def unconfirmed(self) -> list[int]:
        """The update ids handed out or waiting that no getUpdates has confirmed yet (Telegram hands them out again)."""
        return [u["update_id"] for u in self._updates]

    async def next_message(self, chat_id: int, timeout_s: float = 5.0) -> dict:
        """The next message sent to ``chat_id`` that this helper has not returned yet."""
        key = str(chat_id)

        def unread() -> list[dict]:
            return [m for m in self.sent if str(m["chat"]["id"]) == key][self._read.get(key, 0):]

        async with asyncio.timeout(timeout_s):
            async with self._changed:
                await self._changed.wait_for(lambda: bool(unread()))
        message = unread()[0]
        self._read[key] = self._read.get(key, 0) + 1
        return message

    async def wait(self, condition, timeout_s: float = 5.0) -> None:
        """Wait until ``condition()`` holds; re-checked after every request that changes state."""
        async with asyncio.timeout(timeout_s):
            async with self._changed:
                await self._changed.wait_for(condition)

    def messages_to(self, chat_id: int) -> list[dict]:
        return [m for m in self.sent if str(m["chat"]["id"]) == str(chat_id)]


JSON_PARAMS = frozenset({"offset", "limit", "timeout", "allowed_updates", "reply_markup", "show_alert",
                         "message_id", "entities", "link_preview_options", "commands", "drop_pending_updates",
                         "cache_time", "disable_notification", "protect_content", "message_thread_id"})
"""Parameters PTB sends JSON-encoded; the rest (chat_id, text, parse_mode, ...) stay strings."""


def _chat_id(value: Any) -> int | None:
    """A request's ``chat_id`` as a number (None: none given, or an ``@channel`` name)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _topic(chat: dict, params: dict) -> dict:
    """The topic fields of a message sent with ``message_thread_id`` (forum supergroups only, as the API)."""
    thread_id = params.get("message_thread_id")
    if thread_id is None or not chat.get("is_forum"):
        return {}
    return {"message_thread_id": int(thread_id), "is_topic_message": True}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; (0, 0) for anything that is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _decode(name: str, value: Any) -> Any:
    return json.loads(value) if name in JSON_PARAMS and isinstance(value, str) else value
