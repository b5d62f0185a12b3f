"""The fleet's subjects and payloads on NATS (docs/fleet-bus.md): no NATS client here, only bytes.

Shared by the service inside a bot and by ``arbot fleet``. Payloads are JSON objects; amounts are
decimal strings, times integer ns since the epoch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.api import Caller, Reply
from bot.api.kit import REDACTOR, jsonable, loads_limited

PREFIX = "arbot"
EVENT_KINDS = ("status", "order", "fill", "opportunity", "execution", "alert", "risk")
DURABLE_KINDS = tuple(kind for kind in EVENT_KINDS if kind != "status")
"""What the JetStream stream keeps: every kind but the heartbeats (the KV bucket keeps the last status)."""
STREAM = "ARBOT_EVENTS"
BUCKET = "arbot_fleet"
ALL_STATUS = f"{PREFIX}.*.evt.status"
ALL_ALERTS = f"{PREFIX}.*.evt.alert"

BOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A bot's name (as ``[bot] name``): one subject token."""
COMMAND_NAME = re.compile(r"/?[A-Za-z][A-Za-z0-9_]{0,63}")
VIA = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
MAX_ARGS = 64
MAX_TEXT = 512
"""Longest transport, user id, chat id and argument in a request."""
MAX_REPLY_ROWS = 500
MAX_TIMEOUT_S = 3600
"""The longest wait a request may say its sender has (``call_timeout_s`` is at most 600 s)."""
NEEDS_CONFIRMATION = "not run: it needs a confirmation; confirm it once where you sent it"
"""The text of a reply whose title is the receiving bot's question: ask it, then send again with confirmed."""


def event_subject(bot: str, kind: str) -> str:
    return f"{PREFIX}.{bot}.evt.{kind}"


def command_subject(bot: str) -> str:
    return f"{PREFIX}.{bot}.cmd"


def bot_of(subject: str) -> str:
    """The bot token of ``arbot.<bot>.…``."""
    parts = subject.split(".")
    return parts[1] if len(parts) > 2 else ""


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def event(bot: str, kind: str, seq: int, ts_ns: int, data: Any) -> bytes:
    """One event: ``{"bot", "kind", "seq", "ts", "data"}``; ``seq`` counts this bot's events since it started."""
    return dumps({"bot": bot, "kind": kind, "seq": seq, "ts": ts_ns, "data": data})


def load_object(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object from the bus (nesting depth checked first); ValueError saying what is wrong."""
    try:
        value = loads_limited(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A command for this bot: who asked (no role: the receiver looks it up), through which bot, what."""

    caller: Caller
    via: str
    name: str
    args: list[str]
    confirmed: bool
    timeout_s: float | None = None
    """How long the sender waits for the answer: a command not started by then is not run (None: not said)."""
    sent_ns: int | None = None
    """When the sender sent it, by the sender's clock (None: not said): with the sender's heartbeats, how long the
    request was on the way."""


def request(caller: Caller, via: str, name: str, args: list[str], confirmed: bool,
            timeout_s: float | None = None, sent_ns: int | None = None) -> bytes:
    """The request bytes; the caller's role is never sent (each bot authorizes with its own ``roles``).
    ``timeout_s``: how long the sender waits for the answer (the receiver starts nothing later); ``sent_ns``: when
    it is sent, by the sender's wall clock (``time.time_ns()``)."""
    body: dict[str, Any] = {"caller": {"transport": caller.transport, "user_id": caller.user_id,
                                       "chat_id": caller.chat_id},
                            "via": via, "name": name, "args": list(args), "confirmed": confirmed}
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    if sent_ns is not None:
        body["sent_ns"] = sent_ns
    return dumps(body)


def _text(obj: dict[str, Any], key: str, *, required: bool = True, pattern: re.Pattern[str] | None = None) -> str:
    value = obj.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f'"{key}" must be a{" non-empty" if required else ""} string')
    if len(value) > MAX_TEXT:
        raise ValueError(f'"{key}" is longer than {MAX_TEXT} characters')
    if pattern is not None and not pattern.fullmatch(value):
        raise ValueError(f'"{key}" has characters it may not have: {REDACTOR.cut(value, 40)!r}')
    return value


