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
_QUERY_CREDENTIAL = re.compile(
    r"(?P<head>[?&](?:password|api[-_]?key|key|(?:access[-_]?|auth[-_]?)?token|secret)=)(?P<password>[^&#]*)",
    re.IGNORECASE)
"""Query parameters that carry a credential: ``password=``, and the API keys and tokens of RPC providers
(``api-key=``, ``apikey=``, ``token=``, ...)."""


def url_passwords(url: str) -> list[str]:
    """The passwords and keys in a URL (``user:password@`` and a credential query parameter such as
    ``password=`` or ``api-key=``), as written and percent-decoded."""
    from urllib.parse import unquote

    found = [m.group("password") for m in (_USERINFO.match(url), *_QUERY_CREDENTIAL.finditer(url)) if m]
    return [p for raw in found if raw for p in dict.fromkeys((raw, unquote(raw)))]


def safe_url(url: str) -> str:
    """A URL as it may be shown: every password and key in it (see :func:`url_passwords`) replaced by ``***``."""
    url = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", url, count=1)
    return _QUERY_CREDENTIAL.sub(lambda m: f"{m.group('head')}{MASK}", url)


def add_url(url: str) -> None:
    """Mask the passwords and keys of ``url`` (see :func:`url_passwords`) in every log line and alert from now on.

    Call it for every URL read from config that may carry one (a database, an RPC node) before it can be
    logged: ``bot.config`` does it for ``db_url``, a plugin for its own URLs when it starts."""
    for password in url_passwords(url):
        REDACTOR.add(password)


def install() -> None:
    """Attach the redactor to every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
