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
    # the transfers' key holds one row whatever happens (a second is refused: test_paper_sqlite_file.py); the
    # request log says the venue was asked twice and sent once
    assert paper._transfer_file().withdrawal_requests("rb-paper-1") == ["sent", "made already"]


async def test_the_recorded_fee_is_what_the_paper_venue_debited(make_exchange, bot, db_url):
    """The paper venue's withdrawal fee is its setting, read when quoting and when withdrawing alike: it says no
    other fee (``withdrawal_fee`` None) and the quote the service records is what it debited, every digit."""
    import logging
    from types import SimpleNamespace

    from bot.store import Store
    from plugins.rebalance.planner import Proposal
    from plugins.rebalance.service import RebalanceService
    from plugins.rebalance.settings import RebalanceSettings
    from tests.plugins.rebalance.rebalance_kit import inline_later

    source = make_exchange(initial_balances={"USD": "100000", "SOL": "100"}, withdrawal_fees={"SOL": "0.0123"})
    destination = make_exchange("other", initial_balances={"USD": "100000", "SOL": "1"})
    await source.start()
    await destination.start()
    store = Store(db_url).open()
    try:
        ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                              clock=bot.clock, log=logging.getLogger("arbot.rebalance"),
                              alert=lambda level, kind, message, **fields: None,
                              operator=SimpleNamespace(exchanges={"paper": source, "other": destination}))
        service = RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx)  # type: ignore[arg-type]
        terms = await source.transfer_terms("SOL")
        assert terms is not None
        sent = await service.send(Proposal("SOL", "paper", "other", Decimal("5"), terms, Decimal("0.01"),
                                           Decimal("101")))
        debited = Decimal("100") - (await source.balances())["SOL"].total - sent.amount
        (stored,) = store.transfers()
        assert stored.status is TransferStatus.SENT and stored.fee == debited == Decimal("0.0123")
    finally:
        store.close()
