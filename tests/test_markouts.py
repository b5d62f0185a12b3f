"""Markouts (bot/markouts.py): the mid of each fill's market 1, 10 and 60 s after it, sampled on a hand-built
book path, stored, and read back through the ledger by `arbot report` and the backtest report alike."""

from __future__ import annotations

from decimal import Decimal

from bot import cli
from bot.bus import Bus
from bot.config import DEFAULT_SOURCE, BotSettings, build_config, default_toml
from bot.domain import BookUpdate, Fill, FillApplied, Liquidity, PoolUpdate, Side
from bot.ledger import Ledger
from bot.markouts import ROWS_PER_WRITE, MarkoutSampler, markout, markout_bps
from bot.plugins import collect, load_plugins
from bot.portfolio import Portfolio
from bot.report import markout_text
from bot.store import Store

D = Decimal
S = 1_000_000_000
T0 = 1_700_000_000 * S


def book(ts_s: str, bid: str, ask: str, exchange: str = "cex") -> BookUpdate:
    return BookUpdate(exchange, "SOL/USDC", ((D(bid), D(5)),), ((D(ask), D(5)),), T0 + int(D(ts_s) * S))


def fill(trade_id: str, side: str, qty: str, price: str, ts_s: str, exchange: str = "cex") -> Fill:
    return Fill(exchange, "SOL/USDC", f"c-{trade_id}", trade_id, Side(side), D(price), D(qty), D(0), "USDC",
                Liquidity.TAKER, T0 + int(D(ts_s) * S))


def wired(sampler: MarkoutSampler) -> tuple[Bus, Portfolio]:
    """The sampler on a bus with the portfolio that keeps each market's latest update, as the host wires them."""
    bus = Bus(lambda owner, exc, event: (_ for _ in ()).throw(exc))  # a failing subscriber fails the test
    portfolio = Portfolio(lambda: [])
    bus.subscribe(BookUpdate, portfolio.on_book, owner="portfolio")
    bus.subscribe(PoolUpdate, portfolio.on_pool, owner="portfolio")
    sampler.subscribe(bus, portfolio)
    return bus, portfolio


def test_the_arithmetic_signs_a_move_our_way_positive():
    buy, sell = fill("b", "buy", "2", "100", "0"), fill("s", "sell", "2", "100", "0")
    assert markout(buy, D(101)) == D(2) and markout(sell, D(101)) == D(-2)
    assert markout_bps(buy, D(101)) == D(100) and markout_bps(sell, D("99.5")) == D(50)


