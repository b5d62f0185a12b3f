"""Replies and alerts as Discord text: a code block for replies, one line per alert.

Discord renders message content as Markdown. What the bot writes itself (the level in bold, the figures in a code
span) is formatting; what an alert carries (a strategy's name, an order's reason, a symbol, an error's text) is
data, escaped with ``discord.utils.escape_markdown`` so a ``*`` or ``_`` in it shows as itself. Discord counts its
2,000-character limit in code points (Python's ``len``), on the content as sent, escapes included, so a long
line is cut after escaping, in the data only, never between an escape and the character it escapes.
"""

from __future__ import annotations

from discord.utils import escape_markdown

from bot.api import Alert, Reply, alert_origin

MAX_CHARS = 2000
"""Discord refuses message content over 2,000 characters (code points, escapes included)."""

MAX_NAME_CHARS = 100
"""A bot's or a source's name, escaped, before it is cut: a name is short; the message gets the room."""

FENCE = "```"
CUT_MARK = "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 2] + "\n…"


def _clip_escaped(text: str, limit: int) -> str:
    """Escaped Markdown cut to at most ``limit`` characters with :data:`CUT_MARK`, never leaving the cut between
    a backslash and the character it escapes (every backslash of escaped text escapes the next character)."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - len(CUT_MARK))]
    if (len(head) - len(head.rstrip("\\"))) % 2:  # an odd run of backslashes: the last one lost its character
        head = head[:-1]
    return head + CUT_MARK


def reply_block(reply: Reply) -> str:
    """The reply's aligned text in a code block (monospace on every client), within Discord's limit."""
    body = reply.render_text().replace(FENCE, "`\u200b``")  # a fence inside the text would end the block
    return f"{FENCE}\n{_clip(body, MAX_CHARS - 8)}\n{FENCE}"


def alert_text(alert: Alert, this_bot: str = "") -> str:
    """One line: the fleet bot it comes from (another bot's, relayed), level in bold, source, message,
    then the figures as key=value in code; the data Markdown-escaped, the whole within Discord's limit."""
    origin, alert = alert_origin(alert, this_bot)
    origin, source = (_clip_escaped(escape_markdown(name), MAX_NAME_CHARS) for name in (origin, alert.source))
    head = (f"**[{origin}]** " if origin else "") + f"**{alert.level.name}** [{source}] "
    # a code span shows its text as it is, so the figures need no escaping, only no backtick to end it early
    figures = " ".join(f"{k}={v}" for k, v in alert.fields.items()).replace("`", "")
    if len(figures) > MAX_CHARS // 2:  # the message comes first: figures get at most half of the room
        figures = figures[: MAX_CHARS // 2 - len(CUT_MARK)] + CUT_MARK
    tail = f"  `{figures}`" if figures else ""
    message = _clip_escaped(escape_markdown(alert.message), MAX_CHARS - len(head) - len(tail))
    return head + message + tail
