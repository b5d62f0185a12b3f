"""The backtest's mark tape: each market's mid noted when it changed, a market that did not move not priced again."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.backtest.clock import BacktestClock
from bot.backtest.driver import MarkTape, run_backtest
from bot.domain import BookUpdate, PoolUpdate
from bot.portfolio import Portfolio
from tests.backtest.backtest_kit import write_config
from tests.plugins.arb.arb_kit import arb_plugins
from tests.test_portfolio import CountedPool


def book(ts_ns: int, bid: str, ask: str, exchange: str = "cex") -> BookUpdate:
    return BookUpdate(exchange, "SOL/USDC", ((D(bid), D(1)),), ((D(ask), D(1)),), ts_ns)


class CountingPortfolio(Portfolio):
    """A portfolio counting the mids read of it."""

    reads = 0

    def last_price(self, exchange: str, symbol: str) -> D | None:
        self.reads += 1
        return super().last_price(exchange, symbol)


def test_the_tape_notes_changed_mids_in_market_order_and_prices_a_market_that_did_not_move_once() -> None:
    clock = BacktestClock(0)
    portfolio = CountingPortfolio(lambda: [])
    tape = MarkTape(portfolio, clock)
    pool = CountedPool(D(150))
    portfolio.on_pool(PoolUpdate("dex", "SOL/USDC", pool, 1))
    portfolio.on_book(book(1, "149", "151"))
    tape.take()
    clock.advance_to(10)
    tape.take()  # nothing moved: no mid read, nothing noted
    assert portfolio.reads == 2
    portfolio.on_book(book(11, "149", "153"))  # a new market comes in between the two
    portfolio.on_book(book(11, "10", "20", exchange="bbb"))
    portfolio.top("dex", "SOL/USDC")  # read by someone else: the same update
    clock.advance_to(20)
    tape.take()
    portfolio.on_book(book(21, "150", "152"))  # moved, to the same mid: not noted
    clock.advance_to(30)
    tape.take()
    assert tape.changes == [(0, "cex", "SOL/USDC", D(150)), (0, "dex", "SOL/USDC", D(150)),
                            (20, "bbb", "SOL/USDC", D(15)), (20, "cex", "SOL/USDC", D(151))]
    assert portfolio.reads == 2 + 0 + 2 + 1 and pool.calls == 1


def test_the_venues_alone_are_not_marked_and_a_strategy_s_market_is(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a strategy there is no fill, so no equity curve: the tape is not even read."""
    taken: list[int] = []
    take = MarkTape.take

    def counted(self: MarkTape, *args: object) -> None:
        taken.append(len(self.changes))
        take(self, *args)

    monkeypatch.setattr(MarkTape, "take", counted)
    text = write_config(tmp_path).read_text()
    venues = tmp_path / "venues.toml"
    venues.write_text(text[:text.index("[strategies.sol-arb]")])
    result = run_backtest(venues, tmp_path / "venues", 90, chart=False, require_strategy=False,
                          extra_plugins=arb_plugins())
    assert result.steps == 90 and taken == [] and result.host.equity == {}
    run_backtest(write_config(tmp_path), tmp_path / "arb", 90, chart=False, extra_plugins=arb_plugins())
    assert len(taken) >= 7  # 6 s of market: a reading each simulated second, and one at the end
