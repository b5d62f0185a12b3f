"""``[plugins.stream]``: where the stream listens, who may connect, and the limits per client."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import ROLE_RANK, option
from bot.api.kit import trusted_proxies_problems

from .protocol import parse_public_key


@dataclass(frozen=True)
class StreamSettings:
    enabled: bool = option(False, help="serve the stream; off by default, so `arbot run` opens no port")
    host: str = option("127.0.0.1", help="interface to bind; anything but loopback exposes it to the network")
    port: int = option(8765, ge=0, le=65535, help="TCP port (0 picks a free one; the log says which)")
    clients: dict[str, str] = option({}, help='allowed keys: NAME = "ROLE:BASE64_PUBLIC_KEY" (`arbot keygen`), '
                                              "ROLE viewer | operator | admin")
    challenge_ttl_s: float = option(10.0, ge=0.1, le=600, help="a client must answer its challenge within this long")
    buffer_events: int = option(10000, ge=1, le=1_000_000,
                                help="events kept per channel for clients resuming with since=N")
    max_connections: int = option(2000, ge=1, le=100_000,
                                  help="authenticated connections at once, all keys together")
    max_unauthenticated: int = option(64, ge=1, le=10_000,
                                      help="connections waiting to authenticate at once (from the TCP connect on), "
                                           "apart from max_connections; beyond it the oldest waiting one is closed, "
                                           "so a flood of connections that never authenticate cannot lock a real "
                                           "client out")
    max_unauthenticated_per_address: int = option(8, ge=1, le=10_000,
                                                  help="connections waiting to authenticate at once from one "
                                                       "client (an IPv6 client: its /64); beyond it that client's "
                                                       "oldest waiting one is closed, so one client's flood cannot "
                                                       "push out another's login")
    trusted_proxies: list[str] = option(
        [], help='TLS proxies in front of the stream, addresses or CIDRs ("127.0.0.1", "10.0.0.0/8"): their '
                 "connections count against max_unauthenticated only until the WebSocket handshake arrives, then "
                 "under the client it names, the right-most X-Forwarded-For hop not among them; empty: "
                 "X-Forwarded-For is ignored (anyone could forge it)")
    max_connections_per_key: int = option(4, ge=1, le=10_000, help="connections at once with one key")
    client_messages_per_s: float = option(5.0, ge=0.001, le=10_000, help="sustained rate of frames a client may send")
    client_message_burst: int = option(20, ge=1, le=10_000, help="frames a client may send at once")
    max_frame_bytes: int = option(65536, ge=1024, le=16_777_216, help="largest frame a client may send")
    client_buffer_bytes: int = option(1048576, ge=4096, le=1_073_741_824,
                                      help="unsent bytes queued for one client; a client "
                                                             "further behind is disconnected (slow consumer)")
    portfolio_every_s: float = option(10.0, ge=0.1, le=86_400,
                                      help="how often balances are read and a changed portfolio sent")
    status_every_s: float = option(5.0, ge=0.1, le=86_400, help="how often a changed bot status is sent")

    def validate(self) -> list[tuple[str, str]]:
        problems = trusted_proxies_problems(self.trusted_proxies)
        for name, entry in self.clients.items():
            role, sep, key = entry.partition(":")
            if not sep or role not in ROLE_RANK:
                problems.append((f"clients.{name}", f'expected "ROLE:BASE64_PUBLIC_KEY" with ROLE one of '
                                                    f'{", ".join(ROLE_RANK)}'))
                continue
            try:
                parse_public_key(key)
            except ValueError as exc:
                problems.append((f"clients.{name}", f"not an Ed25519 public key: {exc}"))
        return problems
