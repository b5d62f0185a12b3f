"""The Jupiter exchange's wallet as a source of inventory transfers (``plugins/rebalance``).

A transfer out of the wallet is one Solana transaction signed by the wallet: a System Program
``Transfer`` for SOL, or for an SPL token an Associated Token Account ``CreateIdempotent`` (the
destination's token account, paid by the wallet if it does not exist yet) and a ``TransferChecked``
(amount and decimals checked by the chain) to the destination address's token account for the mint,
both under the program that owns the mint (the Token Program, or Token-2022, whose associated
addresses are derived with its own id): :meth:`JupiterTransfers.token_accounts_of` reads it from the
mint account once, as swaps do. The destination is the address the receiving venue gave (a CEX's
deposit address). Every transfer's transaction ends with a Memo instruction naming its transfer id
(``arbot transfer <id>``): two transfers alike in asset, amount and destination, signed under one blockhash, are
then two transactions with two signatures (without it they would be the same bytes: the node answers the second
"already processed", and both records would carry one signature for what moved once).

**Cost.** The signature's fee (5,000 lamports), and for a token whose destination has no associated
token account yet the rent-exempt deposit the ``CreateIdempotent`` makes into it (the node's
``getMinimumBalanceForRentExemption`` of the account's size: 165 bytes, 2,039,280 lamports today, for
a Token Program mint; more under Token-2022, whose accounts carry the extensions the mint requires):
:meth:`transfer_terms_to` reads whether the account exists, and the rebalancing service records that
quote with the transfer's intent. The account may appear (or go away) before the transaction lands, so what is
recorded once it is sent is what the landed transaction cost the wallet (:meth:`JupiterTransfers.network_fee_paid`,
from ``getTransaction``'s balances), asked again when the transfer is credited if it had not landed yet.

**Not every Token-2022 mint.** A plain ``TransferChecked`` does not deliver the amount of a mint with a
transfer fee (the fee is withheld at the destination), a transfer hook (its program's accounts are
needed) or ``NonTransferable``: for those the wallet offers no terms (the planner proposes nothing,
logged once) and refuses to send (:data:`UNSENDABLE_EXTENSIONS`).

**Once.** As for swaps, the signed transaction, its signature and the blockhash's
``lastValidBlockHeight`` are stored under the transfer id *before* the first send
(``jupiter_transfers``). Asked again for the same transfer (after a crash), :meth:`withdraw`
returns the stored signature when it landed, rebroadcasts the same bytes while the blockhash is
valid, and signs anew only once the old transaction provably can no longer land (block height past
its ``lastValidBlockHeight`` and still unknown to the node that saw that height: both asked of one
node, never concluded from a fallback node that may be behind). :meth:`withdrawal` answers the same way:
landed (SENT: the destination credits it after its confirmations), failed on chain (FAILED), or
expired unlanded (None: never sent).

**A node's 429** is followed as a swap's is (:mod:`.errors`): a send it answers so is not taken, and the same bytes go
again once its ``Retry-After`` is over (for as long as the blockhash may be valid); a status look-up or a read of the
landed transaction answered so is :class:`~bot.api.RateLimited` carrying that wait (``retry_after_s``), as every other
request of the wallet's transfers.

**The store, off the loop.** The transfer's row is read and written on the store writer's thread
(``ctx.read_later``/``ctx.write_later``, :func:`load_transfer`/:func:`save_transfer`), each awaited, as swaps' are:
a database that stops answering holds that transfer, never the event loop; the signed row is still committed before
the first send (the send waits with it).

A wallet learns of incoming funds from the chain, not from a venue: :meth:`credited` answers False
and the planner relies on the source's own completion status for transfers into the wallet.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from sqlmodel import Field, SQLModel

from arbotlib.solana.rpc import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, MalformedReply, RpcError, RpcRateLimited
from arbotlib.solana.transactions import fee_lamports
from bot.api import PermanentError, Transfer, TransferStatus, TransferTerms, TransferVenue, TransientError
from bot.api.storage import Store

from .errors import BLOCKHASH_VALIDITY_BLOCKS, SLOT_S, rate_limited_wait_s, rpc_error

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
TOKEN_PROGRAM = Pubkey.from_string(TOKEN_PROGRAM_ID)
TOKEN_2022_PROGRAM = Pubkey.from_string(TOKEN_2022_PROGRAM_ID)
ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
"""The SPL Memo program (v2): each transfer's transaction carries ``arbot transfer <transfer id>`` in a memo."""
SIGNATURE_FEE_LAMPORTS = 5000
TOKEN_ACCOUNT_BYTES = 165
"""The size of an SPL token account: what the destination's new associated token account is made with."""
_MULTISIG_BYTES = 355
_IMMUTABLE_OWNER = 7
_ACCOUNT_EXTENSIONS_OF_MINT: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((2, 8),),  # TransferFeeConfig -> TransferFeeAmount (the withheld amount, u64)
    9: ((13, 0), (_IMMUTABLE_OWNER, 0)),  # NonTransferable -> NonTransferableAccount, ImmutableOwner
    14: ((15, 1),),  # TransferHook -> TransferHookAccount (the "transferring" flag)
    26: ((27, 0),),  # Pausable -> PausableAccount
}
"""spl-token-2022 ``ExtensionType::get_required_init_account_extensions``: mint extension type -> the account
extensions (type, value length) every token account of such a mint is initialized with."""
UNSENDABLE_EXTENSIONS: dict[int, str] = {
    1: "a transfer fee (TransferFeeConfig): the destination would receive less than was sent",
    9: "it is non-transferable (NonTransferable)",
    14: "a transfer hook (TransferHook): a transfer needs its program's accounts",
}
"""Token-2022 mint extensions under which the wallet's plain ``TransferChecked`` would not deliver the amount."""


