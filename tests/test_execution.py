"""The executor against a scriptable venue: persist-before-send, retries, unknown outcomes, recovery."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from decimal import Decimal

import pytest

from bot import hookimpl
from bot.api import Strategy
from bot.domain import Fill, Liquidity, OrderIntent, OrderStatus, Side
from bot.ledger import Ledger
from bot.store import MARKOUTS
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

CONFIG = """
[executor]
backoff_initial_s = 0.01
backoff_max_s = 0.05
request_timeout_s = 0.2
max_retries = 3
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
"""


class Recorder(Strategy):
    def __init__(self, *args):
        super().__init__(*args)
        self.updates = []

    def on_order_update(self, update):
        self.updates.append(update)


class recorder_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("recorder", Recorder)


PLUGINS = [("venue", venue_plugin), ("recorder", recorder_plugin)]


def intent(cid: str, qty: str = "0.1") -> OrderIntent:
    return OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal(qty), Decimal("100"), client_order_id=cid)


def final_status(bot, cid):
    order = bot.executor.order(cid)
    return order.status if order else None


@pytest.fixture
async def bot(make_bot):
    ScriptedVenue.instances.clear()
    return await make_bot(CONFIG, extra=PLUGINS)


def venue(bot) -> ScriptedVenue:
    return bot.exchanges["v"]


async def test_order_is_persisted_before_it_is_sent(bot):
    seen_in_store = []
    original = ScriptedVenue.place_order

    async def spy(self, order):
        seen_in_store.append(bot.store.get_order(order.client_order_id) is not None)
        return await original(self, order)

    venue(bot).place_order = spy.__get__(venue(bot))
    assert bot.strategies["s"].ctx.submit(intent("a-1")) == "a-1"
    await wait_for(lambda: final_status(bot, "a-1") is OrderStatus.OPEN)
    assert seen_in_store == [True]


async def test_an_answer_is_handled_in_the_request_callback_and_a_failure_there_is_reported(bot):
    if not bot.store.records_inline:
        pytest.skip("the store commits on the writer thread (PostgreSQL): orders go through the lane worker")
    handled: list[str] = []
    failures: list[tuple[str, str, BaseException]] = []
    bot.tasks._on_error = lambda owner, what, exc: failures.append((owner, what, exc))
    apply = bot.executor._apply

    def failing_apply(order, state):
        handled.append(order.client_order_id)
        apply(order, state)
        if order.client_order_id == "f-2":
            raise RuntimeError("boom")

    bot.executor._apply = failing_apply
    made: list[str] = []
    create = bot.tasks.create
    bot.tasks.create = lambda coro, *, owner, what: made.append(what) or create(coro, owner=owner, what=what)
    assert bot.strategies["s"].ctx.submit(intent("f-1")) == "f-1"
    await wait_for(lambda: final_status(bot, "f-1") is OrderStatus.OPEN)
    assert handled == ["f-1"] and failures == [] and made == []  # no task for the answer
    assert bot.strategies["s"].ctx.submit(intent("f-2")) == "f-2"
    await wait_for(lambda: failures, what="the failure reported")
    [(owner, what, exc)] = failures
    assert (owner, what, str(exc)) == ("executor", "answer from v", "boom")
    assert final_status(bot, "f-2") is OrderStatus.OPEN and await bot.executor.settle(1)  # nothing left in flight


async def test_transient_errors_are_retried(bot):
    venue(bot).faults = ["transient", "ratelimit"]
    bot.strategies["s"].ctx.submit(intent("t-1"))
    await wait_for(lambda: final_status(bot, "t-1") is OrderStatus.OPEN)
    assert venue(bot).submissions["t-1"] == 1


async def test_lost_response_is_resolved_by_lookup_not_resent(bot):
    venue(bot).faults = ["lost"]
    bot.strategies["s"].ctx.submit(intent("l-1"))
    await wait_for(lambda: final_status(bot, "l-1") is OrderStatus.OPEN)
    assert venue(bot).submissions["l-1"] == 1


async def test_timeout_is_an_unknown_outcome_resolved_by_lookup(bot):
    venue(bot).faults = ["hang"]
    bot.strategies["s"].ctx.submit(intent("h-1"))
    await wait_for(lambda: final_status(bot, "h-1") is OrderStatus.OPEN, timeout_s=3)
    assert venue(bot).submissions["h-1"] == 1


async def test_permanent_error_rejects_once(bot):
    venue(bot).faults = ["reject"]
    bot.strategies["s"].ctx.submit(intent("r-1"))
    await wait_for(lambda: final_status(bot, "r-1") is OrderStatus.REJECTED)
    updates = bot.strategies["s"].updates
    assert updates[-1].status is OrderStatus.REJECTED and "Insufficient funds" in updates[-1].reason
    assert venue(bot).submissions["r-1"] == 0


async def test_retries_exhausted_fail_the_order(bot):
    venue(bot).faults = ["transient"] * 10
    bot.strategies["s"].ctx.submit(intent("x-1"))
    await wait_for(lambda: final_status(bot, "x-1") is OrderStatus.FAILED)
    assert "gave up after 4 attempts" in bot.executor.order("x-1").reason


async def test_an_order_given_up_on_that_filled_after_all_shows_its_fills(bot):
    """The executor gave up on an order (FAILED, nothing filled as far as it knew); the venue then reports it filled
    (a swap that landed late, a request Kraken's queue took late): the fills are applied, and the order says so
    too: FILLED, its quantity and price, in memory and stored (before, it stayed FAILED with 0 filled while its
    fills counted in every figure)."""
    from bot.domain import OrderReport, OrderState

    venue(bot).faults = ["transient"] * 10
    bot.strategies["s"].ctx.submit(intent("x-2"))
    await wait_for(lambda: final_status(bot, "x-2") is OrderStatus.FAILED)
    fill = Fill("v", "BTC/USD", "x-2", "T-late", Side.BUY, Decimal("100"), Decimal("0.1"), Decimal("0.02"), "USD",
                Liquidity.TAKER, 7)
    landed = OrderState("x-2", OrderStatus.FILLED, "X9", Decimal("0.1"), Decimal("100"), (fill,))
    bot.executor.handle_report(OrderReport("v", "BTC/USD", landed, 3))
    order = bot.executor.order("x-2")
    assert (order.status, order.filled_qty, order.avg_fill_price, order.exchange_order_id) == (
        OrderStatus.FILLED, Decimal("0.1"), Decimal("100"), "X9")
    assert "gave up" in order.reason  # what happened on the way is kept
    assert bot.strategies["s"].updates[-1].status is OrderStatus.FILLED
    assert await bot.executor.flush()
    stored = bot.store.get_order("x-2")
    assert (stored.status, stored.filled_qty, stored.fee) == (OrderStatus.FILLED, Decimal("0.1"), Decimal("0.02"))
    bot.executor.handle_report(OrderReport("v", "BTC/USD", landed, 4))  # told again: nothing changes twice
    assert len(bot.store.fills(strategy="s")) == 1 and bot.strategies["s"].updates[-1].status is OrderStatus.FILLED


async def test_same_client_id_is_never_sent_twice(bot):
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("d-1")) == "d-1"
    assert ctx.submit(intent("d-1")) == "d-1"
    await wait_for(lambda: final_status(bot, "d-1") is OrderStatus.OPEN)
    assert ctx.submit(intent("d-1")) == "d-1"  # resting: still the same live order
    await bot.executor.flush()
    bot.executor._active.clear()  # as after a restart: only the store knows the id
    bot.executor._dirty.clear()
    assert ctx.submit(intent("d-1")) is None
    await wait_for(lambda: not bot.executor._lanes["v"].queue.qsize())
    await bot.executor.flush()
    assert venue(bot).submissions["d-1"] == 1


async def test_paused_strategy_places_nothing(bot):
    bot.pause(["s"], by="test")
    assert bot.strategies["s"].ctx.submit(intent("p-1")) is None
    bot.resume(["s"], by="test")
    assert bot.strategies["s"].ctx.submit(intent("p-2")) == "p-2"


async def test_risk_veto_is_stored_and_blocks(make_bot):
    bot = await make_bot(CONFIG + "[risk.limits]\nmax_order_notional = 5\n", extra=PLUGINS)
    assert bot.strategies["s"].ctx.submit(intent("v-1")) is None
    await bot.writer.drained()  # the veto's row is written on the store writer's thread
    events = bot.store.risk_events()
    assert events[0].check_name == "limits" and "exceeds max_order_notional 5" in events[0].reason
    assert venue(bot).submissions["v-1"] == 0


async def test_recovery_adopts_known_orders_and_fails_unknown_ones(make_bot):
    ScriptedVenue.instances.clear()
    first = await make_bot(CONFIG, extra=PLUGINS)
    ctx = first.strategies["s"].ctx
    ctx.submit(intent("k-1"))
    await wait_for(lambda: final_status(first, "k-1") is OrderStatus.OPEN)
    await first.executor.flush()
    # Simulate a crash after persisting but before sending: a PENDING row the venue never saw.
    from bot.domain import Order
    first.store.insert_order(Order("k-2", "s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("1")))
    known = dict(venue(first).orders)

    second = await make_bot(CONFIG, extra=PLUGINS, start=False)
    original_start = ScriptedVenue.start

    async def preload(self):
        self.orders.update(known)  # the venue's own state survived the "crash"
        await original_start(self)

    ScriptedVenue.start = preload
    try:
        await second.start()
    finally:
        ScriptedVenue.start = original_start
    try:
        assert second.executor.order("k-1").status is OrderStatus.OPEN
        assert second.executor.order("k-2").status is OrderStatus.FAILED
        assert venue(second).submissions == {}
    finally:
        await second.stop()


async def test_post_only_that_would_cross_is_sent_as_limit(bot):
    from bot.domain import BookUpdate

    bot.bus.publish(BookUpdate("v", "BTC/USD", ((Decimal("99"), Decimal(1)),), ((Decimal("100"), Decimal(1)),), 1))
    ctx = bot.strategies["s"].ctx
    ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("100"), post_only=True,
                           client_order_id="po-1"))
    ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("99.5"), post_only=True,
                           client_order_id="po-2"))
    await wait_for(lambda: len(venue(bot).received) == 2)
    sent = {o.client_order_id: o.post_only for o in venue(bot).received}
    assert sent == {"po-1": False, "po-2": True}


async def test_post_only_cross_can_be_refused_instead(make_bot):
    from bot.domain import BookUpdate

    bot = await make_bot(CONFIG.replace("max_retries = 3", "max_retries = 3\npost_only_cross = \"reject\""),
                         extra=PLUGINS)
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((Decimal("99"), Decimal(1)),), ((Decimal("100"), Decimal(1)),), 1))
    assert bot.strategies["s"].ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("100"),
                                                      post_only=True)) is None


async def test_orders_queued_together_go_in_one_batch_request(make_bot):
    bot = await make_bot(CONFIG.replace('type = "scripted"', 'type = "batch"'), extra=PLUGINS)
    ctx = bot.strategies["s"].ctx
    for n in range(5):
        ctx.submit(intent(f"b-{n}"))
    await wait_for(lambda: all(final_status(bot, f"b-{n}") is OrderStatus.OPEN for n in range(5)))
    assert venue(bot).batch_calls == [5]


async def test_orders_to_an_idle_lane_are_stored_in_submit_and_all_leave_in_the_next_loop_turn(bot):
    # File-backed SQLite records inline: submit commits each row itself and makes its request, so orders
    # submitted in one callback (an arbitrage's two legs) reach their venue together, one turn later
    if not bot.store.records_inline:
        pytest.skip("the store commits on the writer thread (PostgreSQL): orders go through the lane worker")
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("n-1")) == "n-1" and ctx.submit(intent("n-2")) == "n-2"
    assert bot.store.order_exists("n-1") and bot.store.order_exists("n-2")  # committed before submit returned
    assert venue(bot).submissions == {}
    await asyncio.sleep(0)
    assert venue(bot).submissions == {"n-1": 1, "n-2": 1}
    await wait_for(lambda: final_status(bot, "n-2") is OrderStatus.OPEN)
    # an id the store holds is refused by the insert itself, never sent
    bot.executor._active.pop("n-1", None)
    bot.executor._dirty.pop("n-1", None)
    assert ctx.submit(intent("n-1")) is None
    await asyncio.sleep(0.05)
    assert venue(bot).submissions["n-1"] == 1


async def test_a_locked_store_sends_through_the_lane_once_the_row_is_written(bot, tmp_path):
    if not bot.store.records_inline:
        pytest.skip("SQLite's write lock")
    lock = sqlite3.connect(tmp_path / "arbot.db", isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # another writer: the no-wait record finds it taken
        assert bot.strategies["s"].ctx.submit(intent("l-1")) == "l-1"
        await asyncio.sleep(0.1)
        assert venue(bot).submissions == {}  # not sent before its row
        lock.execute("ROLLBACK")
    finally:
        lock.close()
    await wait_for(lambda: final_status(bot, "l-1") is OrderStatus.OPEN)
    assert venue(bot).submissions == {"l-1": 1} and bot.store.order_exists("l-1")


def _visible_elsewhere(tmp_path, prefix: str) -> tuple[int, int]:
    """Order rows and markout rows another connection sees (committed ones)."""
    con = sqlite3.connect(tmp_path / "arbot.db")
    try:
        return (con.execute("SELECT count(*) FROM orders WHERE client_order_id LIKE ?", (prefix + "%",)).fetchone()[0],
                con.execute("SELECT count(*) FROM markouts WHERE trade_id = ?", (prefix,)).fetchone()[0])
    finally:
        con.close()


async def test_a_durable_intent_commits_its_record_and_its_orders_together_before_they_leave(bot, tmp_path):
    if not bot.store.records_inline:
        pytest.skip("one transaction on the loop's record connection (file-backed SQLite)")
    ctx = bot.strategies["s"].ctx
    with ctx.intent():
        assert ctx.store.record(MARKOUTS, {"exchange": "v", "trade_id": "i-", "horizon_s": 1, "mid": Decimal(1),
                                           "ts_ns": 1})
        assert ctx.submit(intent("i-1")) == "i-1" and ctx.submit(intent("i-2")) == "i-2"
        assert _visible_elsewhere(tmp_path, "i-") == (0, 0)  # one transaction, not committed yet
    assert _visible_elsewhere(tmp_path, "i-") == (2, 1)
    assert venue(bot).submissions == {}
    await asyncio.sleep(0)  # the requests were made when it committed: both start in the next loop turn
    assert venue(bot).submissions == {"i-1": 1, "i-2": 1}
    await wait_for(lambda: final_status(bot, "i-2") is OrderStatus.OPEN)


async def test_a_durable_intent_that_raises_stores_nothing_and_sends_nothing(bot, tmp_path):
    ctx = bot.strategies["s"].ctx
    with pytest.raises(RuntimeError, match="changed my mind"), ctx.intent():
        assert ctx.submit(intent("r-1")) == "r-1"
        assert ctx.store.record(MARKOUTS, {"exchange": "v", "trade_id": "r-", "horizon_s": 1, "mid": Decimal(1),
                                           "ts_ns": 1})
        raise RuntimeError("changed my mind")
    if bot.store.records_inline:  # elsewhere each row committed on its own (the intent is the block alone)
        assert _visible_elsewhere(tmp_path, "r-") == (0, 0) and ctx.order("r-1") is None
        assert await bot.executor.settle(5)
        assert venue(bot).submissions.get("r-1", 0) == 0
    # the executor goes on as before
    assert ctx.submit(intent("r-2")) == "r-2"
    await wait_for(lambda: final_status(bot, "r-2") is OrderStatus.OPEN)


async def test_a_veto_in_a_durable_intent_is_stored_once_it_is_over(make_bot):
    bot = await make_bot(CONFIG + "[risk.limits]\nmax_order_notional = 5\n", extra=PLUGINS)
    ctx = bot.strategies["s"].ctx
    with ctx.intent():
        assert ctx.submit(intent("v-1")) is None
        assert ctx.submit(intent("v-ok", qty="0.01")) == "v-ok"
    await bot.writer.drained()  # the veto's row is written on the store writer's thread, after the intent
    events = bot.store.risk_events()
    assert len(events) == 1 and "exceeds max_order_notional 5" in events[0].reason
    await wait_for(lambda: final_status(bot, "v-ok") is OrderStatus.OPEN)
    assert venue(bot).submissions.get("v-1", 0) == 0


async def test_the_write_back_runs_on_the_loop_without_waiting_for_a_lock(bot, monkeypatch):
    if not bot.store.records_inline:
        pytest.skip("the writer thread writes back on other stores")
    calls = []
    original = bot.store.write_batch

    def spy(orders, fills, **kwargs):
        calls.append((threading.current_thread() is threading.main_thread(), kwargs.get("wait", True)))
        return original(orders, fills, **kwargs)

    monkeypatch.setattr(bot.store, "write_batch", spy)
    assert bot.strategies["s"].ctx.submit(intent("b-1")) == "b-1"
    await wait_for(lambda: final_status(bot, "b-1") is OrderStatus.OPEN)
    await bot.executor.flush()
    assert calls and calls[-1] == (True, False)
    assert bot.store.get_order("b-1").status is OrderStatus.OPEN


async def test_the_writer_writes_the_changes_of_its_gathering_window_in_one_batch_by_itself(bot, monkeypatch):
    from bot.domain import Fill, Liquidity

    for cid in ("g-1", "g-2"):
        assert bot.strategies["s"].ctx.submit(intent(cid)) == cid
    await wait_for(lambda: final_status(bot, "g-1") is final_status(bot, "g-2") is OrderStatus.OPEN)
    await bot.executor.flush()
    batches = []
    original = bot.store.write_batch

    def spy(orders, fills, **kwargs):
        batches.append(sorted(f.trade_id for _, f in fills))
        return original(orders, fills, **kwargs)

    monkeypatch.setattr(bot.store, "write_batch", spy)
    for n, cid in enumerate(("g-1", "g-2")):  # two changes in one callback: one timer, one write
        assert bot.executor.apply_fill(Fill("v", "BTC/USD", cid, f"t-{n}", Side.BUY, Decimal("100"), Decimal("0.01"),
                                            Decimal(0), "USD", Liquidity.TAKER, 0))
    await wait_for(lambda: batches, timeout_s=5, what="the writer's batch, with no flush asked for")
    assert batches == [["t-0", "t-1"]]
    assert {"t-0", "t-1"} <= {f.trade_id for _, f in bot.store.fills()}


async def test_a_durable_intent_that_awaits_is_rolled_back(bot, tmp_path):
    if not bot.store.records_inline:
        pytest.skip("one transaction on the loop's record connection (file-backed SQLite)")
    ctx = bot.strategies["s"].ctx
    with pytest.raises(RuntimeError, match="must not await"), ctx.intent():
        assert ctx.submit(intent("a-w")) == "a-w"
        await asyncio.sleep(0)
    assert _visible_elsewhere(tmp_path, "a-w") == (0, 0) and ctx.order("a-w") is None
    assert await bot.executor.settle(5)
    assert venue(bot).submissions.get("a-w", 0) == 0


async def test_an_intent_that_rolls_back_never_joins_a_batch_request_made_before_it(make_bot, tmp_path):
    bot = await make_bot(CONFIG.replace('type = "scripted"', 'type = "batch"'), extra=PLUGINS)
    if not bot.store.records_inline:
        pytest.skip("one transaction on the loop's record connection (file-backed SQLite)")
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("o-1")) == "o-1"  # its request is made, and starts in the next loop turn
    with pytest.raises(RuntimeError, match="no"), ctx.intent():
        assert ctx.submit(intent("o-2")) == "o-2"
        raise RuntimeError("no")
    await wait_for(lambda: final_status(bot, "o-1") is OrderStatus.OPEN)
    assert await bot.executor.settle(5)
    assert venue(bot).submissions.get("o-2", 0) == 0 and ctx.order("o-2") is None
    assert _visible_elsewhere(tmp_path, "o-2") == (0, 0)


def test_an_order_update_made_slot_by_slot_is_the_constructors():
    """The executor's OrderUpdate maker writes the slots directly: the same event as the constructor's."""
    from bot.domain import Order, OrderStatus, OrderUpdate, Side
    from bot.execution import _order_update

    for status, avg, reason in ((OrderStatus.OPEN, Decimal("150.01"), ""), (OrderStatus.REJECTED, None, "no")):
        filled = Decimal("0.2") if avg else Decimal(0)
        order = Order("c1", "grid", "paper", "BTC/USD", Side.BUY, Decimal("0.5"), Decimal("150.02"), status=status,
                      filled_qty=filled, avg_fill_price=avg, reason=reason, updated_ns=17)
        update = _order_update(order)
        made = OrderUpdate(exchange="paper", symbol="BTC/USD", client_order_id="c1", strategy="grid", status=status,
                           filled_qty=order.filled_qty, avg_fill_price=avg, ts_ns=17, reason=reason)
        assert type(update) is OrderUpdate and update == made and hash(update) == hash(made)
        assert repr(update) == repr(made)


async def test_an_orders_fee_is_the_ledgers_fee_for_its_fills_in_the_quote_asset(make_bot):
    """The Orders page, its CSV and /api/v1/orders show an order's fee as /pnl counts its fills' fees: a fee paid
    in the base asset at its fill's price, not added to a quote fee as if it were quote."""
    from plugins.web.views import order_view

    bot = await make_bot(CONFIG, extra=PLUGINS)
    assert bot.strategies["s"].ctx.submit(intent("a-1", qty="1")) == "a-1"
    await wait_for(lambda: bot.executor.order("a-1").exchange_order_id is not None, what="a-1 sent")
    # two executions of the buy: the first pays its fee in USD, the second in BTC (a venue that takes a buy's fee
    # from what it buys)
    bot.executor.apply_fill(Fill("v", "BTC/USD", "a-1", "t1", Side.BUY, Decimal("100"), Decimal("0.5"),
                                 Decimal("0.05"), "USD", Liquidity.TAKER, 1))
    bot.executor.apply_fill(Fill("v", "BTC/USD", "a-1", "t2", Side.BUY, Decimal("100"), Decimal("0.5"),
                                 Decimal("0.0005"), "BTC", Liquidity.TAKER, 2))
    await wait_for(lambda: len(bot.store.fills()) == 2, what="both fills stored")
    ledger_fees = Ledger(bot.store).strategy("s").fees["USD"]
    assert ledger_fees == Decimal("0.1")  # 0.05 USD + 0.0005 BTC at 100
    shown = order_view(bot.executor.order("a-1"))["fee"]  # the Orders page's "Fee" cell, the CSV's fee column
    assert Decimal(shown) == ledger_fees, shown
    await bot.executor.flush()
    assert bot.store.get_order("a-1").fee == ledger_fees  # stored so, for a restart


async def test_an_order_cancelled_while_queued_before_its_row_was_written_is_stored_cancelled(make_bot, caplog):
    """Queued behind the rate limit, its row not written yet (the lane writes it just before sending): cancelled
    then, it never leaves, and the store keeps it as CANCELLED with its reason (the audit trail has no gap). None
    of the cancelled orders is in flight any more: the stop does not wait ``[bot] shutdown_timeout_s`` for them
    (the lane is still waiting for a token, 100 s away) nor says they were left in flight."""
    ScriptedVenue.instances.clear()
    config = CONFIG.replace("max_retries = 3", "max_retries = 3\norders_per_s = 0.01\nburst = 1")
    bot = await make_bot('on_shutdown = "keep"\n' + config, extra=PLUGINS)  # no cancel waiting for a token
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("q-1")) == "q-1"  # the one token
    await wait_for(lambda: final_status(bot, "q-1") is OrderStatus.OPEN)
    assert ctx.submit(intent("q-2")) == "q-2"  # the lane stores it, then waits for a token
    await wait_for(lambda: bot.store.order_exists("q-2"))
    assert ctx.submit(intent("q-3")) == "q-3" and ctx.submit(intent("q-4")) == "q-4"  # queued behind it
    await asyncio.sleep(0.05)
    assert not bot.store.order_exists("q-3")
    ctx.cancel("q-3")  # one order
    assert bot.executor.cancel_unsent() == 2  # the kill switch's: every order that has not left
    await bot.executor.flush()
    for cid in ("q-2", "q-3", "q-4"):
        stored = bot.store.get_order(cid)
        assert stored is not None, cid
        assert (stored.status, stored.reason) == (OrderStatus.CANCELLED, "cancelled before it was sent")
        assert final_status(bot, cid) is OrderStatus.CANCELLED
    assert set(venue(bot).submissions) == {"q-1"}
    assert await bot.executor.settle(1)  # nothing left in flight
    await bot.stop()
    assert "still in flight" not in caplog.text
