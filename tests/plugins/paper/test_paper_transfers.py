"""The paper venue as a transfer source: what ``transfer.amount`` means (docs/plugins.md, TransferVenue)."""

from __future__ import annotations

from decimal import Decimal

from bot.api import Transfer, TransferStatus


async def test_the_source_debits_the_amount_plus_its_own_withdrawal_fee_never_the_destinations_deposit_fee(
        make_exchange, bot):
    """``transfer.fee`` is the withdrawal fee plus the destination's deposit fee (0.01 + 0.02 SOL): the source pays
    only its own 0.01 on top of the 5 SOL it sends; the 0.02 is kept by the destination out of what arrives."""
    paper = make_exchange(initial_balances={"USD": "100000", "SOL": "100"}, withdrawal_fees={"SOL": "0.01"})
    await paper.start()
    now = bot.clock.time_ns()
    t = Transfer("rb-paper-1", "SOL", Decimal("5"), "paper", "kraken", "KrakenDeposit", Decimal("0.03"), Decimal(0),
                 TransferStatus.PLANNED, now, now)
    await paper.withdraw(t)
    assert (await paper.balances())["SOL"].total == Decimal("100") - Decimal("5.01")
    await paper.withdraw(t)  # asked again: never twice
    assert (await paper.balances())["SOL"].total == Decimal("94.99")
