"""The ccxt venue's config table (``[exchanges.NAME] type = "ccxt"``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import Secret, option, split_symbol

REQUIREMENTS = ("order_book", "client_ids", "ioc", "post_only", "verified_book")


@dataclass(frozen=True, kw_only=True)
class CcxtSettings:
    """Any exchange ccxt supports: books from ``watch_order_book``, orders over ccxt's REST calls."""

    id: str = option(help='ccxt exchange id: "gate", "mexc", "gemini", "binance", ... (ccxt.exchanges lists them)')
    symbols: list[str] = option(["BTC/USDT"], min_items=1, help='markets in ccxt\'s unified form "BASE/QUOTE"')
    api_key: Secret | None = option(None, help='API key reference, "env:NAME" or "file:PATH"')
    api_secret: Secret | None = option(None, help='API secret reference, "env:NAME" or "file:PATH"')
    password: Secret | None = option(
        None, help="API passphrase reference: required with keys where the venue has one (OKX, KuCoin, Bitget)")
    require: list[str] = option(
        ["order_book", "client_ids"],
        help="features the strategies on this venue need; the bot refuses to load an exchange without them: "
             + ", ".join(REQUIREMENTS))
    depth: int = option(50, ge=1, le=1000, help="order book depth asked of the venue (ccxt's limit)")
    publish_levels: int = option(10, ge=1, le=1000, help="levels per side in each BookUpdate on the bus")
    silence_timeout_s: float = option(
        10.0, ge=0.1, le=86_400, help="no pong from the venue for this long: the connection is dropped and remade")
    reconnect_initial_s: float = option(0.25, ge=0.01, le=600, help="first reconnect delay; doubles per failure")
    reconnect_max_s: float = option(30.0, ge=0.01, le=3600, help="longest reconnect delay")
    request_timeout_s: float = option(10.0, ge=0.01, le=600, help="REST answer slower than this: outcome unknown")
    rate_limit_ms: float | None = option(
        None, ge=1, le=60_000,
        help="spacing of REST calls in ms; unset: ccxt's figure for the venue (its documented limit)")
    rate_limit_pause_s: float = option(5.0, ge=0, le=3600, help="after a rate-limit answer, no REST call for this long")
    fill_poll_s: float = option(2.0, ge=0.05, le=3600, help="open orders are polled this often for fills")
    start_timeout_s: float = option(10.0, ge=0, le=600, help="start waits this long for the first books")
    dead_man_s: int = option(0, ge=0, le=86_400, help="the venue's cancel-all-after timer: it cancels our resting "
                             "orders if not re-armed within this many seconds (0: off; where ccxt exposes one)")
    dead_man_refresh_s: float = option(15.0, ge=0.1, le=3600, help="the dead-man switch is re-armed this often")
    urls: dict[str, str] = option(
        {}, url="rest_or_ws", help="URL prefixes to rewrite in ccxt's endpoints (a proxy, a testnet, a local fake), "
                 'e.g. {"https://api.gateio.ws" = "http://127.0.0.1:8080"}')
    options: dict[str, str] = option({}, help="extra ccxt options (string values), e.g. {defaultType = \"spot\"}")
    withdraw_to: dict[str, dict[str, str]] = option(
        {}, help="inventory rebalancing: the only addresses funds may be withdrawn to, per asset, each with the "
                 'network (ccxt\'s code) to send on, e.g. { SOL = { "7xKX...gAsU" = "SOL" } }; no entry: the asset is '
                 "never withdrawn (where ccxt can withdraw: arbot ccxt-features)")
    deposit_networks: dict[str, str] = option(
        {}, help='inventory rebalancing: the network deposits of an asset arrive on, e.g. { SOL = "SOL" } '
                 "(no entry: the venue's default address)")
    transfer_expected_s: float = option(
        1800.0, ge=0, le=604_800, help="typical time a withdrawal from this venue takes to be credited (shown with a "
                                       "rebalance proposal)")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for symbol in self.symbols:
            try:
                split_symbol(symbol)
            except ValueError as exc:
                problems.append(("symbols", str(exc)))
        if (self.api_key is None) != (self.api_secret is None):
            problems.append(("api_secret" if self.api_secret is None else "api_key",
                             "give both api_key and api_secret, or neither (market data only)"))
        unknown = [r for r in self.require if r not in REQUIREMENTS]
        if unknown:
            problems.append(("require", f"unknown {', '.join(unknown)}; expected any of {', '.join(REQUIREMENTS)}"))
        from .features import refusals

        given = tuple(k for k in ("api_key", "password") if getattr(self, k) is not None)
        problems.extend(refusals(self.id, self.require, self.dead_man_s, bool(self.withdraw_to), given))
        for asset, addresses in self.withdraw_to.items():
            if not addresses:
                problems.append((f"withdraw_to.{asset}", 'give at least one "ADDRESS" = "NETWORK", or drop the entry'))
            for address, network in addresses.items():
                if not address.strip() or " " in address or not network:
                    problems.append((f"withdraw_to.{asset}", f'expected "ADDRESS" = "NETWORK" (ccxt\'s network code, '
                                                             f'e.g. "SOL", "ERC20"), got "{address}" = "{network}"'))
        if self.dead_man_s and self.dead_man_refresh_s * 2 > self.dead_man_s:
            problems.append(("dead_man_refresh_s", f"re-arm at least twice per dead_man_s ({self.dead_man_s} s): "
                                                   f"at most {self.dead_man_s / 2:g}"))
        return problems
