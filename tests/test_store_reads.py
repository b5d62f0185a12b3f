"""The store's read threads (``bot.store.reads``): identical reads in progress are one, a read that cannot get a thread
is refused at once or after ``READ_WAIT_S`` (never queued without bound), each joined caller has its own copy, and the
store's close refuses what waits. The reads here are plain functions that block until the test lets them go."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.store import ReadRefused, Store, StoreClosed, reads


class Gate:
    """A read that blocks until :meth:`open`; counts how often it ran."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.calls = 0

    def read(self, answer: object = "answer") -> object:
        self.calls += 1
        if not self.event.wait(10):
            raise RuntimeError("never let go")
        return {"figures": [answer]}

    def open(self) -> None:
        self.event.set()


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.setattr(reads, "READ_WAIT_S", 0.3)
    monkeypatch.setattr(reads, "READ_QUEUE", 2)
    made = reads.StoreReads("test", StoreClosed)
    yield made
    made.close()


async def test_identical_reads_in_progress_are_one_query_and_each_caller_gets_its_own_copy(pool):
    gate = Gate()
    asked = [asyncio.ensure_future(pool.read(gate.read, "x")) for _ in range(10)]
    await asyncio.sleep(0.05)
    gate.open()
    answers = await asyncio.gather(*asked)
    assert gate.calls == 1
    assert all(a == {"figures": ["x"]} for a in answers)
    answers[1]["figures"].append("changed by one caller")
    assert answers[0] == answers[2] == {"figures": ["x"]}
    assert await pool.read(gate.read, "x") == {"figures": ["x"]} and gate.calls == 2  # over: read again


async def test_a_read_that_cannot_get_a_thread_is_refused_never_queued_without_bound(pool):
    stuck = Gate()
    held = [asyncio.ensure_future(pool.read(stuck.read, n)) for n in range(reads.READ_THREADS)]
    waiting = [asyncio.ensure_future(pool.read(stuck.read, f"w{n}")) for n in range(reads.READ_QUEUE)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(ReadRefused, match="16|2 reads wait"):  # the queue is full: at once
        await pool.read(stuck.read, "one too many")
    assert time.monotonic() - started < 0.05
    for each in waiting:  # waited READ_WAIT_S for a thread: given up, never run
        with pytest.raises(ReadRefused, match="the database is not answering: this read waited 0.3 s"):
            await each
    await asyncio.sleep(0.1)  # every thread now holds a read unanswered for longer than READ_WAIT_S
    started = time.monotonic()
    with pytest.raises(ReadRefused, match="the database is not answering: the store's 3 read threads"):
        await pool.read(stuck.read, "later")
    assert time.monotonic() - started < 0.05
    stuck.open()
    assert [a["figures"] for a in await asyncio.gather(*held)] == [[0], [1], [2]]
    assert stuck.calls == reads.READ_THREADS  # the refused ones never ran
    assert await pool.read(stuck.read, "again") == {"figures": ["again"]}  # the threads are free again


async def test_a_caller_gone_leaves_the_read_to_the_others(pool):
    gate = Gate()
    first = asyncio.ensure_future(pool.read(gate.read))
    second = asyncio.ensure_future(pool.read(gate.read))
    await asyncio.sleep(0.05)
    first.cancel()
    gate.open()
    assert await second == {"figures": ["answer"]}
    assert gate.calls == 1


async def test_an_error_reaches_every_waiter(pool):
    def broken() -> None:
        time.sleep(0.05)
        raise ValueError("no such column")

    asked = [asyncio.ensure_future(pool.read(broken)) for _ in range(3)]
    for each in asked:
        with pytest.raises(ValueError, match="no such column"):
            await each


async def test_close_refuses_the_reads_waiting_and_those_after(pool):
    stuck = Gate()
    held = [asyncio.ensure_future(pool.read(stuck.read, n)) for n in range(reads.READ_THREADS)]
    waiting = asyncio.ensure_future(pool.read(stuck.read, "waiting"))
    await asyncio.sleep(0.05)
    pool.close()
    with pytest.raises(StoreClosed):
        await waiting
    with pytest.raises(StoreClosed):
        await pool.read(stuck.read, "after")
    stuck.open()
    assert len(await asyncio.gather(*held)) == reads.READ_THREADS  # those running finish


async def test_the_store_reads_on_its_own_threads_and_shares_them_with_its_views(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/reads.db", bot="a")
    store.open()
    try:
        where = await store.read_off_loop(lambda: threading.current_thread().name)
        assert where.startswith(reads.THREAD_NAME)
        assert store.scoped("b")._reads is store._reads
        assert await store.read_off_loop(store.orders) == []
    finally:
        store.close()
    with pytest.raises(StoreClosed):
        await store.read_off_loop(store.orders)


def test_a_read_with_a_thread_free_moves_no_simulated_clock():
    """A backtest's loop jumps its clock to the next timer while it waits: a read that a free thread takes arms no
    timer (a give-up timer there would move simulated time ``READ_WAIT_S`` ahead for a store read)."""
    from bot.backtest.clock import BacktestClock, BacktestLoop

    clock = BacktestClock()
    loop = BacktestLoop(clock)
    made = reads.StoreReads("backtest", StoreClosed)

    def slow_read() -> str:
        time.sleep(0.05)
        return "read"

    try:
        before = clock.time_ns()
        assert loop.run_until_complete(made.read(slow_read)) == "read"
        assert clock.time_ns() == before
    finally:
        made.close()
        loop.close()


def test_the_same_read_from_another_loop_is_its_own():
    """A read in progress on one loop is not joined from another (its future belongs to its loop): a store used by
    two loops at once (a command's thread beside the bot's) reads for each."""
    made = reads.StoreReads("two loops", StoreClosed)
    gate = Gate()
    first: list[object] = []
    other = threading.Thread(target=lambda: first.append(asyncio.run(made.read(gate.read, "x"))))
    other.start()
    try:
        while gate.calls == 0:
            time.sleep(0.01)

        async def second() -> object:
            asking = asyncio.ensure_future(made.read(gate.read, "x"))
            await asyncio.sleep(0.05)
            gate.open()
            return await asking

        assert asyncio.run(second()) == {"figures": ["x"]}
        other.join(5)
        assert first == [{"figures": ["x"]}] and gate.calls == 2
    finally:
        gate.open()
        made.close()
