"""Replies and alerts as Telegram text: a monospace block for replies, one line per alert."""

from __future__ import annotations

import html

from bot.api import Alert, Reply, alert_origin

MAX_CHARS = 4000
"""Telegram refuses messages over 4096 characters (counted after HTML parsing)."""

MAX_CAPTION_CHARS = 1024
"""Telegram's limit for a photo caption."""

LEVEL_MARK = {"INFO": "ℹ️", "WARNING": "⚠️", "ERROR": "❗", "CRITICAL": "🚨"}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 2] + "\n…"


def reply_html(reply: Reply) -> str:
    """The reply's aligned text in a ``<pre>`` block, escaped for ``parse_mode=HTML``."""
    return f"<pre>{html.escape(_clip(reply.render_text()))}</pre>"


def photo_caption(reply: Reply) -> str:
    """A photo's caption: the reply's plain text (no parse mode), within Telegram's caption limit."""
    text = reply.render_text()
    return text if len(text) <= MAX_CAPTION_CHARS else text[: MAX_CAPTION_CHARS - 1] + "…"


def alert_text(alert: Alert, this_bot: str = "") -> str:
    """One plain-text line: the fleet bot it comes from (another bot's, relayed), level mark, source,
    message, then the figures as key=value."""
    origin, alert = alert_origin(alert, this_bot)
    figures = " ".join(f"{k}={v}" for k, v in alert.fields.items())
    mark = LEVEL_MARK.get(alert.level.name, alert.level.name)
    return _clip((f"[{origin}] " if origin else "") + f"{mark} [{alert.source}] {alert.message}"
                 + (f"  {figures}" if figures else ""))
