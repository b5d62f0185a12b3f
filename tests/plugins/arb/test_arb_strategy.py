"""The arb strategy in a running bot: observe records and sends nothing; paper executes both legs
with the pricer's sizes and limits and reports realized PnL from the fills; stale inputs decide nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal, localcontext

import pytest

from bot.api import Caller
from bot.clock import ManualClock
from bot.domain import BookUpdate, ExecutionResult, Opportunity, OrderStatus, Side
from bot.ledger import EXACT_DIGITS, Ledger
from bot.units import amount, money, signed_money
from plugins.arb import strategy as arb_strategy
from plugins.arb.pricing import Inventory, Pricer
from plugins.arb.records import (
    ArbExecutionRow,
    ArbOpportunityRow,
    executions,
    opportunities,
)
from plugins.arb.strategy import ROWS_PER_WRITE, ArbStrategy
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra
from tests.plugins.arb.test_arb_pricing_kit import RICH, book, pool, pricer


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


ON_LOOP_ONLY = ("the on-loop writer's (file-backed SQLite); elsewhere the rows go to the store writer's thread "
                "(tests/plugins/arb/test_arb_store_off_loop.py)")


async def written(bot):
    """Every write handed to the store writer's thread so far has run, and its outcome is back on the loop."""
    await bot.writer.drained()
    await asyncio.sleep(0)


def capture(bot, event_type):
    seen = []
    bot.bus.subscribe(event_type, seen.append, owner="test")
    return seen


async def test_observe_mode_records_opportunities_and_sends_nothing(make_bot):
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"  # as `mode = "observe"` or /observe on: ctx.mode says so
    seen = capture(bot, Opportunity)
    await bot.start()
    try:
        await _observe(bot, seen)
    finally:
        await bot.stop()


async def _observe(bot, seen):
    await wait_for(lambda: any(o.reason == "observe mode" for o in seen), timeout_s=10, what="an observed opportunity")
    opportunity = next(o for o in seen if o.reason == "observe mode")
    assert not opportunity.acted and opportunity.net_pnl > 0 and opportunity.qty > 0
    assert opportunity.buy_exchange == "paper" and opportunity.sell_exchange == "dex"
    assert {name for name, _ in opportunity.costs} >= {"cex fee", "dex fee", "network fee", "priority fee"}
    # ~once per episode, not once per tick: the books tick every 10 ms
    ticks = bot.strategies["sol-arb"].counts["evaluations"]
    await wait_for(lambda: bot.strategies["sol-arb"].counts["evaluations"] > ticks + 20, timeout_s=10)
    assert len(seen) <= 3
    strategy = bot.strategies["sol-arb"]
    strategy._flush()
    rows = opportunities(bot.store, "sol-arb")
    assert rows and all(isinstance(r, ArbOpportunityRow) for r in rows)
    row = rows[-1]
    assert row.mode == "observe" and not row.acted and row.reason == "observe mode"
    assert json.loads(row.costs)["cex fee"] == str(dict(opportunity.costs)["cex fee"])
    assert row.net_pnl == opportunity.net_pnl
    # nothing reached a venue, nothing was even recorded as an order
    assert bot.store.orders() == [] and bot.exchanges["dex"].received == []
    assert executions(bot.store, "sol-arb") == []
    assert "observe mode" in strategy.status()["last"]


