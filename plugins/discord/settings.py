"""Settings of the ``discord`` notifier: token, where commands are taken, the role map, alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.api import ROLE_RANK, Secret, option

PUBLIC_API_BASE = "https://discord.com/api/v10"
PUBLIC_GATEWAY = "wss://gateway.discord.gg/"


@dataclass(frozen=True)
class DiscordSettings:
    token: Secret = option(help='bot token from the Discord developer portal: "env:NAME" or "file:PATH"')
    users: dict[str, str] = option({}, help="Discord user id -> role (viewer | operator | admin); everyone "
                                            "else gets one refusal line, whatever guild or channel they write in")
    guild_ids: list[int] = option([], help="guilds the slash commands are registered in and answered from; "
                                           "empty: global commands, answered in any guild and in DMs")
    channel_ids: list[int] = option([], help="channels where commands are taken; empty: every channel of "
                                             "those guilds. Elsewhere nobody has a role")
    alert_channel_id: int | None = option(None, ge=1, help="channel id alerts are posted to; unset: no alerts")
    min_level: Literal["info", "warning", "error", "critical"] = option("info", help="quietest alert level sent")
    sync_commands: bool = option(True, help="at start, overwrite the application's slash commands with "
                                            "arbot's (one per registered command)")
    send_timeout_s: float = option(10.0, ge=0.1, le=600, help="give up on one alert after this long")
    drain_on_stop_s: float = option(2.0, ge=0, le=60, help="on stop, how long alerts still queued may go out "
                                                            "before they are dropped")
    lease_retry_s: float = option(5.0, ge=0.1, le=300, help="while another process of the fleet holds this "
                                                           "token's gateway session (standby), how often to try "
                                                           "taking over")
    api_base: str = option(PUBLIC_API_BASE, url="rest",
                           help="REST base URL; change it only for tests or a self-hosted proxy (process-wide in "
                                "discord.py; http:// only to this machine: the token is in every request)")
    gateway_url: str = option(PUBLIC_GATEWAY, url="ws",
                              help="gateway WebSocket URL; change it only for tests or a self-hosted proxy "
                                   "(process-wide in discord.py; ws:// only to this machine)")

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        for user, role in self.users.items():
            if not user.isdigit():
                problems.append((f"users.{user}", "expected a numeric Discord user id as the key"))
            if role not in ROLE_RANK:
                problems.append((f"users.{user}", f'expected one of "viewer", "operator", "admin", got "{role}"'))
        return problems

    def role_of(self, user_id: int | str, guild_id: int | None, channel_id: int | None) -> str | None:
        """The user's role *here*, or None: a guild or channel grants nothing, and outside the
        configured guilds/channels nobody has a role."""
        if self.guild_ids and guild_id not in self.guild_ids:
            return None
        if self.channel_ids and channel_id not in self.channel_ids:
            return None
        return self.users.get(str(user_id))
