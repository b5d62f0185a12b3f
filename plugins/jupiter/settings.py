"""The Jupiter venue's config table (``[exchanges.jupiter]``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import Secret, option, split_symbol


@dataclass(frozen=True, kw_only=True)
class JupiterSettings:
    """Swaps routed by Jupiter, signed by our wallet, sent and confirmed over Solana RPC."""

    api_url: str = option("https://lite-api.jup.ag/swap/v1", url="rest",
                          help="Jupiter Swap API base (GET /quote, POST /swap)")
    rpc_urls: list[str] = option(["https://api.mainnet-beta.solana.com"], min_items=1, url="node",
                                 help="Solana JSON-RPC URLs, tried in order: the next is used when one fails")
    keypair: Secret | None = option(None, help='wallet secret: "env:NAME" or "file:PATH" holding a base58 key '
                                               "or a solana-keygen JSON array")
    keypair_file: str = option("", help="or a solana-keygen JSON key file (refused unless chmod 600)")
    symbols: list[str] = option(["SOL/USDC"], min_items=1, help='markets "BASE/QUOTE"; both assets in tokens')
    tokens: dict[str, str] = option(
        {"SOL": "So11111111111111111111111111111111111111112:9",
         "USDC": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v:6"},
        help='asset -> "MINT:DECIMALS"')
    slippage_bps: int = option(50, ge=0, le=10_000,
                               help="slippage tolerance written into the swap's minimum out (a tighter limit wins)")
    only_direct_routes: bool = option(False, help="single-hop routes only")
    restrict_intermediate_tokens: bool = option(True, help="route only through liquid intermediate tokens")
    dexes: list[str] = option([], help='route only through these DEXes (Jupiter\'s labels, e.g. ["Whirlpool"]); '
                                       "empty: any")
    skip_preflight: bool = option(False, help="sendTransaction without the node's simulation")
    compute_unit_price_micro_lamports: int | None = option(
        None, ge=0, le=10**12,
        help="fixed priority fee (compute-unit price); unset: derived from getRecentPrioritizationFees")
    priority_fee_percentile: int = option(75, ge=0, le=100, help="percentile of recent fees used when derived")
    max_compute_unit_price_micro_lamports: int = option(1_000_000, ge=0, le=10**12,
                                                        help="cap on the priority fee, fixed or derived")
    rebroadcast_s: float = option(2.0, ge=0.01, le=600,
                                  help="resend the same signed transaction this often until it lands")
    poll_s: float = option(0.5, ge=0.01, le=600, help="getSignatureStatuses is polled this often")
    commitment: str = option("confirmed", help='"processed", "confirmed" or "finalized": when a swap counts as done')
    request_timeout_s: float = option(5.0, ge=0.01, le=600, help="HTTP timeout of one Jupiter or RPC request")
    max_sign_attempts: int = option(2, ge=1, le=5,
                                    help="fresh signatures per intent, each only after the last provably expired")
    transfer_expected_s: float = option(
        120.0, gt=0, le=86400, help="inventory transfers out of the wallet: usual time until the receiving venue "
        "credits them")
    fill_lookup_s: float = option(10.0, ge=0, le=3600,
                                  help="a landed swap's transaction is read this long for the realized "
                                                   "amounts and fee; after that the fill shows the quoted amounts")

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if (self.keypair is None) == (not self.keypair_file):
            problems.append(("keypair", "give exactly one of keypair (a secret reference) or keypair_file"))
        if self.commitment not in ("processed", "confirmed", "finalized"):
            problems.append(("commitment", 'expected "processed", "confirmed" or "finalized"'))
        for dex in self.dexes:
            if not dex.strip() or "," in dex:
                problems.append(("dexes", f"{dex!r}: give one Jupiter DEX label per item, e.g. \"Whirlpool\""))
        for asset, value in self.tokens.items():
            mint, _, decimals = value.rpartition(":")
            if not mint or not decimals.isdigit() or int(decimals) > 18:
                problems.append(("tokens", f'{asset}: expected "MINT:DECIMALS", got {value!r}'))
        for symbol in self.symbols:
            try:
                base, quote = split_symbol(symbol)
            except ValueError as exc:
                problems.append(("symbols", str(exc)))
                continue
            for asset in (base, quote):
                if asset not in self.tokens:
                    problems.append(("tokens", f"{symbol}: no mint for {asset}"))
        return problems

    def token(self, asset: str) -> tuple[str, int]:
        """(mint, decimals) of ``asset``."""
        mint, _, decimals = self.tokens[asset].rpartition(":")
        return mint, int(decimals)