def test_markouts_on_a_hand_built_book_path_reach_arbot_report(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'markouts.db'}"
    store = Store(url, bot=BotSettings().resolved_name()).open()  # the bot `arbot report` reads as
    scheduled: list = []
    sampler = MarkoutSampler(store.insert_markouts, scheduled.append)
    bus, _ = wired(sampler)
    buy = fill("t1", "buy", "2", "100.5", "0.2")
    sell = fill("t2", "sell", "1", "101", "0.7")
    other = fill("t3", "buy", "1", "50", "0.3", exchange="dex")  # no book of its market ever: never sampled
    path = [
        (book("0", "99.9", "100.1"), None),            # mid 100
        (None, buy),                                    # +1 s due at 1.2 s, +10 s at 10.2 s, +60 s at 60.2 s
        (None, other),
        (book("0.7", "100.9", "101.1"), None),          # mid 101
        (None, sell),                                   # due at 1.7 s, 10.7 s, 60.7 s
        (book("1.1", "101.9", "102.1"), None),          # mid 102: in force at 1.2 s
        (book("1.5", "98.9", "99.1"), None),            # mid 99: the buy's +1 s is taken now, at 102
        (book("10.2", "103.9", "104.1"), None),         # mid 104 exactly at the buy's +10 s: it counts
        (book("11", "89.9", "90.1"), None),             # mid 90: both +10 s are taken (104; the sell's at 10.7: 104)
    ]
    for event, f in path:
        if f is not None:
            store.insert_fill(f, "arb")
            bus.publish(FillApplied("arb", f))
        else:
            bus.publish(event)
    assert len(scheduled) == 1 and store.markouts() == {}  # written a loop turn later, one write a batch
    for flush in scheduled:
        flush()
    samples = store.markouts()
    assert samples == {("cex", "t1"): {1: D(102), 10: D(104)}, ("cex", "t2"): {1: D(99), 10: D(104)}}

    figures = {(f.strategy, f.horizon_s): f for f in Ledger(store).markouts()}
    one, ten, sixty = figures[("arb", 1)], figures[("arb", 10)], figures[("arb", 60)]
    # +1 s: buy 2 at 100.5 vs 102 = +3; sell 1 at 101 vs 99 = +2; the dex fill unsampled
    assert (one.fills, one.unsampled, one.total) == (2, 1, D(5))
    expected_bps = (D("1.5") / D("100.5") * 10_000 + D(2) / D(101) * 10_000) / 2  # 173.6368 bps
    assert one.mean_bps.quantize(D("1E-20")) == expected_bps.quantize(D("1E-20"))
    # +10 s: buy vs 104 = +7; sell vs 104 = -3 (the market went against the sell)
    assert (ten.fills, ten.total) == (2, D(4))
    assert (sixty.fills, sixty.unsampled, sixty.mean_bps) == (0, 3, None)  # the path ended before 60 s
    store.close()

    lines = markout_text(list(figures.values()))
    assert "+1 s +5.00 USDC" in lines[1] and "+10 s +4.00 USDC" in lines[1] and "+60 s no sample" in lines[1]
    plugins = load_plugins(report=lambda info, message: None)
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    assert cli.main(["report", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Markouts" in out and "+1 s +5.00 USDC (+" in out and "+10 s +4.00 USDC" in out


def test_a_fill_whose_horizon_passed_unseen_waits_for_the_next_update_and_takes_the_mid_in_force():
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1,))
    bus, _ = wired(sampler)
    bus.publish(book("0", "9", "11"))  # mid 10
    bus.publish(FillApplied("s", fill("a", "sell", "1", "10", "0.5")))
    bus.publish(book("30", "19", "21"))  # quiet for 30 s: at 1.5 s the mid in force was still 10
    assert [(r["trade_id"], r["horizon_s"], r["mid"], r["ts_ns"]) for r in rows] == [("a", 1, D(10), T0)]


def test_no_reference_to_a_live_book_view_is_kept_and_a_kept_event_is_sampled_as_it_was():
    """A book view that a subscriber keeps must copy its levels (bot/bookview.py): markouts must not cost that.
    An event that holds its own levels never changes: the portfolio keeps it, and its mid is made only if
    sampled."""
    import sys

    from bot.book import OrderBook

    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1,))
    bus, _ = wired(sampler)
    live = OrderBook(2, 0, depth=5)
    live.set_bid(9_900, 5)
    live.set_ask(10_100, 5)
    view = BookUpdate.of_book("cex", "SOL/USDC", live, 5, T0)
    held = sys.getrefcount(view)
    bus.publish(view)
    assert sys.getrefcount(view) == held
    kept = BookUpdate.of_units("cex", "SOL/USDC", ((9_950, 5),), ((10_050, 5),), 2, 0, T0 + S // 2)
    bus.publish(kept)
    # kept by the portfolio's entry (as its source, and as what is still to be priced)
    assert sys.getrefcount(kept) == held + 2 and kept.owns_levels and not view.owns_levels
    bus.publish(FillApplied("s", fill("a", "buy", "1", "99", "0.6")))
    bus.publish(book("2", "90", "110"))  # the mid in force at 1.6 s: the kept event's
    assert [(r["horizon_s"], r["mid"], r["ts_ns"]) for r in rows] == [(1, D("100.00"), T0 + S // 2)]


def test_a_sampler_without_horizons_waits_on_nothing():
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=())
    bus, portfolio = wired(sampler)
    bus.publish(book("0", "9", "11"))
    bus.publish(FillApplied("s", fill("a", "sell", "1", "10", "0.5")))
    bus.publish(book("30", "19", "21"))
    assert rows == [] and not sampler._pending and not portfolio._followers


class Pool:
    """A pool whose mid has more digits than a 28-digit Decimal (as a Whirlpool's), or none (no liquidity)."""

    def __init__(self, mid: D | None):
        self._mid = mid

    def mid(self) -> D:
        if self._mid is None:
            raise ValueError("no liquidity")
        return self._mid


def test_a_market_is_followed_only_while_a_sample_waits_and_a_pool_keeps_its_full_mid(caplog):
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1,))
    bus, portfolio = wired(sampler)
    fine = D("150.123456789012345678901234567890123")
    bus.publish(PoolUpdate("dex", "SOL/USDC", Pool(fine), T0))
    assert not portfolio._followers  # nothing waits: the sampler hears no update
    bus.publish(FillApplied("s", fill("a", "buy", "1", "150", "0.5", exchange="dex")))
    assert list(portfolio._followers) == [("dex", "SOL/USDC")]
    assert portfolio.last_price("dex", "SOL/USDC") == +fine  # the portfolio's mark: 28 digits
    bus.publish(PoolUpdate("dex", "SOL/USDC", Pool(None), T0 + S))  # at 1 s: the sample at 1.5 s not due yet
    bus.publish(FillApplied("s", fill("b", "buy", "1", "150", "1.2", exchange="dex")))
    bus.publish(PoolUpdate("dex", "SOL/USDC", Pool(fine), T0 + 2 * S))
    bus.publish(PoolUpdate("dex", "SOL/USDC", Pool(fine), T0 + 3 * S))
    # a's +1 s (1.5 s): the pool in force since 1 s has no mid: no sample, and the update went on
    assert [(r["trade_id"], r["mid"], r["ts_ns"]) for r in rows] == [("b", fine, T0 + 2 * S)]
    assert "no mid of dex SOL/USDC" in caplog.text
    assert not sampler._pending and not portfolio._followers  # every sample taken: followed no more



