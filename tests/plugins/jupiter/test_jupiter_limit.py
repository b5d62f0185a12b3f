"""A LIMIT price on Jupiter is the swap's bound on chain: a SELL's minimum out, a BUY's maximum in.

docs/plugins.md: "a LIMIT (IOC) price on a DEX is the worst acceptable *average* price, i.e. the swap's
minimum out (SELL) or maximum in (BUY)". The quote is checked against the limit before signing, and the
transaction's bound (the quoted amount and ``slippageBps``, from which the program derives it) is at
least as tight as the limit, so a pool that moves after the quote fails the swap instead of filling it
worse than the limit. The fake Jupiter enforces that bound as the program does (custom error 6001).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SlippageExceeded
from plugins.jupiter.exchange import limit_quote_units
from plugins.jupiter.records import FAILED, load_swap

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def _order(cid: str, side: Side, qty: str, price: str) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=side,
                 qty=Decimal(qty), price=Decimal(price), order_type=OrderType.LIMIT)


def _signed_bound(jupiter_api) -> tuple[int, int]:
    """(slippageBps, otherAmountThreshold) of the quote the last /swap was built from."""
    quote = jupiter_api.swaps[-1]["quoteResponse"]
    return int(quote["slippageBps"]), int(quote["otherAmountThreshold"])


@pytest.fixture
def funded(node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2_000_000_000
    node.token_accounts[owner] = [(USDC, 10**12, 6)]
    return owner


async def test_a_sell_at_its_limit_fails_on_chain_rather_than_fill_below_it(make_exchange, node, jupiter_api, funded):
    jupiter_api.fill_slippage_bps = 30  # the pool moves 0.3 % against us after the quote (150 per SOL)
    exchange = await make_exchange()  # slippage_bps 50 would allow 149.25
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order("lim-sell", Side.SELL, "0.5", "150"))
    assert _signed_bound(jupiter_api) == (0, 75_000_000)  # 0.5 SOL x 150 USDC: the minimum out on chain
    row = load_swap(exchange.ctx.store, "jupiter", "lim-sell")
    assert row.min_out_amount == 75_000_000 and row.status == FAILED
    assert node.lamports[funded] == 2_000_000_000 and node.token_accounts[funded] == [(USDC, 10**12, 6)]


async def test_a_buy_at_its_limit_fails_on_chain_rather_than_fill_above_it(make_exchange, node, jupiter_api, funded):
    jupiter_api.price = Decimal(10**9) / Decimal(150 * 10**6)  # base units per quote unit: 150 USDC per SOL
    jupiter_api.fill_slippage_bps = 20
    exchange = await make_exchange(skip_preflight=True)  # no simulation: it lands, and the program refuses it
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order("lim-buy", Side.BUY, "2", "150.01"))
    bps, max_in = _signed_bound(jupiter_api)
    assert bps == 0 and max_in <= 300_020_000  # 2 SOL x 150.01 USDC: the most the swap may take
    assert node.token_accounts[funded] == [(USDC, 10**12, 6)]  # nothing moved but the fee
    (landed,) = node.transactions.values()
    assert node.lamports[funded] == 2_000_000_000 - landed.fee


async def test_a_limit_inside_the_slippage_is_the_bound_to_the_unit(make_exchange, node, jupiter_api, funded):
    exchange = await make_exchange()
    jupiter_api.fill_slippage_bps = 20  # lands at exactly the limit: 74.85 USDC for 0.5 SOL
    state = await exchange.place_order(_order("at-limit", Side.SELL, "0.5", "149.70"))
    assert _signed_bound(jupiter_api) == (20, 74_850_000)
    assert state.status is OrderStatus.FILLED and state.fills[0].price == Decimal("149.70")
    jupiter_api.fill_slippage_bps = 21  # one basis point more: below the limit, refused on chain
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order("past-limit", Side.SELL, "0.5", "149.70"))


async def test_a_limit_looser_than_the_slippage_leaves_the_quote_as_jupiter_made_it(make_exchange, node, jupiter_api,
                                                                                   funded):
    jupiter_api.fill_slippage_bps = 30
    exchange = await make_exchange()
    state = await exchange.place_order(_order("loose", Side.SELL, "0.5", "140"))
    assert _signed_bound(jupiter_api) == (50, 74_625_000)  # Jupiter's own: 75 USDC less 0.5 %
    assert state.status is OrderStatus.FILLED and state.fills[0].price == Decimal("149.55")


def test_the_limit_in_quote_units_is_exact_and_rounds_against_us():
    limit, qty = Decimal("150.0000000000000000000000000001"), Decimal("0.333333333333333333333333333")
    exact = Fraction(limit) * Fraction(qty) * 10**6
    assert limit_quote_units(limit, qty, 6, Side.SELL) == -(-exact.numerator // exact.denominator)
    assert limit_quote_units(limit, qty, 6, Side.BUY) == exact.numerator // exact.denominator
    assert limit_quote_units(Decimal("150"), Decimal("0.5"), 6, Side.SELL) == 75_000_000
    assert limit_quote_units(Decimal("150.01"), Decimal("2"), 6, Side.BUY) == 300_020_000
