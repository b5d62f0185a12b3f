"""Replies and alerts as Telegram text: a monospace block for replies, one line per alert."""

from __future__ import annotations

import html

from bot.api import Alert, Reply, alert_origin

MAX_UTF16 = 4096
"""Telegram takes a message of 1-4096 characters "after entities parsing", counted in UTF-16 code units (an
astral character, most emoji, counts two): the text as shown, so the tags and character references of
``parse_mode=HTML`` do not count."""

MAX_CAPTION_UTF16 = 1024
"""Telegram's limit for a photo caption, counted the same way."""

MAX_TOAST_UTF16 = 200
"""Telegram's limit for the notification a button press is answered with (answerCallbackQuery), counted the same
way."""

LEVEL_MARK = {"INFO": "ℹ️", "WARNING": "⚠️", "ERROR": "❗", "CRITICAL": "🚨"}

CUT_MARK = "\n…"


def utf16_len(text: str) -> int:
    """``text``'s length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _clip(text: str, limit: int, mark: str = CUT_MARK) -> str:
    """``text`` whole if it fits in ``limit`` UTF-16 code units, else its longest head that fits with ``mark``.

    Cut on the plain text, before any HTML escaping, so never inside a tag or a character reference; a Python
    string holds whole code points, so never inside a surrogate pair (a lone surrogate at the cut is dropped).
    """
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(mark)
    kept = used = 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            break
        kept += 1
    head = text[:kept]
    if head and "\ud800" <= head[-1] <= "\udbff":  # the first half of a pair given as two code points
        head = head[:-1]
    return head + mark


def reply_html(reply: Reply) -> str:
    """The reply's aligned text in a ``<pre>`` block, escaped for ``parse_mode=HTML``."""
    return f"<pre>{html.escape(_clip(reply.render_text(), MAX_UTF16))}</pre>"


def photo_caption(reply: Reply) -> str:
    """A photo's caption: the reply's plain text (no parse mode), within Telegram's caption limit."""
    return _clip(reply.render_text(), MAX_CAPTION_UTF16, "…")


def toast_text(reply: Reply) -> str:
    """The short notification a Confirm press is answered with: the reply's title, within Telegram's limit."""
    return _clip(reply.title, MAX_TOAST_UTF16, "…")


def alert_text(alert: Alert, this_bot: str = "") -> str:
    """One plain-text line: the fleet bot it comes from (another bot's, relayed), level mark, source,
    message, then the figures as key=value."""
    origin, alert = alert_origin(alert, this_bot)
    figures = " ".join(f"{k}={v}" for k, v in alert.fields.items())
    mark = LEVEL_MARK.get(alert.level.name, alert.level.name)
    return _clip((f"[{origin}] " if origin else "") + f"{mark} [{alert.source}] {alert.message}"
                 + (f"  {figures}" if figures else ""), MAX_UTF16)