async def test_paper_mode_sends_both_legs_and_reports_realized_pnl(make_bot):
    bot = await make_bot(config(), extra=extra())
    strategy = bot.strategies["sol-arb"]
    results = capture(bot, ExecutionResult)
    row_writes: list[dict] = []  # the execution row's updates after its insert
    record_update = bot.store.record_update
    bot.store.record_update = lambda table, where, values: (row_writes.append(dict(values))
                                                            or record_update(table, where, values))
    books: list[BookUpdate] = []
    bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="paper")
    dex = bot.exchanges["dex"]
    await wait_for(lambda: results, timeout_s=10, what="an execution result")
    await bot.writer.drained()  # (on PostgreSQL the row's changes are written on the store writer's thread)
    [row] = executions(bot.store, "sol-arb")
    assert row.state == "done" and row.direction == "buy-cex-sell-dex"
    # The legs are what the pricer says for the book the decision saw (no volatility: every book is alike).
    pricer = Pricer(strategy.settings, bot.exchanges["paper"].market("SOL/USDC"), "SOL", "USDC")
    pricer.set_pool(dex.pools_swapped[0])  # the pool the decision priced (no other swap came before ours)
    wallets = Inventory(cex_base=Decimal(100), cex_quote=Decimal(100000), dex_base=Decimal(100),
                        dex_quote=Decimal(100000))  # both venues' starting balances (config)
    expected = pricer.best(books[0], wallets)
    assert expected.tradable and expected.size > 0
    cex, dex_order = bot.executor.order(f"{row.opportunity_id}-cex"), bot.executor.order(f"{row.opportunity_id}-dex")
    assert (cex.side, cex.qty, cex.price, cex.tif.value) == (Side.BUY, expected.size, expected.cex_limit_price, "ioc")
    assert (dex_order.side, dex_order.qty, dex_order.price) == (Side.SELL, expected.size, expected.dex_limit_price)
    assert cex.status is OrderStatus.FILLED and dex_order.status is OrderStatus.FILLED
    assert row.predicted_pnl == expected.net_pnl
    # Realized PnL, by hand from the stored fills: DEX proceeds - CEX cost - CEX fee (USDC) - network fee (SOL, the
    # base asset, at the fill's price: as the ledger counts it).
    await bot.executor.flush()
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    cex_fills = [f for f in fills if f.exchange == "paper"]
    dex_fills = [f for f in fills if f.exchange == "dex"]
    assert sum(f.qty for f in cex_fills) == sum(f.qty for f in dex_fills) == expected.size
    with localcontext(prec=EXACT_DIGITS):  # a DEX price has more digits than Decimal's default 28
        by_hand = (sum(f.price * f.qty for f in dex_fills) - sum(f.price * f.qty for f in cex_fills)
                   - sum(f.fee for f in cex_fills) - sum(f.fee * f.price for f in dex_fills))
    [result] = results
    assert result.realized_pnl == by_hand == row.realized_pnl
    assert result.predicted_pnl == expected.net_pnl and result.opportunity_id == row.opportunity_id
    # what the accounts' base changed by: the swap's network fee in SOL (this market's base), held under min_qty
    assert row.residual == sum(f.base_change for f in fills) == -sum(f.fee for f in dex_fills) != 0
    assert row.cex_final_ns >= row.cex_submitted_ns > 0 and row.dex_final_ns > 0
    # written twice: the first leg's end, then the second's with the finish it leads to (not once more on its own)
    assert len(row_writes) == 2 and row_writes[1]["state"] == "done" and "state" not in row_writes[0]
    await wait_for(lambda: [a for a in Alerts.sent if a.kind == "arb" and "done" in a.message], timeout_s=5)
    done = [a for a in Alerts.sent if a.kind == "arb" and "done" in a.message]
    assert done[0].fields["realized"] == money(by_hand, "USDC") and "cex_latency_ms" in done[0].fields
    # the executed opportunity is published and recorded as acted, under the execution's id
    strategy._flush()
    acted = [r for r in opportunities(bot.store, "sol-arb") if r.acted]
    assert [r.opportunity_id for r in acted] == [row.opportunity_id]
    # the inventory followed the fills: the CEX bought SOL, the DEX wallet sold it
    assert strategy.inventory.balance("paper", "SOL") == Decimal(100) + expected.size
    assert strategy.inventory.balance("dex", "SOL") == Decimal(100) - expected.size - sum(f.fee for f in dex_fills)
    reply = await bot.commands.dispatch(Caller("local", "me", "viewer"), "inventory", [])
    held = str(Decimal(100) + expected.size)
    assert reply.ok and ("sol-arb", "paper", "SOL", held, held) in reply.rows
    assert isinstance(row, ArbExecutionRow)
    reply = await bot.commands.dispatch(Caller("local", "me", "viewer"), "arb", [])
    assert reply.ok and (row.opportunity_id[:10], "buy-cex-sell-dex", str(row.size), amount(row.predicted_pnl, "USDC"),
                         amount(row.realized_pnl, "USDC"), "done") in reply.rows
    # the total is the ledger's (FIFO over the strategy's fills), and the execution's own figure agrees with it
    fig = Ledger(bot.store).strategy("sol-arb")
    assert fig.net["USDC"] == by_hand
    total = signed_money(by_hand, "USDC")
    assert reply.text.splitlines()[0] == (
        f"sol-arb total: realized {money(fig.realized['USDC'], 'USDC')} - fees {money(fig.fees['USDC'], 'USDC')} = "
        f"{total} after fees (FIFO, as /pnl); 1 executions captured {total}")
    assert strategy.status()["executed this run"] == "1"


