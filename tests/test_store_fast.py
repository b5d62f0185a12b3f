"""The fast durable record (bot/store/fast.py): the same rows as the engine writes, committed when the call
returns (a SIGKILL right after loses nothing), and a no-wait record that finds the lock taken writes nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain import Fill, Liquidity, Order, OrderStatus, Side
from bot.store import MARKOUTS, DecimalText, Store, StoreBusy
from bot.store.fast import FastRecords
from bot.writer import StoreWriter


def _order(cid: str) -> Order:
    return Order(cid, "s", "v", "BTC/USD", Side.BUY, Decimal("0.10000000"), Decimal("12345678.12345678"),
                 created_ns=2**62, updated_ns=2**62)


def test_a_fast_record_writes_what_the_engine_writes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    try:
        assert store.records_inline
        assert store.insert_order(_order("fast"), wait=False)
        assert not store.insert_order(_order("fast"), wait=False)  # the same id: nothing written
        assert store.insert_order(_order("engine"))
        fast, engine = store.get_order("fast"), store.get_order("engine")
        assert fast is not None and engine is not None
        assert fast == dataclasses.replace(engine, client_order_id="fast")
        assert str(fast.qty) == "0.10000000" and fast.created_ns == 2**62
        assert store.order_exists("fast") and not store.order_exists("nope")
    finally:
        store.close()


def test_a_no_wait_record_on_a_locked_store_raises_busy_and_writes_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    lock = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy):
            store.insert_order(_order("busy"), wait=False)
        lock.execute("ROLLBACK")
        assert not store.order_exists("busy")
        assert store.insert_order(_order("busy"), wait=False)
    finally:
        lock.close()
        store.close()


def test_in_memory_and_other_stores_take_the_engine_path() -> None:
    store = Store("sqlite://").open()
    try:
        assert not store.records_inline
        assert store.insert_order(_order("m"), wait=False) and store.order_exists("m")
    finally:
        store.close()


def test_a_record_survives_sigkill_right_after_it_returns(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    Store(f"sqlite:///{db}").open().close()
    script = textwrap.dedent(f"""
        import os, signal
        from decimal import Decimal
        from bot.domain import Order, Side
        from bot.store import Store
        store = Store("sqlite:///{db}").open()
        for i in range(50):
            assert store.insert_order(Order(f"k-{{i}}", "s", "v", "BTC/USD", Side.BUY, Decimal(1), Decimal(2)),
                                      wait=False)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: the WAL holds the commits
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    store = Store(f"sqlite:///{db}").open()
    try:
        assert all(store.order_exists(f"k-{i}") for i in range(50))
        assert not store.insert_order(_order("k-49"), wait=False)  # never twice
    finally:
        store.close()


def _fill(trade_id: str, cid: str) -> Fill:
    return Fill("v", "BTC/USD", cid, trade_id, Side.BUY, Decimal("12345678.12345678"), Decimal("0.05000000"),
                Decimal("0.001"), "USD", Liquidity.TAKER, 2**62)


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/a.db", "sqlite://"])
def test_a_write_back_batch_is_the_same_on_the_record_connection_and_the_engine(tmp_path: Path, url: str) -> None:
    store = Store(url.format(tmp=tmp_path)).open()
    try:
        assert store.records_inline is url.endswith("a.db")
        store.insert_order(_order("w"))
        order = dataclasses.replace(_order("w"), status=OrderStatus.FILLED, filled_qty=Decimal("0.10000000"),
                                    avg_fill_price=Decimal("12345678.1"), fee=Decimal("0.002"), reason="r",
                                    exchange_order_id="X1", updated_ns=2**62 + 1)
        store.write_batch([order], [("s", _fill("t1", "w")), ("s", _fill("t2", "w"))])
        store.write_batch([order], [("s", _fill("t1", "w"))])  # a fill already stored is skipped
        assert store.get_order("w") == order
        assert [f for _, f in store.fills()] == [_fill("t1", "w"), _fill("t2", "w")]
    finally:
        store.close()


def test_record_many_writes_every_row_once_and_a_no_wait_batch_on_a_locked_store_writes_nothing(
        tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    lock = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    rows = [{"exchange": "v", "trade_id": f"t{i}", "horizon_s": 1, "mid": Decimal("1.5"), "ts_ns": i} for i in range(3)]
    try:
        lock.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy):
            store.record_many(MARKOUTS, rows, wait=False)
        lock.execute("ROLLBACK")
        assert store.markouts() == {}
        store.record_many(MARKOUTS, rows, wait=False)
        store.record_many(MARKOUTS, rows[:1])  # clashes with the unique key: skipped
        assert store.markouts() == {("v", f"t{i}"): {1: Decimal("1.5")} for i in range(3)}
    finally:
        lock.close()
        store.close()


