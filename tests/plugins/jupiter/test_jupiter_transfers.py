"""Transfers out of the wallet (inventory rebalancing) against the fake Solana node: sent once, exactly."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from bot.api import PermanentError, Transfer, TransferStatus
from plugins.jupiter.transfers import associated_token_account

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
KRAKEN_DEPOSIT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def transfer(asset: str, amount: str, tid: str = "rb-wallet-1") -> Transfer:
    now = time.time_ns()
    return Transfer(tid, asset, Decimal(amount), "jupiter", "kraken", KRAKEN_DEPOSIT, Decimal(0),
                    Decimal("0.000005"), TransferStatus.PLANNED, now, now)


async def test_sol_goes_to_the_deposit_address_once_even_when_asked_again(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10 * 10**9
    ex = await make_exchange()
    terms = await ex.transfer_terms("SOL")
    assert (terms.fee, terms.network_fee, terms.network_fee_asset) == (Decimal(0), Decimal("0.000005"), "SOL")
    assert await ex.deposit_address("SOL") == owner
    t = transfer("SOL", "2.5")
    assert await ex.withdrawal(t) is None
    signature = await ex.withdraw(t)
    assert await ex.withdraw(t) == signature  # asked again after a crash: found landed, not sent again
    assert await ex.withdrawal(t) is TransferStatus.SENT
    assert node.lamports[KRAKEN_DEPOSIT] == 2_500_000_000
    assert node.lamports[owner] == 10 * 10**9 - 2_500_000_000 - node.fee_lamports
    assert node.signatures_sent().count(signature) == 1


async def test_a_token_goes_to_the_destinations_token_account_with_its_decimals_checked(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    await ex.withdraw(transfer("USDC", "1234.5"))
    ata = str(associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC)))
    assert node.token_transfers == [(USDC, 1_234_500_000, ata)]
    assert node.token_accounts[owner] == [(USDC, 5_000 * 10**6 - 1_234_500_000, 6)]


async def test_a_transaction_that_never_landed_and_expired_is_signed_anew_once(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("SOL", "1", "rb-wallet-lost")
    node.land = False
    first = await ex.withdraw(t)
    assert await ex.withdrawal(t) is TransferStatus.SENT  # pending: valid and not landed yet
    assert await ex.withdraw(t) == first  # rebroadcast, not re-signed
    node.expire_all()
    assert await ex.withdrawal(t) is None  # provably never landed
    node.land = True
    second = await ex.withdraw(t)
    assert second != first and node.landed.keys() == {second}
    assert node.lamports[KRAKEN_DEPOSIT] == 10**9


async def test_a_transfer_the_chain_refuses_is_failed(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10**9
    node.token_accounts[str(keypair.pubkey())] = [(USDC, 10, 6)]
    ex = await make_exchange()
    t = transfer("USDC", "5", "rb-wallet-short")
    await ex.withdraw(t)
    assert await ex.withdrawal(t) is TransferStatus.FAILED
    with pytest.raises(PermanentError, match="failed on chain"):
        await ex.withdraw(t)
    assert node.token_transfers == []