def parse_request(raw: bytes, max_bytes: int) -> Request:
    """Check and decode a request; ValueError with a message for the sender (never its full content)."""
    if len(raw) > max_bytes:
        raise ValueError(f"request of {len(raw)} bytes; at most {max_bytes}")
    obj = load_object(raw, "the request")
    caller = obj.get("caller")
    if not isinstance(caller, dict):
        raise ValueError('"caller" must be an object {"transport", "user_id", "chat_id"}')
    transport = _text(caller, "transport", pattern=VIA)
    user_id = _text(caller, "user_id")
    chat_id = _text(caller, "chat_id", required=False)
    via = _text(obj, "via", pattern=VIA)
    name = _text(obj, "name", pattern=COMMAND_NAME)
    args = obj.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) and len(a) <= MAX_TEXT for a in args):
        raise ValueError(f'"args" must be a list of strings (each at most {MAX_TEXT} characters)')
    if len(args) > MAX_ARGS:
        raise ValueError(f'"args" has {len(args)} items; at most {MAX_ARGS}')
    confirmed = obj.get("confirmed", False)
    if not isinstance(confirmed, bool):
        raise ValueError('"confirmed" must be true or false')
    timeout_s = obj.get("timeout_s")
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float)
                                  or not 0 < timeout_s <= MAX_TIMEOUT_S):
        raise ValueError(f'"timeout_s" must be a number of seconds, more than 0 and at most {MAX_TIMEOUT_S}')
    sent_ns = obj.get("sent_ns")
    if sent_ns is not None and (isinstance(sent_ns, bool) or not isinstance(sent_ns, int) or sent_ns < 0):
        raise ValueError('"sent_ns" must be a time in integer nanoseconds since the epoch')
    return Request(Caller(transport, user_id, None, chat_id), via, name, args, confirmed,
                   None if timeout_s is None else float(timeout_s), sent_ns)


