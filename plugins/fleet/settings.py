"""``[plugins.fleet]``: where NATS is, how this bot logs in, who may command it from the fleet, and the limits."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import ROLE_RANK, Secret, option

from .wire import EVENT_KINDS

NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


@dataclass(frozen=True)
class FleetSettings:
    enabled: bool = option(False, help="join the fleet on NATS; off by default, so `arbot run` connects to nothing")
    nats_url: str = option("nats://127.0.0.1:4222", max_len=2048,
                           help="the NATS server(s): nats://HOST:PORT (tls://... for TLS), several separated by "
                                "commas; or a secret reference env:NAME / file:PATH holding it, since a URL can "
                                "hold a password (never logged: passwords are masked)")
    user: str = option("", max_len=256, help="NATS user name (with password)")
    password: Secret | None = option(None, help="NATS password of user: env:NAME or file:PATH")
    token: Secret | None = option(None, help="NATS authentication token: env:NAME or file:PATH")
    creds_file: str = option("", max_len=4096,
                             help="NATS credentials file (JWT + NKey seed, `nsc` makes it)")
    nkey_seed: Secret | None = option(None, help="NATS NKey seed (SU...): env:NAME or file:PATH")
    tls_ca: str = option("", max_len=4096, help="CA certificate file (PEM) the NATS server's certificate is checked "
                                                "against (empty: the system's)")
    tls_cert: str = option("", max_len=4096, help="client certificate file (PEM) for a server that verifies clients")
    tls_key: str = option("", max_len=4096, help="private key file (PEM) of tls_cert")
    roles: dict[str, str] = option({}, help='who may command THIS bot through the fleet: "TRANSPORT:USER_ID" = ROLE, '
                                            'e.g. "telegram:123" = "admin", "cli:alice" = "operator"; ROLE viewer | '
                                            "operator | admin; anyone else is refused (and audited here)")
    cli_user: str = option("", max_len=128, help="the user id `arbot fleet` sends as (empty: the OS user name)")
    heartbeat_s: float = option(5.0, ge=0.05, le=3600, help="how often this bot publishes its status")
    alive_after_s: float = option(15.0, ge=0.1, le=86_400,
                                  help="a bot heard from within this long is alive (more than heartbeat_s)")
    call_timeout_s: float = option(5.0, ge=0.05, le=600, help="how long a command sent to another bot may take")
    buffer_max: int = option(10_000, ge=1, le=10_000_000,
                             help="events kept while NATS is unreachable; beyond it the oldest are dropped (counted)")
    reconnect_wait_s: float = option(2.0, ge=0.05, le=300, help="wait between two attempts to reach NATS (forever)")
    max_request_bytes: int = option(65_536, ge=1024, le=1_048_576,
                                    help="largest command request accepted from the bus")
    max_event_bytes: int = option(131_072, ge=16_384, le=1_048_576,
                                  help="largest heartbeat or alert taken from another bot; a larger one is refused "
                                       "unread and counted (a heartbeat is ~125 bytes a strategy and ~40 a live "
                                       "bot of the fleet)")
    events: list[str] = option(list(EVENT_KINDS), help="the kinds of events this bot publishes: status, order, "
                                                       "fill, opportunity, execution, alert, risk (status: "
                                                       "heartbeats, which members() and arbot fleet need)")
    relay_alerts: bool = option(False, help="re-emit the other bots' alerts here (marked with their bot) so this "
                                            "bot's notifiers deliver them: set it on the fleet's front bot")
    jetstream: bool = option(False, help="keep events durably in the JetStream stream ARBOT_EVENTS and each bot's "
                                         "last status in the KV bucket arbot_fleet (nats-server -js)")
    stream_max_age_s: float = option(7 * 86_400, ge=60, le=365 * 86_400,
                                     help="JetStream: events older than this are discarded")
    stream_max_bytes: int = option(1 << 30, ge=1 << 20, le=1 << 40, help="JetStream: the stream's size limit "
                                                                           "(oldest events discarded)")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.nats_url.startswith(("env:", "file:")):
            for server in self.nats_url.split(","):
                if not server.strip().startswith(NATS_SCHEMES):
                    problems.append(("nats_url", "expected nats://HOST:PORT (or tls://, ws://, wss://), several "
                                                 "separated by commas, or env:NAME / file:PATH"))
                    break
        if self.password is not None and not self.user:
            problems.append(("password", "a password needs a user: set user too"))
        if self.user and self.password is None:
            problems.append(("user", "a user needs a password: set password = \"env:NAME\" (or file:PATH)"))
        ways = [name for name, value in (("user/password", self.password), ("token", self.token),
                                         ("creds_file", self.creds_file), ("nkey_seed", self.nkey_seed)) if value]
        if len(ways) > 1:
            problems.append(("token" if "token" in ways else "creds_file",
                             f"give one way to log in, not {' and '.join(ways)}"))
        if bool(self.tls_cert) != bool(self.tls_key):
            problems.append(("tls_key" if self.tls_cert else "tls_cert", "tls_cert and tls_key go together"))
        for key, role in self.roles.items():
            transport, sep, user_id = key.partition(":")
            if not sep or not transport or not user_id:
                problems.append((f"roles.{key}", 'expected "TRANSPORT:USER_ID" = ROLE, e.g. "telegram:123" = '
                                                 '"admin" or "cli:alice" = "operator"'))
            elif role not in ROLE_RANK:
                problems.append((f"roles.{key}", f'expected a role: {", ".join(ROLE_RANK)}, got "{role}"'))
        unknown = [kind for kind in self.events if kind not in EVENT_KINDS]
        if unknown:
            problems.append(("events", f"unknown kind(s) {', '.join(unknown)}; kinds: {', '.join(EVENT_KINDS)}"))
        if self.alive_after_s <= self.heartbeat_s:
            problems.append(("alive_after_s", f"must be more than heartbeat_s ({self.heartbeat_s:g}), e.g. three "
                                              "heartbeats"))
        return problems
