"""The SOL fees the size search subtracts as an integer (``Pricer._fixed_scaled``) are kept per book touch and
pricing scale ``e``: a book whose price decimals change on the same pool state (the scale may stay), or a new swap
fee, must not be priced with the fees kept for the touch before. Each case is compared with a fresh pricer on the
same inputs: the same decision and the same figures."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import BookUpdate, SwapFee
from plugins.arb.pricing import Direction
from tests.plugins.arb.test_arb_pricing_kit import RICH, pool, pricer

BUY_CEX = Direction.BUY_CEX_SELL_DEX


def units_book(bid: int, ask: int, price_decimals: int) -> BookUpdate:
    """One level a side, 50 SOL each, prices in ``10**-price_decimals``."""
    return BookUpdate.of_units("cex", "SOL/USDC", ((bid, 5_000),), ((ask, 5_000),), price_decimals, 2, 0)


def figures(ev) -> tuple:
    return ev.tradable, ev.size, ev.net_pnl, ev.costs, ev.cex_limit_price, ev.dex_limit_price, ev.reason


def test_the_same_touch_units_in_other_price_decimals_on_one_pool_state_price_the_fees_at_their_own_price():
    # 148.70 / 148.80, then the same integers read as 14.870 / 14.880 (a venue that changed its precision): SOL is
    # the base, so its price (the CEX mid) is ten times less and so are the SOL fees in USDC. The pricing scale stays
    # (it follows the pool mid's decimals here), so fees kept per touch and scale would be the first book's
    p = pricer(pool(1_000, 150_000))
    first, second = units_book(14_870, 14_880, 2), units_book(14_870, 14_880, 3)
    assert p.tradable(BUY_CEX, first, RICH) is True  # the integer path (_fixed_scaled) on the first book
    figures(p.evaluate(first, RICH)[0])  # and the figures (the fees' Decimals)
    e = p._e
    after = p.evaluate(second, RICH)[0]
    assert p._e == e  # the case: the same scale, another price unit
    fresh = pricer(pool(1_000, 150_000))
    expected = fresh.evaluate(second, RICH)[0]
    assert figures(after) == figures(expected)
    sol_price = Decimal("14.875")
    assert after.cost("network fee") == Decimal(5_000).scaleb(-9) * sol_price


def test_a_book_back_in_its_first_price_decimals_is_priced_as_a_fresh_pricer_prices_it():
    p = pricer(pool(1_000, 150_000))
    first, second = units_book(14_870, 14_880, 2), units_book(14_870, 14_880, 3)
    for book in (first, second, first):
        got = p.evaluate(book, RICH)[0]
        assert figures(got) == figures(pricer(pool(1_000, 150_000)).evaluate(book, RICH)[0])


def test_a_new_swap_fee_on_the_same_pool_state_and_touch_decides_with_the_new_fee():
    # 80 bps of gross edge: tradable with the settings' fee (7,000 lamports), not with a 0.05 SOL priority fee (about
    # 7.4 USDC a swap, more than the best size nets); both the integer decision (``tradable``, the size search) and
    # the figures must follow the fee at once, on the pool state and touch whose fees were already made
    book = units_book(14_870, 14_880, 2)
    dear = SwapFee(5_000, 50_000_000)
    cheap_fresh = pricer(pool(1_000, 150_000)).evaluate(book, RICH)[0]
    dear_fresh_pricer = pricer(pool(1_000, 150_000))
    dear_fresh_pricer.set_swap_fee(dear)
    dear_fresh = dear_fresh_pricer.evaluate(book, RICH)[0]
    assert cheap_fresh.tradable and not dear_fresh.tradable  # the fee decides

    p = pricer(pool(1_000, 150_000))
    assert p.tradable(BUY_CEX, book, RICH) is True
    assert figures(p.evaluate(book, RICH)[0]) == figures(cheap_fresh)
    p.set_swap_fee(dear)
    assert p.tradable(BUY_CEX, book, RICH) is not True
    assert figures(p.evaluate(book, RICH)[0]) == figures(dear_fresh)
    p.set_swap_fee(SwapFee(5_000, 2_000))  # back to the settings' figures (signature 5,000 + 2,000 priority)
    assert p.tradable(BUY_CEX, book, RICH) is True
    assert figures(p.evaluate(book, RICH)[0]) == figures(cheap_fresh)
