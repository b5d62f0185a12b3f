"""Settings of the ``telegram`` notifier: token, Bot API server, role map, alert chats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.api import ROLE_RANK, Secret, option

PUBLIC_BOT_API = "https://api.telegram.org"


@dataclass(frozen=True)
class AlertKinds:
    """Which alert kinds one chat receives: ``"all"``, ``"fill risk"`` or ``"all -fill"``."""

    everything: bool
    included: frozenset[str]
    excluded: frozenset[str]

    @classmethod
    def parse(cls, spec: str) -> AlertKinds:
        words = spec.replace(",", " ").split()
        return cls(everything="all" in words,
                   included=frozenset(w for w in words if w != "all" and not w.startswith("-")),
                   excluded=frozenset(w[1:] for w in words if w.startswith("-")))

    def wants(self, kind: str) -> bool:
        if kind in self.excluded:
            return False
        return self.everything or kind in self.included


def _is_chat_id(text: str) -> bool:
    return text.lstrip("-").isdigit() or (text.startswith("@") and len(text) > 1)


@dataclass(frozen=True)
class TelegramSettings:
    token: Secret = option(help='bot token from @BotFather: "env:NAME" or "file:PATH", never the value')
    base_url: str = option(PUBLIC_BOT_API, url="rest",
                           help="Bot API server: the public one, or a local telegram-bot-api server (http:// only "
                                "to this machine: the token is in every request's path)")
    local_mode: bool = option(False, help="true when base_url is a local Bot API server started with --local")
    users: dict[str, str] = option({}, help="Telegram user id -> role (viewer | operator | admin); "
                                            "everyone else is refused, whatever chat they write in")
    alert_chats: dict[str, str] = option({}, help='chat id -> alert kinds it receives: "all", a list such as '
                                                  '"fill risk plugin_error", or "all -fill"')
    min_level: Literal["info", "warning", "error", "critical"] = option("info", help="quietest alert level sent")
    poll_timeout_s: int = option(10, ge=1, le=50, help="long-poll timeout of getUpdates")
    max_retries: int = option(3, ge=0, le=20, help="retries of a request Telegram refused with 429 retry_after "
                                            "(each waits the time Telegram asked for) or met by a server error "
                                            "(5xx, no connection: waits 1 s, 2 s, 4 s...)")
    max_messages_per_s: float = option(30.0, ge=0.01, le=1000,
                                       help="messages sent per second, all chats (Telegram: about 30)")
    max_group_messages_per_min: float = option(20.0, ge=0.1, le=1000,
                                               help="messages per minute to one group (Telegram: 20)")
    drain_on_stop_s: float = option(2.0, ge=0, le=60, help="on stop, how long replies and alerts still queued "
                                                            "may go out before they are dropped")
    lease_retry_s: float = option(5.0, ge=0.1, le=300, help="while another process of the fleet polls this "
                                                           "token (standby), how often to try taking over")

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        for user, role in self.users.items():
            if not user.isdigit():
                problems.append((f"users.{user}", "expected a numeric Telegram user id as the key"))
            if role not in ROLE_RANK:
                problems.append((f"users.{user}", f'expected one of "viewer", "operator", "admin", got "{role}"'))
        for chat in self.alert_chats:
            if not _is_chat_id(chat):
                problems.append((f"alert_chats.{chat}", "expected a numeric chat id (or @channelname) as the key"))
        return problems

    def role_of(self, user_id: int | str) -> str | None:
        """The user's role, or None: a chat grants nothing, only the user's own entry does."""
        return self.users.get(str(user_id))
