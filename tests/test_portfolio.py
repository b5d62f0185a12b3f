"""The portfolio's touch: books as they come, a pool's mid made when read (a pool moves more often than it is read)."""

from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext

import pytest

from bot.domain import BookUpdate, Fill, Liquidity, Pool, PoolLiquidityError, PoolUpdate, Side
from bot.portfolio import Portfolio


class CountedPool(Pool):
    """A pool whose mid counts its calls (or fails: no liquidity)."""

    def __init__(self, mid: D | None):
        self.base, self.quote, self.base_decimals, self.quote_decimals = "SOL", "USDC", 9, 6
        self._mid = mid
        self.calls = 0

    def mid(self) -> D:
        self.calls += 1
        if self._mid is None:
            raise PoolLiquidityError("SOL/USDC: no liquidity")
        return +self._mid  # rounded to the context's precision, as a real pool's mid is

    @property
    def fee_bps(self) -> D:
        return D(4)

    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        raise NotImplementedError

    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        raise NotImplementedError


def test_a_pool_is_priced_once_when_its_touch_is_read_at_the_default_precision() -> None:
    portfolio = Portfolio(lambda: [])
    pools = [CountedPool(D("150.123456789012345678901234567890")) for _ in range(3)]
    for ts, pool in enumerate(pools):
        portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", pool, ts))
    assert [p.calls for p in pools] == [0, 0, 0]  # nothing made while nobody reads
    with localcontext() as ctx:
        ctx.prec = 60  # a reader's own context does not change the price
        mid = portfolio.last_price("dex", "SOL/USDC")
    assert mid == D("150.1234567890123456789012346") and portfolio.top("dex", "SOL/USDC") == (mid, mid)
    assert [p.calls for p in pools] == [0, 0, 1] and portfolio.data_times() == {("dex", "SOL/USDC"): 2}


def test_an_unpriceable_pool_keeps_the_touch_priced_before_it_and_its_time_counts(caplog: pytest.LogCaptureFixture
                                                                                   ) -> None:
    portfolio = Portfolio(lambda: [])
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", CountedPool(D(150)), 1))
    assert portfolio.top("dex", "SOL/USDC") == (D(150), D(150))
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", CountedPool(None), 2))
    assert portfolio.top("dex", "SOL/USDC") == (D(150), D(150))
    assert portfolio.data_times()[("dex", "SOL/USDC")] == 2 and "cannot be priced" in caplog.text
    portfolio.on_book(BookUpdate("dex", "SOL/USDC", ((D("149.9"), D(1)),), ((D("150.1"), D(1)),), 3))
    assert portfolio.top("dex", "SOL/USDC") == (D("149.9"), D("150.1"))


def test_a_follower_hears_the_first_update_past_its_time_once_before_it_replaces_the_one_in_force() -> None:
    portfolio = Portfolio(lambda: [])
    heard: list = []
    pool = CountedPool(D(150))
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", pool, 1))
    portfolio.follow(("dex", "SOL/USDC"), lambda key, ts, before: heard.append((key, ts, before)), 2)
    assert portfolio.top("dex", "SOL/USDC") == (D(150), D(150))  # priced: the entry keeps its pool as its source
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", pool, 2))  # not later than the time it waits for: not heard
    book = BookUpdate("dex", "SOL/USDC", ((D("149.9"), D(1)),), ((D("150.1"), D(1)),), 3)
    portfolio.on_book(book)
    portfolio.on_book(BookUpdate("cex", "SOL/USDC", ((D(1), D(1)),), ((D(2), D(1)),), 3))  # another market
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", pool, 4))  # heard once: followed no more
    assert [(key, ts, before[0], before[3]) for key, ts, before in heard] == [(("dex", "SOL/USDC"), 3, 2, pool)]
    assert portfolio.data_times() == {("dex", "SOL/USDC"): 4, ("cex", "SOL/USDC"): 3}


def test_a_position_is_what_the_account_holds_when_fees_are_paid_in_the_base() -> None:
    # a pool's network fee in SOL on SOL/USDC, a CEX's buy fee in BTC: each is base the account no longer holds;
    # a fee in the quote or a third asset moves no position
    portfolio = Portfolio(lambda: [])

    def fill(exchange: str, symbol: str, side: Side, qty: str, fee: str, fee_asset: str) -> Fill:
        return Fill(exchange, symbol, "c", f"t{fee}{side.value}", side, D(100), D(qty), D(fee), fee_asset,
                    Liquidity.TAKER, 1)

    portfolio.on_fill(fill("dex", "SOL/USDC", Side.BUY, "10", "0.000005", "SOL"))
    portfolio.on_fill(fill("dex", "SOL/USDC", Side.SELL, "4", "0.000005", "SOL"))
    portfolio.on_fill(fill("cex", "BTC/USD", Side.BUY, "0.01", "0.00001", "BTC"))
    portfolio.on_fill(fill("cex", "BTC/USD", Side.SELL, "0.005", "0.5", "USD"))
    portfolio.on_fill(fill("dex", "BONK/USDC", Side.BUY, "1000", "0.000005", "SOL"))
    assert portfolio.position("dex", "SOL/USDC") == D("5.99999")
    assert portfolio.position("cex", "BTC/USD") == D("0.00499")
    assert portfolio.position("dex", "BONK/USDC") == D("1000")
