"""Two transfers out of the wallet alike in asset, amount and destination, signed under one blockhash, are two
transactions: each carries its transfer id in a memo, so their signatures differ and both land (the node would take
the second for the first, "already processed", and the bot would believe it moved twice what it moved)."""

from __future__ import annotations

import time
from decimal import Decimal

from solders.transaction import VersionedTransaction

from bot.api import Transfer, TransferStatus

KRAKEN_DEPOSIT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
"""The SPL Memo program (v2)."""


def transfer(tid: str) -> Transfer:
    now = time.time_ns()
    return Transfer(tid, "SOL", Decimal("1"), "jupiter", "kraken", KRAKEN_DEPOSIT, Decimal(0),
                    Decimal("0.000005"), TransferStatus.PLANNED, now, now)


async def test_two_identical_transfers_under_one_blockhash_are_two_transactions(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10 * 10**9
    ex = await make_exchange()
    first = await ex.withdraw(transfer("rb-same-1"))
    second = await ex.withdraw(transfer("rb-same-2"))  # same blockhash: the node was not advanced
    print(f"signatures: {first} {second}; destination holds {node.lamports.get(KRAKEN_DEPOSIT, 0)} lamports")
    assert first != second
    assert node.landed.keys() == {first, second}
    assert node.lamports[KRAKEN_DEPOSIT] == 2 * 10**9  # what the two records say was moved
    fees = node.transactions[first].fee + node.transactions[second].fee
    assert node.lamports[owner] == 10 * 10**9 - 2 * 10**9 - fees


async def test_the_memo_names_the_transfer(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10**9
    ex = await make_exchange()
    signature = await ex.withdraw(transfer("rb-memo-1"))
    tx = VersionedTransaction.from_bytes(node.transactions[signature].raw)
    keys = tx.message.account_keys
    memos = [bytes(ix.data) for ix in tx.message.instructions if str(keys[ix.program_id_index]) == MEMO_PROGRAM]
    assert memos == [b"arbot transfer rb-memo-1"]