async def test_an_executed_opportunity_is_reported_once_its_legs_are_handed_and_a_stop_then_stores_it(make_bot):
    """The acted opportunity's event and row wait behind the legs' requests (nothing delays the orders), and a stop
    that comes before that report ran (here: as the second leg is handed) still stores it."""
    bot = await make_bot(config(), extra=extra())
    strategy = bot.strategies["sol-arb"]
    happened: list[str] = []
    bot.bus.subscribe(Opportunity, lambda o: happened.append("acted" if o.acted else "seen"), owner="test")
    stored_at_stop: list[list[str]] = []

    def wrap(name: str) -> None:
        exchange = bot.exchanges[name]
        place = exchange.place_order

        async def place_order(order):
            happened.append(f"handed {name}")
            if name == "dex" and not stored_at_stop:  # a stop before the report, due after the legs, has run
                await strategy.stop()
                await bot.writer.drained()  # (elsewhere than file-backed SQLite stop hands them to the writer thread)
                stored_at_stop.append([r.opportunity_id for r in opportunities(bot.store, "sol-arb") if r.acted])
            return await place(order)

        exchange.place_order = place_order

    wrap("paper")
    wrap("dex")
    await wait_for(lambda: {"acted", "handed paper", "handed dex"} <= set(happened), timeout_s=10,
                   what="an executed opportunity and its legs handed")
    if bot.store.records_inline:  # legs sent from submit: their requests start in the loop turn after the decision
        assert happened.index("acted") > max(happened.index("handed paper"), happened.index("handed dex"))
    # (elsewhere the lane workers send them, after their rows are committed on the writer thread: later still)
    await wait_for(lambda: executions(bot.store, "sol-arb"), timeout_s=5, what="the execution row")
    [row] = executions(bot.store, "sol-arb")
    # the dex leg's request reads the store once the writer thread has run what was handed to it before: the wait
    # for that thread (busier since risk events and the store watch run there) may end after the row is written
    await wait_for(lambda: stored_at_stop, timeout_s=10, what="the store read at stop")
    assert stored_at_stop == [[row.opportunity_id]]


async def test_a_stale_book_sends_no_order_until_a_fresh_one_comes(make_bot):
    clock = ManualClock()
    # tick_interval_ms = 0: the CEX book changes only when the test steps the market
    bot = await make_bot(config(tick_ms=0, arb="max_input_age_ms = 500"), extra=extra(), clock=clock)
    strategy = bot.strategies["sol-arb"]
    dex = bot.exchanges["dex"]
    # a book observed 600 ms ago (a lagging feed): older than the limit, never used for a decision
    paper = bot.exchanges["paper"]
    bot.bus.publish(paper.markets["SOL/USDC"].book(clock.time_ns() - 600_000_000))
    stale_before = strategy.counts["stale"]
    await wait_for(lambda: strategy.counts["stale"] > stale_before + 10, timeout_s=10, what="stale evaluations")
    assert bot.store.orders() == [] and dex.received == []
    paper.step()  # a fresh book (ts = now): the opportunity is taken
    await wait_for(lambda: executions(bot.store, "sol-arb") and executions(bot.store, "sol-arb")[0].state == "done",
                   timeout_s=10, what="the execution on the fresh book")
    assert len(dex.received) == 1
    # the pool going stale blocks as well: no pool update for longer than the limit
    dex.running = False
    clock.advance(1.0)
    bot.exchanges["paper"].step()
    evaluations = strategy.counts["evaluations"]
    stale = strategy.counts["stale"]
    bot.exchanges["paper"].step()
    assert strategy.counts["stale"] == stale + 1 and strategy.counts["evaluations"] == evaluations


async def test_paper_mode_refuses_a_real_dex_as_an_order_venue(make_bot):
    from bot.settings import ConfigError

    with pytest.raises(ConfigError) as info:
        await make_bot(config().replace('type = "fake-dex"', 'type = "real-dex"'), extra=extra(), start=False)
    assert "strategies.sol-arb.dex" in str(info.value) and "places real orders" in str(info.value)
    with pytest.raises(ConfigError) as info:
        await make_bot(config().replace('dex = "dex"', 'dex = "nowhere"'), extra=extra(), start=False)
    assert 'strategies.sol-arb.dex: no exchange named "nowhere"' in str(info.value)