def test_only_the_store_writers_thread_checkpoints_from_a_record_connection(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    writer = StoreWriter(store)
    fast = store.fast
    assert fast is not None
    try:
        def autocheckpoint() -> int:
            return int(fast._connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0])

        assert autocheckpoint() == 0  # the loop's: a record never pays an fsync
        assert asyncio.run(writer.call(autocheckpoint)) == 1000
    finally:
        writer.close()
        store.close()


def test_a_transaction_on_the_record_connection_survives_sigkill_whole_or_not_at_all(tmp_path: Path) -> None:
    # a durable intent (bot.execution.Executor.intent): rows recorded between begin and commit are one commit
    db = tmp_path / "a.db"
    Store(f"sqlite:///{db}").open().close()
    script = textwrap.dedent(f"""
        import os, signal
        from decimal import Decimal
        from bot.domain import Order, Side
        from bot.store import Store
        store = Store("sqlite:///{db}").open()
        def order(cid):
            return Order(cid, "s", "v", "BTC/USD", Side.BUY, Decimal(1), Decimal(2))
        store.fast.begin()
        assert store.insert_order(order("c-1"), wait=False) and store.insert_order(order("c-2"), wait=False)
        store.fast.commit()
        store.fast.begin()
        assert store.insert_order(order("u-1"), wait=False) and store.insert_order(order("u-2"), wait=False)
        os.kill(os.getpid(), signal.SIGKILL)  # the second one never committed
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    store = Store(f"sqlite:///{db}").open()
    try:
        assert store.order_exists("c-1") and store.order_exists("c-2")
        assert not store.order_exists("u-1") and not store.order_exists("u-2")
    finally:
        store.close()


def test_a_transaction_on_the_record_connection_never_waits_for_the_lock_and_joins_the_records_made_in_it(
        tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    fast = store.fast
    assert fast is not None
    lock = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy):
            fast.begin()
        lock.execute("ROLLBACK")
        fast.begin()
        assert store.insert_order(_order("t-1"), wait=False)
        store.record_many(MARKOUTS, [{"exchange": "v", "trade_id": "t", "horizon_s": 1, "mid": Decimal(1), "ts_ns": 1}])
        other = sqlite3.connect(tmp_path / "a.db")
        assert other.execute("SELECT count(*) FROM orders").fetchone()[0] == 0  # not committed yet
        fast.rollback()
        assert not store.order_exists("t-1") and store.markouts() == {}
        fast.begin()
        assert store.insert_order(_order("t-2"), wait=False)
        fast.commit()
        assert other.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
        other.close()
    finally:
        lock.close()
        store.close()


def _in_database_file(db: Path, cid: str) -> bool:
    """Whether the order's row is in the database file itself (what a power loss keeps), the WAL ignored."""
    con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        return con.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (cid,)).fetchone() is not None
    finally:
        con.close()


async def test_records_on_the_loop_are_checkpointed_by_the_writer_thread_soon_after(tmp_path: Path) -> None:
    from tests.helpers.waiting import wait_for

    db = tmp_path / "a.db"
    store = Store(f"sqlite:///{db}").open()
    writer = StoreWriter(store)
    fast = store.fast
    assert fast is not None
    threads = []
    checkpoint = fast.checkpoint

    def spy() -> None:
        threads.append(threading.current_thread().name)
        checkpoint()

    fast.checkpoint = spy  # type: ignore[method-assign]
    setup = sqlite3.connect(db)
    setup.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema in the database file
    setup.close()
    try:
        assert store.insert_order(_order("p-1"), wait=False)
        assert not _in_database_file(db, "p-1")  # committed in the WAL only: the loop's connection never checkpoints
        writer.wrote_on_loop()
        writer.wrote_on_loop()  # one checkpoint for both
        await wait_for(lambda: _in_database_file(db, "p-1"), timeout_s=10, what="the checkpoint")
        assert threads == [threads[0]] and threads[0].startswith("arbot-store-writer")
        assert store.insert_order(_order("p-2"), wait=False)
        writer.wrote_on_loop()
        writer.close()  # a checkpoint due runs before the thread stops
        assert _in_database_file(db, "p-2") and len(threads) == 2
    finally:
        writer.close()
        store.close()


