"""The fast durable record (bot/store/fast.py): the same rows as the engine writes, committed when the call
returns (a SIGKILL right after loses nothing), and a no-wait record that finds the lock taken writes nothing."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain import Order, Side
from bot.store import Store, StoreBusy


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
