"""What a Jupiter swap costs beyond its amounts, predicted per side and read back: the network fee on the compute-unit
limit of the route being priced, and the rent of an output token account the swap creates."""

from __future__ import annotations

from decimal import Decimal

from solders.pubkey import Pubkey

from arbotlib.solana.transactions import NATIVE_MINT, balance_changes, created_account_rent_lamports
from bot.domain import Order, OrderStatus, OrderType, Side, SwapFee
from plugins.jupiter.records import load_swap
from plugins.jupiter.transfers import associated_token_account

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
RENT = 2_039_280
"""``getMinimumBalanceForRentExemption(165)``: what creating an SPL token account deposits into it."""


def _order(cid: str, side: Side, qty: str) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=side,
                 qty=Decimal(qty), price=None, order_type=OrderType.MARKET)


async def test_a_swap_creating_its_output_token_account_pays_the_rent_once_and_its_fee_shows_it(
        make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2 * 10**9  # SOL, and no USDC account yet
    exchange = await make_exchange(compute_unit_price_micro_lamports=1_000)
    # selling SOL pays USDC out into an account the swap creates; buying SOL pays native SOL out (the wrapped-SOL
    # account Jupiter opens for it is closed in the same transaction, its deposit refunded)
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 1_400, RENT)
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, 1_400)
    assert await exchange.swap_fee_lamports("SOL/USDC") == SwapFee(5_000, 1_400, RENT)  # either side: the dearer

    state = await exchange.place_order(_order("rent-1", Side.SELL, "0.5"))
    assert state.status is OrderStatus.FILLED
    landed = node.transactions[state.exchange_order_id]
    network = landed.fee
    assert network == 5_000 + -(-1_000 * 58_800 // 10**6)
    # the chain took the network fee and the new account's deposit from the wallet's SOL; the fill sells what was
    # sold, and its fee is both
    assert node.lamports[owner] == 2 * 10**9 - 500_000_000 - network - RENT
    (fill,) = state.fills
    assert fill.qty == Decimal("0.5") and fill.price == Decimal(150)
    assert (fill.fee, fill.fee_asset) == (Decimal(network + RENT).scaleb(-9), "SOL")
    assert load_swap(exchange.ctx.store, "jupiter", "rent-1").fee_lamports == network + RENT
    tx = node._getTransaction(state.exchange_order_id, {"maxSupportedTransactionVersion": 0})
    assert created_account_rent_lamports(tx, owner) == RENT
    assert balance_changes(tx, owner) == {NATIVE_MINT: -500_000_000 - RENT, USDC: 75_000_000}

    # the account exists now: the node says so, and the next swap into it pays the network fee alone
    ata = str(associated_token_account(Pubkey.from_string(owner), Pubkey.from_string(USDC)))
    assert node._getAccountInfo(ata, {"encoding": "base64"})["value"]["lamports"] == RENT
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 59)
    again = await exchange.place_order(_order("rent-2", Side.SELL, "0.1"))
    assert again.fills[0].fee == Decimal(node.transactions[again.exchange_order_id].fee).scaleb(-9)
    assert created_account_rent_lamports(
        node._getTransaction(again.exchange_order_id, {"maxSupportedTransactionVersion": 0}), owner) == 0
    # buying SOL back: native SOL out, no account kept, no rent
    bought = await exchange.place_order(_order("rent-3", Side.BUY, "0.1"))
    assert bought.fills[0].qty == Decimal("0.1")
    assert bought.fills[0].fee == Decimal(node.transactions[bought.exchange_order_id].fee).scaleb(-9)


async def test_the_compute_limit_predicted_is_the_one_of_the_route_priced(make_exchange, node, jupiter_api, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2 * 10**9
    node.token_accounts[owner] = [(USDC, 10**9, 6)]  # both accounts exist: no rent either way
    exchange = await make_exchange(compute_unit_price_micro_lamports=1_000_000)  # 1 lamport per compute unit
    # no swap yet: a transaction's largest limit, on either route
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 1_400_000)
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, 1_400_000)

    jupiter_api.compute_unit_limit = 58_800  # Jupiter's simulation of the SOL -> USDC route
    await exchange.place_order(_order("cu-1", Side.SELL, "0.1"))
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 58_800)
    # the USDC -> SOL route was never simulated: what the SELL route took says nothing of it
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, 1_400_000)

    jupiter_api.compute_unit_limit = 91_000  # ... and of the USDC -> SOL one
    state = await exchange.place_order(_order("cu-2", Side.BUY, "0.1"))
    assert node.transactions[state.exchange_order_id].fee == 5_000 + 91_000
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, 91_000)
    assert await exchange.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 58_800)
    # side None: a bound for either route
    assert await exchange.swap_fee_lamports("SOL/USDC") == SwapFee(5_000, 91_000)
