"""``[plugins.metrics]``: where the Prometheus endpoint listens and how much it samples."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import option
from bot.api.kit import trusted_proxies_problems


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = option(False, help="serve /metrics; off by default, so `arbot run` opens no port")
    host: str = option("127.0.0.1", help="interface to bind; anything but loopback exposes it to the network")
    port: int = option(9464, ge=0, le=65535, help="TCP port (0 picks a free one; the log says which)")
    max_connections: int = option(64, ge=1, le=10_000,
                                  help="scrape connections at once; beyond it the oldest is closed (a scrape takes "
                                       "milliseconds, so idle connections cannot keep Prometheus out)")
    max_connections_per_address: int = option(8, ge=1, le=10_000,
                                              help="of those, from one client (an IPv6 client: its /64); beyond it "
                                                   "that client's oldest is closed, so one client's flood cannot "
                                                   "close another's scrape")
    trusted_proxies: list[str] = option(
        [], help='reverse proxies in front of the endpoint, addresses or CIDRs ("127.0.0.1", "10.0.0.0/8"): their '
                 "connections count against max_connections only until their request arrives, then under the "
                 "client it names, the right-most X-Forwarded-For hop not among them; empty: X-Forwarded-For is "
                 "ignored (anyone could forge it)")
    request_timeout_s: float = option(5.0, ge=0.1, le=300,
                                      help="a connection that has not sent its request within this long is closed")
    latency_sample_every: int = option(16, ge=1, le=1_000_000,
                                       help="time one book update in this many through the strategies")
    pnl_every_s: float = option(30.0, ge=0.1, le=86_400,
                                help="how often realized PnL and risk events are read from the store")

    def validate(self) -> list[tuple[str, str]]:
        return trusted_proxies_problems(self.trusted_proxies)
