"""A transfer venue's wait followed: once it answers :class:`~bot.api.RateLimited`, the rebalancer asks it nothing more
until the wait it gave (``retry_after_s``: a node's or an exchange's ``Retry-After``) is over.

The service reaches every venue through :class:`Paced`, which holds the waits in one :class:`Waits` (by venue name):
a call inside a wait raises :class:`~bot.api.RateLimited` with the time left and never reaches the venue; a
:class:`~bot.api.RateLimited` the venue answers starts a wait (one without a time holds the venue ``floor_s``, the
service's next pass: never an immediate retry). The service skips what it would ask a waiting venue (a need's terms,
a transfer's look-up) until the wait is over, as the executor's token bucket holds a venue's orders
(``TokenBucket.block_for``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from bot.api import RateLimited, Transfer, TransferStatus, TransferTerms, TransferVenue

T = TypeVar("T")


class Waits:
    """Until when each venue is left alone (``monotonic`` seconds), by name: the waits its rate limits asked for."""

    def __init__(self, monotonic: Callable[[], float], floor_s: float) -> None:
        self._monotonic = monotonic
        self.floor_s = floor_s
        """The wait of a :class:`RateLimited` that gives none."""
        self._until: dict[str, float] = {}

    def left_s(self, name: str) -> float:
        """Seconds ``name`` is still to be left alone (0: it may be asked)."""
        until = self._until.get(name)
        if until is None:  # the clock is read only while some venue waits
            return 0.0
        left = until - self._monotonic()
        if left > 0:
            return left
        del self._until[name]
        return 0.0

    def asked(self, name: str, exc: RateLimited) -> float:
        """``name`` answered ``exc``: left alone for the wait it gives (``floor_s`` without one); returns it."""
        wait_s = exc.retry_after_s if exc.retry_after_s and exc.retry_after_s > 0 else self.floor_s
        self._until[name] = max(self._until.get(name, 0.0), self._monotonic() + wait_s)
        return wait_s


class Paced(TransferVenue):
    """``venue`` (configured as ``name``) asked only outside its wait (:class:`Waits`)."""

    def __init__(self, name: str, venue: TransferVenue, waits: Waits) -> None:
        self.name = name
        self.venue = venue
        self.waits = waits

    async def _ask(self, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        left = self.waits.left_s(self.name)
        if left > 0:
            raise RateLimited(f"{self.name} asked to be left alone: {left:.0f} s more", retry_after_s=left)
        try:
            return await call(*args)
        except RateLimited as exc:
            self.waits.asked(self.name, exc)
            raise

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return await self._ask(self.venue.transfer_terms, asset)

    async def transfer_terms_to(self, asset: str, address: str) -> TransferTerms | None:
        return await self._ask(self.venue.transfer_terms_to, asset, address)

    async def deposit_address(self, asset: str) -> str:
        return await self._ask(self.venue.deposit_address, asset)

    async def deposit_fee(self, asset: str, amount: Decimal) -> Decimal:
        return await self._ask(self.venue.deposit_fee, asset, amount)

    async def deposit_limit(self, asset: str) -> Decimal | None:
        return await self._ask(self.venue.deposit_limit, asset)

    async def withdraw(self, transfer: Transfer) -> str:
        return await self._ask(self.venue.withdraw, transfer)

    async def withdrawal_fee(self, transfer: Transfer) -> Decimal | None:
        return await self._ask(self.venue.withdrawal_fee, transfer)

    async def network_fee_paid(self, transfer: Transfer) -> Decimal | None:
        return await self._ask(self.venue.network_fee_paid, transfer)

    async def deposit_fee_charged(self, transfer: Transfer) -> Decimal | None:
        return await self._ask(self.venue.deposit_fee_charged, transfer)

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        return await self._ask(self.venue.withdrawal, transfer)

    async def credited(self, transfer: Transfer) -> bool:
        return await self._ask(self.venue.credited, transfer)
