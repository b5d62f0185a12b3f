"""Who a connection or request comes from, for the per-client limits of every service that listens (the web
console, the metrics endpoint, the stream): the peer, or behind a trusted proxy its X-Forwarded-For.

A client is keyed by its IPv4 address, or by the /64 of its IPv6 address: one IPv6 host (a phone, a home network)
is handed a whole /64 and may use a new address of it for each connection, so counting addresses would give it as
many budgets of wrong tokens as it likes. X-Forwarded-For is read only on a request whose peer is one of
``trusted_proxies``: anyone else could write any address in it. There, the client is the right-most hop that is
not a trusted proxy (each proxy appends the address it got the request from, so what the client wrote itself is
on the left and cannot shift it). A trusted proxy's connection is no client's: a proxy that keeps its upstream
connections open for reuse sends many clients' requests on each, so a service charges every per-client budget
per request, to that request's :meth:`ClientAddresses.client`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_CLIENT_PREFIX = 64
"""The IPv6 prefix counted as one client (what one subscriber is routed)."""
PREFIX_MASK = ((1 << IPV6_CLIENT_PREFIX) - 1) << (128 - IPV6_CLIENT_PREFIX)
UNKNOWN = "?"


def parse_address(text: str) -> IPAddress | None:
    """An address as a header or a socket gives it: bare, ``[v6]:port`` or ``v4:port``; None when it is none."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:4711
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 203.0.113.5:4711
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # an IPv4 client on a dual-stack socket is that IPv4 client
    return address


def client_key(address: IPAddress) -> str:
    """The key one client's requests are counted under: its IPv4 address, or its IPv6 /64."""
    if isinstance(address, ipaddress.IPv6Address):  # the network's address by integer: an IPv6Network costs 6x more
        return f"{ipaddress.IPv6Address(int(address) & PREFIX_MASK)}/{IPV6_CLIENT_PREFIX}"
    return str(address)


class ClientAddresses:
    """Keys clients by the peer's address, or by X-Forwarded-For on a request from ``trusted_proxies``."""

    def __init__(self, trusted_proxies: Iterable[str]):
        self.trusted_networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    def trusted(self, address: IPAddress) -> bool:
        """Whether ``address`` is one of ``trusted_proxies``."""
        return any(address in network for network in self.trusted_networks)

    def peer(self, peer: str | None) -> tuple[str, bool]:
        """A connection's peer: (its key, whether it is a trusted proxy, whose connections carry many clients)."""
        address = parse_address(peer) if peer else None
        if address is None:
            return UNKNOWN, False
        return client_key(address), self.trusted(address)

    def client(self, peer: str | None, forwarded_for: list[str]) -> str:
        """The key of the client of a request from ``peer`` with these X-Forwarded-For header lines (in order)."""
        address = parse_address(peer) if peer else None
        if address is None:
            return UNKNOWN
        if not self.trusted_networks or not self.trusted(address):
            return client_key(address)
        hops = [hop for line in forwarded_for for hop in line.split(",")]
        for hop in reversed(hops):
            previous = parse_address(hop)
            if previous is None:  # not an address: nothing left of it can be believed
                break
            address = previous
            if not self.trusted(address):
                break
        return client_key(address)


def trusted_proxies_problems(entries: Iterable[str], key: str = "trusted_proxies") -> list[tuple[str, str]]:
    """A settings ``validate()``'s problems with a ``trusted_proxies`` list: each entry not an address or a CIDR."""
    problems = []
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append((key, f'expected an address or a CIDR such as "10.0.0.0/8", got "{entry}"'))
    return problems
