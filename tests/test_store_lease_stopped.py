"""A lease still held when its store closes is released by the close (:meth:`bot.store.Store.close`): on PostgreSQL
a round trip (``pg_advisory_unlock``) on its own connection. A server that stops answering (SIGSTOP; a real server:
``ARBOT_TEST_DB_URL``, :mod:`tests.helpers.pg_stop`) must not hold the close, and with it the bot's stop, on the loop
until it answers again: the close waits ``LEASE_RELEASE_S`` at most and names what it did not release, which the
server frees when the session ends."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.api.storage import lease
from bot.store import Store
from bot.store import lease as leases
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for

STOPPED_S = 6.0
"""How long the server stays stopped: a close that waits for it takes this long."""


async def test_a_bots_stop_with_the_server_stopped_ends_its_leases_within_a_bound(make_bot, postgresql, caplog):
    bot = await make_bot("")
    forgotten = lease(bot.store, "telegram forgot")  # as a notifier whose stop timed out leaves it
    assert await asyncio.to_thread(forgotten.acquire)
    with caplog.at_level(logging.ERROR, logger="bot.store"), \
            stopped_server(bot.store.engine, max_s=STOPPED_S) as server:
        started = time.monotonic()
        await bot.stop()
        took_s = time.monotonic() - started
        server.resume()
    assert took_s < leases.LEASE_RELEASE_S + 1, f"the stop took {took_s:.2f} s (the server was stopped {STOPPED_S} s)"
    assert "telegram forgot" in caplog.text and "not released" in caplog.text
    # the server answers again: the release handed over ends, and the process taking over gets the name
    other_process = Store(bot.config.db_url)
    try:
        taking_over = lease(other_process, "telegram forgot")
        await wait_for(lambda: taking_over.acquire(), timeout_s=10, what="the lease freed")
        assert not forgotten.held()
        await asyncio.to_thread(taking_over.release)
    finally:
        other_process.close()
