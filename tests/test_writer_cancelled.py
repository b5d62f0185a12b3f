"""A write whose caller gave up on it (its future cancelled) while it was still queued behind another never runs, and
is no longer counted as waiting: the writer's watch would take it for a write the database does not answer (the
stall alarm refuses orders) and its close would name it as not done."""

from __future__ import annotations

import asyncio
import threading

from bot.store import Store
from bot.writer import StoreWriter


async def test_a_write_cancelled_while_queued_is_not_waited_for(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/arbot.db").open()
    writer = StoreWriter(store)
    release = threading.Event()
    ran: list[str] = []
    try:
        blocking = writer.later(release.wait, 10)  # the writer thread busy with it
        queued = writer.later(ran.append, "the cancelled write")
        queued.cancel()  # its caller gave up on it
        await asyncio.sleep(0)
        release.set()
        await blocking
        await writer.drained()
        assert ran == []  # it never ran
        assert writer._oldest_write() is None, "a cancelled write is still counted as waiting"
        assert await writer.aclose(timeout_s=1.0) == []  # and the close names nothing as not done
    finally:
        release.set()
        await writer.aclose()  # (again: does nothing)
        store.close()
