"""``Store.on_transfer_saved``: a listener hears each transfer right after its commit; with a loop, on that loop (at
once when saved there, handed over when saved on another thread, never once the loop is closed)."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal as D

from bot.domain import Transfer, TransferStatus
from bot.store import Store


def transfer(transfer_id: str) -> Transfer:
    return Transfer(transfer_id, "SOL", D(5), "kraken", "jupiter", "addr", D("0.01"), D(0), TransferStatus.PLANNED,
                    created_ns=1, updated_ns=1)


async def test_a_listener_with_a_loop_hears_each_save_on_that_loop(db_url):
    store = Store(db_url, bot="b").open()
    heard: list[tuple[str, threading.Thread]] = []
    try:
        stop = store.on_transfer_saved(lambda t: heard.append((t.transfer_id, threading.current_thread())),
                                       asyncio.get_running_loop())
        store.save_transfer(transfer("t-1"))  # on the loop: heard at once
        assert heard == [("t-1", threading.current_thread())]
        await asyncio.to_thread(store.save_transfer, transfer("t-2"))  # another thread: handed to the loop
        await asyncio.sleep(0)
        assert heard[1] == ("t-2", threading.current_thread())
        stop()
        store.save_transfer(transfer("t-3"))
        assert [t for t, _ in heard] == ["t-1", "t-2"]
    finally:
        store.close()


def test_a_listener_whose_loop_closed_hears_nothing(db_url):
    store = Store(db_url, bot="b").open()
    loop = asyncio.new_event_loop()
    heard: list[str] = []
    try:
        store.on_transfer_saved(lambda t: heard.append(t.transfer_id), loop)
        loop.close()
        store.save_transfer(transfer("t-1"))  # saved all the same; nobody to hand it to
        assert heard == [] and [t.transfer_id for t in store.transfers()] == ["t-1"]
    finally:
        store.close()
