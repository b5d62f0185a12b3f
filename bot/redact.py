"""Defence in depth: resolved secret values are masked in every log line, alert and command reply.

Secrets are references in config and `Secret.reveal()` is called only where a value is used, so
no code path should print one; this catches the one that does (an exception text quoting a
request, a plugin's debug line).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
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


class Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._url_passwords: set[str] = set()
        """Passwords of URLs shorter than MIN_LENGTH: masked only as ``:PASSWORD@``, inside a URL."""

    def add(self, value: str) -> None:
        if len(value) >= MIN_LENGTH:
            self._values.update(_written(value))

    def add_url_password(self, value: str) -> None:
        """A URL's password: a known secret whatever its length. Masked anywhere when at least MIN_LENGTH
        long, otherwise wherever a URL holds it (``user:PASSWORD@host``)."""
        if len(value) >= MIN_LENGTH:
            self._values.update(_written(value))
        elif value:
            self._url_passwords.update(_written(value))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        for value in self._url_passwords:
            held = f":{value}@"
            if held in text:
                text = text.replace(held, f":{MASK}@")
        return text

    def redact_event(self, data: dict[str, Any]) -> dict[str, Any]:
        """An event's data (as :func:`bot.jsonable.to_data` makes it) as a wire may send it: every known secret in
        its free text (:data:`TEXT_FIELDS`) masked, in a copy; ``data`` itself when there is nothing to mask.

        Cheap enough for every event of the bus path: only the text fields are read, and most events have
        none or an empty one (a fraction of a microsecond, where masking the whole frame costs microseconds)."""
        if not (self._values or self._url_passwords):
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
        if not (self._values or self._url_passwords):
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
        if self._values or self._url_passwords:
            message = record.getMessage()
            clean = self.redact(message)
            if record.exc_info and record.exc_info[1] is not None:
                exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = self.redact(exc_text)
                record.exc_info = None
            if clean != message:
                record.msg, record.args = clean, None
            for key, value in list(record.__dict__.items()):  # the caller's extras: the json format writes them
                if key not in _RECORD_KEYS:
                    record.__dict__[key] = self.redact_data(value)
        return True


_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
"""A log record's own attributes; any other was passed with ``extra=``."""

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
