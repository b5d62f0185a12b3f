"""A store that stops answering never stalls the event loop: while trading, no store statement runs on the loop's
thread through the engine (a PostgreSQL round trip, or an SQLite lock wait), whatever the store (``db_url``: SQLite,
or PostgreSQL with ARBOT_TEST_DB_URL). Writes that may land a little later (markouts, risk events) go to the store
writer's thread; a strategy's own client order id is checked against what the executor knows, never a read on the
loop, and an id the store holds is still never sent twice."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import event

from bot import hookimpl
from bot.api import Caller, Strategy
from bot.domain import AlertLevel, OrderIntent, OrderStatus, Side
from bot.store import Store
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

BLOCK_S = 1.5
"""How long every statement waits while the store "stops answering"."""
MAX_LAG_S = 0.5

CONFIG = """
[executor]
backoff_initial_s = 0.01
backoff_max_s = 0.05
request_timeout_s = 0.2
[risk.limits]
max_order_notional = 50
[exchanges.v]
type = "scripted"
[strategies.s]
type = "quiet"
"""


class Quiet(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]


class quiet_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("quiet", Quiet)


def intent(cid: str, qty: str = "0.1") -> OrderIntent:
    return OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal(qty), Decimal("100"), client_order_id=cid)


class Stalls:
    """Every statement through the store's engine waits :data:`BLOCK_S` while ``blocked``; those run on the
    loop's thread are listed."""

    def __init__(self, engine, loop_thread: threading.Thread):
        self.loop_thread = loop_thread
        self.blocked = False
        self.watching = True
        self.on_loop: list[str] = []
        # never removed while the bot runs: a listener removed while another thread runs a statement breaks it
        event.listen(engine, "before_cursor_execute", self.before)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        if self.watching and threading.current_thread() is self.loop_thread:
            self.on_loop.append(statement.split("\n")[0][:80])
        if self.blocked:
            time.sleep(BLOCK_S)


class LagMeter:
    """The loop's longest wait past a 10 ms sleep."""

    def __init__(self):
        self.worst_s = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self):
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst_s = max(self.worst_s, time.monotonic() - start - 0.01)

    def __enter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc):
        assert self._task is not None
        self._task.cancel()


async def test_a_store_that_stops_answering_never_stalls_the_loop(make_bot):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    # an order of this run, final and written: its id lives on in the store only
    assert ctx.submit(intent("seen-1")) == "seen-1"
    await wait_for(lambda: bot.executor.order("seen-1").status is OrderStatus.OPEN)
    ctx.cancel("seen-1")
    await wait_for(lambda: bot.executor.order("seen-1").status is OrderStatus.CANCELLED)
    assert await bot.executor.flush()
    await bot.executor.settle(2)

    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        assert ctx.submit(intent("seen-1")) is None  # never sent twice, known without a read
        assert ctx.submit(intent("new-1")) == "new-1"  # its row is written on the writer thread, then sent
        assert ctx.submit(intent("big-1", qty="5")) is None  # vetoed: the veto's record goes off the loop
        bot.markouts._rows.append({"exchange": "v", "trade_id": "t-1", "horizon_s": 1, "mid": Decimal("100"),
                                   "ts_ns": 1})
        bot.markouts.flush()
        for _ in range(20):
            await asyncio.sleep(0.05)
        stalls.blocked = False
        stalls.watching = False  # what the test reads from here on runs on the loop
        on_loop = list(stalls.on_loop)
    await wait_for(lambda: venue.submissions["new-1"] == 1, timeout_s=20, what="the new order sent")
    await wait_for(lambda: bot.store.risk_events(), timeout_s=20, what="the veto stored")
    await wait_for(lambda: bot.store.markouts(), timeout_s=20, what="the markout stored")

    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert on_loop == [], on_loop
    assert venue.submissions["seen-1"] == 1
    assert bot.store.risk_events()[0].check_name == "limits"
    assert bot.store.markouts() == {("v", "t-1"): {1: Decimal("100")}}


async def test_the_store_watch_reads_the_store_identity_off_the_loop(make_bot, monkeypatch):
    """The watch that the store was not replaced under the bot reads its identity every few seconds: on the store
    writer's thread, so a server that stopped answering delays the watch, not the loop (the SIGSTOP reproduction's
    16 s stall once the opportunity log had left the loop)."""
    from bot import app

    monkeypatch.setattr(app, "STORE_WATCH_EVERY_S", 0.05)
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        for _ in range(20):
            await asyncio.sleep(0.05)
        stalls.blocked = False
        stalls.watching = False
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert stalls.on_loop == [], stalls.on_loop


