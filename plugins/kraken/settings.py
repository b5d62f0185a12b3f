"""The Kraken venue's config table (``[exchanges.kraken]``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import Secret, option, split_symbol

DEPTHS = (10, 25, 100, 500, 1000)
WS_URL = "wss://ws.kraken.com/v2"
PRIVATE_WS_URL = "wss://ws-auth.kraken.com/v2"
DEAD_MAN_MAX_S = 86400


@dataclass(frozen=True, kw_only=True)
class KrakenSettings:
    """Market data over WebSocket v2, orders over REST."""

    symbols: list[str] = option(["BTC/USD"], min_items=1, help='markets, in Kraken v2 form "BTC/USD"')
    depth: int = option(10, ge=10, le=1000, help="book depth subscribed per symbol: 10, 25, 100, 500 or 1000")
    publish_levels: int = option(10, ge=1, le=1000, help="levels per side in each BookUpdate on the bus")
    ws_url: str = option(WS_URL, url="ws", help="public WebSocket v2 endpoint")
    rest_url: str = option("https://api.kraken.com", url="rest",
                           help="REST endpoint (private calls go to /0/private/...)")
    api_key: Secret | None = option(None, help='API key reference, "env:NAME" or "file:PATH"')
    api_secret: Secret | None = option(None, help='API secret (base64) reference, "env:NAME" or "file:PATH"')
    silence_timeout_s: float = option(5.0, ge=0.1, le=86_400,
                                      help="no message for this long: the connection is dropped and remade")
    reconnect_initial_s: float = option(0.25, ge=0.01, le=600,
                                        help="first reconnect delay (with jitter); doubles per failure")
    reconnect_max_s: float = option(30.0, ge=0.01, le=3600, help="longest reconnect delay")
    request_timeout_s: float = option(10.0, ge=0.01, le=600, help="REST answer slower than this: outcome unknown; "
                                      "also AddOrder's deadline (5 to 55 s ahead)")
    rest_per_s: float = option(1.0, ge=0.01, le=10_000, help="private REST calls per second (token bucket)...")
    rest_burst: int = option(10, ge=1, le=10_000, help="...and how many may go at once")
    rate_limit_pause_s: float = option(5.0, ge=0, le=3600, help="after a rate-limit answer, no REST call for this long")
    fill_poll_s: float = option(2.0, ge=0.05, le=3600,
                                help="open orders are polled this often for fills (private stream down)")
    private_stream: bool = option(True, help="with API keys: fills and order changes from the executions channel")
    private_ws_url: str = option(PRIVATE_WS_URL, url="ws",
                                 help="authenticated WebSocket v2 endpoint (executions channel)")
    stream_poll_s: float = option(
        30.0, ge=0.05, le=3600, help="while the private stream is up, open orders are polled (reconciled) this often")
    dead_man_s: int = option(
        0, ge=0, le=DEAD_MAN_MAX_S, help="CancelAllOrdersAfter timeout: Kraken cancels our orders if not "
        "refreshed within this many seconds (0: off; 60 recommended)")
    dead_man_refresh_s: float = option(15.0, ge=0.1, le=3600, help="the dead-man switch is re-armed this often")
    start_timeout_s: float = option(10.0, ge=0, le=600, help="start waits this long for the pairs' trading rules")
    withdraw_keys: dict[str, str] = option(
        {}, help='inventory transfers out: the pre-registered withdrawal key per asset, e.g. { SOL = "my-wallet" }')
    deposit_methods: dict[str, str] = option(
        {}, help='inventory transfers in: the deposit method per asset, e.g. { SOL = "Solana" }')
    transfer_expected_s: float = option(900.0, ge=1, le=7 * 86_400,
                                        help="a withdrawal's usual time until it is credited")
    rest_pairs: dict[str, str] = option(
        {}, help='REST pair name per symbol when not BASE+QUOTE with BTC as XBT, e.g. {"BTC/USD" = "XBTUSD"}')

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.depth not in DEPTHS:
            problems.append(("depth", f"expected one of {', '.join(map(str, DEPTHS))}, got {self.depth}"))
        for symbol in self.symbols:
            try:
                split_symbol(symbol)
            except ValueError as exc:
                problems.append(("symbols", str(exc)))
        if (self.api_key is None) != (self.api_secret is None):
            problems.append(("api_secret" if self.api_secret is None else "api_key",
                             "give both api_key and api_secret, or neither (market data only)"))
        if self.dead_man_s and self.dead_man_refresh_s * 2 > self.dead_man_s:
            problems.append(("dead_man_refresh_s", f"re-arm at most every {self.dead_man_s / 2:g} s (half of "
                             f"dead_man_s = {self.dead_man_s}) so one late refresh does not cancel every order"))
        if self.dead_man_s and self.api_key is None:
            problems.append(("dead_man_s", "the dead-man switch needs api_key and api_secret; set it to 0"))
        return problems

    def rest_pair(self, symbol: str) -> str:
        """The pair name REST calls use for ``symbol``."""
        if symbol in self.rest_pairs:
            return self.rest_pairs[symbol]
        base, quote = split_symbol(symbol)
        return ("XBT" if base == "BTC" else base) + ("XBT" if quote == "BTC" else quote)
