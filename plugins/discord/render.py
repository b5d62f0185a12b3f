"""Replies and alerts as Discord text: a code block for replies, one line per alert."""

from __future__ import annotations

from bot.api import Alert, Reply, alert_origin

MAX_CHARS = 2000
"""Discord refuses message content over 2,000 characters."""

FENCE = "```"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 2] + "\n…"


def reply_block(reply: Reply) -> str:
    """The reply's aligned text in a code block (monospace on every client), within Discord's limit."""
    body = reply.render_text().replace(FENCE, "`\u200b``")  # a fence inside the text would end the block
    return f"{FENCE}\n{_clip(body, MAX_CHARS - 8)}\n{FENCE}"


def alert_text(alert: Alert, this_bot: str = "") -> str:
    """One line: the fleet bot it comes from (another bot's, relayed), level in bold, source, message,
    then the figures as key=value in code."""
    origin, alert = alert_origin(alert, this_bot)
    figures = " ".join(f"{k}={v}" for k, v in alert.fields.items())
    line = (f"**[{origin}]** " if origin else "") + f"**{alert.level.name}** [{alert.source}] {alert.message}"
    if figures:
        line += f"  `{figures.replace('`', '')}`"
    return _clip(line, MAX_CHARS)
