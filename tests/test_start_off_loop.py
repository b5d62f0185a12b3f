"""The bot's start never waits on the database on the event loop: opening the store, its identity and run count,
the claim of the strategies' names, the kept observe mode and pauses, what strategies stored, run on the store
writer's thread (or the store's read threads), awaited: the start waits for them in the same order, the loop does
not (``db_url``: SQLite, or PostgreSQL with ARBOT_TEST_DB_URL). A stop asked for meanwhile (SIGTERM) is heard at once
and ends the start (see :mod:`tests.test_start_stopped_server` for a real server stopped with SIGSTOP)."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

from sqlalchemy import event

from bot import hookimpl
from bot.api import Strategy
from bot.domain import Opportunity
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin

BLOCK_S = 0.3
"""How long each statement on the store's state rows waits while the store is "slow"."""
MAX_LAG_S = 0.25

CONFIG = """
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


class Statements:
    """The statements run through ``engine`` on the loop's thread while ``watching``; each one that reads or writes
    the host's state rows (``bot_state``, ``strategy_claims``) waits :data:`BLOCK_S` while ``slow``."""

    def __init__(self, engine, loop_thread: threading.Thread):
        self.loop_thread = loop_thread
        self.watching = True
        self.slow = True
        self.on_loop: list[str] = []
        self.slowed = 0
        self.on_slowed = lambda: None
        event.listen(engine, "before_cursor_execute", self.before)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        if self.watching and threading.current_thread() is self.loop_thread:
            self.on_loop.append(" ".join(statement.split())[:90])
        if self.slow and ("bot_state" in statement or "strateg" in statement):
            self.slowed += 1
            self.on_slowed()
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


async def test_the_start_runs_no_statement_on_the_loop_and_never_stalls_it(make_bot, db_url):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)], start=False)
    statements = Statements(bot.store.engine, threading.current_thread())
    try:
        with LagMeter() as lag:
            await asyncio.sleep(0.05)  # the meter runs
            await bot.start()
            statements.watching = statements.slow = False
        print(f"{db_url.split(':')[0]}: {len(statements.on_loop)} statement(s) on the loop's thread during the start, "
              f"{statements.slowed} slowed by {BLOCK_S} s; the loop's worst stall {lag.worst_s:.3f} s")
        assert statements.slowed >= 3  # the test slowed the start's state reads and writes
        assert statements.on_loop == [], statements.on_loop
        assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
        assert list(bot.strategies) == ["s"]
        assert bot.identity.runs == 1 and bot.executor.id_epoch == bot.identity.id_epoch
    finally:
        await bot.stop()


async def test_a_stop_asked_while_the_start_waits_on_the_store_ends_the_start_at_once(make_bot, caplog):
    """As SIGTERM's handler does, the stop is asked on the loop (``call_soon_threadsafe``) while a statement of the
    start waits on the store: the start ends at once (it was heard only when the start next awaited something, the
    store's calls of the start all done), and the stop follows within its bound."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)], start=False)
    statements = Statements(bot.store.engine, threading.current_thread())
    statements.watching = False
    loop = asyncio.get_running_loop()
    asked_at: list[float] = []

    def ask_once() -> None:  # from the thread whose statement waits, as a signal arrives meanwhile
        if not asked_at and statements.slowed >= 1:
            asked_at.append(time.time())
            loop.call_soon_threadsafe(bot.request_stop)

    statements.on_slowed = ask_once
    caplog.set_level("INFO", logger="arbot")
    started = time.monotonic()
    await asyncio.wait_for(bot.run(), 30)
    run_s = time.monotonic() - started
    ended = [r.created for r in caplog.records if r.getMessage() == "stopping before the start finished"]
    assert asked_at and ended, caplog.text[-3000:]
    heard_s = ended[0] - asked_at[0]
    print(f"stop asked while the start waited on the store: the start ended {heard_s:.2f} s later "
          f"({statements.slowed} statement(s) slowed by {BLOCK_S} s in all; run() took {run_s:.2f} s)")
    assert heard_s < BLOCK_S + 0.25, f"the stop was heard after {heard_s:.2f} s"
    assert bot.strategies == {}  # the start ended before the strategies were built
    assert run_s < bot.config.bot.shutdown_timeout_s + 5, f"run() took {run_s:.2f} s"


class Stored:
    """A plugin that stored opportunities before this run, and one whose hook raises."""

    threads: list[threading.Thread] = []

    class keeps:
        @staticmethod
        @hookimpl
        def stored_opportunities(store, limit):
            Stored.threads.append(threading.current_thread())
            return [Opportunity(strategy="s", symbol="BTC/USD", buy_exchange="v", sell_exchange="w",
                                buy_price=Decimal("100"), sell_price=Decimal("101"), qty=Decimal("1"),
                                edge_bps=Decimal("100"), ts_ns=1)]

    class raises:
        @staticmethod
        @hookimpl
        def stored_opportunities(store, limit):
            raise RuntimeError("no such table")


async def test_stored_opportunities_are_read_off_the_loop_and_a_hook_that_raises_is_reported(make_bot):
    ScriptedVenue.instances.clear()
    Stored.threads.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin), ("keeps", Stored.keeps),
                                        ("raises", Stored.raises)])
    assert Stored.threads and threading.current_thread() not in Stored.threads
    assert [o.buy_price for o in bot.opportunities.latest(10)] == [Decimal("100")]
    errors = bot.plugins.infos["raises"].errors
    assert any("stored_opportunities raised RuntimeError: no such table" in str(e) for e in errors), errors
