"""The Orca venue's config table (``[exchanges.orca]``): which Whirlpools to watch, and how."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import option, split_symbol

COMMITMENTS = ("processed", "confirmed", "finalized")


def _is_pubkey(text: str) -> bool:
    from solders.pubkey import Pubkey

    try:
        Pubkey.from_string(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class OrcaSettings:
    """Whirlpool states over Solana RPC (load) and WebSocket ``accountSubscribe`` (updates)."""

    rpc_urls: list[str] = option(["https://api.mainnet-beta.solana.com"], min_items=1, url="node",
                                 help="Solana JSON-RPC URLs, tried in order: the next is used when one fails")
    ws_urls: list[str] = option(["wss://api.mainnet-beta.solana.com"], min_items=1, url="node_ws",
                                help="Solana WebSocket URLs for accountSubscribe, tried in turn on reconnect")
    pools: dict[str, str] = option({"SOL/USDC": "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"},
                                   help='market "BASE/QUOTE" -> Whirlpool account address')
    tokens: dict[str, str] = option(
        {"SOL": "So11111111111111111111111111111111111111112:9",
         "USDC": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v:6"},
        help='asset -> "MINT:DECIMALS", or "MINT" to read the decimals from the mint account')
    tick_arrays_each_side: int = option(3, ge=1, le=20,
                                        help="tick arrays watched on each side of the one holding the current tick; "
                                             "a quote never reaches past them (the liquidity there is unknown), nor "
                                             "past the 3 arrays one swap crosses (the current one and 2 beyond)")
    commitment: str = option("confirmed", help='"processed", "confirmed" or "finalized"')
    request_timeout_s: float = option(5.0, ge=0.01, le=600, help="HTTP timeout of one RPC request")
    silence_timeout_s: float = option(60.0, ge=0.1, le=86_400,
                                      help="no notification for this long: reconnect and re-read the accounts")
    confirm_after_s: float = option(5.0, ge=0, le=86_400,
                                    help="a LIVE pool with no change for this long is read again and, once the "
                                         "read proves its state current, published with the read's time and slot "
                                         "(keep it under staleness's stale_after_s); 0: never")
    mint_refresh_s: float = option(600.0, ge=0, le=86_400,
                                   help="the mints and the epoch are read again this often: a Token-2022 transfer "
                                        "fee scheduled since, or the newer fee's epoch reached, is quoted without "
                                        "waiting for a resync; 0: only at a resync")
    reconnect_initial_s: float = option(0.25, ge=0.01, le=600,
                                        help="first reconnect delay (with jitter); doubles per failure")
    reconnect_max_s: float = option(30.0, ge=0.01, le=3600, help="longest reconnect delay")
    start_timeout_s: float = option(10.0, ge=0, le=600, help="start waits this long for every pool's first state")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.commitment not in COMMITMENTS:
            problems.append(("commitment", 'expected "processed", "confirmed" or "finalized"'))
        if not self.pools:
            problems.append(("pools", 'give at least one market, e.g. {"SOL/USDC" = "<whirlpool address>"}'))
        for asset, value in self.tokens.items():
            mint, _, decimals = value.partition(":")
            if not _is_pubkey(mint) or (decimals and (not decimals.isdigit() or int(decimals) > 18)):
                problems.append(("tokens", f'{asset}: expected "MINT" or "MINT:DECIMALS" (0-18), got {value!r}'))
        for symbol, address in self.pools.items():
            try:
                base, quote = split_symbol(symbol)
            except ValueError as exc:
                problems.append(("pools", str(exc)))
                continue
            if not _is_pubkey(address):
                problems.append(("pools", f"{symbol}: {address!r} is not a base58 account address"))
            for asset in (base, quote):
                if asset not in self.tokens:
                    problems.append(("tokens", f'{symbol}: no mint for {asset}; add {asset} = "MINT:DECIMALS"'))
        return problems

    def token(self, asset: str) -> tuple[str, int | None]:
        """(mint, decimals) of ``asset``; decimals None when they are to be read from the chain."""
        mint, _, decimals = self.tokens[asset].partition(":")
        return mint, int(decimals) if decimals else None
