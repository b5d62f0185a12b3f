"""Realized fills (the landed transaction's amounts and fee, not the quote's) and the dexes restriction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbotlib.solana.rpc import MalformedReply
from arbotlib.solana.transactions import NATIVE_MINT, balance_changes, fee_lamports
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SwapFailed
from plugins.jupiter.records import load_swap

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def _order(cid="fill-1", side=Side.SELL, qty="0.5") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=side,
                 qty=Decimal(qty), price=None, order_type=OrderType.MARKET)


async def test_a_sell_reports_the_landed_amounts_and_the_network_fee(make_exchange, node, jupiter_api, keypair):
    node.lamports[str(keypair.pubkey())] = 2_000_000_000
    node.token_accounts[str(keypair.pubkey())] = [(USDC, 0, 6)]  # its USDC account exists: no rent is paid
    node.fee_lamports = 15_000  # signature + priority fee
    jupiter_api.fill_slippage_bps = 30  # the pool moved: 0.3 % less out than quoted
    exchange = await make_exchange()
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.FILLED
    row = load_swap(exchange.ctx.store, "jupiter", "fill-1")
    assert row.out_amount == 75_000_000  # quoted: 0.5 SOL at 150
    assert (row.filled_base_units, row.filled_quote_units, row.fee_lamports) == (500_000_000, 74_775_000, 15_000)
    fill = state.fills[0]
    assert fill.qty == Decimal("0.5") and fill.price == Decimal("149.55") and fill.price != Decimal(150)
    assert (fill.fee, fill.fee_asset) == (Decimal("0.000015"), "SOL")
    # the transaction was read as documented: json, v0 allowed, at the swap's commitment
    assert "getTransaction" in node.calls
    # fetch_order after the fact gives the same realized fill (it is persisted)
    again = await exchange.fetch_order("SOL/USDC", "fill-1")
    assert again.fills[0] == fill


async def test_a_buy_reports_the_quote_really_paid(make_exchange, node, jupiter_api, keypair):
    owner = str(keypair.pubkey())
    node.token_accounts[owner] = [(USDC, 10**14, 6)]
    jupiter_api.fill_slippage_bps = 20  # 0.2 % more in than quoted
    exchange = await make_exchange()
    state = await exchange.place_order(_order(side=Side.BUY, qty="2"))
    row = load_swap(exchange.ctx.store, "jupiter", "fill-1")
    paid = -(-row.in_amount * 10_020 // 10_000)
    assert row.filled_base_units == 2_000_000_000 and row.filled_quote_units == paid > row.in_amount
    fill = state.fills[0]
    assert fill.qty == Decimal(2) and fill.price == Decimal(paid).scaleb(-6) / 2
    assert fill.price > Decimal(row.in_amount).scaleb(-6) / 2 and fill.fee == Decimal("0.000005118")
    assert node.token_accounts[owner] == [(USDC, 10**14 - paid, 6)]


async def test_unreadable_transaction_falls_back_to_the_quote(make_exchange, node, jupiter_api, caplog):
    node._getTransaction = lambda *a: None  # the node has not got it (yet)
    jupiter_api.fill_slippage_bps = 30
    exchange = await make_exchange(fill_lookup_s=0.1)
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.FILLED
    assert state.fills[0].price == Decimal(150) and state.fills[0].fee == Decimal("0.000005118")  # its bytes' fee
    assert "the fill shows the quoted amounts" in caplog.text


async def test_dexes_restrict_the_route(make_exchange, node, jupiter_api):
    exchange = await make_exchange(dexes=["Whirlpool"])
    await exchange.place_order(_order())
    assert jupiter_api.quotes[-1]["dexes"] == "Whirlpool"
    assert jupiter_api.swaps[-1]["quoteResponse"]["routePlan"][0]["swapInfo"]["label"] == "Whirlpool"
    several = await make_exchange(dexes=["Meteora DLMM", "Whirlpool"])
    await several.place_order(_order("fill-2"))
    assert jupiter_api.quotes[-1]["dexes"] == "Meteora DLMM,Whirlpool"
    assert jupiter_api.swaps[-1]["quoteResponse"]["routePlan"][0]["swapInfo"]["label"] == "Meteora DLMM"
    anywhere = await make_exchange()
    await anywhere.place_order(_order("fill-3"))
    assert "dexes" not in jupiter_api.quotes[-1]


async def test_no_route_on_the_dexes_signs_nothing(make_exchange, node, jupiter_api):
    exchange = await make_exchange(dexes=["Phoenix"])
    with pytest.raises(SwapFailed, match="COULD_NOT_FIND_ANY_ROUTE"):
        await exchange.place_order(_order())
    assert exchange.signatures_made == 0 and node.sent == [] and jupiter_api.swaps == []


def _tx(owner: str, *, pre_tokens, post_tokens, pre_lamports, post_lamports, fee=5_000, payer_index=0, loaded=()):
    keys = [f"Key{n}" for n in range(3)]
    if owner not in loaded:
        keys[payer_index] = owner

    def entries(tokens):
        return [{"accountIndex": 5 + n, "mint": mint, "owner": who, "programId": "x",
                 "uiTokenAmount": {"amount": str(amount), "decimals": 6, "uiAmount": None, "uiAmountString": ""}}
                for n, (mint, who, amount) in enumerate(tokens)]

    pre = [0] * (len(keys) + len(loaded))
    post = list(pre)
    index = keys.index(owner) if owner in keys else len(keys) + list(loaded).index(owner)
    pre[index], post[index] = pre_lamports, post_lamports
    return {"meta": {"fee": fee, "preBalances": pre, "postBalances": post, "preTokenBalances": entries(pre_tokens),
                     "postTokenBalances": entries(post_tokens),
                     "loadedAddresses": {"writable": list(loaded), "readonly": []}},
            "transaction": {"message": {"accountKeys": keys}}}


def test_balance_changes_net_of_the_fee_with_wrapped_sol_and_other_owners():
    me = "Me111111111111111111111111111111111111111"
    tx = _tx(me, pre_tokens=[(USDC, me, 10), (USDC, "Pool", 1_000), (NATIVE_MINT, me, 7)],
             post_tokens=[(USDC, me, 160), (USDC, "Pool", 850)],  # the wSOL account was closed
             pre_lamports=2_000_000_000, post_lamports=1_000_000_000 - 5_000 + 7)
    assert fee_lamports(tx) == 5_000
    # SOL: -1 SOL from the lamports (fee added back), +7 unwrapped lamports and -7 of wSOL: -1 SOL
    assert balance_changes(tx, me) == {USDC: 150, NATIVE_MINT: -1_000_000_000}
    # the owner as a loaded (address-table) key and not the fee payer: no fee added back
    tx = _tx(me, pre_tokens=[], post_tokens=[(USDC, me, 5)], pre_lamports=10, post_lamports=4, loaded=(me,))
    assert balance_changes(tx, me) == {USDC: 5, NATIVE_MINT: -6}
    with pytest.raises(MalformedReply, match="not the documented shape"):
        balance_changes({"meta": {"preTokenBalances": [{"owner": me}]},
                         "transaction": {"message": {"accountKeys": []}}}, me)
