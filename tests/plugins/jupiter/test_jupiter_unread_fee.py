"""A landed swap whose transaction the node cannot give back within ``fill_lookup_s`` still records the fee it paid.

The fee is a function of the signed bytes (5,000 lamports per signature and the priority fee: the compute-unit price
times the compute-unit limit the transaction sets, / 10**6 rounded up), so it is known without ``getTransaction``;
recording 0 (a landed swap) or nothing (one that landed failed) understates what the wallet paid.
"""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal

import pytest
from solders.transaction import VersionedTransaction

from bot.api import Fill, OrderReport
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SlippageExceeded
from plugins.jupiter.records import FAILED, LANDED, load_swap
from tests.fakes.solana_rpc import network_fee

SLIPPAGE_ON_CHAIN = {"InstructionError": [3, {"Custom": 6001}]}


def _order(cid: str = "unread-1") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


def _signed(row) -> VersionedTransaction:
    return VersionedTransaction.from_bytes(base64.b64decode(row.signed_tx_b64))


async def test_a_landed_swap_whose_transaction_is_unreadable_records_the_fee_its_bytes_pay(make_exchange, node,
                                                                                          caplog):
    node._getTransaction = lambda *a: None  # the node has not got it (yet): the fill shows the quote
    exchange = await make_exchange(fill_lookup_s=0.1, compute_unit_price_micro_lamports=123_457)
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.FILLED
    row = load_swap(exchange.ctx.store, "jupiter", "unread-1")
    paid = node.transactions[row.signature].fee  # what the chain took from the wallet
    assert paid == 5_000 + -(-123_457 * 58_800 // 1_000_000) == 12_260  # every digit: 7,259.2716 rounds up
    assert row.status == LANDED and row.fee_lamports == paid, f"recorded {row.fee_lamports}, paid {paid}"
    assert state.fills[0].fee == Decimal("0.00001226") and state.fills[0].price == Decimal(150)
    assert "the fee is the transaction's own" in caplog.text


async def test_a_swap_that_landed_failed_and_is_unreadable_still_reports_its_fee(make_exchange, node):
    node._getTransaction = lambda *a: None
    node.landed_err = SLIPPAGE_ON_CHAIN
    exchange = await make_exchange(fill_lookup_s=0.1, skip_preflight=True)
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order())
    row = load_swap(exchange.ctx.store, "jupiter", "unread-1")
    paid = node.transactions[row.signature].fee
    assert row.status == FAILED and row.fee_lamports == paid == 5_118, f"recorded {row.fee_lamports}, paid {paid}"
    (fill,) = [e for e in exchange.published if isinstance(e, Fill)]
    assert (fill.qty, fill.fee) == (0, Decimal("0.000005118"))


async def test_the_report_of_an_unreadable_failed_swap_carries_its_fee(make_exchange, node):
    node._getTransaction = lambda *a: None
    node.landed_err = SLIPPAGE_ON_CHAIN
    node.land = False
    exchange = await make_exchange(fill_lookup_s=0.1, skip_preflight=True)
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    node.land = True
    async with asyncio.timeout(5):
        while "unread-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.REJECTED
    assert [(f.qty, f.fee) for f in report.state.fills] == [(0, Decimal("0.000005118"))]


@pytest.mark.parametrize(("price", "limit"), [(0, 58_800), (1, 1), (999_999, 1), (10**12, 1_400_000),
                                              (3, 333_333), (1_000_000, 200_000)])
async def test_the_fee_of_signed_bytes_is_the_chains(make_exchange, node, jupiter_api, price, limit):
    from arbotlib.solana.transactions import charged_fee_lamports

    jupiter_api.compute_unit_limit = limit
    exchange = await make_exchange(compute_unit_price_micro_lamports=price,
                                   max_compute_unit_price_micro_lamports=10**12)
    await exchange.place_order(_order())
    row = load_swap(exchange.ctx.store, "jupiter", "unread-1")
    paid = node.transactions[row.signature].fee  # meta.fee (the rent of the USDC account it made is apart)
    assert charged_fee_lamports(_signed(row)) == network_fee(_signed(row)) == paid


def _tx_with(*budget) -> VersionedTransaction:
    from solders.hash import Hash
    from solders.keypair import Keypair
    from solders.message import MessageV0
    from solders.system_program import TransferParams, transfer

    payer = Keypair()
    move = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
    return VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [*budget, move], [], Hash.default()), [payer])


def test_the_fee_of_bytes_without_a_limit_is_not_guessed_and_a_limit_past_the_largest_is_clamped():
    from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price

    from arbotlib.solana.transactions import charged_fee_lamports

    assert charged_fee_lamports(_tx_with()) == 5_000  # no priority fee: the signature alone
    assert charged_fee_lamports(_tx_with(set_compute_unit_price(7))) is None  # the runtime's default limit: unknown
    assert charged_fee_lamports(_tx_with(set_compute_unit_limit(2_000_000), set_compute_unit_price(1_000_000))) == (
        5_000 + 1_400_000)
