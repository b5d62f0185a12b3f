"""``[plugins.web]``: where the operator console listens, who may use it, and its limits."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from bot.api import ROLE_RANK, option
from bot.api.kit import trusted_proxies_problems

HASH = re.compile(r"sha256:[0-9a-f]{64}")
HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?\.?")


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = option(False, help="serve the operator console; off by default, so `arbot run` opens no port")
    host: str = option("127.0.0.1", help="address (or host name) to bind, without a port: that is `port`; anything "
                                         "but loopback exposes it to the network (put a TLS reverse proxy in front, "
                                         "docs/web.md)")
    port: int = option(8780, ge=0, le=65535, help="TCP port (0 picks a free one; the log says which)")
    users: dict[str, dict[str, str]] = option(
        {}, help='who may log in: NAME = { role = "viewer" | "operator" | "admin", token = "env:VAR" | "file:PATH" | '
                 '"sha256:HEX" } (`arbot web-token` makes one)')
    confirm_ttl_s: float = option(60.0, ge=1, le=3600,
                                  help="a kill's confirmation token is valid this long, for its user only")
    session_ttl_s: float = option(43200.0, ge=60, le=30 * 86_400,
                                  help="a browser session (cookie from POST /api/v1/login) lasts this long")
    cookie_secure: bool = option(False, help="mark the session cookie Secure (set it when a TLS proxy serves the "
                                             "console over https)")
    requests_per_s: float = option(20.0, ge=0.01, le=100_000, help="sustained API requests per second per user")
    request_burst: int = option(100, ge=1, le=100_000, help="API requests a user may send at once before 429")
    public_requests_per_s: float = option(
        20.0, ge=0.01, le=100_000, help="sustained requests per second from one address to what needs no token (the "
                                        "page's files, /api/openapi.json, the login); beyond the burst: 429")
    public_request_burst: int = option(200, ge=1, le=100_000,
                                       help="such requests one address may send at once (a page load fetches ~20)")
    auth_failures_per_min: int = option(20, ge=1, le=100_000,
                                        help="wrong tokens per minute from one address before its token attempts "
                                             "get 429; requests without a token from it are counted apart, to the "
                                             "same limit")
    max_body_bytes: int = option(65536, ge=1024, le=64 * 2**20, help="largest request body; a larger one gets 413")
    max_connections: int = option(1000, ge=1, le=100_000,
                                  help="open connections at once; one more is closed at once")
    max_connections_per_address: int = option(
        100, ge=1, le=100_000, help="open connections at once from one client (an IPv6 client: its /64); one more is "
                                    "closed at once (behind one of trusted_proxies, whose connections carry many "
                                    "clients' requests: its requests in progress; one more gets 429)")
    trusted_proxies: list[str] = option(
        [], help='reverse proxies in front of the console, addresses or CIDRs ("127.0.0.1", "10.0.0.0/8"): on a '
                 "request from one of them the client is the right-most address of X-Forwarded-For that is not one "
                 "of them, for the per-address limits; empty: X-Forwarded-For is ignored (anyone could forge it)")
    idle_timeout_s: float = option(30.0, ge=0.1, le=86_400,
                                   help="a connection with no request in flight is closed after this long "
                                        "(a request must arrive complete within it too)")
    audit_reads: bool = option(True, help="audit every call, reads included, like chat commands; false: only "
                                          "changes, refusals and errors (a busy console writes a line per request)")
    events_buffer: int = option(5000, ge=1, le=1_000_000,
                                help="live events kept for a browser resuming with Last-Event-ID")
    events_heartbeat_s: float = option(15.0, ge=0.1, le=3600,
                                       help="a comment line goes to each event stream this often")
    events_write_timeout_s: float = option(10.0, ge=0.1, le=3600,
                                           help="an event stream whose client has not taken a write within this "
                                                "long (it stopped reading) is closed; its browser reconnects")
    read_cache_s: float = option(0.5, ge=0, le=60,
                                 help="identical reads of orders, fills, executions and PnL within this long share "
                                      "one store query (0: every request reads)")
    max_page: int = option(1000, ge=1, le=100_000, help="largest page of orders, fills or executions (limit=...)")
    max_csv_rows: int = option(100000, ge=1, le=10_000_000, help="most rows one CSV export returns")

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        host = _host_problem(self.host)
        if host:
            problems.append(("host", host))
        problems += trusted_proxies_problems(self.trusted_proxies)
        # a user is found by token: two users given one are one user to the console (whichever it compares last:
        # the admin, for a viewer's token), so each reference may be given once (two that read alike: `Users`)
        first_with: dict[str, str] = {}
        for name, user in sorted(self.users.items()):
            reference = user.get("token", "")
            if reference in first_with:
                problems.append((f"users.{name}.token", same_token(first_with[reference])))
            first_with.setdefault(reference, name)
            unknown = sorted(set(user) - {"role", "token"})
            if unknown:
                problems.append((f"users.{name}.{unknown[0]}", 'unknown key; a user has "role" and "token"'))
            role = user.get("role")
            if role not in ROLE_RANK:
                problems.append((f"users.{name}.role", f'expected one of {", ".join(ROLE_RANK)}, got "{role}"'))
            token = user.get("token", "")
            kind, _, rest = token.partition(":")
            if kind in ("env", "file") and rest:
                continue
            if kind == "sha256":
                if not HASH.fullmatch(token):
                    problems.append((f"users.{name}.token", "expected sha256: and 64 lowercase hex digits "
                                                            "(`arbot web-token` prints one)"))
                continue
            problems.append((f"users.{name}.token", 'expected "env:VAR", "file:PATH" or "sha256:HEX" (a literal '
                                                    "token is not accepted: keep secrets out of config files)"))
        return problems


def same_token(other: str) -> str:
    """The problem of a user given the token of user ``other`` (the token itself is never quoted)."""
    return (f"the same token as users.{other}: each user needs a token of its own, or the console takes it for one "
            "of them (its role, its name in the audit log); `arbot web-token` makes one")


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not an address or a name to bind, or None. A port or a URL in it would fail only at
    start, as a gaierror naming no key (and the bot would trade on without its console)."""
    if not host:
        return None  # every interface, as asyncio reads an empty host
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if HOST_NAME.fullmatch(host):
        return None
    if "://" in host:
        return f'expected an address, not a URL, got "{host}": write the address alone here and the port in port'
    address, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        address = address.strip("[]")
        return f'expected an address without a port, got "{host}": write host = "{address}" and port = {port}'
    return f'expected an IP address such as "127.0.0.1" or "::1", or a host name, got "{host}"'
