"""The ccxt exchange as a source and destination of inventory transfers (``plugins/rebalance``).

**Out, to a whitelisted address only.** ``withdraw_to = { SOL = { "ADDRESS" = "SOL" } }`` names, per
asset, every address funds may go to and the network (ccxt's unified network code) to send on. A
withdrawal to any other address is refused before anything reaches the venue; an asset without an
entry is not sent at all (:meth:`CcxtTransfers.transfer_terms` answers None). The venue's own
address whitelist, where the account has one, is a second guard.

**Terms, exact.** ccxt gives every figure as the venue's text (``number = str``): the fee from
``fetch_deposit_withdraw_fees`` (the network's, else the currency's), the minimum from the
currency's network limits, else the venue's own field where ccxt leaves it out (Gate:
``withdraw_amount_mini``). The amount sent is ``transfer.amount`` plus that fee (never the transfer's whole
``fee``, which also counts the destination's deposit fee): the venue takes its fee out of what it sends, so
``transfer.amount`` reaches the destination's address. ccxt rounds the
amount to the currency's precision: the terms give it as ``step`` (the planner proposes whole
steps), and an amount that rounding would still change is refused, not sent.

**Once.** Our transfer id goes with the withdrawal as the venue's client withdrawal id where it has
one (:data:`CLIENT_WITHDRAWAL_IDS`; Gate: ``withdraw_order_id``). Before anything is sent, and
again after a lost answer, the venue's withdrawals since the transfer's intent are searched for
that id (``fetch_withdrawals``): found, that withdrawal *is* the transfer and nothing is sent. A
venue without client withdrawal ids is searched by asset, address and amount since the intent (as
Kraken's transfers are). Gate keeps the id without making it unique, so this search is the guard.

**Tracking.** ``fetch_withdrawals`` statuses: ``pending`` -> SENT, ``ok`` (done on chain) ->
CREDITED, ``failed``/``canceled`` -> FAILED. Once ``withdraw`` answered a reference the withdrawal left: one the list no
longer shows (venues list recent withdrawals only) is still SENT, never sent again. The fee the venue charged
(:meth:`CcxtTransfers.withdrawal_fee`, what the transfer records: the venue may have changed it since the quote) is
that record's ``fee`` ``cost``, found by the reference ``withdraw`` answered (Gate's answer carries no fee, its record
does); a record without one: the quote.

**In.** :meth:`deposit_address` is ``fetch_deposit_address`` on the asset's ``deposit_networks`` entry. What the venue
keeps of a deposit (:meth:`~CcxtTransfers.deposit_fee`) is ``fetch_deposit_withdraw_fees``' ``deposit`` fee of that
network, else of the currency (none given: 0; a percentage is refused); ccxt's currency ``limits.deposit`` give the
deposit minimum (an amount below it is refused, naming it) and maximum (:meth:`~CcxtTransfers.deposit_limit`, net of the
fee). A transfer is credited when ``fetch_deposits`` lists it with status ``ok`` (by the sender's transaction reference,
else by address and amount since the intent: ``transfer.amount``, or that less the deposit's listed fee or this venue's
:meth:`~CcxtTransfers.deposit_fee`, for a venue that lists a deposit net of what it kept).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from bot.api import PermanentError, Transfer, TransferStatus, TransferTerms, TransferVenue, UnknownOutcome

from .orders import dec


@dataclass(frozen=True)
class ClientWithdrawalId:
    """How a venue takes our transfer id with a withdrawal, and where its records show it again."""

    param: str
    """The withdrawal request's parameter (passed through ccxt's ``params``)."""
    field: str
    """The key in the venue's withdrawal record (ccxt's ``info``)."""
    query: bool = False
    """The venue's withdrawal list can be asked for that id alone (the same parameter)."""


CLIENT_WITHDRAWAL_IDS: dict[str, ClientWithdrawalId] = {
    "gate": ClientWithdrawalId("withdraw_order_id", "withdraw_order_id", query=True),
    "binance": ClientWithdrawalId("withdrawOrderId", "withdrawOrderId", query=True),
    "okx": ClientWithdrawalId("clientId", "clientId"),
}
"""Venues whose withdrawal takes a client id (from their API documentation, as ccxt passes ``params``)."""

MINIMUM_FIELDS: dict[str, str] = {"gate": "withdraw_amount_mini"}
"""The venue's own minimum in ``fetch_deposit_withdraw_fees``' ``info`` where ccxt's limits leave it out."""

_STATUS = {"pending": TransferStatus.SENT, "ok": TransferStatus.CREDITED, "failed": TransferStatus.FAILED,
           "canceled": TransferStatus.FAILED, "cancelled": TransferStatus.FAILED}