def reply(answer: Reply, bot: str, max_bytes: int) -> bytes:
    """A reply's bytes: title, rows, header, text, ok, silent, data (an image is not sent: the text says so).

    Rows beyond what fits in ``max_bytes`` are cut, with a line saying how many; then, when the text alone is too
    long (a report), its end, with a line saying how many characters.
    """
    text = answer.text
    if answer.image_png is not None:
        text = (text + "\n" if text else "") + f"(an image: ask {bot} directly to see it)"
    if answer.confirm_token is not None:  # only the sending side asks: the question goes back, the token stays
        return dumps({"bot": bot, "title": answer.title, "text": NEEDS_CONFIRMATION, "ok": False})
    rows = [list(row) for row in answer.rows[:MAX_REPLY_ROWS]]
    cut = len(answer.rows) - len(rows)
    kept = len(text)
    while True:
        shown = text[:kept] + (f"\n({len(text) - kept} characters not sent)" if kept < len(text) else "")
        body = {"bot": bot, "title": answer.title, "rows": rows, "header": answer.header,
                "text": shown + (f"\n({cut} more rows not sent)" if cut else ""), "ok": answer.ok,
                "silent": answer.silent, "data": jsonable(answer.data)}
        data = dumps(body)
        if len(data) <= max_bytes:
            return data
        if rows:
            drop = max(1, len(rows) // 2)
            rows = rows[:-drop]
            cut += drop
        elif kept:  # each character is a byte at least: cutting as many as are over comes near in a few rounds
            kept = max(0, kept - (len(data) - max_bytes))
        else:
            return dumps({"bot": bot, "title": answer.title[:200], "text": "(answer too large to send)",
                          "ok": answer.ok})


def asks_confirmation(answer: Reply) -> bool:
    """The receiving bot asked a question (its title) instead of running the command: confirm, send again."""
    return not answer.ok and answer.text == NEEDS_CONFIRMATION


def error(message: str) -> bytes:
    """The answer to a request that could not be run at all (malformed, the bot failing)."""
    return dumps({"error": message})


def parse_reply(raw: bytes, bot: str) -> Reply:
    """A reply from ``bot`` as a :class:`Reply`; a malformed one or an error becomes an ``ok=False`` Reply."""
    try:
        obj = load_object(raw, "the answer")
    except ValueError as exc:
        return Reply(f"{bot}: unreadable answer", text=str(exc), ok=False)
    if "error" in obj:
        return Reply(f"{bot}: {REDACTOR.cut(str(obj['error']), MAX_TEXT)}", ok=False)
    rows = obj.get("rows", [])
    good_rows = isinstance(rows, list) and all(isinstance(r, list) and all(isinstance(c, str) for c in r)
                                               for r in rows)
    title, text = obj.get("title", ""), obj.get("text", "")
    if not good_rows or not isinstance(title, str) or not isinstance(text, str):
        return Reply(f"{bot}: unreadable answer", text="title, text and rows (lists of strings) expected", ok=False)
    data = obj.get("data")
    return Reply(title, rows=[tuple(r) for r in rows], header=obj.get("header") is True, text=text,
                 ok=obj.get("ok") is not False, silent=obj.get("silent") is True,
                 data=data if isinstance(data, dict) else {})


# --- who holds a bot's name ------------------------------------------------------------------

CLAIM_PREFIX = b'{"claim":'
"""How a claim probe starts (``claim()``'s bytes): told from a command before it is parsed as one."""
UNKNOWN_HOLDER = {"instance": "?", "host": "?", "pid": 0, "claimed_ns": 0}
"""The identity of a holder that answered a probe without saying who it is (a bot of a version before claims
answers it as a malformed command): it was there first."""


def identity_of(obj: Any) -> dict[str, Any] | None:
    """A process's identity as the bus carries it (``{"instance", "host", "pid", "claimed_ns"}``, checked and cut);
    None when it is not one."""
    if not isinstance(obj, dict):
        return None
    instance, host, pid, claimed = obj.get("instance"), obj.get("host", "?"), obj.get("pid", 0), obj.get("claimed_ns")
    if not isinstance(instance, str) or not instance or not isinstance(claimed, int) or isinstance(claimed, bool):
        return None
    return {"instance": REDACTOR.cut(instance, 64), "host": REDACTOR.cut(str(host), 128),
            "pid": pid if isinstance(pid, int) and not isinstance(pid, bool) else 0, "claimed_ns": claimed}


def claim_order(identity: dict[str, Any]) -> tuple[int, str]:
    """What decides which of two processes under one name keeps it: the earlier claim, then the smaller instance
    id (so that both always agree, whatever their clocks)."""
    return identity["claimed_ns"], identity["instance"]


def claim(identity: dict[str, Any]) -> bytes:
    """A probe on ``arbot.<bot>.cmd`` before taking it: whoever holds the name answers ``holder()``."""
    return dumps({"claim": identity})


def parse_claim(raw: bytes) -> dict[str, Any] | None:
    """The identity in a claim probe; None when ``raw`` is not one (a command)."""
    if not raw.startswith(CLAIM_PREFIX):
        return None
    try:
        return identity_of(load_object(raw, "a claim").get("claim"))
    except ValueError:
        return None


def holder(identity: dict[str, Any]) -> bytes:
    """The holder's answer to a claim probe."""
    return dumps({"holder": identity})


def parse_holder(raw: bytes) -> dict[str, Any]:
    """Who answered a claim probe: its identity, or :data:`UNKNOWN_HOLDER` (an older bot, an unreadable answer)."""
    try:
        found = identity_of(load_object(raw, "a holder").get("holder"))
    except ValueError:
        found = None
    return found if found is not None else dict(UNKNOWN_HOLDER)
