"""The paper DEX's config table (``[exchanges.NAME]`` with ``type = "paper-dex"``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from bot.api import SwapFee, option, split_symbol


@dataclass(frozen=True)
class PaperDexSettings:
    """One simulated pool: its shape and depth, how other traders move it, swap costs, balances."""

    symbol: str = option("SOL/USDC", help="the pool's market, BASE/QUOTE (the base is the pool's token A)")
    market: Literal["simulated", "mirror", "recording"] = option(
        "simulated", help='"simulated": our own pool (see pool, anchor); "mirror": swap against the latest pool '
        'state another configured exchange publishes (see source); "recording": swap against a recorded pool '
        "(see recording)",
    )  # fmt: skip
    recording: str = option(
        "", help='market = "recording": the JSONL file made by `arbot record --exchange orca`, relative to the '
        "working directory",
    )  # fmt: skip
    recording_exchange: str = option(
        "orca", help='market = "recording": the exchange type it was recorded from (its recorder rebuilds the pool)'
    )
    recording_symbol: str = option("", help='market = "recording": the recorded market, BASE/QUOTE; "" = symbol')
    playback_speed: Decimal = option(
        Decimal("1"), ge=0, help='market = "recording": 1 plays at the recorded pace, 10 ten times faster; 0: the '
        "recording advances only when step() is called (backtests)",
    )  # fmt: skip
    source: str = option(
        "", help='market = "mirror": name of the configured exchange whose PoolUpdates of symbol are traded against'
    )
    pool: Literal["constant-product", "concentrated"] = option(
        "concentrated", help='"constant-product" (x*y=k, Raydium-style) or "concentrated" (an Orca Whirlpool)'
    )
    base_decimals: int = option(9, ge=0, le=18, help="decimals of the base token (SOL: 9)")
    quote_decimals: int = option(6, ge=0, le=18, help="decimals of the quote token (USDC: 6)")
    start_price: Decimal = option(Decimal("150"), gt=0, help="the pool's first price, quote per base")
    tvl: Decimal = option(
        Decimal("2000000"), gt=0, help="depth: total value locked at the start price, in quote units"
    )
    fee_bps: int = option(4, ge=0, lt=10_000, help="the pool's fee, basis points of the input (stays in the pool)")
    tick_spacing: int = option(4, ge=1, le=32768, help="concentrated: ticks between two usable ticks (Orca: 1..256)")
    position_widths_bps: list[int] = option(
        [50, 100, 250, 500, 1000, 2500, 5000],
        help="concentrated: one liquidity position per half-width around the start price, bps; tvl is split "
        "equally among them (narrow ones make the pool deep near the price)",
    )  # fmt: skip
    anchor: str = option(
        "", help="name of the configured exchange whose book the pool follows (other traders arbitrage it back "
        'toward that mid); "" for a random walk of its own',
    )  # fmt: skip
    anchor_symbol: str = option("", help='anchor market, BASE/QUOTE; "" = symbol')
    reversion: Decimal = option(
        Decimal("0.3"), ge=0, le=1, help="fraction of the gap to the anchor mid that other traders close per step "
        "(on average; each step draws it between half and one and a half times this)",
    )  # fmt: skip
    volatility_bps: Decimal = option(
        Decimal("1"), ge=0, le=1_000, help="standard deviation of the pool's own move per step (noise traders), bps "
        "(at most 1000: a 10% standard deviation a step; a wider one would take the pool's price to zero)"
    )
    dislocation_probability: Decimal = option(
        Decimal("0.02"), ge=0, le=1, help="chance per step of a whale swap that dislocates the pool"
    )
    dislocation_min_bps: Decimal = option(Decimal("20"), ge=0, le=5_000, help="smallest whale move, bps of the price")
    dislocation_max_bps: Decimal = option(
        Decimal("80"), ge=0, le=5_000, help="largest whale move, bps of the price (at most 5000: half the price)"
    )
    tick_interval_ms: int = option(
        200, ge=0, le=3_600_000,
        help="time between two pool steps; 0: the pool moves only when step() is called (backtests)"
    )
    seed: int = option(7, ge=0, le=2**32 - 1, help="seed of the pool's moves: the same seed gives the same pool")
    latency_ms: int = option(
        0, ge=0, le=60_000,
        help="time from a swap request to its execution, against the pool as it is then (Solana: ~400)"
    )
    signature_fee_lamports: int = option(5000, ge=0, le=1_000_000_000, help="network fee per signature, lamports")
    compute_unit_price_micro_lamports: int = option(
        10_000, ge=0, le=10**12, help="priority fee: micro-lamports per compute unit"
    )
    compute_units: int = option(150_000, ge=0, le=1_400_000,
                                help="compute units one swap uses (the priority fee is charged on them)")
    token_account_rent_lamports: int = option(
        2_039_280, ge=0, le=1_000_000_000,
        help="rent a swap pays, in SOL, for the output token account it creates when the wallet has none for that "
        "token (a token in its balances has one; native SOL needs none): the chain's rent-exempt minimum of a "
        "165-byte SPL token account",
    )  # fmt: skip
    wallet: str = option(
        "", help="name of another paper-dex exchange, configured before this one, whose wallet this pool's swaps "
        "use (one wallet for several pools, as on Solana: its balances and its state_file; initial_balances "
        'here are then unused); "" for a wallet of its own',
    )  # fmt: skip
    initial_balances: dict[str, str] = option(
        {"SOL": "100", "USDC": "15000"},
        help="token balances of a new paper wallet, asset -> decimal string (network fees are paid in SOL)",
    )  # fmt: skip
    withdrawal_fees: dict[str, str] = option(
        {}, help="simulated transfers out: the wallet's own fee per asset, decimal string (0 for a wallet)")
    withdrawal_minimums: dict[str, str] = option({}, help="simulated transfers out: smallest amount per asset")
    network_fee_sol: Decimal = option(
        Decimal("0.000005"), ge=0, help="simulated transfers out: the chain's fee per transfer, in SOL")
    transfer_delay_s: float = option(30.0, ge=0, le=7 * 86_400,
                                     help="a simulated transfer to or from this wallet takes this long")
    state_file: str = option(
        "paper-dex.db", owned_file=True,
        help='SQLite file of the wallet, pool and swaps, relative to the data directory (one per paper-dex '
        'exchange, never shared); "" keeps it in memory',
    )  # fmt: skip

    def validate(self) -> list[tuple[str, str]]:
        """Cross-field checks: (key, problem) pairs."""
        problems: list[tuple[str, str]] = []
        for key in ("symbol", "anchor_symbol"):
            value = getattr(self, key)
            if value or key == "symbol":
                try:
                    split_symbol(value)
                except ValueError as exc:
                    problems.append((key, str(exc)))
        if self.dislocation_min_bps > self.dislocation_max_bps:
            problems.append(("dislocation_min_bps", f"{self.dislocation_min_bps} is above dislocation_max_bps "
                                                    f"{self.dislocation_max_bps}"))
        if not self.position_widths_bps:
            problems.append(("position_widths_bps", "needs at least one width, e.g. [100, 1000]"))
        for width in self.position_widths_bps:
            if not 0 < width < 10_000:
                problems.append(("position_widths_bps", f"{width} is not in (0, 10000) bps"))
        transfer_tables = (("withdrawal_fees", self.withdrawal_fees), ("withdrawal_minimums", self.withdrawal_minimums))
        for key, table in transfer_tables:
            for asset, text in table.items():
                if not _positive_decimal(text, allow_zero=True):
                    problems.append((f"{key}.{asset}", f'expected a decimal number >= 0 as a string, got "{text}"'))
        for asset, text in self.initial_balances.items():
            if not _positive_decimal(text, allow_zero=True):
                problems.append((f"initial_balances.{asset}", f'expected a decimal number >= 0 as a string, '
                                                              f'got "{text}"'))
        if self.market == "mirror":
            if not self.source:
                problems.append(("source", 'market = "mirror" needs the name of a configured exchange publishing '
                                           'pools, e.g. source = "orca"'))
            if self.anchor:
                problems.append(("anchor", 'a mirrored pool follows its source, not an anchor; remove anchor'))
        elif self.source:
            problems.append(("source", f'only used with market = "mirror" (market is "{self.market}")'))
        if self.market == "recording":
            if not self.recording:
                problems.append(("recording", 'market = "recording" needs the file: recording = "FILE.jsonl" (made by '
                                              "`arbot record --exchange orca --symbol S --out FILE.jsonl`)"))
            elif not self.recording_path().is_file():
                problems.append(("recording", f"no such file: {self.recording_path()}"))
            if self.anchor:
                problems.append(("anchor", "a recorded pool moves as recorded, not toward an anchor; remove anchor"))
        elif self.recording or self.recording_symbol:
            key = "recording" if self.recording else "recording_symbol"
            problems.append((key, f'only used with market = "recording" (market is "{self.market}")'))
        if self.network_fee_lamports() and "SOL" not in self.initial_balances:
            problems.append(("initial_balances", 'network fees are paid in SOL: give the wallet some, e.g. '
                                                 'initial_balances = { SOL = "10", USDC = "1000" }'))
        return problems

    def swap_fee(self) -> SwapFee:
        """The network fee of one swap: signature fee and priority fee, lamports (the priority fee rounds up, as on
        chain). What every swap is charged, and what :meth:`PaperDexExchange.swap_fee_lamports` tells a strategy
        with the rent of an output token account the swap would create."""
        priority = -(-self.compute_unit_price_micro_lamports * self.compute_units // 1_000_000)
        return SwapFee(self.signature_fee_lamports, priority)

    def network_fee_lamports(self) -> int:
        """Signature fee plus priority fee of one swap, lamports (:meth:`swap_fee`)."""
        return self.swap_fee().total_lamports

    @property
    def anchor_market(self) -> str:
        return self.anchor_symbol or self.symbol

    def recording_path(self) -> Path:
        """The recording file (``~`` expanded, relative to the working directory)."""
        return Path(self.recording).expanduser().absolute()


def _positive_decimal(text: str, *, allow_zero: bool = False) -> bool:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return False
    return value.is_finite() and (value >= 0 if allow_zero else value > 0)
