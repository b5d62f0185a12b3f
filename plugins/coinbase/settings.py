"""The Coinbase venue's config table (``[exchanges.coinbase]``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import Secret, option, split_symbol

WS_URL = "wss://advanced-trade-ws.coinbase.com"
USER_WS_URL = "wss://advanced-trade-ws-user.coinbase.com"


def product_id(symbol: str) -> str:
    """``"BTC/USD"`` -> Coinbase's ``"BTC-USD"``."""
    base, quote = split_symbol(symbol)
    return f"{base}-{quote}"


@dataclass(frozen=True, kw_only=True)
class CoinbaseSettings:
    """Advanced Trade: market data over WebSocket (level2, heartbeats, ticker), orders over REST."""

    symbols: list[str] = option(["BTC/USD"], min_items=1, help='markets "BASE/QUOTE" (product BASE-QUOTE)')
    publish_levels: int = option(10, ge=1, le=1000, help="levels per side in each BookUpdate on the bus")
    ws_url: str = option(WS_URL, url="ws", help="market data WebSocket endpoint")
    rest_url: str = option("https://api.coinbase.com", url="rest",
                           help="REST endpoint (calls go to /api/v3/brokerage/...)")
    api_key_name: Secret | None = option(
        None, help='CDP API key name "organizations/{org}/apiKeys/{id}": "env:NAME" or "file:PATH"')
    api_private_key: Secret | None = option(
        None, help='CDP API key\'s EC private key (PEM, ES256): "env:NAME" or "file:PATH"')
    silence_timeout_s: float = option(5.0, ge=0.1, le=86_400,
                                      help="no message for this long (heartbeats come every second): reconnect")
    reconnect_initial_s: float = option(0.25, ge=0.01, le=600,
                                        help="first reconnect delay (with jitter); doubles per failure")
    reconnect_max_s: float = option(30.0, ge=0.01, le=3600, help="longest reconnect delay")
    request_timeout_s: float = option(10.0, ge=0.01, le=600, help="REST answer slower than this: outcome unknown")
    rest_per_s: float = option(10.0, ge=0.01, le=10_000, help="private REST calls per second (token bucket)...")
    rest_burst: int = option(10, ge=1, le=10_000, help="...and how many may go at once")
    rate_limit_pause_s: float = option(1.0, ge=0, le=3600, help="after an HTTP 429, no REST call for this long")
    fill_poll_s: float = option(2.0, ge=0.05, le=3600,
                                help="open orders are polled this often for fills (private stream down)")
    private_stream: bool = option(True, help="with an API key: order changes as they happen from the user channel")
    user_ws_url: str = option(USER_WS_URL, url="ws", help="WebSocket endpoint of the authenticated user channel")
    stream_poll_s: float = option(
        30.0, ge=0.05, le=3600, help="while the private stream is up, open orders are polled (reconciled) this often")
    start_timeout_s: float = option(10.0, ge=0, le=600, help="start waits this long for the first snapshots")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for symbol in self.symbols:
            try:
                split_symbol(symbol)
            except ValueError as exc:
                problems.append(("symbols", str(exc)))
        if (self.api_key_name is None) != (self.api_private_key is None):
            problems.append(("api_private_key" if self.api_private_key is None else "api_key_name",
                             "give both api_key_name and api_private_key, or neither (market data only)"))
        return problems
