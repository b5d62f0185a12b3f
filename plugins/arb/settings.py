"""Settings of the arb strategy: one ``[strategies.NAME]`` table with ``type = "arb"``.

One dataclass, in sections: venues, pricing (read by :mod:`plugins.arb.pricing`), then the keys
of execution and inventory (added by the engineers who own those modules). Money keys are
Decimal; durations and counts are ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.api import option, split_symbol

SOL = "SOL"
"""The token Solana's network and priority fees are paid in."""


@dataclass(frozen=True, kw_only=True)
class ArbSettings:
    """One ``[strategies.NAME]`` table with ``type = "arb"``: a CEX book against a Solana DEX pool."""

    # --- venues ------------------------------------------------------------------------------
    cex: str = option(help="CEX exchange instance (the NAME of an [exchanges.NAME] table) whose book is walked")
    dex: str = option(help="DEX exchange instance the swap leg is sent to (paper-dex, jupiter, ...)")
    pool: str | None = option(
        None, help="exchange instance whose pool updates price the DEX leg, when it is not dex "
                   "(e.g. an orca pool feed while swaps go through jupiter)")
    symbol: str = option(help='market on both venues, "BASE/QUOTE" (e.g. "SOL/USDC")')

    # --- pricing (plugins.arb.pricing) -------------------------------------------------------
    min_edge_bps: Decimal = option(
        Decimal(10), ge=0, le=10_000,
        help="trade only when the net edge, after every cost, is strictly above this many bps of the buy leg")
    cex_taker_fee_bps: Decimal | None = option(
        None, ge=0, lt=10_000,
        help="your taker fee on the CEX, in bps of the CEX leg's notional; unset: the fee the exchange states "
             "for the market (paper venues do; set it for venues that do not, or when your tier differs)")
    max_cex_slippage_bps: Decimal = option(
        Decimal(20), ge=0, lt=10_000,
        help="walk the CEX book only to levels within this many bps of the touch (the IOC limit price)")
    max_dex_impact_bps: Decimal = option(
        Decimal(30), ge=0, lt=10_000,
        help="largest DEX price impact accepted, in bps of the swap's value at the pool mid")
    max_notional: Decimal = option(
        gt=0, help="largest buy leg, in quote currency (size x the buy venue's touch or pool mid)")
    size_step: Decimal = option(
        gt=0, help="sizes tried are multiples of this base quantity (a multiple of the CEX lot size)")
    min_size: Decimal = option(
        Decimal(0), ge=0, help="smallest base quantity worth trading (the CEX minimum applies too)")
    latency_haircut_bps: Decimal = option(
        Decimal(2), ge=0, le=10_000,
        help="cost charged for the price moving while the legs are in flight, in bps of the buy leg")
    signature_fee_lamports: int = option(
        5_000, ge=0, le=1_000_000_000,
        help="Solana base fee of one swap transaction, in lamports (5000 per signature); only for a DEX venue that "
             "does not tell its own swap fee (paper-dex and jupiter do)")
    compute_units: int = option(
        200_000, ge=0, le=1_400_000,
        help="compute-unit limit of one swap transaction (the priority fee is paid on it); only for a DEX venue "
             "that does not tell its own swap fee")
    compute_unit_price_micro_lamports: int = option(
        10_000, ge=0, le=10**12,
        help="priority fee: compute-unit price in micro-lamports; only for a DEX venue that does not tell its own "
             "swap fee")
    sol_price: Decimal | None = option(
        None, gt=0,
        help="price of SOL in quote currency, to convert network fees; needed only when neither base nor "
             "quote is SOL (otherwise the CEX mid is used)")
    dex_slippage_bps: Decimal = option(
        Decimal(10), ge=0, lt=10_000,
        help="tolerance written into the DEX leg: minimum out (sell) / maximum in (buy) vs the quote, in bps")
    inventory_weight: Decimal = option(
        Decimal(1), gt=0,
        help="with other arb strategies on the same venues: this one's share of each balance they all count on "
             "(the CEX's quote, the wallet's quote and SOL), against their weights; 1 each splits it evenly")
    max_input_age_ms: int = option(
        500, ge=1, le=3_600_000,
        help="a book or pool state older than this many milliseconds is never used for a decision")

    # --- execution (plugins.arb.execution) ---------------------------------------------------
    concurrent_legs: bool = option(
        True, help="send the CEX and DEX legs at once (true), or one after the other in leg_order (false)")
    leg_order: Literal["cex-first", "dex-first"] = option(
        "cex-first", help='concurrent_legs = false: which leg goes first, "cex-first" or "dex-first"; the '
                          "second is sent for what the first filled")
    leg_gap_ms: int = option(
        0, ge=0, le=600_000,
        help="concurrent_legs = false: wait this long between the first leg's end and the second leg "
                      "(0 in normal use; crash tests widen the window between the legs with it)")
    cooldown_ms: int = option(
        1000, ge=0, le=86_400_000,
        help="after an execution is done, wait this long before the next one (one at a time)")
    hedge: Literal["ioc", "hold"] = option(
        "ioc", help='a leg that filled more than the other leaves base over: "ioc" closes it on the CEX with an '
                    'IOC limit order, with what earlier executions left too small to hedge alone (the pending '
                    'residual), "hold" keeps it; both alert the exposure')
    hedge_max_slippage_bps: Decimal = option(
        Decimal(50), ge=0, lt=10_000,
        help="the hedge's IOC limit: at most this many bps through the CEX touch (sells below the bid, buys above "
             "the ask)")
    opportunity_refresh_ms: int = option(
        5000, ge=0, le=86_400_000,
        help="an ongoing opportunity is published again (and recorded) at most this often while its "
                         "figures change; a new one, a new direction or a change of tradable is published at once")


    # --- inventory (plugins.arb.inventory) ---------------------------------------------------
    inventory_refresh_s: float = option(
        30.0, ge=0.1, le=86_400, help="how often both venues' balances are read (fills adjust them in between)")


    def validate(self) -> list[tuple[str, str]]:
        """Cross-field checks: (key, problem) pairs."""
        problems = []
        try:
            base, quote = split_symbol(self.symbol)
        except ValueError as exc:
            problems.append(("symbol", str(exc)))
        else:
            if self.sol_price is None and SOL not in (base, quote):
                problems.append(("sol_price", (f"is required for {self.symbol}: network fees are paid in SOL and "
                                              f"neither {base} nor {quote} is SOL; set sol_price = <{quote} per SOL>")))
        if self.pool is not None and self.pool == self.cex:
            problems.append(("pool", f"names the CEX ({self.cex!r}); name the exchange publishing the DEX pool"))
        if self.dex == self.cex:
            problems.append(("dex", f"is the same exchange as cex ({self.cex!r}); arbitrage needs two venues"))
        return problems
