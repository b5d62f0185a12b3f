"""Defence in depth: resolved secret values are masked in every log line and alert.

Secrets are references in config and `Secret.reveal()` is called only where a value is used, so
no code path should print one; this catches the one that does (an exception text quoting a
request, a plugin's debug line).
"""

from __future__ import annotations

import logging
import re

MASK = "***"
MIN_LENGTH = 6
"""Shorter values would mask ordinary words; real keys and tokens are far longer."""


class Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= MIN_LENGTH:
            self._values.add(value)

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            message = record.getMessage()
            clean = self.redact(message)
            if record.exc_info and record.exc_info[1] is not None:
                exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = self.redact(exc_text)
                record.exc_info = None
            if clean != message:
                record.msg, record.args = clean, None
        return True


REDACTOR = Redactor()

_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):(?P<password>[^@/?#]*)@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


def url_passwords(url: str) -> list[str]:
    """The passwords in a URL (``user:password@`` and a ``password=`` query parameter), as written
    and percent-decoded."""
    from urllib.parse import unquote

    found = [m.group("password") for m in (_USERINFO.match(url), *_QUERY_PASSWORD.finditer(url)) if m]
    return [p for raw in found if raw for p in dict.fromkeys((raw, unquote(raw)))]


def safe_url(url: str) -> str:
    """A URL as it may be shown: every password in it replaced by ``***``."""
    url = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", url, count=1)
    return _QUERY_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}", url)


def add_url(url: str) -> None:
    """Mask the passwords of ``url`` in every log line from now on."""
    for password in url_passwords(url):
        REDACTOR.add(password)


def install() -> None:
    """Attach the redactor to every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