def mint_extensions(mint_program: str, mint_data: bytes) -> tuple[int, ...]:
    """The extension types of a mint owned by ``mint_program`` holding ``mint_data`` (none under the Token Program;
    under Token-2022 its type-length-value entries after the account-type byte). Raises ValueError for a mint of
    neither program or data that is not a mint."""
    if mint_program == str(TOKEN_PROGRAM):
        return ()
    if mint_program != str(TOKEN_2022_PROGRAM):
        raise ValueError(f"the mint is owned by {mint_program}, neither the Token Program nor Token-2022")
    kinds: list[int] = []
    if len(mint_data) > TOKEN_ACCOUNT_BYTES:  # extensions: the account type (1: a mint), then type-length-value
        if mint_data[TOKEN_ACCOUNT_BYTES] != 1:
            raise ValueError("the account is not a Token-2022 mint")
        at = TOKEN_ACCOUNT_BYTES + 1
        while at + 4 <= len(mint_data):
            kind = int.from_bytes(mint_data[at:at + 2], "little")
            length = int.from_bytes(mint_data[at + 2:at + 4], "little")
            if kind == 0:  # Uninitialized: the rest is unused space
                break
            kinds.append(kind)
            at += 4 + length
    elif len(mint_data) != 82:
        raise ValueError(f"the account is not a mint ({len(mint_data)} bytes)")
    return tuple(kinds)


def token_account_bytes(mint_program: str, mint_data: bytes) -> int:
    """The size of the associated token account the ATA program creates for a mint owned by ``mint_program`` holding
    ``mint_data``: 165 bytes under the Token Program; under Token-2022 what its ``GetAccountDataSize`` answers with
    ``ImmutableOwner`` (which the ATA program always asks for): 165, the account-type byte, and a type-length-value
    entry for ``ImmutableOwner`` and each account extension the mint's extensions require. Raises ValueError for a
    mint of neither program or data that is not a mint."""
    if mint_program == str(TOKEN_PROGRAM):
        return TOKEN_ACCOUNT_BYTES
    required = {_IMMUTABLE_OWNER: 0}
    for kind in mint_extensions(mint_program, mint_data):
        required.update(_ACCOUNT_EXTENSIONS_OF_MINT.get(kind, ()))
    size = TOKEN_ACCOUNT_BYTES + 1 + sum(4 + length for length in required.values())
    return size + 1 if size == _MULTISIG_BYTES else size  # never a multisig's size: one more byte, as the program does


