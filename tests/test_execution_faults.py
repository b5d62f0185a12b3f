"""Faults in the store and at the venue: nothing kills a send lane, the store writer or a strategy for good.

An injected OperationalError in the order insert and in the writer's batch; an exclusive lock held
on arbot.db by another process; a full disk for a while; orders whose outcome stays UNKNOWN.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot import hookimpl
from bot.api import Strategy
from bot.commands import Caller
from bot.domain import (
    AlertLevel,
    BookUpdate,
    Fill,
    Liquidity,
    OrderIntent,
    OrderState,
    OrderStatus,
    Side,
)
from bot.store import engine_url
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

CONFIG = """
[executor]
backoff_initial_s = 0.01
backoff_max_s = 0.05
request_timeout_s = 0.2
max_retries = 2
[exchanges.v]
type = "scripted"
[strategies.s]
type = "storing"
"""


class Storing(Strategy):
    """Writes a row of its own on every book (as grid and arb write theirs) and counts what it gets."""

    def __init__(self, *args):
        super().__init__(*args)
        self.books = 0
        self.updates = []

    def markets(self):
        return [("v", "BTC/USD")]

    def on_market(self, event):
        self.books += 1
        self.ctx.store.set_state("storing-books", str(self.books))

    def on_order_update(self, update):
        self.updates.append(update)


class storing_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("storing", Storing)


PLUGINS = [("venue", venue_plugin), ("storing", storing_plugin)]
ADMIN = Caller("test", "root", "admin")


def intent(cid: str, side: Side = Side.BUY, qty: str = "0.1") -> OrderIntent:
    return OrderIntent("s", "v", "BTC/USD", side, Decimal(qty), Decimal("100"), client_order_id=cid)


def status(bot, cid):
    order = bot.executor.order(cid)
    return order.status if order else None


def book(ts: int = 1) -> BookUpdate:
    return BookUpdate("v", "BTC/USD", ((Decimal("99"), Decimal(1)),), ((Decimal("101"), Decimal(1)),), ts)


def store_error(message: str = "database is locked") -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))


@pytest.fixture
async def bot(make_bot):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=PLUGINS)
    bot.test_alerts = []
    bot.alerts.subscribe(bot.test_alerts.append, "test")
    return bot


def store_alerts(bot, level=AlertLevel.CRITICAL):
    return [a for a in bot.test_alerts if a.kind == "store" and a.level is level]


async def test_one_failed_order_insert_does_not_kill_the_lane(bot, monkeypatch):
    original = bot.store.insert_order
    failures = [store_error()]

    def flaky(order, **kwargs):
        if failures:
            raise failures.pop()
        return original(order, **kwargs)

    monkeypatch.setattr(bot.store, "insert_order", flaky)
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    assert ctx.submit(intent("i-1")) == "i-1"
    await wait_for(lambda: status(bot, "i-1") is OrderStatus.OPEN, timeout_s=5)
    assert venue.submissions["i-1"] == 1 and bot.store.get_order("i-1") is not None
    assert len(store_alerts(bot)) == 1 and store_alerts(bot, AlertLevel.WARNING)
    assert ctx.submit(intent("i-2")) == "i-2"  # the lane is alive: the next order goes out
    await wait_for(lambda: status(bot, "i-2") is OrderStatus.OPEN)
    assert venue.submissions == {"i-1": 1, "i-2": 1}


async def test_a_failed_writer_batch_is_kept_and_written_later(bot, monkeypatch):
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    ctx.submit(intent("w-1"))
    await wait_for(lambda: status(bot, "w-1") is OrderStatus.OPEN)
    await bot.executor.flush()
    original = bot.store.write_batch
    failures = [store_error("disk I/O error")]

    def flaky(orders, fills, **kwargs):
        if failures:
            raise failures.pop()
        return original(orders, fills, **kwargs)

    monkeypatch.setattr(bot.store, "write_batch", flaky)
    fill = Fill("v", "BTC/USD", "w-1", "T1", Side.BUY, Decimal("100"), Decimal("0.1"), Decimal("0.01"), "USD",
                Liquidity.MAKER, 5)
    venue.orders["w-1"] = OrderState("w-1", OrderStatus.FILLED, "X1", Decimal("0.1"), Decimal("100"), (fill,))
    await bot.executor.reconcile()  # its flush fails once; the writer writes the batch on its next attempt
    assert not failures
    await wait_for(lambda: bot.store.get_order("w-1").status is OrderStatus.FILLED, timeout_s=5)
    assert [f.trade_id for _, f in bot.store.fills()] == ["T1"]
    assert bot.store.get_order("w-1").fee == Decimal("0.01")
    await wait_for(lambda: bot.executor.store_error is None, what="the writer to report the store writable")
    assert len(store_alerts(bot)) == 1
    assert ctx.submit(intent("w-2")) == "w-2"
    await wait_for(lambda: status(bot, "w-2") is OrderStatus.OPEN)


async def test_a_batch_the_database_refuses_for_a_reason_of_its_own_pauses_new_orders_until_it_is_written(
        bot, monkeypatch):
    """Not a store outage (locked, full, gone) but a row the database refuses (a PostgreSQL DataError, a bug in what
    was written): fills and order changes would stay in memory only while trading went on. It stops new orders as
    an outage does, alerted once, and resumes when the batch is written."""
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    ctx.submit(intent("r-1"))
    await wait_for(lambda: status(bot, "r-1") is OrderStatus.OPEN)
    await bot.executor.flush()
    original = bot.store.write_batch
    refusing = True

    def refuse(orders, fills, **kwargs):
        if refusing:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        return original(orders, fills, **kwargs)

    monkeypatch.setattr(bot.store, "write_batch", refuse)
    fill = Fill("v", "BTC/USD", "r-1", "T1", Side.BUY, Decimal("100"), Decimal("0.1"), Decimal("0.01"), "USD",
                Liquidity.MAKER, 5)
    venue.orders["r-1"] = OrderState("r-1", OrderStatus.FILLED, "X1", Decimal("0.1"), Decimal("100"), (fill,))
    await bot.executor.reconcile()
    await wait_for(lambda: bot.executor.store_error is not None, what="the refused batch to stop new orders")
    assert "NUL" in bot.executor.store_error
    assert ctx.submit(intent("r-2")) is None  # nothing more is traded while fills cannot be stored
    assert len(store_alerts(bot)) == 1

    refusing = False
    await wait_for(lambda: bot.executor.store_error is None, timeout_s=10, what="the batch to be written")
    assert [f.trade_id for _, f in bot.store.fills()] == ["T1"]
    assert bot.store.get_order("r-1").status is OrderStatus.FILLED
    assert ctx.submit(intent("r-3")) == "r-3"


async def test_a_full_disk_pauses_new_orders_and_trading_resumes_by_itself(bot, monkeypatch):
    disk_full = True
    originals = {name: getattr(bot.store, name) for name in ("insert_order", "write_batch", "set_state")}

    def failing(name):
        def call(*args, **kwargs):
            if disk_full:
                raise store_error("database or disk is full")
            return originals[name](*args, **kwargs)
        return call

    for name in originals:
        monkeypatch.setattr(bot.store, name, failing(name))
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    assert ctx.submit(intent("d-1")) == "d-1"  # accepted: the disk is not known to be full yet
    await wait_for(lambda: bot.executor.store_error is not None)
    assert "disk is full" in bot.executor.store_error
    assert ctx.submit(intent("d-2")) is None  # new orders are refused meanwhile
    bot.bus.publish(book())  # the strategy's own write fails: it stops, for the store's sake only
    assert bot.strategy_state("s").startswith("failed (store unavailable")
    assert venue.submissions["d-1"] == 0  # never sent without its row
    assert len(store_alerts(bot)) == 1

    disk_full = False
    await wait_for(lambda: bot.executor.store_error is None, timeout_s=10, what="the store to be written again")
    await wait_for(lambda: status(bot, "d-1") is OrderStatus.OPEN, timeout_s=5)
    assert bot.strategy_state("s") == "running"  # resumed by itself
    assert ctx.submit(intent("d-3")) == "d-3"
    await wait_for(lambda: status(bot, "d-3") is OrderStatus.OPEN)
    assert venue.submissions == {"d-1": 1, "d-3": 1}


async def test_while_the_store_fails_cancels_go_on_and_closing_orders_wait_for_their_row(bot, monkeypatch):
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    ctx.submit(intent("c-1"))
    await wait_for(lambda: status(bot, "c-1") is OrderStatus.OPEN)
    bot.portfolio.on_fill(Fill("v", "BTC/USD", "x", "T9", Side.BUY, Decimal(100), Decimal("0.5"), Decimal(0), "USD",
                               Liquidity.TAKER, 1))  # long 0.5 (as if filled)
    broken = True
    original = bot.store.insert_order

    def insert(order, **kwargs):
        if broken:
            raise store_error()
        return original(order, **kwargs)

    monkeypatch.setattr(bot.store, "insert_order", insert)
    bot.executor.store_failed(store_error(), "test")
    ctx.cancel("c-1")
    await wait_for(lambda: status(bot, "c-1") is OrderStatus.CANCELLED)  # a cancel needs no new row
    assert ctx.submit(intent("c-2")) is None  # opens a position: refused
    close = OrderIntent("s", "v", "BTC/USD", Side.SELL, Decimal("0.5"), Decimal("99"), client_order_id="c-3")
    assert ctx.submit(close) == "c-3"  # reduces it: waits for its row
    await asyncio.sleep(0.3)
    assert venue.submissions["c-3"] == 0
    broken = False
    await wait_for(lambda: status(bot, "c-3") is OrderStatus.OPEN, timeout_s=5)
    assert venue.submissions["c-3"] == 1


class ExclusiveLock:
    """Another process holding the database's write lock (SQLite) or the tables' (PostgreSQL)."""

    def __init__(self, db_url: str):
        self.engine = create_engine(engine_url(db_url), poolclass=NullPool)
        self.sqlite = db_url.startswith("sqlite")

    def __enter__(self):
        self.conn = self.engine.connect()
        if self.sqlite:
            self.conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            self.conn.exec_driver_sql("LOCK TABLE orders, bot_state IN EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc):
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


async def test_an_exclusive_lock_on_the_db_neither_freezes_the_loop_nor_fails_a_strategy_for_good(bot, db_url):
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    loop = asyncio.get_running_loop()
    longest = 0.0
    ticking = True

    async def ticker():
        nonlocal longest
        while ticking:
            before = loop.time()
            await asyncio.sleep(0.005)
            longest = max(longest, loop.time() - before - 0.005)

    tick = asyncio.create_task(ticker())
    with ExclusiveLock(db_url):
        assert ctx.submit(intent("l-1")) == "l-1"
        for n in range(20):
            bot.bus.publish(book(n))  # the strategy writes on the loop: it fails fast, not after 5 s
            await asyncio.sleep(0.1)
        await wait_for(lambda: bot.executor.store_error is not None, timeout_s=5)
        assert bot.strategy_state("s").startswith("failed (store unavailable")
        assert venue.submissions["l-1"] == 0  # its row waits for the lock: not sent
        await asyncio.sleep(1)
    await wait_for(lambda: status(bot, "l-1") is OrderStatus.OPEN, timeout_s=10)
    await wait_for(lambda: bot.strategy_state("s") == "running", timeout_s=10)
    ticking = False
    await tick
    assert longest < 0.5, f"the loop was blocked {longest:.3f}s"  # the benchmark measures the real figure


# --- UNKNOWN orders -------------------------------------------------------------------------------


async def unknown_order(bot, cid: str) -> None:
    venue = bot.exchanges["v"]
    venue.faults = ["hang"]
    venue.lookup_faults = 100
    bot.strategies["s"].ctx.submit(intent(cid))
    await wait_for(lambda: status(bot, cid) is OrderStatus.UNKNOWN, timeout_s=5)
    venue.lookup_faults = 0
    assert [o.client_order_id for o in bot.executor.open_orders()] == [cid]  # still open: /orders shows it


async def test_an_unknown_order_filled_at_the_venue_is_resolved_by_reconciliation(bot):
    await unknown_order(bot, "u-1")
    venue = bot.exchanges["v"]
    fill = Fill("v", "BTC/USD", "u-1", "T1", Side.BUY, Decimal("100"), Decimal("0.1"), Decimal("0.02"), "USD",
                Liquidity.MAKER, 5)
    venue.orders["u-1"] = OrderState("u-1", OrderStatus.FILLED, "X1", Decimal("0.1"), Decimal("100"), (fill,))
    reply = await bot.commands.dispatch(ADMIN, "orders", [])
    assert "unknown" in [row[-1] for row in reply.rows[1:]]
    reply = await bot.commands.dispatch(ADMIN, "status", [])
    assert ("unknown orders", "u-1") in reply.rows
    await bot.executor.reconcile()
    assert status(bot, "u-1") is OrderStatus.FILLED
    assert bot.executor.open_orders() == []
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.1")
    await bot.executor.reconcile()
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.1")


async def test_an_unknown_order_cancelled_at_the_venue_is_resolved_by_reconciliation(bot):
    await unknown_order(bot, "u-2")
    venue = bot.exchanges["v"]
    venue.orders["u-2"] = OrderState("u-2", OrderStatus.CANCELLED, "X1")
    await bot.executor.reconcile()
    assert status(bot, "u-2") is OrderStatus.CANCELLED and bot.executor.open_orders() == []
    assert bot.strategies["s"].updates[-1].status is OrderStatus.CANCELLED


async def test_kill_cancels_an_unknown_order_at_the_venue(bot):
    await unknown_order(bot, "u-3")
    bot.kill(by="test", reason="test")
    await wait_for(lambda: status(bot, "u-3") is OrderStatus.CANCELLED, timeout_s=5)
    assert bot.exchanges["v"].orders["u-3"].status is OrderStatus.CANCELLED



async def test_an_order_the_feed_reported_is_not_made_unknown_by_a_lost_answer(bot):
    from bot.domain import OrderReport

    venue = bot.exchanges["v"]
    original = type(venue).place_order

    async def report_then_hang(order):
        state = OrderState(order.client_order_id, OrderStatus.OPEN, "X1")
        venue.orders[order.client_order_id] = state
        venue.submissions[order.client_order_id] += 1
        venue.ctx.bus.publish(OrderReport("v", "BTC/USD", state, 1))  # the feed says it rests ...
        await asyncio.sleep(3600)  # ... the answer never comes
        return await original(venue, order)

    venue.place_order = report_then_hang
    venue.lookup_faults = 100  # and look-ups fail
    bot.strategies["s"].ctx.submit(intent("r-1"))
    await wait_for(lambda: status(bot, "r-1") is OrderStatus.OPEN)
    assert await bot.executor.settle(5)
    assert status(bot, "r-1") is OrderStatus.OPEN and venue.submissions["r-1"] == 1


async def test_a_supervised_task_that_raises_is_restarted_and_reported_once(monkeypatch):
    from bot import tasks as tasks_module
    from bot.tasks import Tasks

    reported: list = []
    runs = []

    async def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    tasks = Tasks(on_error=lambda owner, what, exc: reported.append((owner, what, str(exc))))
    monkeypatch.setattr(tasks_module, "SUPERVISE_BACKOFF_S", (0.001, 0.002))
    await tasks.supervise(flaky, owner="executor", what="send queue v")
    assert len(runs) == 3
    assert reported == [("executor", "send queue v (restarting by itself)", "boom 1")]


async def test_a_venue_answering_place_order_with_no_state_is_named_and_the_order_looked_up(bot):
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    venue.faults.append("none")
    assert ctx.submit(intent("n-1")) == "n-1"
    await wait_for(lambda: status(bot, "n-1") is OrderStatus.OPEN)  # found by its client order id: adopted
    assert venue.submissions["n-1"] == 1  # and never sent twice
    problem = ('exchange "v": place_order returned NoneType, not an OrderState: return the venue\'s OrderState, or '
               "raise an ExchangeError (bot.api); the order was looked up by its client order id")
    assert bot.plugins.info("venue").errors == [problem]
    venue.faults.append("none")
    ctx.submit(intent("n-2"))
    await wait_for(lambda: status(bot, "n-2") is OrderStatus.OPEN)
    assert bot.plugins.info("venue").errors == [problem, problem]


async def test_a_supervised_task_that_runs_again_after_its_reported_failures_says_so(monkeypatch):
    """The failure was reported ("restarting by itself"); once the restarted task has held for HEALTHY_AFTER_S, the
    trader hears that it runs again, with how many failures it took, not silence."""
    from bot import tasks as tasks_module
    from bot.tasks import Tasks

    reported: list = []
    recovered: list = []
    runs = []
    forever = asyncio.Event()

    async def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")
        await forever.wait()

    tasks = Tasks(on_error=lambda owner, what, exc: reported.append((owner, what, str(exc))),
                  on_recovered=lambda owner, what, failures: recovered.append((owner, what, failures)))
    monkeypatch.setattr(tasks_module, "SUPERVISE_BACKOFF_S", (0.001, 0.002))
    monkeypatch.setattr(tasks_module, "HEALTHY_AFTER_S", 0.05)
    task = tasks.supervise(flaky, owner="executor", what="store writer")
    try:
        await wait_for(lambda: recovered, what="the recovery reported")
        assert recovered == [("executor", "store writer", 2)] and len(reported) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _answer_after_the_feed(bot, report: bool = True):
    """place_order that fills the order at once and publishes its fill and (``report``) its FILLED report before its
    own answer, the order as first acknowledged (OPEN, nothing filled), comes back: a private stream faster than the
    REST answer."""
    from bot.domain import OrderReport

    venue = bot.exchanges["v"]

    async def fill_then_answer(order):
        venue.submissions[order.client_order_id] += 1
        fill = Fill("v", "BTC/USD", order.client_order_id, "T1", order.side, Decimal("100"), order.qty, Decimal(0),
                    "USD", Liquidity.MAKER, 1)
        venue.ctx.bus.publish(fill)
        filled = OrderState(order.client_order_id, OrderStatus.FILLED, "X1", order.qty, Decimal("100"), (fill,))
        if report:
            venue.ctx.bus.publish(OrderReport("v", "BTC/USD", filled, 1))
        await asyncio.sleep(0)
        return OrderState(order.client_order_id, OrderStatus.OPEN, "X1")

    venue.place_order = fill_then_answer


async def test_an_answer_older_than_what_the_venue_reported_never_takes_the_order_back(bot):
    """Taken back to OPEN, a FILLED order would be open here (its row, /orders, the strategy's update) and
    nowhere else, filled 0 beside its fill."""
    _answer_after_the_feed(bot)
    bot.strategies["s"].ctx.submit(intent("late-1", qty="0.4"))
    await wait_for(lambda: bot.executor.order("late-1") is not None
                   and bot.exchanges["v"].submissions["late-1"] == 1, what="the order sent")
    await bot.executor.settle(5)
    await bot.executor.flush()
    for order in (bot.executor.order("late-1"), bot.store.get_order("late-1")):
        assert (order.status, order.filled_qty) == (OrderStatus.FILLED, Decimal("0.4"))
    assert bot.executor.open_orders() == []
    assert [u.status for u in bot.strategies["s"].updates][-1] is OrderStatus.FILLED


async def test_a_fill_heard_before_its_orders_answer_counts_in_the_order_however_the_answer_says(bot):
    """A venue publishes a fill, then answers the order "OPEN, nothing filled" (no report in between): the order was
    open with 0 filled beside its applied fill until its next state. Its filled quantity is never less than its
    applied fills': FILLED, here and in the store."""
    _answer_after_the_feed(bot, report=False)
    bot.strategies["s"].ctx.submit(intent("late-2", qty="0.4"))
    await wait_for(lambda: bot.executor.order("late-2") is not None
                   and bot.exchanges["v"].submissions["late-2"] == 1, what="the order sent")
    await bot.executor.settle(5)
    await bot.executor.flush()
    for order in (bot.executor.order("late-2"), bot.store.get_order("late-2")):
        assert (order.status, order.filled_qty) == (OrderStatus.FILLED, Decimal("0.4"))
    assert bot.executor.open_orders() == []
    assert [u.status for u in bot.strategies["s"].updates][-1] is OrderStatus.FILLED


async def test_a_fill_already_stored_counts_in_the_order_when_its_answer_says_nothing_filled(bot):
    """The fill was written before the answer came: its quantity is read from the store. Part filled: the order
    stays OPEN, 0.1 filled at the fill's price."""
    venue = bot.exchanges["v"]
    answer = asyncio.Event()

    async def fill_then_wait(order):
        venue.submissions[order.client_order_id] += 1
        venue.ctx.bus.publish(Fill("v", "BTC/USD", order.client_order_id, "T3", order.side, Decimal("100"),
                                   Decimal("0.1"), Decimal(0), "USD", Liquidity.MAKER, 1))
        await answer.wait()
        return OrderState(order.client_order_id, OrderStatus.OPEN, "X3")

    venue.place_order = fill_then_wait
    bot.strategies["s"].ctx.submit(intent("late-3", qty="0.4"))
    await wait_for(lambda: venue.submissions["late-3"] == 1, what="the order sent")
    await bot.executor.flush()
    assert bot.store.fill_stored("v", "T3")
    answer.set()
    await wait_for(lambda: bot.executor.order("late-3").exchange_order_id == "X3", what="the answer applied")
    order = bot.executor.order("late-3")
    assert (order.status, order.filled_qty, order.avg_fill_price) == (OrderStatus.OPEN, Decimal("0.1"),
                                                                      Decimal("100"))


async def test_an_unknown_order_found_resting_no_longer_says_its_outcome_is_unknown(bot):
    """Its reason ("outcome unknown ... reconciliation keeps asking") was the UNKNOWN state's; adopted as open, the
    order showed it in /orders and its row for the rest of its life."""
    await unknown_order(bot, "u-4")
    assert "outcome unknown" in bot.executor.order("u-4").reason
    bot.exchanges["v"].orders["u-4"] = OrderState("u-4", OrderStatus.OPEN, "X1")
    await bot.executor.reconcile()
    order = bot.executor.order("u-4")
    assert (order.status, order.reason) == (OrderStatus.OPEN, "")
    assert bot.store.get_order("u-4").reason == ""
