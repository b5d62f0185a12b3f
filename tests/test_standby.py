"""TokenLease: a chat transport live in exactly one process per token, standing by in the others."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text

from bot.api.kit import TokenLease
from bot.standby import token_lease_name
from bot.store import Store
from tests.helpers.waiting import wait_for

log = logging.getLogger("test.standby")


class Transport:
    """Records what the lease made it do."""

    def __init__(self, store: Store, token: str = "123:secret-token") -> None:
        self.live = False
        self.notices: list[str] = []
        self.token = token
        self.lease = TokenLease(store, "telegram", lambda: self.token, go_live=self.go_live, stand_by=self.stand_by,
                                notice=self.notices.append, log=log, retry_s=0.05)

    async def go_live(self) -> None:
        self.live = True

    async def stand_by(self) -> None:
        self.live = False


@pytest.fixture
def stores(db_url):
    """Two stores on one database: two processes of a fleet sharing it."""
    first, second = Store(db_url).open(), Store(db_url)
    yield first, second
    second.close()
    first.close()


def test_the_lease_name_hides_the_token():
    name = token_lease_name("telegram", "123:secret-token")
    assert name.startswith("telegram ") and "secret" not in name and "123" not in name
    assert name == token_lease_name("telegram", "123:secret-token") != token_lease_name("discord", "123:secret-token")


async def test_one_is_live_the_other_stands_by_and_takes_over(stores):
    one, two = Transport(stores[0]), Transport(stores[1])
    await one.lease.start()
    await two.lease.start()
    assert one.live and not two.live and one.lease.status() == {"chat": "live"}
    assert two.lease.status()["chat"].startswith("standing by") and "standing by" in two.notices[0]
    watch = asyncio.get_running_loop().create_task(two.lease.watch())
    try:
        await asyncio.sleep(0.2)
        assert not two.live  # the holder is still there
        await one.lease.release()
        await wait_for(lambda: two.live, what="the take-over")
        assert "took over" in two.notices[-1]
    finally:
        watch.cancel()
        await two.lease.release()


async def test_a_holder_whose_session_was_lost_and_taken_stands_by(stores):
    if stores[0].engine.dialect.name != "postgresql":
        pytest.skip("a lost PostgreSQL session (ARBOT_TEST_DB_URL)")
    one, two = Transport(stores[0]), Transport(stores[1])
    await one.lease.start()
    await two.lease.start()
    with stores[1].engine.begin() as conn:  # the server ends the holder's session (a network cut, say)
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                          "AND pid <> pg_backend_pid()"))
    loop = asyncio.get_running_loop()
    watches = [loop.create_task(two.lease.watch())]  # the standby notices first: the lock is free
    try:
        await wait_for(lambda: two.live, what="the standby taking over")
        assert one.live  # the old holder has not looked yet
        watches.append(loop.create_task(one.lease.watch()))
        await wait_for(lambda: not one.live, what="the old holder standing by")
        assert "another process took over" in one.notices[-1] and two.live
    finally:
        for watch in watches:
            watch.cancel()
        await one.lease.release()
        await two.lease.release()


async def test_a_store_that_cannot_be_asked_keeps_the_single_process_default():
    store = Store("postgresql://arbot:pw@127.0.0.1:9/none")
    alone = Transport(store)
    await alone.lease.start()
    assert alone.live and alone.notices == []
    store.close()


async def test_a_rotated_token_moves_the_lease_to_its_new_name(stores):
    one, two = Transport(stores[0]), Transport(stores[1])
    await one.lease.start()
    await two.lease.start()
    loop = asyncio.get_running_loop()
    watches = [loop.create_task(t.lease.watch()) for t in (one, two)]
    try:
        one.token = two.token = "123:rotated-token"  # SIGHUP on both bots after the rotation
        new_name = token_lease_name("telegram", "123:rotated-token")
        await wait_for(lambda: one.lease._lease.name == two.lease._lease.name == new_name, what="both moved")
        await asyncio.sleep(0.5)  # many more rounds of both watches
        live = [t for t in (one, two) if t.live]
        assert len(live) == 1 and live[0].lease._lease.held()  # still exactly one poller, of the new token
        old = Transport(stores[0]).lease._lease  # the old token's name is free again
        assert old.acquire()
        old.release()
    finally:
        for watch in watches:
            watch.cancel()
        await one.lease.release()
        await two.lease.release()


async def test_a_transport_that_fails_to_start_lets_the_lease_go(stores):
    failing, other = Transport(stores[0]), Transport(stores[1])

    async def refused() -> None:
        raise RuntimeError("the chat service refused the token")

    failing.lease._go_live = refused
    with pytest.raises(RuntimeError):
        await failing.lease.start()
    await other.lease.start()
    assert other.live
    await other.lease.release()


def test_the_last_handled_position_is_shared_by_the_bots_of_a_database_and_ages_out(stores):
    """What one bot's process handled in a sequence, the other bot's process (another name, one database) reads;
    a position recorded longer ago than ``max_age_s`` is not used (no update can be handed out again by then)."""
    one = Transport(stores[0].scoped("one")).lease
    two = Transport(stores[1].scoped("two")).lease
    assert two.last_handled(sequence="123") is None
    one.handled(41, sequence="123")
    one.handled(42, sequence="123")
    two.handled(40, sequence="123")  # a lower one elsewhere: the highest counts
    assert two.last_handled(sequence="123") == one.last_handled(sequence="123") == 42
    assert two.last_handled(sequence="456") is None  # per sequence (another Telegram bot)
    key = "chat_handled:telegram 123"  # the bot's id, never its token
    assert {bot: value for bot, (value, _) in stores[0].state_of_every_bot(key).items()} == {"one": "42", "two": "40"}
    stores[0].scoped("one").set_state(key, "42", ts_ns=1)  # recorded long ago
    assert two.last_handled(sequence="123", max_age_s=24 * 3600) == 40 and two.last_handled(sequence="123") == 42
    with pytest.raises(ValueError, match="short word"):
        one.handled(43, sequence="123 456:secret")