def test_a_market_update_before_a_sample_is_due_costs_the_sampler_nothing():
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1, 10))
    bus, portfolio = wired(sampler)
    calls = []
    on_update = sampler._on_update
    sampler._on_update = lambda *args: (calls.append(args[1]), on_update(*args))  # type: ignore[method-assign]
    bus.publish(book("0", "9", "11"))
    bus.publish(FillApplied("s", fill("a", "buy", "1", "10", "0.5")))  # due at 1.5 s and 10.5 s
    bus.publish(FillApplied("s", fill("b", "buy", "1", "10", "0.6")))  # due at 1.6 s and 10.6 s
    for ts in ("0.7", "1", "1.5"):
        bus.publish(book(ts, "9", "11"))
    assert calls == []  # nothing due yet: the portfolio does not call the sampler
    bus.publish(book("1.7", "19", "21"))  # both +1 s taken at once (mid 10)
    for ts in ("2", "5", "10.5"):  # a due time itself is not after it
        bus.publish(book(ts, "29", "31"))
    assert calls == [T0 + int(D("1.7") * S)] and portfolio._followers
    bus.publish(book("11", "39", "41"))  # both +10 s (mid 30): nothing waits any more
    assert len(calls) == 2 and not portfolio._followers
    assert [(r["trade_id"], r["horizon_s"], r["mid"]) for r in rows] == [
        ("a", 1, D(10)), ("b", 1, D(10)), ("a", 10, D(30)), ("b", 10, D(30))]


