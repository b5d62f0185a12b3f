"""A swap that landed failed still paid its network + priority fee: it is stored, reported and reaches the ledger.

Nothing moved but ``meta.fee``: the REJECTED state carries the fee as a fill of no quantity, which the executor
applies once like any fill (the order's fee, the ledger's fees and the SOL position).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot.api import Fill, OrderReport
from bot.domain import Order, OrderIntent, OrderStatus, OrderType, Side
from bot.ledger import Ledger
from plugins.jupiter.errors import SlippageExceeded
from plugins.jupiter.records import FAILED, load_swap
from tests.plugins.jupiter.test_jupiter_bot import bot_toml, started_bot

SLIPPAGE_ON_CHAIN = {"InstructionError": [3, {"Custom": 6001}]}


def _order() -> Order:
    return Order(client_order_id="swap-1", strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def test_a_swap_that_landed_failed_records_and_reports_the_fee_it_paid(make_exchange, node, keypair):
    node.landed_err = SLIPPAGE_ON_CHAIN  # the slippage check failed on chain
    node.fee_lamports = 15_000  # signature + priority fee, paid all the same
    node.lamports[str(keypair.pubkey())] = 1_000_000_000
    exchange = await make_exchange(skip_preflight=True)
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order())
    assert node.lamports[str(keypair.pubkey())] == 1_000_000_000 - 15_000  # the wallet paid the fee
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert row.status == FAILED
    assert row.fee_lamports == 15_000, f"fee of the landed failed swap not recorded: {row.fee_lamports}"
    (published,) = [e for e in exchange.published if isinstance(e, Fill)]  # the caller only got the error
    assert (published.qty, published.fee, published.fee_asset) == (0, Decimal("0.000015"), "SOL")
    assert published.trade_id == row.signature and published.client_order_id == "swap-1"
    assert published.price == Decimal("150")  # the quoted price, at which the ledger values the fee
    state = await exchange.fetch_order("SOL/USDC", "swap-1")  # a look-up says the same
    assert state.status is OrderStatus.REJECTED and state.filled_qty == 0 and state.fills == (published,)


async def test_the_fee_of_a_swap_that_landed_failed_is_in_its_report_when_no_call_waits(make_exchange, node):
    node.landed_err = SLIPPAGE_ON_CHAIN
    node.land = False
    exchange = await make_exchange(skip_preflight=True)
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    node.land = True  # the next rebroadcast lands, failed
    async with asyncio.timeout(5):
        while "swap-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.REJECTED
    assert [(f.qty, f.fee) for f in report.state.fills] == [(0, Decimal("0.000005118"))]  # signature + priority fee


async def test_a_swap_that_landed_failed_shows_its_fee_in_the_ledger_and_the_sol_position(tmp_path, node,
                                                                                          jupiter_api, monkeypatch):
    node.landed_err = SLIPPAGE_ON_CHAIN
    node.fee_lamports = 15_000
    bot = await started_bot(bot_toml(tmp_path, node, jupiter_api) + "skip_preflight = true\n", monkeypatch)
    try:
        cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="jupiter", symbol="SOL/USDC",
                                              side=Side.SELL, qty=Decimal(1), order_type=OrderType.MARKET,
                                              client_order_id="manual-swap-1"))
        async with asyncio.timeout(10):
            while (order := bot.executor.order(cid)) is None or not order.status.terminal or not order.fee:
                await asyncio.sleep(0.02)
            while not bot.store.fills():  # the writer stored the fee's fill
                await asyncio.sleep(0.02)
        assert order.status is OrderStatus.REJECTED and order.filled_qty == 0
        assert order.fee == Decimal("0.000015") * 150 and len(node.transactions) == 1  # in the quote, as the ledger
        assert bot.portfolio.position("jupiter", "SOL/USDC") == Decimal("-0.000015")  # the SOL the fee took
        (market,) = Ledger(bot.store).strategy("manual").markets
        assert market.fees == Decimal("0.000015") * 150  # the fee in USDC at the quoted price
        assert market.position == Decimal("-0.000015") and market.round_trips == 0 and market.realized == 0
    finally:
        await bot.stop()
