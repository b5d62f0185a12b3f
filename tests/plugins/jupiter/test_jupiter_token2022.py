"""A swap paying out a Token-2022 token: its associated token account is derived with the Token-2022 program id (the
ATA program's seeds are owner, token program, mint), and the account a swap creates for it is as large as the mint's
extensions make it (``ImmutableOwner``, ``TransferFeeAmount`` for a transfer-fee mint ...), so its rent is the rent of
that size, not of a classic 165-byte account."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from bot.api import ExchangeError
from bot.domain import Order, OrderStatus, OrderType, Side, SwapFee
from plugins.jupiter.transfers import associated_token_account, token_account_bytes
from tests.fakes.solana_rpc import TOKEN_2022_PROGRAM, Mint

PYUSD = "At2dkP1DWYW9guf36obLt3ijxkWEmDhnNsHJ1cBS3gPV"  # a Token-2022 mint (made up)
TOKENS = {"SOL": "So11111111111111111111111111111111111111112:9", "PYUSD": f"{PYUSD}:6"}
TRANSFER_FEE = ((1, 108),)
"""A mint with ``TransferFeeConfig`` (108 bytes): its accounts carry ``TransferFeeAmount`` (8 bytes)."""
RENT_182 = (128 + 182) * 3480 * 2
"""165 bytes, the account type, ``ImmutableOwner`` (4) and ``TransferFeeAmount`` (4 + 8): 182 bytes."""


def _order(cid: str, side: Side, qty: str) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/PYUSD", side=side,
                 qty=Decimal(qty), price=None, order_type=OrderType.MARKET)


def test_the_account_size_follows_the_mint_program_and_extensions():
    assert token_account_bytes("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", Mint().data()) == 165
    assert token_account_bytes(TOKEN_2022_PROGRAM, Mint(TOKEN_2022_PROGRAM).data()) == 170  # ImmutableOwner alone
    assert token_account_bytes(TOKEN_2022_PROGRAM, Mint(TOKEN_2022_PROGRAM, extensions=TRANSFER_FEE).data()) == 182
    # metadata pointer and metadata ask nothing of accounts; a transfer hook adds its 1-byte flag
    assert token_account_bytes(TOKEN_2022_PROGRAM, Mint(TOKEN_2022_PROGRAM,
                                                        extensions=((18, 64), (19, 90), (14, 64))).data()) == 175
    with pytest.raises(ValueError, match="neither the Token Program nor Token-2022"):
        token_account_bytes("11111111111111111111111111111111", Mint().data())


async def test_a_token_2022_output_is_looked_up_at_its_own_address_and_priced_at_its_size(
        make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2 * 10**9
    node.add_mint(PYUSD, extensions=TRANSFER_FEE)
    exchange = await make_exchange(symbols=["SOL/PYUSD"], tokens=TOKENS, compute_unit_price_micro_lamports=1_000)
    # no PYUSD account yet: selling SOL creates a 182-byte one
    assert await exchange.swap_fee_lamports("SOL/PYUSD", Side.SELL) == SwapFee(5_000, 1_400, RENT_182)

    state = await exchange.place_order(_order("t22-1", Side.SELL, "0.5"))
    assert state.status is OrderStatus.FILLED
    landed = node.transactions[state.exchange_order_id]
    assert landed.created == {PYUSD: RENT_182}
    assert state.fills[0].fee == Decimal(landed.fee + RENT_182).scaleb(-9)

    # the account exists now, at the address derived with the Token-2022 program: the next swap pays no rent
    ata = str(associated_token_account(Pubkey.from_string(owner), Pubkey.from_string(PYUSD),
                                       Pubkey.from_string(TOKEN_2022_PROGRAM)))
    assert node._getAccountInfo(ata, {"encoding": "base64"})["value"]["space"] == 182
    assert await exchange.swap_fee_lamports("SOL/PYUSD", Side.SELL) == SwapFee(5_000, 59)


async def test_an_existing_token_2022_account_costs_no_rent(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2 * 10**9
    node.add_mint(PYUSD, extensions=TRANSFER_FEE)
    node.token_accounts[owner] = [(PYUSD, 0, 6)]
    exchange = await make_exchange(symbols=["SOL/PYUSD"], tokens=TOKENS, compute_unit_price_micro_lamports=1_000)
    assert await exchange.swap_fee_lamports("SOL/PYUSD", Side.SELL) == SwapFee(5_000, 1_400)


async def test_a_mint_the_node_does_not_know_is_named(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 2 * 10**9
    exchange = await make_exchange(symbols=["SOL/PYUSD"], tokens=TOKENS)  # PYUSD's mint unknown to this node
    with pytest.raises(ExchangeError, match=f"{PYUSD}.*tokens.PYUSD"):
        await exchange.swap_fee_lamports("SOL/PYUSD", Side.SELL)
