"""A closed store stays closed: every later use raises :class:`StoreClosed` naming the store, and opens no connection
(before, a read after :meth:`Store.close` opened a new connection pool that nothing closed: on PostgreSQL psycopg
warned "connection deleted while open" in whatever test the garbage collector happened to run in). The store writer
closed likewise refuses new work and starts no thread again. SQLite, or PostgreSQL with ARBOT_TEST_DB_URL."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from bot.domain import Order, Side
from bot.store import StateRow, Store, StoreClosed, StoreError
from bot.store.lease import lease
from bot.writer import THREAD_NAME, StoreWriter, WriterClosed


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


def _connections(store: Store) -> int:
    """Connections of the store's pool open now (checked in or out) and record connections (file-backed SQLite)."""
    pool = store.engine.pool
    fast = len(store.fast._opened) if store.fast is not None else 0
    return pool.checkedin() + pool.checkedout() + fast


def test_a_closed_store_refuses_every_later_use_and_opens_no_connection(db_url):
    store = Store(db_url, bot="b").open()
    store.set_state("k", "v")
    assert store.order_exists("none") is False
    store.close()
    view = store.scoped("other")  # a view made after the close shares its engine: closed too
    order = Order(client_order_id="c-1", strategy="s", exchange="v", symbol="BTC/USD", side=Side.BUY,
                  qty=Decimal("1"), price=Decimal("100"))
    uses = {
        "get_state": lambda: store.get_state("k"),
        "set_state": lambda: store.set_state("k", "w"),
        "orders": lambda: store.orders(),
        "insert_order": lambda: store.insert_order(order),
        "insert_order(wait=False)": lambda: store.insert_order(order, wait=False),
        "order_exists": lambda: store.order_exists("c-1"),
        "record": lambda: store.record(StateRow, {"bot": "b", "key": "r", "value": "1", "updated_ns": 1}),
        "write_batch": lambda: store.write_batch([order], []),
        "has_table": lambda: store.has_table(StateRow),
        "scoped view": lambda: view.get_state("k"),
        "open": lambda: store.open(),
        "read_only": lambda: store.read_only(),
        "disposable": lambda: store.disposable(),
        "probe": lambda: store.probe(),
        "wait_reachable": lambda: store.wait_reachable(0.0),
        "lease": lambda: lease(store, "token").acquire(),
    }
    for what, use in uses.items():
        with pytest.raises(StoreClosed, match="is closed") as raised:
            use()
        assert store.url in str(raised.value), what
        assert isinstance(raised.value, StoreError), what
        assert _connections(store) == 0, f"{what} opened a connection on the closed store"
    store.close()  # twice: harmless


def test_a_view_of_a_store_closed_after_it_was_made_is_closed_too(db_url):
    store = Store(db_url, bot="b").open()
    view = store.scoped("other")
    view.set_state("k", "v")
    store.close()
    with pytest.raises(StoreClosed, match="is closed"):
        view.get_state("k")
    assert _connections(store) == 0


def test_a_read_only_store_closed_stays_closed(db_url):
    Store(db_url, bot="b").open().close()
    store = Store(db_url, bot="b").read_only()
    assert store.get_state("k") is None
    store.close()
    with pytest.raises(StoreClosed, match="is closed"):
        store.get_state("k")
    assert _connections(store) == 0


async def test_a_closed_writer_refuses_new_work_and_starts_no_thread(db_url):
    # (another test's writer may still wait on a server that never answered: its daemon thread is not this one's)
    others = set(_writer_threads())
    store = Store(db_url, bot="b").open()
    writer = StoreWriter(store)
    await writer.call(store.set_state, "k", "v")
    assert await writer.read(store.get_state, "k") == "v"
    writer.close()
    assert set(_writer_threads()) <= others
    for what, hand in {"later": lambda: writer.later(store.set_state, "k", "w"),
                       "read_later": lambda: writer.read_later(store.get_state, "k")}.items():
        with pytest.raises(WriterClosed, match="closed") as raised:
            hand()
        assert store.url in str(raised.value), what
    with pytest.raises(WriterClosed, match="closed"):
        await writer.call(store.set_state, "k", "w")
    with pytest.raises(WriterClosed, match="closed"):
        await writer.read(store.get_state, "k")
    with pytest.raises(WriterClosed, match="closed"):
        await writer.drained()
    writer.settle()  # nothing handed over: nothing to wait for
    writer.wrote_on_loop()  # a record committed on the loop after the close schedules no checkpoint
    await asyncio.sleep(0)
    assert set(_writer_threads()) <= others
    writer.close()  # twice: harmless
    assert store.get_state("k") == "v"  # the store itself stays open: the writer does not own it
    store.close()


async def test_a_closed_inline_writer_refuses_new_work(db_url):
    store = Store(db_url, bot="b").open()
    writer = StoreWriter(store, threaded=False)
    assert await writer.later(store.set_state, "k", "v") is None
    writer.close()
    with pytest.raises(WriterClosed, match="closed"):
        writer.later(store.set_state, "k", "w")
    with pytest.raises(WriterClosed, match="closed"):
        await writer.call(store.set_state, "k", "w")
    assert store.get_state("k") == "v"
    store.close()