def test_the_best_direction_is_chosen_as_by_every_figure_reading_only_the_flags_where_they_decide():
    """``ArbStrategy._best`` picks what ``max`` over (tradable, gross edge > 0, net PnL, gross edge) picks, and
    reads no figure (none is made) where the flags decide: one direction tradable, or only one with an edge."""
    def key(e):
        return (e.tradable, e.gross_bps > 0, e.net_pnl, e.gross_bps)

    cases = 0
    for min_edge in (0, 10, 60):
        for price in ("158.00", "160.50", "160.90", "161.00", "161.10", "161.60", "164.00"):
            for spread in ("0.01", "0.40", "-0.40"):  # a negative spread: a crossed book, both ways an edge
                bid, ask = Decimal(price) - Decimal(spread) / 2, Decimal(price) + Decimal(spread) / 2
                p = pricer(pool(10_000, 1_610_000), min_edge_bps=Decimal(min_edge))  # mid 161
                tick = book([(str(bid), 5), (str(bid - 1), 50)], [(str(ask), 5), (str(ask + 1), 50)])
                pair = p.evaluate(tick, RICH)
                unsettled = [e._make is not None for e in pair]
                best = ArbStrategy._best(pair)
                a, b = pair
                if a.tradable != b.tradable or a.edge != b.edge:
                    assert [e._make is not None for e in pair] == unsettled  # decided on the flags alone
                assert best is max(pair, key=key)
                assert all(e.edge == (e.gross_bps > 0) for e in pair)
                cases += 1
    assert cases == 63


async def test_opportunity_rows_wait_while_another_writer_holds_the_store_and_are_written_after(make_bot, db_url):
    """The writer writes the queued rows FLUSH_EVERY_S after the first one; when another writer holds the
    SQLite lock it keeps them (nothing written, no wait) and tries again, until every published row is stored."""
    if not db_url.startswith("sqlite:///"):
        pytest.skip("the lock of another writer is SQLite's")
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    seen = capture(bot, Opportunity)
    lock = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    tries = []
    flush = strategy._flush
    strategy._flush = lambda **kw: (tries.append(kw), flush(**kw))  # type: ignore[method-assign]
    try:
        lock.execute("BEGIN IMMEDIATE")
        await wait_for(lambda: seen and len(tries) >= 2, timeout_s=10, what="two writes tried on a locked store")
        assert opportunities(bot.store, "sol-arb") == [] and strategy._pending_rows
        lock.execute("ROLLBACK")
        published = len(seen)
        await wait_for(lambda: len(opportunities(bot.store, "sol-arb", limit=1000)) >= published, timeout_s=10,
                       what="the kept rows written")
        stored = [r.opportunity_id for r in reversed(opportunities(bot.store, "sol-arb", limit=1000))]
        assert stored[:published] == [o.opportunity_id for o in seen[:published]]
    finally:
        lock.close()
        await bot.stop()


async def test_a_long_queue_of_opportunity_rows_is_written_a_bounded_batch_per_loop_turn(make_bot):
    """One write stores at most ROWS_PER_WRITE rows and leaves the rest to the next loop turn, queued behind what is
    ready then (a leg's request made meanwhile goes first); every row is stored, in order."""
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    if not bot.store.records_inline:
        pytest.skip(ON_LOOP_ONLY)
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    try:
        await wait_for(lambda: strategy._pending_rows, timeout_s=10, what="an opportunity row queued")
        template = dict(strategy._pending_rows[0])

        def mine() -> list[str]:
            return [r.opportunity_id for r in opportunities(bot.store, "sol-arb", limit=1000)
                    if r.opportunity_id.startswith("queued-")][::-1]

        queued = [f"queued-{i:03}" for i in range(ROWS_PER_WRITE * 2 + 5)]
        strategy._pending_rows.extendleft(reversed([{**template, "opportunity_id": oid} for oid in queued]))
        if strategy._flush_timer is not None:
            strategy._flush_timer.cancel()
            strategy._flush_timer = None
        stored_when_ready_ran: list[int] = []  # a leg's request made by a tick in the turn the write is due in
        asyncio.get_running_loop().call_soon(lambda: stored_when_ready_ran.append(len(mine())))
        strategy._write()
        assert mine() == queued[:ROWS_PER_WRITE]
        await wait_for(lambda: len(mine()) == len(queued), timeout_s=5, what="every queued row")
        assert stored_when_ready_ran == [ROWS_PER_WRITE] and mine() == queued
    finally:
        await bot.stop()