class JupiterTransferRow(SQLModel, table=True):
    """One transfer out of the wallet: the signed transaction, stored before it is sent."""

    __tablename__ = "jupiter_transfers"

    transfer_id: str = Field(primary_key=True)
    exchange: str
    signature: str
    signed_tx_b64: str
    last_valid_block_height: int


def paid_lamports(tx: dict[str, Any], payer: str) -> int:
    """What a landed transaction (``getTransaction``, json encoding) took from ``payer``, its fee payer: its
    ``preBalances`` less its ``postBalances`` entry (the fee, what it sent, and rent it deposited)."""
    try:
        keys = [str(k) for k in tx["transaction"]["message"]["accountKeys"]]
        if not keys or keys[0] != payer:
            raise MalformedReply(f"getTransaction: {payer} is not the transaction's fee payer")
        meta = tx["meta"]
        return int(meta["preBalances"][0]) - int(meta["postBalances"][0])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedReply(f"getTransaction: meta balances are not the documented shape ({exc!r})") from None


def load_transfer(store: Store, transfer_id: str) -> JupiterTransferRow | None:
    """The stored transfer ``transfer_id`` (detached), None if none. Waits for the database: called on the store
    writer's thread (``ctx.read_later``), never on the event loop."""
    with store.session() as s:
        row = s.get(JupiterTransferRow, transfer_id)
        if row is not None:
            s.expunge(row)
        return row


def save_transfer(store: Store, row: JupiterTransferRow) -> JupiterTransferRow:
    """Insert or replace ``row`` and commit. Waits for the database: called on the store writer's thread
    (``ctx.write_later``), never on the event loop."""
    with store.session() as s:
        s.merge(row)
    return row


def memo_instruction(transfer_id: str) -> Instruction:
    """A Memo instruction naming the transfer (no signer accounts): it makes each transfer's message, and so its
    signature, its own, where two transfers alike in asset, amount and destination signed under one blockhash would
    otherwise be the same transaction (the second "already processed", one signature for both)."""
    return Instruction(MEMO_PROGRAM, f"arbot transfer {transfer_id}".encode(), [])


def associated_token_account(owner: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_PROGRAM) -> Pubkey:
    """The owner's associated token account for ``mint`` (the ATA program's derivation: its seeds are the owner, the
    program owning the mint, and the mint)."""
    return Pubkey.find_program_address([bytes(owner), bytes(token_program), bytes(mint)], ATA_PROGRAM)[0]


def transfer_instructions(owner: Pubkey, destination: Pubkey, mint: Pubkey | None, units: int,
                          decimals: int, token_program: Pubkey = TOKEN_PROGRAM) -> list[Instruction]:
    """SOL (``mint`` None): one System transfer; a token: create the destination's ATA if needed, TransferChecked,
    both with ``token_program``, the program owning the mint (the Token Program or Token-2022): the associated
    addresses are derived with it and the transfer runs under it."""
    if mint is None:
        return [transfer(TransferParams(from_pubkey=owner, to_pubkey=destination, lamports=units))]
    source_ata = associated_token_account(owner, mint, token_program)
    destination_ata = associated_token_account(destination, mint, token_program)
    create = Instruction(ATA_PROGRAM, bytes([1]), [  # CreateIdempotent
        AccountMeta(owner, True, True), AccountMeta(destination_ata, False, True),
        AccountMeta(destination, False, False), AccountMeta(mint, False, False),
        AccountMeta(SYSTEM_PROGRAM, False, False), AccountMeta(token_program, False, False)])
    checked = Instruction(token_program, bytes([12]) + units.to_bytes(8, "little") + bytes([decimals]), [
        AccountMeta(source_ata, False, True), AccountMeta(mint, False, False),
        AccountMeta(destination_ata, False, True), AccountMeta(owner, True, False)])
    return [create, checked]


