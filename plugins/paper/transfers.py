"""Simulated transfers between paper venues: withdrawals with fees, deposits credited after a delay.

Both paper venues (the exchange and the DEX wallet) mix in :class:`PaperTransfers`, so inventory
rebalancing (``plugins/rebalance``) can move funds between them in a paper run as it would between
a CEX and a wallet: the source debits the amount plus its withdrawal fee (``withdrawal_fees``, in the
asset) and the chain's fee (``network_fee_sol``, in SOL, paid by a wallet) at once; the destination
credits the amount ``transfer_delay_s`` after it was sent, when it is asked (:meth:`credited`). Both
sides log the transfer in the venue's own file under its transfer id, in the transaction that moves
the balance, so asking twice (after a crash) never moves funds twice; every withdrawal asked for is logged too, with
what the venue did (``withdrawal_requests``: a test counts the sends there, which the transfers' key cannot show).

The fees are the venue's settings, read alike when the transfer is quoted and when it is withdrawn: they cannot change
in between, so the venue says no other fee (:meth:`~bot.api.TransferVenue.withdrawal_fee` is the default None) and the
quote the rebalancer records is what was debited.
"""

from __future__ import annotations

import abc
from decimal import Decimal
from typing import Any

from bot.api import InsufficientFunds, PermanentError, Transfer, TransferStatus, TransferTerms, TransferVenue

from .sqlite_file import VenueFile

ZERO = Decimal(0)


class PaperTransfers(TransferVenue):
    """The transfer half of a paper venue; its settings carry ``withdrawal_fees``, ``withdrawal_minimums``,
    ``network_fee_sol`` and ``transfer_delay_s``."""

    name: str
    settings: Any

    @abc.abstractmethod
    def _transfer_file(self) -> VenueFile:
        """The venue's own file (started)."""

    @abc.abstractmethod
    def _free(self, asset: str) -> Decimal:
        """What the venue can send of ``asset`` now."""

    @abc.abstractmethod
    def _move_funds(self, deltas: dict[str, Decimal]) -> dict[str, Decimal]:
        """The new totals after adding ``deltas`` (not yet applied)."""

    @abc.abstractmethod
    def _funds_moved(self, totals: dict[str, Decimal]) -> None:
        """``totals`` were committed: memory follows."""

    @abc.abstractmethod
    def _now_ns(self) -> int: ...

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        s = self.settings
        return TransferTerms(asset, Decimal(s.withdrawal_fees.get(asset, "0")),
                             Decimal(s.withdrawal_minimums.get(asset, "0")), s.network_fee_sol, "SOL",
                             float(s.transfer_delay_s))

    async def deposit_address(self, asset: str) -> str:
        return f"paper:{self.name}:{asset}"

    async def withdraw(self, transfer: Transfer) -> str:
        f = self._transfer_file()
        if f.transfer(transfer.transfer_id, "out") is not None:  # sent already: never twice
            with f.transaction():
                f.record_withdrawal_request(transfer.transfer_id, "made already", self._now_ns())
            return f"paper-{transfer.transfer_id}"
        terms = await self.transfer_terms(transfer.asset)
        assert terms is not None
        if transfer.amount < terms.minimum:
            raise PermanentError(f"{self.name}: {transfer.amount} {transfer.asset} is below the withdrawal minimum "
                                 f"{terms.minimum}")
        deltas = {transfer.asset: -(transfer.amount + terms.fee)}
        if terms.network_fee:
            deltas[terms.network_fee_asset] = deltas.get(terms.network_fee_asset, ZERO) - terms.network_fee
        for asset, delta in deltas.items():
            if self._free(asset) + delta < 0:
                raise InsufficientFunds(f"{self.name}: withdrawing {transfer.amount} {transfer.asset} needs "
                                        f"{-delta} {asset}, {self._free(asset)} free")
        totals = self._move_funds(deltas)
        with f.transaction():
            f.record_withdrawal_request(transfer.transfer_id, "sent", self._now_ns())
            f.record_transfer(transfer.transfer_id, "out", transfer.asset, transfer.amount, self._now_ns())
            f.save_balances(totals)
        self._funds_moved(totals)
        return f"paper-{transfer.transfer_id}"

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return None if self._transfer_file().transfer(transfer.transfer_id, "out") is None else TransferStatus.SENT

    async def credited(self, transfer: Transfer) -> bool:
        f = self._transfer_file()
        if f.transfer(transfer.transfer_id, "in") is not None:
            return True
        delay_ns = int(Decimal(str(self.settings.transfer_delay_s)) * 1_000_000_000)
        if self._now_ns() < transfer.updated_ns + delay_ns:
            return False  # still on its way
        totals = self._move_funds({transfer.asset: transfer.amount})
        with f.transaction():
            f.record_transfer(transfer.transfer_id, "in", transfer.asset, transfer.amount, self._now_ns())
            f.save_balances(totals)
        self._funds_moved(totals)
        return True