async def test_in_a_backtests_store_the_writer_waits_for_a_full_writes_rows_and_stop_stores_the_rest(make_bot):
    """A disposable store (a backtest's: nobody reads it before the end): fewer rows than one write takes arm no
    writer; a full write's rows arm it; stop() stores the rest. The same rows, in order."""
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    if not bot.store.records_inline:
        pytest.skip(ON_LOOP_ONLY)
    bot.store.disposable()
    await bot.start()
    strategy = bot.strategies["sol-arb"]

    def mine() -> list[str]:
        return [r.opportunity_id for r in opportunities(bot.store, "sol-arb", limit=1000)
                if r.opportunity_id.startswith("queued-")][::-1]

    try:
        await wait_for(lambda: strategy._pending_rows, timeout_s=10, what="an opportunity row queued")
        assert strategy._flush_timer is None  # one row waits: no writer armed
        template = dict(strategy._pending_rows[0])
        strategy._pending_rows.clear()
        queued = [f"queued-{i:03}" for i in range(ROWS_PER_WRITE + 3)]
        book, pool = strategy.book, strategy.pool_update
        assert book is not None and pool is not None
        for oid in queued[:ROWS_PER_WRITE - 1]:
            strategy._pending_rows.append({**template, "opportunity_id": oid})
        ev = strategy._pricer.evaluate(book, strategy._pricing_inventory())[0]
        ev.settled()
        strategy._publish(ev, book, pool, 0, queued[ROWS_PER_WRITE - 1], acted=False, reason="test")
        assert strategy._flush_timer is not None  # a full write's rows: the writer is armed
        strategy._flush_timer.cancel()
        strategy._flush_timer = None
        strategy._write()
        assert mine() == queued[:ROWS_PER_WRITE]
        for oid in queued[ROWS_PER_WRITE:]:
            strategy._publish(ev, book, pool, 0, oid, acted=False, reason="test")
        assert strategy._flush_timer is None and mine() == queued[:ROWS_PER_WRITE]
        await strategy.stop()  # what the bot's stop does first
        assert mine() == queued  # stop() stored the rest
    finally:
        await bot.stop()


async def test_rows_a_failing_store_could_not_take_are_written_later_and_a_bad_row_is_not_retried(make_bot):
    """A store failure (a failing disk) keeps the rows of the write for the next one, and is alerted; an error
    about the rows themselves drops them (written again they would fail again, and block the rows after them)."""
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    record_many = bot.store.record_many
    failure: list[Exception] = []

    def failing(*args, **kwargs):
        if failure:
            raise failure.pop()
        return record_many(*args, **kwargs)

    bot.store.record_many = failing
    try:
        await wait_for(lambda: strategy._pending_rows, timeout_s=10, what="an opportunity row queued")
        template = dict(strategy._pending_rows[0])
        if strategy._flush_timer is not None:
            strategy._flush_timer.cancel()
            strategy._flush_timer = None

        def stored(prefix: str) -> list[str]:
            return [r.opportunity_id for r in opportunities(bot.store, "sol-arb", limit=1000)
                    if r.opportunity_id.startswith(prefix)]

        strategy._pending_rows.extendleft([{**template, "opportunity_id": f"kept-{i}"} for i in (2, 1)])
        failure.append(sqlite3.OperationalError("disk I/O error"))
        await written(bot)  # (a write handed to the writer thread before is done)
        strategy._write()
        await written(bot)
        assert stored("kept-") == []
        assert [r["opportunity_id"] for r in list(strategy._pending_rows)[:2]] == ["kept-1", "kept-2"]
        assert strategy._flush_timer is not None  # the next write is armed
        await wait_for(lambda: len(stored("kept-")) == 2, timeout_s=5, what="the kept rows written")
        assert [a for a in Alerts.sent if "opportunity writer failed: OperationalError: disk I/O error" in a.message]

        strategy._pending_rows.appendleft({**template, "opportunity_id": "bad-1"})
        failure.append(ValueError("a row the store refuses"))
        if strategy._flush_timer is not None:
            strategy._flush_timer.cancel()
            strategy._flush_timer = None
        await written(bot)
        strategy._write()
        await written(bot)
        assert all(not r["opportunity_id"].startswith("bad-") for r in strategy._pending_rows)
        await wait_for(lambda: [a for a in Alerts.sent if "opportunity writer failed: ValueError" in a.message],
                       timeout_s=5, what="the bad row's failure alerted")
        strategy._flush()
        assert stored("bad-") == []
    finally:
        bot.store.record_many = record_many
        await bot.stop()