async def test_a_write_the_store_never_answers_raises_the_alarm_and_stops_new_orders(make_bot, monkeypatch):
    """A server that stops answering (``kill -STOP``) leaves the writer thread waiting with no error to report: past
    ``WRITE_STALL_S`` the store is taken as not writable (the CRITICAL "store cannot be written" alert, new orders
    refused), and trading resumes, alerted, once the write comes back."""
    from bot import writer

    monkeypatch.setattr(writer, "WRITE_STALL_S", 0.3)
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx = bot.strategies["s"].ctx
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")

    def store_alerts(level):
        return [a for a in alerts if a.kind == "store" and a.level is level]

    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        written = bot.writer.later(bot.store.set_state, "stall-probe", "1")
        await wait_for(lambda: store_alerts(AlertLevel.CRITICAL), timeout_s=5, what="the store alert")
        assert not written.done()  # raised while the write still waits
        assert bot.executor.store_error is not None
        assert ctx.submit(intent("while-stalled")) is None  # new orders stop
        stalls.blocked = False
        stalls.watching = False
        await wait_for(lambda: store_alerts(AlertLevel.WARNING), timeout_s=10, what="the store writable again")
    await written
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert bot.executor.store_error is None
    [alarm] = store_alerts(AlertLevel.CRITICAL)
    assert "did not answer" in alarm.fields["error"], alarm.fields
    assert ctx.submit(intent("after")) == "after"  # trading resumed


async def test_operator_records_are_written_off_the_loop(make_bot):
    """A pause, observe mode and the operator's audit line are records the command does not wait for: on a store whose
    commits are round trips they go to the store writer's thread (a server that stops answering must not hold
    /kill or /pause), in order, and a restart finds them."""
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    if bot.store.records_inline:
        pytest.skip("file-backed SQLite writes them on the loop (microseconds; a lock is waited for 50 ms at most)")
    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        assert bot.operator.pause(["s"], Caller("test", "ada", "admin")) == ["s"]  # audited, paused
        reply = await bot.commands.dispatch(Caller("chat", "bob", "admin"), "resume", ["s"])  # a chat's command
        assert reply.ok and "Resumed" in reply.title, reply
        bot.set_observe(True, by="test:ada")
        for _ in range(10):
            await asyncio.sleep(0.05)
        stalls.blocked = False
        stalls.watching = False
    await bot.writer.drained()
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert stalls.on_loop == [], stalls.on_loop
    assert bot.store.get_state("observe") == "on"
    assert '"s"' not in (bot.store.get_state("paused") or "")  # paused, then resumed: the last write stays
    assert [(a.user_id, a.command) for a in reversed(bot.store.audit_log())] == [("ada", "pause"), ("bob", "resume")]


async def test_a_long_read_on_the_writer_thread_raises_no_stall_alarm(make_bot, db_url, monkeypatch):
    """The stall alarm says the store cannot be written: reading every stored fill at start, on a big store, may take
    longer than ``WRITE_STALL_S`` while the database answers, and is no reason to refuse orders; it is read a page at
    a time, so what is written meanwhile waits one page at most. A write handed over behind a read that waits past
    ``WRITE_STALL_S`` still raises it (a read the database never answers holds every write behind it)."""
    from bot import execution, writer
    from bot.domain import Fill, Liquidity
    from plugins.limits import stored as limits_stored

    # a page (2 rows) reads in 0.24 s, the alarm at 0.6 s: a loaded machine adds to each page (with 0.3 s it failed
    # about half the runs at a load of 5-9); the whole read (10 rows, 1.2 s) still outlasts it twice
    monkeypatch.setattr(writer, "WRITE_STALL_S", 0.6)
    monkeypatch.setattr(execution, "FILLS_PAGE", 2)
    monkeypatch.setattr(limits_stored, "FILLS_PAGE", 2)  # the limits check reads them at start too
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)], start=False)
    earlier = Store(db_url, bot=bot.name).open()  # a run before this one filled ten times
    earlier.write_batch([], [("s", Fill("v", "BTC/USD", "old-1", f"t-{n}", Side.BUY, Decimal("100"),
                                        Decimal("0.01"), Decimal("0"), "USD", Liquidity.TAKER, 1_000 + n))
                             for n in range(10)])
    earlier.close()
    alerts: list = []
    bot.alerts.subscribe(alerts.append, "test")

    def slowly(read):  # a database that takes 0.12 s per row read (what it stands for, not a wait on anything)
        def slow(*args, **kwargs):
            rows = read(*args, **kwargs)
            time.sleep(0.12 * len(rows[0] if isinstance(rows, tuple) else rows))
            return rows
        return slow

    monkeypatch.setattr(bot.store, "fills", slowly(bot.store.fills))
    monkeypatch.setattr(bot.store, "fills_page", slowly(bot.store.fills_page))
    writes: list[asyncio.Future] = []

    async def writing():  # records handed over while the bot starts, as a plugin's or a check's are
        while True:
            writes.append(bot.writer.later(bot.store.set_state, "written-at-start", str(len(writes))))
            await asyncio.sleep(0.05)

    writer_task = asyncio.get_running_loop().create_task(writing())
    try:
        await bot.start()  # 1.2 s of reads, writes handed over among them
        writer_task.cancel()
        await asyncio.gather(*writes)
        assert len(writes) > 5
        assert [a for a in alerts if a.kind == "store"] == []
        assert bot.executor.store_error is None
        assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.10")  # every page read

        reading = bot.writer.read_later(bot.store.fills)  # 1.2 s
        written = bot.writer.later(bot.store.set_state, "behind-a-read", "1")
        await wait_for(lambda: [a for a in alerts if a.kind == "store" and a.level is AlertLevel.CRITICAL],
                       timeout_s=5, what="the store alert for the write waiting behind the read")
        await reading
        await written
        await wait_for(lambda: bot.executor.store_error is None, timeout_s=5, what="the store writable again")
    finally:
        writer_task.cancel()
        await bot.stop()
