"""A transfer's recorded cost is the fee its source charged (``TransferVenue.withdrawal_fee``) plus the destination's
deposit fee: asked once the withdrawal is made or found after a restart; the quote where the source does not say."""

from __future__ import annotations

import logging
import time
from decimal import Decimal as D
from types import SimpleNamespace

from bot.api import Transfer, TransferStatus, TransferTerms, TransferVenue, TransientError
from bot.store import Store
from plugins.rebalance.planner import Proposal
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

QUOTE = TransferTerms("SOL", D("0.01"), D("0.1"), D(0), "SOL", 600.0)


class _Cex(TransferVenue):
    """The source: quotes 0.01 SOL, charges ``charged`` (None: does not say; an exception: cannot be asked now)."""

    def __init__(self, charged: D | Exception | None) -> None:
        self.charged = charged
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return QUOTE

    async def deposit_address(self, asset: str) -> str:
        return "CexDeposit"

    async def withdraw(self, transfer: Transfer) -> str:
        if transfer.transfer_id not in {t.transfer_id for t in self.sent}:
            self.sent.append(transfer)
        return f"ref-{transfer.transfer_id}"

    async def withdrawal_fee(self, transfer: Transfer) -> D | None:
        assert transfer.venue_ref == f"ref-{transfer.transfer_id}"  # asked once the withdrawal is made
        if isinstance(self.charged, Exception):
            raise self.charged
        return self.charged

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT if transfer.transfer_id in {t.transfer_id for t in self.sent} else None

    async def credited(self, transfer: Transfer) -> bool:
        return False


class _Exchange(_Cex):
    """The destination: keeps 0.02 SOL of a deposit."""

    def __init__(self) -> None:
        super().__init__(None)
        self.asked = 0

    async def deposit_address(self, asset: str) -> str:
        return "ExchangeDeposit"

    async def deposit_fee(self, asset: str, amount: D) -> D:
        self.asked += 1
        return D("0.02")


def service(store: Store, cex: _Cex, exchange: _Exchange) -> tuple[RebalanceService, list[str]]:
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", store=store, read_later=inline_later, write_later=inline_later,
                          clock=SimpleNamespace(time_ns=time.time_ns), log=logging.getLogger("arbot.rebalance"),
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"cex": cex, "exchange": exchange}))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx), alerts  # type: ignore[arg-type]


PROPOSAL = Proposal("SOL", "cex", "exchange", D("5"), QUOTE, D("0.1"), D("100"), deposit_fee=D("0.02"))


async def test_the_fee_charged_is_recorded_with_the_deposit_fee_and_said_when_it_is_not_the_quote(db_url):
    store = Store(db_url).open()
    try:
        sent_service, alerts = service(store, _Cex(D("0.0125")), _Exchange())
        sent = await sent_service.send(PROPOSAL)
        (stored,) = store.transfers()
        assert stored.status is TransferStatus.SENT and stored.fee == sent.fee == D("0.0325")  # 0.0125 + 0.02
        assert any("fees 0.0325 SOL as charged, not the 0.03 SOL quoted" in a for a in alerts), alerts
    finally:
        store.close()


async def test_a_source_that_does_not_say_or_cannot_be_asked_keeps_the_quote_and_the_transfer_is_sent_once(db_url):
    """The withdrawal is made: a fee look-up that fails must neither fail the transfer nor leave it to be sent
    again; the quote (0.01 + the deposit fee 0.02) is recorded."""
    store = Store(db_url).open()
    try:
        cex = _Cex(None)
        for charged in (None, TransientError("cex: 502 Bad Gateway"), KeyError("fee")):
            cex.charged = charged
            rebalancer, alerts = service(store, cex, _Exchange())
            sent = await rebalancer.send(PROPOSAL)
            assert (sent.status, sent.fee) == (TransferStatus.SENT, D("0.03")), (charged, alerts)
            await rebalancer.track()
        assert len(cex.sent) == 3  # one withdrawal each, none sent again
        assert [t.status for t in store.transfers()] == [TransferStatus.SENT] * 3
    finally:
        store.close()


async def test_after_a_restart_the_fee_charged_is_recorded_with_the_destinations_deposit_fee_asked_again(db_url):
    """A crash after the withdrawal was made and before SENT was stored: the restarted service finds it at the
    source, records the fee the source charged, and asks the destination its deposit fee again (the run that stored
    the intent, which knew it, is gone)."""
    store = Store(db_url).open()
    try:
        cex, exchange = _Cex(D("0.0125")), _Exchange()
        now = time.time_ns()
        planned = Transfer("rb-crashed", "SOL", D("5"), "cex", "exchange", "ExchangeDeposit", D("0.03"), D(0),
                           TransferStatus.PLANNED, now, now, network_fee_asset="SOL", expected_s=600.0)
        store.save_transfer(planned)
        cex.sent.append(planned)  # the withdrawal was made before the crash
        restarted, alerts = service(store, cex, exchange)
        await restarted.track()
        (stored,) = store.transfers()
        assert (stored.status, stored.fee) == (TransferStatus.SENT, D("0.0325")), alerts
        assert exchange.asked == 1 and len(cex.sent) == 1
    finally:
        store.close()
