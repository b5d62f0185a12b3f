"""A quantity finer than the base token's unit is refused by name before anything is signed, never truncated.

A token with 0 decimals (or any token, below its last decimal) cannot be swapped in fractions of its unit: swapping
the truncated amount filled a different quantity than the order's, and a fill shown from the quote divided the
truncated amount's price by the order's quantity.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from bot.api import PermanentError
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.records import load_swap

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
WHOLE = str(Pubkey(bytes([7] * 32)))  # a token with 0 decimals
FINE = str(Pubkey(bytes([9] * 32)))  # a token with 12 decimals
TOKENS = {"SOL": "So11111111111111111111111111111111111111112:9", "USDC": f"{USDC}:6", "WHOLE": f"{WHOLE}:0",
          "FINE": f"{FINE}:12"}


def _order(symbol: str, side: Side, qty: str, cid: str = "units-1") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol=symbol, side=side, qty=Decimal(qty),
                 price=None, order_type=OrderType.MARKET)


@pytest.mark.parametrize(("symbol", "qty", "unit"), [("WHOLE/USDC", "1.5", "1"), ("FINE/USDC", "0.0000000000015",
                                                                                    "0.000000000001"),
                                                     ("SOL/USDC", "0.1234567891", "0.000000001")])
@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
async def test_a_quantity_finer_than_the_token_unit_is_refused_by_name(make_exchange, node, jupiter_api, symbol, qty,
                                                                       unit, side):
    exchange = await make_exchange(symbols=[symbol], tokens=TOKENS)
    base = symbol.split("/")[0]
    with pytest.raises(PermanentError) as info:
        await exchange.place_order(_order(symbol, side, qty))
    message = str(info.value)
    assert f"{qty} {base}" in message and f"{unit} {base}" in message, message
    assert exchange.signatures_made == 0 and node.sent == [] and jupiter_api.quotes == []
    assert load_swap(exchange.ctx.store, "jupiter", "units-1") is None  # nothing stored: the executor may size again


async def test_whole_units_of_a_0_decimal_token_swap_exactly(make_exchange, node, jupiter_api):
    jupiter_api.decimals[WHOLE] = 0
    jupiter_api.price = Decimal(1_500_000)  # raw USDC units per unit: 1.5 USDC
    exchange = await make_exchange(symbols=["WHOLE/USDC"], tokens=TOKENS)
    node.token_accounts[str(exchange.wallet.pubkey)] = [(WHOLE, 10, 0), (USDC, 0, 6)]
    state = await exchange.place_order(_order("WHOLE/USDC", Side.SELL, "3"))
    assert state.status is OrderStatus.FILLED and state.filled_qty == 3
    assert jupiter_api.quotes[-1]["amount"] == "3"
    assert state.avg_fill_price == Decimal("1.5")


async def test_a_quote_that_pays_nothing_names_the_amounts(make_exchange, node, jupiter_api):
    """One lamport of SOL at 0.15 USDC per SOL is worth 0.00000000015 USDC: the route pays 0 raw units for it. The
    error says so with the amounts, not as a malformed reply."""
    exchange = await make_exchange()
    with pytest.raises(PermanentError) as info:
        await exchange.place_order(_order("SOL/USDC", Side.SELL, "0.000000001"))
    message = str(info.value)
    assert "1 raw units of SOL in" in message and "0 raw units of USDC out" in message, message
    assert exchange.signatures_made == 0 and node.sent == []
