"""The rebalancing plan: per asset, what each venue holds against the split the strategies need.

A strategy that trades one market on two venues (the arbitrage: ``cex``, ``dex``, ``symbol`` in its
settings) needs both assets of the market on both venues: it sells the base where it is dear and
buys it where it is cheap, in both directions. Its target split is half of each asset on each
venue. When one venue's share of an asset falls ``threshold`` below its target, :func:`plan`
proposes moving, from the richer venue, what brings the poorer one back to its target once the
destination has kept its deposit fee (capped by ``max_per_transfer``, by what the source holds free
of open orders, less its fees, by its withdrawal limit and by the destination's deposit limit; rounded down to the
source's ``step``),
priced with the source venue's terms. The amount is what reaches the destination's address: the
source pays its own fees on top, the destination keeps its deposit fee out of it (docs/plugins.md).
A capped move says by how much the destination still falls short of its target, and why.
Pure functions: the service feeds them balances, terms and the destination's deposit fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bot.api import ZERO, TransferTerms, split_symbol
from bot.api.ledger import exact_amount as amount_text

HALF = Decimal("0.5")
QUANTUM = Decimal("0.000001")
"""Proposed amounts are rounded down to this (SOL has 9 decimals, USDC 6)."""


@dataclass(frozen=True, slots=True)
class Need:
    """One asset a strategy needs on two venues, half on each."""

    strategy: str
    asset: str
    venues: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Proposal:
    """Move ``amount`` of ``asset`` from ``source`` to ``destination``, at the source's ``terms``."""

    asset: str
    source: str
    destination: str
    amount: Decimal
    terms: TransferTerms
    share: Decimal
    """The destination's share of the asset when proposed."""
    total: Decimal
    deposit_fee: Decimal = ZERO
    """What the destination keeps of the deposit, in ``asset`` (:meth:`bot.api.TransferVenue.deposit_fee`)."""
    held: Decimal = ZERO
    """What the destination holds of the asset when proposed."""
    limited_by: str = ""
    """Why the amount is less than what meets the target (a cap, the source's free funds, its withdrawal limit, the
    destination's deposit limit)."""

    def shortfall(self) -> Decimal:
        """How much the destination still lacks of its target (half the total) once this transfer is credited, less
        its deposit fee: 0 when the move meets it (a rounding to the source's step aside)."""
        return max(ZERO, self.total * HALF - (self.held + self.amount - self.deposit_fee))

    def costs(self) -> str:
        t = self.terms
        network = (f"network fee {amount_text(t.network_fee, t.network_fee_asset)} {t.network_fee_asset}, "
                   if t.network_fee else "")
        deposit = (f"deposit fee {amount_text(self.deposit_fee, self.asset)} {self.asset} at {self.destination}, "
                   if self.deposit_fee else "")
        return (f"withdrawal fee {amount_text(t.fee, self.asset)} {self.asset} (minimum "
                f"{amount_text(t.minimum, self.asset)}), {deposit}{network}"
                f"expected in ~{t.expected_s:g} s")

    def describe(self) -> str:
        short = self.shortfall()
        rounding = max(self.terms.step, QUANTUM)  # the amount is rounded down to whole steps: not worth a word
        if not self.limited_by and short > rounding:  # the deposit fee was asked again and grew since the plan
            why = f"{self.destination}'s deposit fee {amount_text(self.deposit_fee, self.asset)} {self.asset}"
        else:
            why = self.limited_by
        falls = (f"; {self.destination} ends {amount_text(short, self.asset)} {self.asset} short of its target ({why})"
                 if short > rounding or (short > 0 and self.limited_by) else "")
        return (f"{self.destination} holds {self.share:.0%} of {amount_text(self.total, self.asset)} {self.asset} "
                f"(target 50%): move {amount_text(self.amount, self.asset)} {self.asset} {self.source} -> "
                f"{self.destination}{falls}; {self.costs()}")


def needs(strategies: dict[str, Any]) -> list[Need]:
    """What the running strategies need, from their settings (strategies on one venue need nothing moved)."""
    out: list[Need] = []
    for name, settings in strategies.items():
        cex, dex, symbol = (getattr(settings, key, None) for key in ("cex", "dex", "symbol"))
        if not (isinstance(cex, str) and isinstance(dex, str) and isinstance(symbol, str)) or cex == dex:
            continue
        for asset in split_symbol(symbol):
            out.append(Need(name, asset, (cex, dex)))
    return out


def plan(need: Need, held: dict[str, Decimal], terms: dict[str, TransferTerms | None], threshold: Decimal,
         cap: Decimal | None, free: dict[str, Decimal] | None = None, deposit_fee: Decimal = ZERO,
         deposit_limit: Decimal | None = None) -> Proposal | None:
    """A transfer for ``need`` if one venue drifted below its target, else None.

    ``held``: what each venue holds of the asset (total; the service plans nothing for an asset
    while one of its transfers is on its way); ``terms``: each venue's withdrawal terms for the
    asset (None: it cannot send it); ``free``: what each venue holds free of open orders (None: all of ``held``);
    ``deposit_fee``: what the destination keeps of the deposit, added to the amount so the destination ends on its
    target after it; ``deposit_limit``: the most the destination credits of one deposit, net of that fee
    (:meth:`bot.api.TransferVenue.deposit_limit`; None: no limit), a cap as ``cap`` is. The amount never exceeds the
    source's free funds less its withdrawal fee (and a network fee it pays in the same asset): what a strategy's
    resting orders hold is never withdrawn from under them.
    """
    a, b = need.venues
    have = {v: held.get(v, ZERO) for v in (a, b)}
    total = have[a] + have[b]
    if total <= 0:
        return None
    poor, rich = (a, b) if have[a] <= have[b] else (b, a)
    share = have[poor] / total
    if share >= HALF - threshold:
        return None
    source_terms = terms.get(rich)
    if source_terms is None:
        return None
    amount = total * HALF - have[poor] + deposit_fee  # the destination keeps its fee out of what arrives
    spendable = (free if free is not None else held).get(rich, ZERO) - source_terms.fee
    if source_terms.network_fee_asset == need.asset:  # a wallet pays the chain's fee from the same funds
        spendable -= source_terms.network_fee
    limits = [(spendable, f"what {rich} holds free of open orders, less its fees")]
    if cap is not None:
        limits.append((cap, f"max_per_transfer {cap} {need.asset}"))
    if source_terms.maximum is not None:  # the venue's withdrawal limit: more would be refused there
        limits.append((source_terms.maximum, f"{rich}'s withdrawal limit {source_terms.maximum} {need.asset}"))
    if deposit_limit is not None:  # the destination's: more would be held back there, not credited
        limits.append((deposit_limit + deposit_fee, f"{poor}'s deposit limit {deposit_limit} {need.asset}"))
    limit, why = min(limits, key=lambda limit: limit[0])
    limited_by = why if limit < amount else ""
    amount = min(amount, limit).quantize(QUANTUM, rounding=ROUND_DOWN)
    if source_terms.step > 0:  # the source sends whole steps only (ccxt rounds to the currency's precision)
        amount = (amount / source_terms.step).to_integral_value(rounding=ROUND_DOWN) * source_terms.step
    if amount <= 0 or amount < source_terms.minimum:
        return None
    return Proposal(need.asset, rich, poor, amount, source_terms, share, total, deposit_fee, have[poor], limited_by)
