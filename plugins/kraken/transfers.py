"""Kraken as a source and destination of inventory transfers (``plugins/rebalance``).

**Out.** Kraken withdraws only to addresses registered (and confirmed) in the account beforehand,
each under a *key name*: ``withdraw_keys = { SOL = "my-sol-wallet" }`` says which key a transfer of
an asset goes to, and Kraken's own whitelist is the guarantee that funds can go nowhere else. Kraken
sends to the key's address whatever the destination is, so before a withdrawal is made the key's
address (``WithdrawAddresses``) must be the destination's deposit address: otherwise the transfer
fails, naming both, and nothing is sent. The
terms come from ``WithdrawMethods`` (the minimum of the key's method) and ``WithdrawInfo`` (fee for
that key, and ``limit``: the most a withdrawal may deliver now, which caps the proposal); the transfer
is ``Withdraw`` (``asset``, ``key``, ``amount``: ``transfer.amount`` plus Kraken's own fee for it, read again from
``WithdrawInfo``, so ``transfer.amount`` reaches the address; never the transfer's whole ``fee``, which also counts
the destination's deposit fee; ``max_fee``: that fee, so a fee Kraken raised between the read and the request is
refused, ``EFunding:Max fee exceeded``, nothing made, instead of delivering less: a :class:`TransientError` naming both
fees, the transfer quoted again) and answers a ``refid`` only: the fee Kraken charged (which may differ from the fee
the transfer was quoted at, when Kraken changed it in between) is the ``fee`` of the withdrawal's ``WithdrawStatus``
record (:meth:`KrakenTransfers.withdrawal_fee`), what the transfer records. Kraken takes no idempotency
key, so before anything is sent again after a crash :meth:`KrakenTransfers.withdrawal` reads
``WithdrawStatus`` for a withdrawal of the same asset, amount and key made since the transfer's
intent was stored (:data:`CLOCK_SKEW_S` earlier: Kraken's clock may be behind ours); found, it is that
transfer. Once Kraken has answered a ``refid``, the withdrawal is that one: one ``WithdrawStatus`` no
longer lists (it lists recent ones) has still left, and is never sent again.

**In.** The deposit address is ``DepositAddresses`` for the asset's ``deposit_methods`` entry;
that method's ``DepositMethods`` entry (read once per :data:`DEPOSIT_METHODS_TTL_S`) gives the deposit fee Kraken
keeps (:meth:`KrakenTransfers.deposit_fee`: a cost of the transfer, recorded with the source's withdrawal fee), its
``minimum`` and its ``limit`` (``false``: none; both of the net amount, less the fee): the limit caps the planner's
move (:meth:`KrakenTransfers.deposit_limit`), and an amount outside them is refused, naming the figure, before
anything is sent. A transfer is credited when ``DepositStatus`` lists it (by the sender's transaction reference, or
by amount since the intent: the amount that arrived, or that less the fee) with status ``Success``; the ``fee`` of
that record is what Kraken kept (:meth:`KrakenTransfers.deposit_fee_charged`), recorded in place of the quote.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bot.api import (
    ExchangeError,
    PermanentError,
    Transfer,
    TransferStatus,
    TransferTerms,
    TransferVenue,
    TransientError,
)

DEPOSIT_METHODS_TTL_S = 10.0
"""How long one ``DepositMethods`` answer (fee, minimum, limit) is used for an asset: one round of the rebalancer
(``check_every_s``, 30 s by default) reads it once, and a change at Kraken is seen within this long."""
CLOCK_SKEW_S = 60
MAX_FEE_EXCEEDED = "EFunding:Max fee exceeded"
"""Kraken's refusal of a ``Withdraw`` whose ``max_fee`` is below the fee it would charge: nothing is made."""
"""How much behind ours Kraken's clock may be: a withdrawal this long before the transfer's intent may be its own."""
_STATUS = {"Initial": TransferStatus.SENT, "Pending": TransferStatus.SENT, "Settled": TransferStatus.SENT,
           "Success": TransferStatus.CREDITED, "Failure": TransferStatus.FAILED}


def kraken_asset(asset: str) -> str:
    return "XBT" if asset == "BTC" else asset