class JupiterTransfers(TransferVenue):
    """The transfer half of :class:`~plugins.jupiter.exchange.JupiterExchange`."""

    name: str
    settings: Any
    ctx: Any
    wallet: Any
    rpc: Any
    _unsendable_logged: set[str]
    """Assets whose mint the wallet cannot transfer, logged once."""
    _mints: dict[str, tuple[Pubkey, int, tuple[int, ...]]]
    """Mint -> (the token program owning it, the size of its associated token accounts, its extension types), read
    once per mint."""

    async def token_accounts_of(self, asset: str) -> tuple[Pubkey, Pubkey, int]:
        """(mint, the program owning it, the size of the associated token account the ATA program makes for it) of
        the token ``asset``: the mint account's owner (the Token Program or Token-2022) and, under Token-2022, the
        size its extensions make (:func:`token_account_bytes`). Read from the node once per mint (a mint's program and
        extensions are fixed when it is made). Raises :class:`PermanentError` naming ``tokens.ASSET`` for a mint the
        node does not know or an account that is no mint, :class:`TransientError` when the node cannot answer."""
        mint = self.settings.token(asset)[0]
        known = self._mints.get(mint)
        if known is None:
            try:
                _, mint_account = await self.rpc.get_account_info(mint)
            except RpcError as exc:
                raise rpc_error(exc, otherwise=TransientError, prefix=f"{self.name}: ") from None
            if mint_account is None:
                raise PermanentError(f"{self.name}: the node has no mint {mint} (tokens.{asset}); check the mint "
                                     f"address in [exchanges.{self.name}] tokens")
            try:
                size = token_account_bytes(mint_account.owner, mint_account.data)
                extensions = mint_extensions(mint_account.owner, mint_account.data)
            except ValueError as exc:
                raise PermanentError(f"{self.name}: {mint} (tokens.{asset}) is not a token mint: {exc}; check the "
                                     f"mint address in [exchanges.{self.name}] tokens") from None
            known = self._mints[mint] = (Pubkey.from_string(mint_account.owner), size, extensions)
        return Pubkey.from_string(mint), known[0], known[1]

    async def _unsendable(self, asset: str) -> str | None:
        """Why the wallet's transfer cannot deliver ``asset`` as asked (a Token-2022 extension in
        :data:`UNSENDABLE_EXTENSIONS`), else None."""
        await self.token_accounts_of(asset)
        extensions = self._mints[self.settings.token(asset)[0]][2]
        reasons = [UNSENDABLE_EXTENSIONS[kind] for kind in extensions if kind in UNSENDABLE_EXTENSIONS]
        if not reasons:
            return None
        return (f"{self.name}: tokens.{asset} is a Token-2022 mint with {'; '.join(reasons)}; rebalancing does not "
                f"move it: move it by hand")

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        """The wallet's terms: no withdrawal fee, the signature's fee in SOL, and whole units of the asset only
        (``step``: one lamport, or one unit of the token's ``decimals``), which is all a transfer instruction moves."""
        if asset != "SOL" and asset not in self.settings.tokens:
            return None
        if asset != "SOL":
            refusal = await self._unsendable(asset)
            if refusal is not None:
                if asset not in self._unsendable_logged:
                    self._unsendable_logged.add(asset)
                    self.ctx.log.warning("%s", refusal)
                return None
        decimals = 9 if asset == "SOL" else self.settings.token(asset)[1]
        return TransferTerms(asset, Decimal(0), Decimal(0), Decimal(SIGNATURE_FEE_LAMPORTS).scaleb(-9), "SOL",
                             float(self.settings.transfer_expected_s), step=Decimal(1).scaleb(-decimals))

    async def transfer_terms_to(self, asset: str, address: str) -> TransferTerms | None:
        """As :meth:`transfer_terms`, plus, for a token whose destination has no associated token account yet (at the
        address derived with the mint's own program), the rent-exempt deposit of the account the transfer creates
        (``CreateIdempotent``, paid by the wallet), from the node's ``getMinimumBalanceForRentExemption`` of the size
        that program makes it (:meth:`token_accounts_of`): exact lamports."""
        terms = await self.transfer_terms(asset)
        if terms is None or asset == "SOL":
            return terms
        try:
            destination = Pubkey.from_string(address)
        except ValueError:
            raise PermanentError(f"{self.name}: {address!r} is not a Solana address") from None
        mint, program, size = await self.token_accounts_of(asset)
        try:
            _, account = await self.rpc.get_account_info(str(associated_token_account(destination, mint, program)))
            rent_lamports = 0 if account is not None else (
                await self.rpc.get_minimum_balance_for_rent_exemption(size))
        except RpcError as exc:
            raise rpc_error(exc, otherwise=TransientError, prefix=f"{self.name}: ") from None
        return replace(terms, network_fee=Decimal(SIGNATURE_FEE_LAMPORTS + rent_lamports).scaleb(-9))

    async def deposit_address(self, asset: str) -> str:
        return str(self.wallet.pubkey)

    async def withdraw(self, transfer_: Transfer) -> str:
        row = await self._transfer_row(transfer_.transfer_id)
        if row is not None:
            state = await self._chain_state(row)
            if state is TransferStatus.FAILED:
                raise PermanentError(f"{self.name}: transfer {transfer_.transfer_id} failed on chain ({row.signature})")
            if state is TransferStatus.SENT:
                return row.signature
            if state is not None:  # still valid, not landed yet: the same bytes again
                await self._broadcast(row)
                return row.signature
        row = await self._sign(transfer_)
        await self._broadcast(row)
        return row.signature

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        row = await self._transfer_row(transfer_.transfer_id)
        if row is None:
            return None
        state = await self._chain_state(row)
        return None if state is None else (TransferStatus.SENT if state is TransferStatus.PLANNED else state)

    async def credited(self, transfer_: Transfer) -> bool:
        return False

    async def withdrawal_fee(self, transfer_: Transfer) -> Decimal | None:
        """The wallet charges no withdrawal fee of its own (the chain's is :meth:`network_fee_paid`)."""
        return Decimal(0)

    async def network_fee_paid(self, transfer_: Transfer) -> Decimal | None:
        """What the landed transaction cost the wallet on top of what it moved, in SOL: the fee payer's balance before
        less after (``getTransaction``'s ``preBalances``/``postBalances``: ``meta.fee`` and the rent of a token account
        ``CreateIdempotent`` created, none when the account was there by then), less the lamports a SOL transfer sent.
        None while the node has no such transaction (not confirmed yet); a 429 is RateLimited with the node's
        ``Retry-After`` (:func:`.errors.rpc_error`)."""
        signature = transfer_.venue_ref
        if not signature:
            return None
        sent = int(transfer_.amount.scaleb(9)) if transfer_.asset == "SOL" else 0
        try:
            tx = await self.rpc.get_transaction(signature)
            if tx is None:
                return None
            lamports = paid_lamports(tx, str(self.wallet.pubkey)) - sent
            if lamports < fee_lamports(tx):
                raise MalformedReply(f"getTransaction {signature}: the wallet paid {lamports} lamports on top of what "
                                     "it sent, less than the transaction's fee")
        except RpcError as exc:
            raise rpc_error(exc, otherwise=TransientError, prefix=f"{self.name}: ") from None
        return Decimal(lamports).scaleb(-9)

    # --- internals ---------------------------------------------------------------------------

    async def _transfer_row(self, transfer_id: str) -> JupiterTransferRow | None:
        """The stored transfer, read on the store writer's thread after the writes handed to it before: a database
        that does not answer holds this transfer, never the loop."""
        row: JupiterTransferRow | None = await self.ctx.read_later(load_transfer, self.ctx.store, transfer_id)
        return row

    async def _chain_state(self, row: JupiterTransferRow) -> TransferStatus | None:
        """SENT (landed), FAILED (landed with an error), PLANNED (valid, not landed yet), None (expired unlanded).

        A status any node knows is an answer; "expired" is concluded only on one node (the height, then the
        status look-up after it: :meth:`~arbotlib.solana.rpc.SolanaRpc.pinned`), and a failure of that node
        concludes nothing (TransientError: asked again later; a 429 is RateLimited with the node's ``Retry-After``,
        :func:`.errors.rpc_error`)."""
        try:
            (status,) = await self.rpc.get_signature_statuses([row.signature])
            if status is None:
                node = self.rpc.pinned()
                height = await node.get_block_height()
                (status,) = await node.get_signature_statuses([row.signature])
        except RpcError as exc:
            raise rpc_error(exc, otherwise=TransientError, prefix=f"{self.name}: ") from None
        if status is not None:
            return TransferStatus.FAILED if status.err is not None else TransferStatus.SENT
        return TransferStatus.PLANNED if height <= row.last_valid_block_height else None

    async def _sign(self, transfer_: Transfer) -> JupiterTransferRow:
        owner = self.wallet.pubkey
        try:
            destination = Pubkey.from_string(transfer_.address)
        except ValueError:
            raise PermanentError(f"{self.name}: {transfer_.address!r} is not a Solana address") from None
        mint: Pubkey | None
        program = TOKEN_PROGRAM
        if transfer_.asset == "SOL":
            mint, decimals = None, 9
        else:
            decimals = self.settings.token(transfer_.asset)[1]
            mint, program, _ = await self.token_accounts_of(transfer_.asset)
            refusal = await self._unsendable(transfer_.asset)
            if refusal is not None:
                raise PermanentError(refusal)
        units = int(transfer_.amount.scaleb(decimals))
        if units <= 0 or Decimal(units).scaleb(-decimals) != transfer_.amount:
            raise PermanentError(f"{self.name}: {transfer_.amount} {transfer_.asset} is not a whole number of units")
        try:
            blockhash = await self.rpc.get_latest_blockhash()
        except RpcError as exc:
            raise rpc_error(exc, otherwise=TransientError, prefix=f"{self.name}: ") from None
        instructions = [*transfer_instructions(owner, destination, mint, units, decimals, program),
                        memo_instruction(transfer_.transfer_id)]  # its own transaction, whatever else is alike
        message = MessageV0.try_compile(owner, instructions, [], Hash.from_string(blockhash.blockhash))
        signed = self.wallet.sign(VersionedTransaction.populate(message, [Signature.default()]))
        row = JupiterTransferRow(transfer_id=transfer_.transfer_id, exchange=self.name,
                                 signature=str(signed.signatures[0]),
                                 signed_tx_b64=base64.b64encode(bytes(signed)).decode(),
                                 last_valid_block_height=blockhash.last_valid_block_height)
        # committed before the first send (asked again, it is found, never re-signed): awaited, on the store
        # writer's thread, so a database that does not answer holds this transfer (and its send), never the loop
        stored: JupiterTransferRow = await self.ctx.write_later(save_transfer, self.ctx.store, row)
        return stored

    async def _broadcast(self, row: JupiterTransferRow) -> None:
        """Send the stored bytes; lost or refused, :meth:`withdrawal` tells landed, pending or expired. A 429 is not
        taken: the same bytes go again once the node's ``Retry-After`` is over (no sooner than ``rebroadcast_s``), as
        a swap's sends do (:func:`.errors.rate_limited_wait_s`), for as long as the blockhash may still be valid."""
        gives_up = time.monotonic() + BLOCKHASH_VALIDITY_BLOCKS * SLOT_S
        while True:
            try:
                await self.rpc.send_transaction(base64.b64decode(row.signed_tx_b64),
                                                skip_preflight=self.settings.skip_preflight)
                return
            except RpcRateLimited as exc:
                wait_s = rate_limited_wait_s(exc.retry_after_s, self.settings.rebroadcast_s)
                if time.monotonic() + wait_s >= gives_up:
                    self.ctx.log.warning("%s: send of transfer %s (%s) not taken (%s) until its blockhash may have "
                                         "expired; followed as unsent", self.name, row.transfer_id, row.signature, exc)
                    return
                self.ctx.log.warning("%s: send of transfer %s (%s) not taken (%s); sending it again in %.1f s",
                                     self.name, row.transfer_id, row.signature, exc, wait_s)
                await asyncio.sleep(wait_s)
            except RpcError as exc:
                self.ctx.log.warning("%s: send of transfer %s (%s) not confirmed: %s", self.name, row.transfer_id,
                                     row.signature, exc)
                return
