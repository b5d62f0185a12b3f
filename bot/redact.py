"""Defence in depth: resolved secret values are masked in every log line, alert and command reply.

Secrets are references in config and `Secret.reveal()` is called only where a value is used, so
no code path should print one; this catches the one that does (an exception text quoting a
request, a plugin's debug line).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

MASK = "***"
MIN_LENGTH = 6
"""Shorter values would mask ordinary words; real keys and tokens are far longer. A URL's shorter
password is still masked where a URL holds it (:meth:`Redactor.add_url_password`)."""
TEXT_FIELDS = ("reason", "message")
"""The fields of an event's data (as :func:`bot.jsonable.to_data` makes it) that hold free text, where a venue's
error text lands (an order's ``reason``, a feed's, an alert's ``message``); the others are names, ids, amounts,
times and states, which hold no secret."""


RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
"""The attributes every log record has; any other was passed by its caller with ``extra=``."""


class Redactor(logging.Filter):
    """Masks every known secret in text, data and log records. ``clock`` (seconds, monotonic) times short-lived
    secrets."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        # Each set below is replaced whole, never changed in place: text is masked in other threads too (log lines,
        # the store's writes), and a set changed while one of them walks it fails there.
        self._values: set[str] = set()
        self._url_passwords: set[str] = set()
        """Passwords of URLs shorter than MIN_LENGTH: masked only as ``:PASSWORD@``, inside a URL."""
        self._clock = clock
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}
        """Short-lived secrets (each as written) and when each is forgotten, by ``clock``."""
        self._short_lived: tuple[str, ...] = ()
        """Their values as :meth:`redact` reads them."""

    def add(self, value: str, *, ttl_s: float | None = None) -> None:
        """Mask ``value`` from now on (unless shorter than MIN_LENGTH). With ``ttl_s``, for that many seconds only: a
        short-lived credential (a venue's WebSocket token, a JWT) need not be remembered once it is of no use, and a
        venue making one per connection or message would otherwise grow the redactor without end. Adding it again
        sets its time anew (``math.inf``: until then); a value added without ``ttl_s`` is masked for good."""
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if ttl_s is None:
                self._values = self._values | _written(value)
                return
            now = self._clock()
            deadlines = {v: until for v, until in self._deadlines.items() if until > now}  # the expired forgotten
            deadlines.update(dict.fromkeys(_written(value), now + ttl_s))
            self._deadlines = deadlines
            self._short_lived = tuple(deadlines)

    def short_lived_count(self) -> int:
        """How many short-lived secrets (each form JSON may write them in) are remembered now."""
        return len(self._short_lived)

    def add_url_password(self, value: str) -> None:
        """A URL's password: a known secret whatever its length. Masked anywhere when at least MIN_LENGTH
        long, otherwise wherever a URL holds it (``user:PASSWORD@host``)."""
        with self._lock:
            if len(value) >= MIN_LENGTH:
                self._values = self._values | _written(value)
            elif value:
                self._url_passwords = self._url_passwords | _written(value)

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        for value in self._short_lived:
            if value in text:
                text = text.replace(value, MASK)
        for value in self._url_passwords:
            held = f":{value}@"
            if held in text:
                text = text.replace(held, f":{MASK}@")
        return text

    def cut(self, text: str | bytes, max_chars: int) -> str:
        """``text`` as it may be quoted short: every known secret masked, then cut to ``max_chars`` characters (bytes
        read as UTF-8). Cut first, a secret straddling the cut is no longer whole, and its head would be shown."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "backslashreplace")
        return self.redact(text)[:max_chars]

    def redact_event(self, data: dict[str, Any]) -> dict[str, Any]:
        """An event's data (as :func:`bot.jsonable.to_data` makes it) as a wire may send it: every known secret in
        its free text (:data:`TEXT_FIELDS`) masked, in a copy; ``data`` itself when there is nothing to mask.

        Cheap enough for every event of the bus path: only the text fields are read, and most events have
        none or an empty one (a fraction of a microsecond, where masking the whole frame costs microseconds)."""
        if not (self._values or self._url_passwords or self._short_lived):
            return data
        for name in TEXT_FIELDS:
            text = data.get(name)
            if text and isinstance(text, str):
                clean = self.redact(text)
                if clean != text:
                    data = {**data, name: clean}
        return data

    def redact_data(self, value: Any) -> Any:
        """JSON-shaped data (strings, numbers, mappings, lists and tuples of them; a command's reply, a status) as it
        may leave: every known secret masked in its strings (a mapping's keys too), in a copy; ``value`` itself when
        there is nothing to mask. Another object's text (``str(value)``) replaces it when it holds a secret.

        Cheap when nothing is to be masked: the strings are joined and searched once, and only data that holds a
        secret is walked again to build the copy."""
        if not (self._values or self._url_passwords or self._short_lived):
            return value
        texts: list[str] = []
        _texts_of(value, texts)
        joined = "\n".join(texts)
        if self.redact(joined) is joined:  # str.replace ran nowhere: no secret in any string
            return value
        return self._masked(value)

    def _masked(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, (bool, int, float, Decimal)):
            return value
        if isinstance(value, Mapping):
            items = [(self._masked(k), self._masked(v)) for k, v in value.items()]
            changed = any(k is not k0 or v is not v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True))
            return dict(items) if changed else value
        if isinstance(value, (list, tuple)):
            parts = [self._masked(v) for v in value]
            if all(p is v for p, v in zip(parts, value, strict=True)):
                return value
            return parts if isinstance(value, list) else tuple(parts)
        text = str(value)
        clean = self.redact(text)
        return clean if clean is not text else value

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message, its traceback and every extra a caller passed (``extra=``, which json
        lines write out in full)."""
        if self._values or self._url_passwords or self._short_lived:
            message = record.getMessage()
            clean = self.redact(message)
            if record.exc_info and record.exc_info[1] is not None:
                exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = self.redact(exc_text)
                record.exc_info = None
            if clean != message:
                record.msg, record.args = clean, None
            for key in record.__dict__.keys() - RECORD_FIELDS:
                value = record.__dict__[key]
                masked = self.redact_data(value)
                if masked is not value:
                    record.__dict__[key] = masked
        return True


REDACTOR = Redactor()


def _written(value: str) -> set[str]:
    """``value`` and how JSON writes it inside a string, with and without ``ensure_ascii``: a quote, a backslash, a
    control character or a letter beyond ASCII is escaped there, and what is masked as text after encoding (a
    web answer, an event frame) holds that form; a client decoding it reads the secret."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _texts_of(value: Any, into: list[str]) -> None:
    """Every string in ``value`` (see :meth:`Redactor.redact_data`), appended to ``into``."""
    if isinstance(value, str):
        into.append(value)
    elif value is None or isinstance(value, (bool, int, float, Decimal)):
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _texts_of(key, into)
            _texts_of(item, into)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _texts_of(item, into)
    else:
        into.append(str(value))

# user:PASSWORD@host as SQLAlchemy's make_url reads it: the password runs from the ":" after the user to the
# "@" before the host, "/", "?" and "#" included; an "@" too, as urllib reads one (to the last "@" followed by
# something host-like: no "@", up to "/", "?", "#" or the end)
_USERINFO = re.compile(r"^(?P<head>\s*[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):(?P<password>[^@]*(?:@[^@/?#]*)*?)@"
                       r"(?=[^@/?#]*(?:[/?#]|$))")
_QUERY_CREDENTIAL = re.compile(
    r"(?P<head>[?&](?:password|api[-_]?key|key|(?:access[-_]?|auth[-_]?)?token|secret)=)(?P<password>[^&#]*)",
    re.IGNORECASE)
"""Query parameters that carry a credential: ``password=``, and the API keys and tokens of RPC providers
(``api-key=``, ``apikey=``, ``token=``, ...)."""
_NEXT_URL = re.compile(r"(,\s*)(?=[A-Za-z][A-Za-z0-9+.-]*://)")
"""Between the URLs of a list (``nats://u:p@h1,nats://u:p2@h2``)."""


def url_passwords(url: str) -> list[str]:
    """The passwords and keys in a URL, or in each URL of a comma-separated list (``user:password@`` and a
    credential query parameter such as ``password=`` or ``api-key=``), as written and percent-decoded."""
    from urllib.parse import unquote

    found = [m.group("password") for one in _NEXT_URL.split(url)[::2]
             for m in (_USERINFO.match(one), *_QUERY_CREDENTIAL.finditer(one)) if m]
    return [p for raw in found if raw for p in dict.fromkeys((raw, unquote(raw)))]


def safe_url(url: str) -> str:
    """A URL (or a comma-separated list of URLs) as it may be shown: every password and key in it (see
    :func:`url_passwords`) replaced by ``***``."""
    parts = _NEXT_URL.split(url)
    for i in range(0, len(parts), 2):  # the odd ones are the separators
        one = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", parts[i], count=1)
        parts[i] = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group('head')}{MASK}", one)
    return "".join(parts)


def add_url(url: str) -> None:
    """Mask the passwords and keys of ``url`` (each URL's, for a list; see :func:`url_passwords`) in every log line
    and alert from now on, short ones included.

    Call it for every URL read from config that may carry one (a database, an RPC node) before it can be
    logged: ``bot.config`` does it for ``db_url``, a plugin for its own URLs when it starts."""
    for password in url_passwords(url):
        REDACTOR.add_url_password(password)


def install() -> None:
    """Attach the redactor to every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