def _with_records(db: Path, commit_every: int = 0) -> tuple[Store, FastRecords]:
    """An open file store and its record connections (``commit_every``: made disposable, in batches of that many)."""
    store = Store(f"sqlite:///{db}")
    if commit_every:
        store.disposable(commit_every=commit_every)
    store.open()
    assert store.fast is not None
    return store, store.fast


def _committed_orders(db: Path) -> int:
    """The orders another connection sees: the committed ones."""
    other = sqlite3.connect(db)
    try:
        return int(other.execute("SELECT count(*) FROM orders").fetchone()[0])
    finally:
        other.close()


def test_a_disposable_store_commits_its_records_in_batches_every_read_seeing_them(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store, fast = _with_records(db, commit_every=3)
    try:
        assert fast._connection().execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        assert store.insert_order(_order("d-1"), wait=False)
        assert not store.insert_order(_order("d-1"), wait=False)  # the same id, in the batch: nothing written
        assert _committed_orders(db) == 0  # in the open batch
        assert store.order_exists("d-1")  # the record connection sees its batch
        assert store.insert_order(_order("d-2"), wait=False)  # the third statement: the batch commits
        assert _committed_orders(db) == 2
        assert store.insert_order(_order("d-3"), wait=False)
        assert store.get_order("d-3") is not None  # an engine read commits the batch first
        assert _committed_orders(db) == 3
        store.write_batch([dataclasses.replace(_order("d-3"), status=OrderStatus.FILLED, updated_ns=2**62 + 1)],
                          [("s", _fill("t1", "d-3"))])
        assert [f for _, f in store.fills()] == [_fill("t1", "d-3")]
        assert store.insert_order(_order("d-4"), wait=False)
    finally:
        store.close()  # commits the open batch
    assert _committed_orders(db) == 4


def test_a_durable_intent_in_a_disposable_stores_batch_is_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    store, fast = _with_records(db, commit_every=2)
    try:
        assert store.insert_order(_order("b-1"), wait=False)  # the batch is open
        fast.begin()
        assert store.insert_order(_order("i-1"), wait=False)
        assert store.insert_order(_order("i-2"), wait=False)  # a batch's due commit waits for the intent
        assert _committed_orders(db) == 0
        fast.rollback()
        assert store.order_exists("b-1") and not store.order_exists("i-1") and not store.order_exists("i-2")
        fast.begin()
        assert store.insert_order(_order("i-3"), wait=False)
        fast.commit()  # released into the batch, which is due: committed
        assert _committed_orders(db) == 2
        assert store.order_exists("i-3")
    finally:
        store.close()


def test_a_disposable_stores_many_row_inserts_run_before_its_next_statement_the_same_rows_in_order(
        tmp_path: Path) -> None:
    """Kept (converted) rather than run: before the next other statement of the connection (a record, a read, an
    intent, whose rollback keeps them), at a commit of the batch and at close; the same rows, ids and skips."""
    db = tmp_path / "a.db"
    store, fast = _with_records(db, commit_every=100)

    def markout(i: int, mid: str = "1.5") -> dict[str, object]:
        return {"exchange": "v", "trade_id": f"t{i}", "horizon_s": 1, "mid": Decimal(mid), "ts_ns": i}

    def stored() -> list[tuple[int, str, str]]:  # what the record connection itself holds (no deferred run)
        return fast._connection().execute("SELECT id, trade_id, mid FROM markouts ORDER BY id").fetchall()

    try:
        store.record_many(MARKOUTS, [markout(0), markout(1)], wait=False)
        store.record_many(MARKOUTS, [markout(1, "9"), markout(2)], wait=False)  # t1 clashes: skipped when run
        assert stored() == []  # kept, not run
        fast.begin()  # an intent runs them first, before its savepoint
        assert store.insert_order(_order("i-1"), wait=False)
        fast.rollback()
        assert stored() == [(1, "t0", "1.5"), (2, "t1", "1.5"), (3, "t2", "1.5")]
        store.record_many(MARKOUTS, [markout(3)], wait=False)
        assert store.insert_order(_order("o-1"), wait=False)  # a record runs them first
        assert stored()[-1] == (4, "t3", "1.5")
        store.record_many(MARKOUTS, [markout(4)], wait=False)
        assert store.markouts() == {("v", f"t{i}"): {1: Decimal("1.5")} for i in range(5)}  # an engine read too
        store.record_many(MARKOUTS, [markout(5)], wait=False)
    finally:
        store.close()  # runs them, then commits
    other = sqlite3.connect(db)
    try:
        assert [r[0] for r in other.execute("SELECT trade_id FROM markouts ORDER BY id")] == [f"t{i}" for i in range(6)]
        assert other.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    finally:
        other.close()


def test_a_store_is_durable_unless_made_disposable(tmp_path: Path) -> None:
    store, fast = _with_records(tmp_path / "a.db")
    try:
        assert fast._connection().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert fast.commit_every == 0
        assert store.insert_order(_order("l-1"), wait=False)
        assert _committed_orders(tmp_path / "a.db") == 1  # committed when the record returns
    finally:
        store.close()


def test_a_store_says_whether_it_is_disposable_whatever_its_database(tmp_path: Path) -> None:
    """``is_disposable`` (what a plugin's own log writer may batch on): False until :meth:`Store.disposable`, then
    True, on a file-backed SQLite store and on one it changes nothing for (in memory)."""
    for url in (f"sqlite:///{tmp_path}/d.db", "sqlite://"):
        store = Store(url)
        try:
            assert store.is_disposable is False
            store.disposable()
            assert store.is_disposable is True
        finally:
            store.engine.dispose()


@pytest.mark.parametrize("commit_every", [0, 1000], ids=["durable", "disposable batch"])
def test_an_update_may_set_a_column_it_matches_on(tmp_path: Path, commit_every: int) -> None:
    """The rows changed, and the rows as stored (what is set kept apart from what is matched), whether each record
    commits or joins a disposable store's batch; an insert clashing with a unique key writes nothing there too."""
    from bot.store import ORDERS

    store, fast = _with_records(tmp_path / "a.db", commit_every)
    try:
        assert store.insert_order(_order("u-1"), wait=False) and store.insert_order(_order("u-2"), wait=False)
        assert store.insert_order(_order("u-1"), wait=False) is False
        assert fast.update(ORDERS, {"client_order_id": "u-1", "status": "pending"}, {"status": "cancelled"}) == 1
        assert fast.update(ORDERS, {"client_order_id": "u-1", "status": "pending"}, {"status": "filled"}) == 0
        assert fast.update(ORDERS, {"status": "pending"}, {"status": "open", "reason": "both"}) == 1
        found = store.get_order("u-1")
        assert found is not None and found.status is OrderStatus.CANCELLED and found.reason == ""
        other = store.get_order("u-2")
        assert other is not None and other.status is OrderStatus.OPEN and other.reason == "both"
    finally:
        store.close()


def test_a_fast_record_refuses_a_money_value_that_is_not_a_decimal_as_the_engine_does(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db").open()
    try:
        bad = dataclasses.replace(_order("f-1"), qty=0.1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="money columns take Decimal, got float"):
            store.insert_order(bad, wait=False)
        with pytest.raises(Exception, match="money columns take Decimal, got float"):
            store.insert_order(bad)
        assert not store.order_exists("f-1")
    finally:
        store.close()


class _Amount(Decimal):
    """A Decimal subclass: a money column binds its ``str`` through the column's own processor."""

    def __str__(self) -> str:
        return "subclass-" + super().__str__()


def test_every_column_is_bound_as_the_engine_binds_it_defaults_none_and_decimal_subclasses_included(
        tmp_path: Path) -> None:
    import sqlalchemy as sa

    store, fast = _with_records(tmp_path / "a.db")
    table = sa.Table("param_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String), sa.Column("amount", DecimalText()),
                     sa.Column("maybe", DecimalText(), nullable=True), sa.Column("flag", sa.Boolean),
                     sa.Column("given", sa.Integer, default=7), sa.Column("made", sa.String, default=lambda: "made"))
    table.create(store.engine)
    rows = [{"name": "a'b\"c", "amount": Decimal("1.50"), "maybe": None, "flag": True},
            {"name": "x", "amount": _Amount("2"), "maybe": Decimal("-0E-8"), "flag": False}]
    try:
        fast.insert_many(table, rows)
        with store.engine.begin() as conn:
            conn.execute(table.insert(), rows)
            stored = [tuple(r)[1:] for r in conn.execute(sa.text("SELECT * FROM param_probe ORDER BY id"))]
        assert stored[:2] == stored[2:]  # the fast rows are the engine's
        assert stored[:2] == [("a'b\"c", "1.50", None, 1, 7, "made"), ("x", "subclass-2", "-0E-8", 0, 7, "made")]
        with pytest.raises(KeyError):  # a row without a column the first one has: refused, nothing written
            fast.insert_many(table, [rows[0], {"name": "y", "amount": Decimal(1), "maybe": None}])
    finally:
        store.close()