def test_a_backlog_of_samples_is_written_a_bounded_batch_per_scheduled_write_in_order():
    """A scheduled write stores at most ROWS_PER_WRITE samples and schedules the rest behind whatever is ready
    then (a leg's request made by the tick that took them goes first); flush() (stop) stores all."""
    writes: list[list] = []
    scheduled: list = []
    sampler = MarkoutSampler(writes.append, scheduled.append, horizons_s=(1,))
    bus, _ = wired(sampler)
    bus.publish(book("0", "9", "11"))
    for i in range(ROWS_PER_WRITE * 2 + 3):
        bus.publish(FillApplied("s", fill(f"f{i:03}", "buy", "1", "10", "0.5")))
    bus.publish(book("2", "19", "21"))  # every fill's +1 s sample is taken now
    assert len(scheduled) == 1 and writes == []
    scheduled.pop(0)()
    assert [len(w) for w in writes] == [ROWS_PER_WRITE] and len(scheduled) == 1
    scheduled.pop(0)()
    scheduled.pop(0)()
    assert [len(w) for w in writes] == [ROWS_PER_WRITE, ROWS_PER_WRITE, 3] and scheduled == []
    assert [r["trade_id"] for w in writes for r in w] == [f"f{i:03}" for i in range(ROWS_PER_WRITE * 2 + 3)]
    bus.publish(FillApplied("s", fill("g", "buy", "1", "20", "2.5")))
    bus.publish(book("4", "29", "31"))
    sampler.flush()  # what stop() does: everything, now
    assert writes[-1][0]["trade_id"] == "g"



def test_a_backtest_stores_samples_on_the_tick_in_writes_of_rows_per_write():
    """gathered (set by the backtest driver): no write is scheduled (no loop turn); the samples are stored on the
    tick that took them once ROWS_PER_WRITE wait, all of them; flush() the rest: the same rows in the same order."""
    writes: list[list] = []
    scheduled: list = []
    sampler = MarkoutSampler(writes.append, scheduled.append, horizons_s=(1,))
    sampler.gathered = True
    bus, _ = wired(sampler)
    bus.publish(book("0", "9", "11"))
    for i in range(ROWS_PER_WRITE - 1):
        bus.publish(FillApplied("s", fill(f"f{i:03}", "buy", "1", "10", "0.5")))
    bus.publish(book("2", "19", "21"))  # ROWS_PER_WRITE - 1 samples: they wait
    assert writes == [] and scheduled == []
    bus.publish(FillApplied("s", fill("g", "buy", "1", "20", "2.5")))
    bus.publish(book("4", "29", "31"))  # the last one: stored with all the others, now
    assert [len(w) for w in writes] == [ROWS_PER_WRITE] and scheduled == []
    bus.publish(FillApplied("s", fill("h", "buy", "1", "30", "4.5")))
    bus.publish(book("6", "39", "41"))
    assert len(writes) == 1 and scheduled == []
    sampler.flush()  # what the backtest does before it reads them, and stop()
    assert [r["trade_id"] for w in writes for r in w] == [f"f{i:03}" for i in range(ROWS_PER_WRITE - 1)] + ["g", "h"]


def test_a_fill_of_no_quantity_a_fee_alone_has_no_markout():
    """A DEX swap that landed failed reports its fee as a fill of no quantity: it traded nothing to mark out."""
    from bot.markouts import summarize

    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1,))
    bus, _ = wired(sampler)
    bus.publish(book("0", "9", "11"))
    fee_only = fill("f", "sell", "0", "10", "0.5")
    bus.publish(FillApplied("s", fee_only))
    bus.publish(book("30", "19", "21"))
    assert rows == [] and not sampler._pending
    assert summarize([("s", fee_only)], {("cex", "f"): {1: D(20)}}, horizons=(1,)) == []