class KrakenTransfers(TransferVenue):
    """The transfer half of :class:`~plugins.kraken.exchange.KrakenExchange` (signed REST calls)."""

    name: str
    settings: Any

    def _api(self) -> Any: ...  # the exchange's signed REST client (KrakenRest)

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        key = self.settings.withdraw_keys.get(asset)
        if key is None:
            return None
        api = self._api()
        methods = await api.private("WithdrawMethods", {"asset": kraken_asset(asset)})
        minimums = {str(m.get("method")): Decimal(str(m.get("minimum", "0"))) for m in methods}
        info = await api.private("WithdrawInfo", {"asset": kraken_asset(asset), "key": key,
                                                  "amount": str(max([*minimums.values(), Decimal(1)]))})
        # the key's own method's minimum (another method's may be lower); unknown: the highest, never too low
        minimum = minimums.get(str(info.get("method")), max(minimums.values(), default=Decimal(0)))
        limit = info.get("limit")
        return TransferTerms(asset, Decimal(str(info["fee"])), minimum, Decimal(0), asset,
                             float(self.settings.transfer_expected_s),
                             maximum=Decimal(str(limit)) if limit is not None else None)

    def _deposit_method(self, asset: str) -> str:
        method = self.settings.deposit_methods.get(asset)
        if method is None:
            raise PermanentError(f"{self.name}: no deposit_methods entry for {asset} (e.g. {{ {asset} = \"Solana\" }})")
        return str(method)

    async def _deposit_terms(self, asset: str) -> tuple[str, dict]:
        """The asset's ``deposit_methods`` method and its ``DepositMethods`` entry, read once per
        :data:`DEPOSIT_METHODS_TTL_S` (a rebalance round asks the fee and the limit several times; a private call
        each)."""
        method = self._deposit_method(asset)
        cache: dict[str, tuple[float, list]] = self.__dict__.setdefault("_deposit_methods", {})
        now = time.monotonic()
        read = cache.get(asset)
        if read is None or now - read[0] >= DEPOSIT_METHODS_TTL_S:
            read = (now, list(await self._api().private("DepositMethods", {"asset": kraken_asset(asset)})))
            cache[asset] = read
        methods = read[1]
        found = next((m for m in methods if str(m.get("method")) == method), None)
        if found is None:
            listed = ", ".join(sorted(str(m.get("method")) for m in methods)) or "none"
            raise PermanentError(f"{self.name}: Kraken has no {method} deposit method for {asset} (it lists: {listed})")
        return method, found

    async def deposit_limit(self, asset: str) -> Decimal | None:
        """The ``limit`` of the asset's deposit method (``DepositMethods``: the most net amount, less the fee, one
        deposit may bring now; ``false``: none), which caps a move to Kraken."""
        _method, found = await self._deposit_terms(asset)
        limit = found.get("limit")
        return None if limit in (None, False) else Decimal(str(limit))

    async def deposit_fee(self, asset: str, amount: Decimal) -> Decimal:
        """The fee Kraken keeps of a deposit of ``amount`` by the asset's ``deposit_methods`` method
        (``DepositMethods``); :class:`PermanentError` naming the method's ``minimum`` or ``limit`` (of the net amount,
        ``amount`` less the fee, as Kraken documents them) for an amount outside them."""
        method, found = await self._deposit_terms(asset)
        fee = Decimal(str(found.get("fee") or "0"))  # Kraken pads it ("0.0200000000"): shown as 0.02
        fee = fee.quantize(Decimal(1)) if fee == fee.to_integral_value() else fee.normalize()
        net = amount - fee  # Kraken's minimum and limit are of the net amount deposited
        minimum = Decimal(str(found.get("minimum") or "0"))
        if net < minimum:
            raise PermanentError(f"{self.name}: {amount} {asset} ({net} after Kraken's {fee} fee) is below Kraken's "
                                 f"{method} deposit minimum {minimum} {asset}")
        limit = found.get("limit")
        if limit not in (None, False) and net > Decimal(str(limit)):  # false: no limit
            raise PermanentError(f"{self.name}: {amount} {asset} ({net} after Kraken's {fee} fee) is over Kraken's "
                                 f"{method} deposit limit {limit} {asset} (what it takes now)")
        return fee

    async def deposit_address(self, asset: str) -> str:
        method = self._deposit_method(asset)
        found = await self._api().private("DepositAddresses", {"asset": kraken_asset(asset), "method": method})
        if not found:
            raise PermanentError(f"{self.name}: Kraken has no {method} deposit address for {asset}")
        return str(found[0]["address"])

    async def withdraw(self, transfer: Transfer) -> str:
        key = self.settings.withdraw_keys.get(transfer.asset)
        if key is None:
            raise PermanentError(f"{self.name}: no withdraw_keys entry for {transfer.asset}: Kraken sends only to a "
                                 "pre-registered withdrawal key")
        made = await self._find_withdrawal(transfer)
        if made is not None:
            return str(made["refid"])  # sent already: never twice
        await self._check_key_address(transfer, key)
        # Kraken's amount includes its own fee; transfer.fee also counts the destination's deposit fee, which the
        # destination keeps out of what arrives: added here it would send more than the proposal (docs/plugins.md)
        fee = await self._withdrawal_fee(transfer.asset, key, transfer.amount)
        try:  # max_fee: a fee risen since it was read would deliver less than transfer.amount; Kraken refuses instead
            result = await self._api().private("Withdraw", {"asset": kraken_asset(transfer.asset), "key": key,
                                                            "amount": str(transfer.amount + fee), "max_fee": str(fee)})
        except PermanentError as exc:
            if MAX_FEE_EXCEEDED not in str(exc):
                raise
            raise TransientError(await self._fee_rose(transfer, key, fee)) from None
        return str(result["refid"])

    async def _fee_rose(self, transfer: Transfer, key: str, read: Decimal) -> str:
        """The words of a withdrawal Kraken refused for a fee above ``max_fee`` (``read``), with the fee it asks now
        when ``WithdrawInfo`` still answers."""
        asset = transfer.asset
        try:
            now = f"to {await self._withdrawal_fee(asset, key, transfer.amount)} {asset}"
        except ExchangeError:
            now = "above it"
        return (f"{self.name}: Kraken's {asset} withdrawal fee rose from {read} {asset} {now} between its read and "
                f"the withdrawal ({MAX_FEE_EXCEEDED}): nothing was sent")

    async def withdrawal_fee(self, transfer: Transfer) -> Decimal | None:
        """The fee Kraken charged for the transfer's withdrawal: the ``fee`` of its ``WithdrawStatus`` record (found by
        the ``refid`` ``Withdraw`` answered, which carries nothing else). None once Kraken no longer lists it, or
        lists it without a fee: the quoted fee is recorded then."""
        made = await self._find_withdrawal(transfer)
        fee = None if made is None else made.get("fee")
        return None if fee in (None, "") else Decimal(str(fee))

    async def _withdrawal_fee(self, asset: str, key: str, amount: Decimal) -> Decimal:
        """Kraken's own fee for withdrawing ``amount`` of ``asset`` to ``key`` now (``WithdrawInfo``)."""
        info = await self._api().private("WithdrawInfo", {"asset": kraken_asset(asset), "key": key,
                                                          "amount": str(amount)})
        return Decimal(str(info["fee"]))

    async def _check_key_address(self, transfer: Transfer, key: str) -> None:
        """Refuse (:class:`PermanentError`) a key whose registered address (``WithdrawAddresses``) is not the
        destination's deposit address: Kraken sends to the key's address, so the destination would never credit it."""
        found = await self._api().private("WithdrawAddresses", {"asset": kraken_asset(transfer.asset), "key": key})
        addresses = sorted({str(a.get("address")) for a in found if a.get("key", key) == key})
        if addresses != [transfer.address]:
            registered = ", ".join(addresses) or "no address"
            raise PermanentError(
                f"{self.name}: withdraw_keys.{transfer.asset} = \"{key}\" sends to {registered}, not to "
                f"{transfer.destination}'s deposit address {transfer.address}: register that address in Kraken "
                f"under a withdrawal key and name it in withdraw_keys.{transfer.asset}")

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        made = await self._find_withdrawal(transfer)
        if made is None:  # with a refid it left: Kraken lists recent withdrawals only, and never drops one unsent
            return TransferStatus.SENT if transfer.venue_ref else None
        return _STATUS.get(str(made.get("status")), TransferStatus.SENT)

    async def credited(self, transfer: Transfer) -> bool:
        return await self._deposit(transfer) is not None

    async def deposit_fee_charged(self, transfer: Transfer) -> Decimal | None:
        """The fee Kraken kept of the transfer's deposit: the ``fee`` of its ``DepositStatus`` record (credited,
        ``Success``), which may differ from the ``DepositMethods`` fee quoted when it was sent. None once Kraken no
        longer lists it, or lists it without a fee: the quote stays."""
        found = await self._deposit(transfer)
        fee = None if found is None else found.get("fee")
        if fee in (None, ""):
            return None
        kept = Decimal(str(fee))  # Kraken pads it ("0.0250000000"): shown as 0.025
        return kept.quantize(Decimal(1)) if kept == kept.to_integral_value() else kept.normalize()

    async def _deposit(self, transfer: Transfer) -> dict | None:
        """The transfer's deposit, credited (``Success``), if ``DepositStatus`` lists it: by the sender's transaction
        reference, or by amount since the intent (the record's amount the transfer's, or that less the record's
        fee)."""
        deposits = await self._api().private("DepositStatus", {"asset": kraken_asset(transfer.asset)})
        since = Decimal(transfer.created_ns) / 1_000_000_000
        for d in deposits:
            arrived = Decimal(str(d.get("amount", "0")))
            same = (transfer.venue_ref and d.get("txid") == transfer.venue_ref) or (
                transfer.amount in (arrived, arrived + Decimal(str(d.get("fee") or "0")))
                and Decimal(str(d.get("time", "0"))) >= since)
            if same and d.get("status") == "Success":
                return dict(d)
        return None

    async def _find_withdrawal(self, transfer: Transfer) -> dict | None:
        """The withdrawal of this transfer, if Kraken lists it: its refid once Kraken answered one, else the same
        asset, amount and key, since its intent (less :data:`CLOCK_SKEW_S`)."""
        key = self.settings.withdraw_keys.get(transfer.asset)
        made = await self._api().private("WithdrawStatus", {"asset": kraken_asset(transfer.asset)})
        if transfer.venue_ref:
            return next((dict(w) for w in made if w.get("refid") == transfer.venue_ref), None)
        since = Decimal(transfer.created_ns) / 1_000_000_000 - CLOCK_SKEW_S
        for w in made:
            listed_fee = Decimal(str(w.get("fee") or "0"))  # Kraken's own; transfer.fee may hold a deposit fee too
            if (Decimal(str(w.get("amount", "0"))) in (transfer.amount, transfer.amount + listed_fee)
                    and w.get("key", key) == key and Decimal(str(w.get("time", "0"))) >= since):
                return dict(w)
        return None
