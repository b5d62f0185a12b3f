"""What a landed transaction did to one owner's holdings, from ``getTransaction`` (json encoding).

``meta.preTokenBalances``/``postTokenBalances`` give every token account the transaction touched,
with its owner and mint; ``meta.preBalances``/``postBalances`` give lamports per account key (the
message's keys, then the address-table ones of ``meta.loadedAddresses``). Native SOL is reported
under the wrapped-SOL mint, together with any wrapped SOL the owner held, so a swap that wraps
and unwraps SOL (Jupiter's ``wrapAndUnwrapSol``) shows its SOL leg either way. The network fee
(``meta.fee``) is *not* part of the changes: it is added back when the owner paid it. Rent paid
for a token account the transaction created (and kept) does show in the SOL change;
:func:`created_account_rent_lamports` tells how much of it that was.

:func:`charged_fee_lamports` is the fee a signed transaction pays, from its own bytes: what ``meta.fee`` will say,
known before (or without) ``getTransaction``.
"""

from __future__ import annotations

from typing import Any

from solders.transaction import VersionedTransaction

from .rpc import MalformedReply

NATIVE_MINT = "So11111111111111111111111111111111111111112"
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
LAMPORTS_PER_SIGNATURE = 5_000
"""Solana's base fee per signature."""
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
"""A transaction's largest compute-unit limit: a ``SetComputeUnitLimit`` above it is clamped to it."""


def charged_fee_lamports(tx: VersionedTransaction) -> int | None:
    """The fee the chain charges ``tx`` whether it succeeds or fails: 5,000 lamports per signature plus the priority
    fee, its ``SetComputeUnitPrice`` (micro-lamports per unit) times its ``SetComputeUnitLimit`` (at most 1,400,000)
    / 10**6, rounded up; exact integers. None when it sets a price but no limit (the runtime's default limit then
    depends on its instructions and the cluster's version: not told here). Precompile signatures (ed25519,
    secp256k1), which a swap does not carry, are not counted."""
    message = tx.message
    keys = [str(k) for k in message.account_keys]
    limit: int | None = None
    price = 0
    for ix in message.instructions:
        if keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM:
            continue
        data = bytes(ix.data)
        if data[:1] == b"\x02" and len(data) >= 5:
            limit = int.from_bytes(data[1:5], "little")
        elif data[:1] == b"\x03" and len(data) >= 9:
            price = int.from_bytes(data[1:9], "little")
    base = LAMPORTS_PER_SIGNATURE * len(tx.signatures)
    if price == 0:
        return base
    if limit is None:
        return None
    return base + -(-price * min(limit, MAX_COMPUTE_UNIT_LIMIT) // 1_000_000)


def fee_lamports(tx: dict[str, Any]) -> int:
    """``meta.fee``: signature fees plus the priority fee, in lamports."""
    try:
        return int(tx["meta"]["fee"])
    except (KeyError, TypeError, ValueError):
        raise MalformedReply("getTransaction: meta has no fee") from None


def balance_changes(tx: dict[str, Any], owner: str) -> dict[str, int]:
    """Net change of ``owner``'s holdings by mint, in raw units, the network fee excluded."""
    try:
        meta = tx["meta"]
        message = tx["transaction"]["message"]
        loaded = meta.get("loadedAddresses") or {}
        keys = [str(k) for k in message["accountKeys"]] + list(loaded.get("writable", [])) + list(
            loaded.get("readonly", []))
        changes: dict[str, int] = {}
        for entries, sign in ((meta.get("preTokenBalances") or [], -1), (meta.get("postTokenBalances") or [], 1)):
            for entry in entries:
                if entry.get("owner") != owner:
                    continue
                mint = str(entry["mint"])
                changes[mint] = changes.get(mint, 0) + sign * int(entry["uiTokenAmount"]["amount"])
        if owner in keys:
            index = keys.index(owner)
            lamports = int(meta["postBalances"][index]) - int(meta["preBalances"][index])
            if index == 0:  # the fee payer: the fee is reported on its own
                lamports += fee_lamports(tx)
            changes[NATIVE_MINT] = changes.get(NATIVE_MINT, 0) + lamports
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise MalformedReply("getTransaction: meta balances are not the documented shape") from None
    return {mint: delta for mint, delta in changes.items() if delta}


def created_account_rent_lamports(tx: dict[str, Any], owner: str) -> int:
    """Lamports deposited into ``owner``'s token accounts that the transaction created and kept open: their rent.

    Such an account is in ``postTokenBalances`` (owner's) and not in ``preTokenBalances``; its deposit is its
    ``postBalances`` less its ``preBalances`` entry (0: it did not exist), less the tokens of a wrapped-SOL
    account (there the lamports are the tokens too). A wrapped-SOL account opened and closed in the transaction
    (Jupiter's ``wrapAndUnwrapSol``) is in neither list: its deposit came back."""
    try:
        meta = tx["meta"]
        before = {int(e["accountIndex"]) for e in meta.get("preTokenBalances") or [] if e.get("owner") == owner}
        rent = 0
        for entry in meta.get("postTokenBalances") or []:
            index = int(entry["accountIndex"])
            if entry.get("owner") != owner or index in before:
                continue
            deposit = int(meta["postBalances"][index]) - int(meta["preBalances"][index])
            if str(entry["mint"]) == NATIVE_MINT:
                deposit -= int(entry["uiTokenAmount"]["amount"])
            rent += deposit
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise MalformedReply("getTransaction: meta balances are not the documented shape") from None
    return rent
