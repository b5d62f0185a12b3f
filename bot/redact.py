"""Defence in depth: resolved secret values are masked in every log line and alert.

Secrets are references in config and `Secret.reveal()` is called only where a value is used, so
no code path should print one; this catches the one that does (an exception text quoting a
request, a plugin's debug line).
"""

from __future__ import annotations

import logging

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


def install() -> None:
    """Attach the redactor to every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