def test_a_fill_heard_of_after_its_horizon_is_marked_at_the_mid_in_force_at_the_horizon_not_a_later_one():
    """A fill reported late (a REST poll, a reconnect's reconciliation, a swap read back once it landed)."""
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1,))
    bus, _ = wired(sampler)
    bus.publish(book("0", "99", "101"))     # mid 100
    bus.publish(book("0.5", "100", "102"))  # mid 101: in force at the +1 s horizon (1.2 s) of the fill below
    bus.publish(book("3", "109", "111"))    # mid 110
    # the fill happened at 0.2 s but the bot hears of it only now, at ~3 s (its report came late)
    bus.publish(FillApplied("s", fill("late", "buy", "1", "100", "0.2")))
    bus.publish(book("4", "119", "121"))    # mid 120: the first update after the fill is applied
    # the definition (bot/markouts.py): the mid of the last update published at or before fill.ts_ns + 1 s
    assert [(r["trade_id"], r["horizon_s"], r["mid"], r["ts_ns"]) for r in rows] == [
        ("late", 1, D(101), T0 + S // 2)]


def test_a_late_fills_horizons_passed_are_marked_at_once_from_history_and_the_others_wait_as_usual():
    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1, 10))
    bus, portfolio = wired(sampler)
    bus.publish(book("0", "99", "101"))     # mid 100
    bus.publish(book("1.2", "104", "106"))  # mid 105: published exactly at the fill's +1 s: in force then
    bus.publish(book("2", "109", "111"))    # mid 110
    bus.publish(FillApplied("s", fill("late", "sell", "1", "100", "0.2")))  # heard of at ~2 s
    assert [(r["horizon_s"], r["mid"], r["ts_ns"]) for r in rows] == [(1, D(105), T0 + int(D("1.2") * S))]
    assert list(portfolio._followers) == [("cex", "SOL/USDC")]  # +10 s (10.2 s) is still to come
    bus.publish(book("10.2", "119", "121"))  # mid 120, at +10 s exactly
    bus.publish(book("11", "129", "131"))
    assert [(r["horizon_s"], r["mid"]) for r in rows] == [(1, D(105)), (10, D(120))]
    assert not sampler._pending and not portfolio._followers


def test_a_late_fills_horizon_older_than_the_kept_history_is_unsampled_never_made_up(monkeypatch):
    """The portfolio keeps each market's updates of the largest horizon at least (trimmed once twice as old), and
    at most HISTORY_MAX_UPDATES of them: a horizon whose update in force is no longer kept has no sample."""
    import bot.portfolio
    from bot.markouts import summarize

    rows: list = []
    sampler = MarkoutSampler(rows.extend, lambda flush: flush(), horizons_s=(1, 3))
    bus, portfolio = wired(sampler)
    for ts, bid, ask in (("0", "99", "101"), ("0.5", "100", "102"), ("3", "109", "111"), ("4", "119", "121"),
                         ("7", "129", "131"), ("8", "139", "141")):
        bus.publish(book(ts, bid, ask))
    # at 7 s the history reached twice the largest horizon (3 s): trimmed to the update in force at 4 s, and later
    assert [top[0] for top in portfolio.history(("cex", "SOL/USDC"))] == [T0 + 4 * S, T0 + 7 * S, T0 + 8 * S]
    late = fill("late", "buy", "1", "100", "1.5")  # heard of at ~8 s: +1 s (2.5 s) is forgotten, +3 s (4.5 s) kept
    bus.publish(FillApplied("s", late))
    assert [(r["horizon_s"], r["mid"]) for r in rows] == [(3, D(120))]
    figures = summarize([("s", late)], {("cex", "late"): {r["horizon_s"]: r["mid"] for r in rows}}, horizons=(1, 3))
    assert [(f.horizon_s, f.fills, f.unsampled) for f in figures] == [(1, 0, 1), (3, 1, 0)]
    assert not sampler._pending and not portfolio._followers

    # however fast a market updates, at most HISTORY_MAX_UPDATES of its updates are kept
    monkeypatch.setattr(bot.portfolio, "HISTORY_MAX_UPDATES", 4)
    rows.clear()
    for i in range(10):  # 10 updates within 1 s on a new market
        bus.publish(book(f"0.{i}", str(99 + i), str(101 + i), exchange="fast"))
    assert [top[0] for top in portfolio.history(("fast", "SOL/USDC"))] == [T0 + i * S // 10 for i in range(6, 10)]
    bus.publish(FillApplied("s", fill("f", "buy", "1", "100", "-0.5", exchange="fast")))  # +1 s at 0.5 s: forgotten
    bus.publish(FillApplied("s", fill("g", "buy", "1", "100", "-0.3", exchange="fast")))  # +1 s at 0.7 s: kept
    assert [(r["trade_id"], r["horizon_s"], r["mid"]) for r in rows] == [("g", 1, D(107))]