LOOKUPS_AFTER_A_LOST_ANSWER = 3


def can_withdraw(has: dict[str, Any]) -> bool:
    """ccxt can send, find and follow withdrawals of this exchange (its ``has`` table)."""
    return all(has.get(k) for k in ("withdraw", "fetchWithdrawals"))


def can_receive(has: dict[str, Any]) -> bool:
    """ccxt can give a deposit address and list deposits for this exchange."""
    return all(has.get(k) for k in ("fetchDepositAddress", "fetchDeposits"))


def _ms(ns: int) -> int:
    return ns // 1_000_000


class CcxtTransfers(TransferVenue):
    """The transfer half of :class:`~plugins.ccxt.exchange.CcxtExchange` (through its ccxt instance)."""

    name: str
    settings: Any
    api: Any

    async def _call(self, what: str, sent: bool, method: str, *args: Any, **kwargs: Any) -> Any: ...

    # --- terms --------------------------------------------------------------------------------

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        if not self.settings.withdraw_to.get(asset) or not can_withdraw(self.api.has):
            return None
        fees, minimums, steps = [], [], []
        for network in sorted(set(self.settings.withdraw_to[asset].values())):
            fee, minimum, step = await self._network_terms(asset, network)
            fees.append(fee)
            minimums.append(minimum)
            steps.append(step)
        # several whitelisted networks: the dearest one's figures (what a withdrawal may cost)
        return TransferTerms(asset, max(fees), max(minimums), Decimal(0), asset,
                             float(self.settings.transfer_expected_s), step=max(steps))

    async def _network_terms(self, asset: str, network: str) -> tuple[Decimal, Decimal, Decimal]:
        """(fee, minimum, step) of a withdrawal of ``asset`` on ``network``, exact from ccxt's text; the step
        is the precision ccxt rounds the amount to (0: none)."""
        found = await self._call("withdrawal fees", False, "fetch_deposit_withdraw_fees", [asset])
        entry = found.get(asset)
        if entry is None:
            raise PermanentError(f"{self.name}: {self.settings.id} gives no withdrawal fee for {asset}")
        networks = entry.get("networks") or {}
        if networks and network not in networks:
            raise PermanentError(f"{self.name}: {self.settings.id} cannot send {asset} on network {network} "
                                 f"(it has {', '.join(sorted(networks))}): fix withdraw_to.{asset}")
        quoted = (networks.get(network) or {}).get("withdraw") or {}
        if quoted.get("fee") is None:
            quoted = entry.get("withdraw") or {}
        fee = dec(quoted.get("fee"))
        if quoted.get("percentage"):
            raise PermanentError(f"{self.name}: {self.settings.id} charges {asset} withdrawals a percentage: "
                                 "not supported (the fee must be a fixed amount)")
        if fee is None:
            raise PermanentError(f"{self.name}: {self.settings.id} gives no withdrawal fee for {asset} on {network}")
        currency = (self.api.currencies or {}).get(asset) or {}
        on_network = (currency.get("networks") or {}).get(network) or {}
        limit = (on_network.get("limits") or {}).get("withdraw") or {}
        minimum = dec(limit.get("min")) or dec(((currency.get("limits") or {}).get("withdraw") or {}).get("min"))
        field = MINIMUM_FIELDS.get(self.settings.id)
        if minimum is None and field is not None:
            minimum = dec((entry.get("info") or {}).get(field))
        step = dec(on_network.get("precision")) or dec(currency.get("precision")) or Decimal(0)
        return fee, minimum or Decimal(0), step

    # --- out ----------------------------------------------------------------------------------

    def _network_for(self, asset: str, address: str) -> str:
        """The whitelisted network for ``address``; PermanentError for an address not in ``withdraw_to``."""
        allowed = self.settings.withdraw_to.get(asset) or {}
        network = allowed.get(address)
        if network is None:
            listed = ", ".join(sorted(allowed)) or "none"
            raise PermanentError(f"{self.name}: refusing to withdraw {asset} to {address}: not in withdraw_to.{asset} "
                                 f"(allowed: {listed}); add the address to [exchanges.{self.name}] withdraw_to if it "
                                 "is yours")
        return network

    async def withdraw(self, transfer: Transfer) -> str:
        network = self._network_for(transfer.asset, transfer.address)
        if not can_withdraw(self.api.has):
            raise PermanentError(f"{self.name}: {self.settings.id} cannot withdraw through ccxt")
        made = await self._find_withdrawal(transfer)
        if made is not None:
            return str(made["id"])  # sent already: never twice
        fee, minimum, _step = await self._network_terms(transfer.asset, network)
        gross = transfer.amount + fee
        if gross < minimum:
            raise PermanentError(f"{self.name}: {gross} {transfer.asset} is below the withdrawal minimum {minimum}")
        with localcontext():  # ccxt's precision code changes the decimal context it runs in (see _call)
            text = self.api.currency_to_precision(transfer.asset, str(gross), network)
        if Decimal(str(text)) != gross:
            raise PermanentError(f"{self.name}: ccxt would send {text} {transfer.asset} for {gross} (the currency's "
                                 "precision): not sent")
        params: dict[str, Any] = {"network": network}
        rule = CLIENT_WITHDRAWAL_IDS.get(self.settings.id)
        if rule is not None:
            params[rule.param] = transfer.transfer_id
        try:
            result = await self._call("withdraw", True, "withdraw", transfer.asset, str(gross), transfer.address,
                                      params)
        except UnknownOutcome:
            for attempt in range(LOOKUPS_AFTER_A_LOST_ANSWER):  # the answer was lost: did it go out?
                try:
                    made = await self._find_withdrawal(transfer)
                except Exception:
                    made = None
                if made is not None:
                    return str(made["id"])
                await asyncio.sleep(0.1 * (attempt + 1))
            raise  # still unknown: the rebalance service keeps it PLANNED and asks again
        return str(result["id"])

    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        made = await self._find_withdrawal(transfer)
        if made is None:  # with a reference it left: venues list recent withdrawals only (a time range, the last N)
            return TransferStatus.SENT if transfer.venue_ref else None
        return _STATUS.get(str(made.get("status")), TransferStatus.SENT)

    async def withdrawal_fee(self, transfer: Transfer) -> Decimal | None:
        """The fee the venue charged for the transfer's withdrawal: ccxt's ``fee`` ``cost`` of the venue's record of it
        (``fetch_withdrawals``, found by the reference :meth:`withdraw` answered), in the transfer's asset. The record,
        not ``withdraw``'s answer: Gate answers a withdrawal without its fee and lists it with the fee it took. None
        where the record gives no fee (ccxt leaves it out where the venue does) or one in another currency: the
        quoted fee is recorded then."""
        made = await self._find_withdrawal(transfer)
        fee = (made or {}).get("fee") or {}
        if fee.get("currency") not in (None, transfer.asset):
            return None
        return dec(fee.get("cost"))

    async def _find_withdrawal(self, transfer: Transfer) -> dict | None:
        """This transfer's withdrawal on the venue, if any: by the reference the venue answered once it did, by our
        id where the venue keeps one, else the one to the same address of the same amount since its intent."""
        rule = CLIENT_WITHDRAWAL_IDS.get(self.settings.id)
        params = {rule.param: transfer.transfer_id} if rule is not None and rule.query else {}
        made = await self._call("withdrawals", False, "fetch_withdrawals", transfer.asset,
                                _ms(transfer.created_ns) - 1000, None, params)
        own_fee: Decimal | None = None
        for w in made:
            info = w.get("info") or {}
            if transfer.venue_ref and w.get("id") == transfer.venue_ref:
                return dict(w)
            if rule is not None:
                same = info.get(rule.field) == transfer.transfer_id
            elif w.get("address") != transfer.address:
                same = False
            else:  # ccxt gives the amount net of the fee on some venues, with it (and no fee) on others
                fee = dec((w.get("fee") or {}).get("cost"), Decimal(0)) or Decimal(0)
                if own_fee is None:  # what withdraw() adds: our fee, never transfer.fee (it counts a deposit fee too)
                    network = (self.settings.withdraw_to.get(transfer.asset) or {}).get(transfer.address)
                    own_fee = Decimal(0) if network is None else (  # unlisted since it was sent: amount + listed fee
                        await self._network_terms(transfer.asset, network))[0]
                same = dec(w.get("amount")) in (transfer.amount, transfer.amount + fee, transfer.amount + own_fee)
            if same:
                return dict(w)
        return None

    # --- in -----------------------------------------------------------------------------------

    def _deposit_network(self, asset: str) -> str:
        """The network deposits of ``asset`` arrive on: its ``deposit_networks`` entry, else the currency's one network
        (with several, the sender must know which: PermanentError naming the setting)."""
        network = self.settings.deposit_networks.get(asset)
        if network is None:
            networks = sorted(((self.api.currencies or {}).get(asset) or {}).get("networks") or {})
            if len(networks) != 1:
                raise PermanentError(f"{self.name}: {asset} arrives on {', '.join(networks) or 'no network'} at "
                                     f"{self.settings.id}: name one in deposit_networks (e.g. {{ {asset} = "
                                     f"\"{networks[0] if networks else asset}\" }})")
            network = networks[0]
        return str(network)

    async def _deposit_terms(self, asset: str) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        """(network, fee, minimum, maximum) of a deposit of ``asset`` on its :meth:`_deposit_network`, exact from ccxt's
        text. The fee is ``fetch_deposit_withdraw_fees``' ``deposit`` of the network, else of the currency (ccxt's
        deposit-withdraw fee structure: Gate's ``withdraw_status`` gives its ``deposit`` per currency only); none given:
        0 (ccxt's venues mostly keep nothing of a crypto deposit, and say so by leaving it out). The minimum and maximum
        are ccxt's currency ``limits.deposit`` (of the network, else of the currency; None: not given)."""
        network = self._deposit_network(asset)
        found = await self._call("deposit fees", False, "fetch_deposit_withdraw_fees", [asset])
        entry = found.get(asset) or {}
        quoted = ((entry.get("networks") or {}).get(network) or {}).get("deposit") or {}
        if quoted.get("fee") is None:
            quoted = entry.get("deposit") or {}
        if quoted.get("percentage"):
            raise PermanentError(f"{self.name}: {self.settings.id} charges {asset} deposits a percentage: not "
                                 "supported (the fee must be a fixed amount); leave it out of rebalancing")
        fee = dec(quoted.get("fee"), Decimal(0)) or Decimal(0)
        currency = (self.api.currencies or {}).get(asset) or {}
        on_network = ((currency.get("networks") or {}).get(network) or {}).get("limits") or {}
        limits = on_network.get("deposit") or {}
        general = (currency.get("limits") or {}).get("deposit") or {}
        minimum = dec(limits.get("min")) or dec(general.get("min"))
        maximum = dec(limits.get("max")) or dec(general.get("max"))
        return network, fee, minimum, maximum

    async def deposit_fee(self, asset: str, amount: Decimal) -> Decimal:
        """What the venue keeps of a deposit of ``amount`` (:meth:`_deposit_terms`); PermanentError naming the
        venue's deposit minimum for an amount below it (ccxt's ``limits.deposit.min``: the venue credits nothing
        below it), or its maximum for an amount over it. Both are of the amount deposited, as ccxt gives them."""
        network, fee, minimum, maximum = await self._deposit_terms(asset)
        if minimum is not None and amount < minimum:
            raise PermanentError(f"{self.name}: {amount} {asset} is below {self.settings.id}'s {network} deposit "
                                 f"minimum {minimum} {asset} (the venue credits nothing below it)")
        if maximum is not None and amount > maximum:
            raise PermanentError(f"{self.name}: {amount} {asset} is over {self.settings.id}'s {network} deposit "
                                 f"limit {maximum} {asset}")
        return fee

    async def deposit_limit(self, asset: str) -> Decimal | None:
        """ccxt's ``limits.deposit.max`` of the asset's network (the most one deposit may be), less the fee kept of
        it: what may arrive net (the planner caps a move at this plus the fee). None where ccxt gives none."""
        _network, fee, _minimum, maximum = await self._deposit_terms(asset)
        return None if maximum is None else maximum - fee

    async def deposit_address(self, asset: str) -> str:
        if not can_receive(self.api.has):
            raise PermanentError(f"{self.name}: {self.settings.id} gives no deposit address through ccxt")
        network = self._deposit_network(asset)
        found = await self._call("deposit address", False, "fetch_deposit_address", asset, {"network": network})
        if not found or not found.get("address"):
            raise PermanentError(f"{self.name}: {self.settings.id} has no {network or ''} deposit address for {asset}")
        return str(found["address"])

    async def credited(self, transfer: Transfer) -> bool:
        """True once ``fetch_deposits`` lists the transfer ``ok``: by the sender's reference, else by address and
        amount since the intent. ``transfer.amount`` is what reached the address; a venue may list the deposit net of
        what it kept: its listed fee, or its :meth:`deposit_fee` for the amount (asked only then)."""
        deposits = await self._call("deposits", False, "fetch_deposits", transfer.asset,
                                    _ms(transfer.created_ns) - 1000)
        net: Decimal | None = None
        for d in deposits:
            if d.get("status") != "ok":
                continue
            if transfer.venue_ref and d.get("txid") == transfer.venue_ref:
                return True
            arrived = dec(d.get("amount"))
            if arrived is None or d.get("address") not in (None, transfer.address):
                continue
            listed_fee = dec((d.get("fee") or {}).get("cost"), Decimal(0)) or Decimal(0)
            if transfer.amount in (arrived, arrived + listed_fee):
                return True
            if net is None:
                try:
                    net = transfer.amount - await self.deposit_fee(transfer.asset, transfer.amount)
                except PermanentError:  # outside the venue's deposit limits now: no net amount to look for
                    net = transfer.amount
            if arrived == net:
                return True
        return False