async def test_a_store_failing_for_long_keeps_a_bounded_queue_and_every_executions_row(make_bot, monkeypatch):
    """While the store fails, rows wait in memory up to ROWS_KEPT; past it the oldest not acted on are dropped,
    counted, alerted once and shown in the status, and an execution's row is never dropped."""
    monkeypatch.setattr(arb_strategy, "ROWS_KEPT", 5)
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    if not bot.store.records_inline:
        pytest.skip(ON_LOOP_ONLY)
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    record_many = bot.store.record_many

    def failing(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    try:
        await wait_for(lambda: strategy._pending_rows, timeout_s=10, what="an opportunity row queued")
        await strategy.stop()  # no writer, no new tick: the queue is this test's
        strategy._running = True
        bot.store.record_many = failing
        strategy._pending_rows.clear()
        book, pool = strategy.book, strategy.pool_update
        ev = strategy._pricer.edges(book, strategy._pricing_inventory())[0] or strategy._pricer.edges(
            book, strategy._pricing_inventory())[1]
        assert ev is not None
        for i in range(9):
            strategy._publish(ev, book, pool, i, f"o-{i}", acted=i == 1, reason="")
            if strategy._flush_timer is not None:
                strategy._flush_timer.cancel()
                strategy._flush_timer = None
        assert [r["opportunity_id"] for r in strategy._pending_rows] == ["o-1", "o-5", "o-6", "o-7", "o-8"]
        assert strategy.rows_dropped == 4 and "4 (the store failed" in strategy.status()["opportunity rows dropped"]
        await wait_for(lambda: [a for a in Alerts.sent if "has not taken 5 opportunity rows" in a.message],
                       timeout_s=5, what="the drop alerted")
        assert len([a for a in Alerts.sent if "opportunity rows" in a.message]) == 1
        with pytest.raises(sqlite3.OperationalError):
            strategy._flush(at_most=2)
        assert [r["opportunity_id"] for r in strategy._pending_rows] == ["o-1", "o-5", "o-6", "o-7", "o-8"]
        bot.store.record_many = record_many
        strategy._flush(at_most=2)
        assert [r["opportunity_id"] for r in strategy._pending_rows] == ["o-6", "o-7", "o-8"]
        strategy._flush()
        assert {r.opportunity_id for r in opportunities(bot.store, "sol-arb", limit=1000)} >= {
            "o-1", "o-5", "o-6", "o-7", "o-8"}
    finally:
        strategy._running = False
        bot.store.record_many = record_many
        await bot.stop()


async def test_a_failing_opportunity_write_is_alerted_once_per_streak_and_the_writer_goes_on(make_bot):
    """The writer is a timer callback, not a task: a write that fails is logged and alerted once per streak of
    failures, and the next write runs as usual (nothing stops the writer)."""
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"
    if not bot.store.records_inline:
        pytest.skip(ON_LOOP_ONLY)
    seen = capture(bot, Opportunity)
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    flush = strategy._flush
    failing = {"now": False}
    errors = iter(range(1, 100))

    def flaky(**kw):
        if failing["now"]:
            raise OSError(f"disk I/O error {next(errors)}")  # each its own text: the host drops repeated alerts
        flush(**kw)

    strategy._flush = flaky  # type: ignore[method-assign]
    try:
        await wait_for(lambda: seen, timeout_s=10, what="an opportunity")
        for fails in (True, True, False, True):  # one loop turn: no timer's write in between
            failing["now"] = fails
            strategy._write()
        failing["now"] = False
        assert opportunities(bot.store, "sol-arb")  # the third write stored the rows
        await wait_for(lambda: len([a for a in Alerts.sent if "opportunity writer failed" in a.message]) >= 2,
                       timeout_s=10, what="the failures alerted")
        failed = [a.message for a in Alerts.sent if "opportunity writer failed" in a.message]
        assert failed == ["the opportunity writer failed: OSError: disk I/O error 1",
                          "the opportunity writer failed: OSError: disk I/O error 3"]
    finally:
        strategy._flush = flush  # type: ignore[method-assign]
        await bot.stop()
