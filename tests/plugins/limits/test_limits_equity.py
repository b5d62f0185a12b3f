"""Property: the drawdown's equity, kept up to date book by book as fills and marks come, is the full recomputation
(the ledger's realized PnL after fees plus every open lot marked again), to the last digit."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import ManualClock
from bot.domain import BookUpdate, Fill, Liquidity, Side
from bot.ledger import market_figures
from bot.settings import ConfigIssue, parse_settings
from plugins.limits.check import Limits
from plugins.limits.settings import LimitsSettings

SYMBOLS = {"BTC/USD": "USD", "ETH/USD": "USD", "SOL/USDC": "USDC"}
CENT = Decimal("0.01")


def make_limits() -> Limits:
    issues: list[ConfigIssue] = []
    settings = parse_settings(LimitsSettings, {"max_drawdown": Decimal("1000000000")}, "risk.limits", issues)
    assert not issues
    ctx = SimpleNamespace(clock=ManualClock(), operator=SimpleNamespace(timezone="UTC"),
                          pause=lambda names, reason: [], record_trip=lambda *a, **k: None,
                          kill=lambda reason: None, order=lambda cid: None)
    return Limits("limits", settings, ctx)


prices = st.integers(1, 500_000).map(lambda cents: Decimal(cents) * CENT)
qtys = st.integers(0, 3000).map(lambda n: Decimal(n) / 1000)  # 0: a fee alone (a swap that landed failed)
fill_step = st.tuples(st.just("fill"), st.sampled_from(["a", "b"]), st.sampled_from(["cex", "dex"]),
                      st.sampled_from(sorted(SYMBOLS)), st.sampled_from(list(Side)), qtys, prices,
                      st.integers(0, 500), st.sampled_from(["quote", "base", "other"]))
mark_step = st.tuples(st.just("mark"), st.sampled_from(["cex", "dex"]), st.sampled_from(sorted(SYMBOLS)), prices)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(fill_step, mark_step, mark_step), max_size=60))
def test_the_incremental_equity_is_the_full_recomputation(steps):
    limits = make_limits()
    fills: list[tuple[str, Fill]] = []
    marks: dict[tuple[str, str], Decimal] = {}  # what the check marks at: the last mid, else the first fill's price
    for n, step in enumerate(steps):
        if step[0] == "fill":
            _, strategy, exchange, symbol, side, qty, price, fee_cents, fee_in = step
            base, quote = symbol.split("/")
            fee_asset = {"quote": quote, "base": base, "other": "BNB"}[fee_in]
            fee = Decimal(fee_cents) * CENT if fee_in == "quote" else Decimal(fee_cents) / 100_000
            if not qty and not fee:
                continue
            fill = Fill(exchange, symbol, f"o{n}", f"t{n}", side, price, qty, fee, fee_asset, Liquidity.TAKER, n)
            fills.append((strategy, fill))
            marks.setdefault((exchange, symbol), price)
            limits.on_fill(strategy, fill)
        else:
            _, exchange, symbol, mid = step
            limits._on_book(BookUpdate(exchange, symbol, ((mid - CENT, Decimal(1)),), ((mid + CENT, Decimal(1)),), n))
            marks[(exchange, symbol)] = mid
        figures = market_figures(fills, marks=lambda e, s: marks.get((e, s)))
        for quote in ("USD", "USDC"):
            full = sum((f.net + f.unrealized for f in figures.values() if f.quote == quote), Decimal(0))
            assert limits.equity(quote) == full, (quote, step)


def test_a_tick_re_marks_only_the_books_of_the_market_that_moved(monkeypatch):
    """21 positions in one quote: a book that moves one market's mark values that market's lots again, not all 21
    (the equity is kept up to date, not summed again on every tick)."""
    from bot.ledger import Position

    limits = make_limits()
    for i in range(21):
        symbol = f"T{i}/USD"
        limits.on_fill("s", Fill("cex", symbol, f"o{i}", f"t{i}", Side.BUY, Decimal("100.37"), Decimal("1.234"),
                                 Decimal("0.01"), "USD", Liquidity.TAKER, i))
    marked: list[Position] = []
    unrealized = Position.unrealized
    monkeypatch.setattr(Position, "unrealized", lambda self, mark: marked.append(self) or unrealized(self, mark))
    before = limits.equity("USD")
    limits._on_book(BookUpdate("cex", "T7/USD", ((Decimal("101.99"), Decimal(1)),), ((Decimal("102.01"), Decimal(1)),),
                               100))
    assert len(marked) == 1  # T7's book alone
    assert limits.equity("USD") == before + (Decimal("102.00") - Decimal("100.37")) * Decimal("1.234")
