"""Store leases: one holder per name among the stores sharing a database (PostgreSQL advisory lock or flock)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.api.storage import LeaseUnavailable, lease
from bot.store import Store
from bot.store.lease import AdvisoryLease, FileLease, LocalLease


@pytest.fixture
def two_stores(db_url):
    """Two stores on one database, as two processes of a fleet would open it."""
    first, second = Store(db_url).open(), Store(db_url)
    yield first, second
    second.close()
    first.close()


def test_one_holder_per_name_and_the_other_takes_over_on_release(two_stores):
    first, second = two_stores
    mine, theirs = lease(first, "telegram abc"), lease(second, "telegram abc")
    assert isinstance(mine, AdvisoryLease if first.engine.dialect.name == "postgresql" else FileLease)
    assert mine.acquire() and mine.acquire() and mine.held()  # taking it again while held: still mine
    assert not theirs.acquire() and not theirs.held()
    other_name = lease(second, "telegram xyz")
    assert other_name.acquire()  # another name is another lease
    mine.release()
    assert not mine.held() and theirs.acquire() and theirs.held()
    assert not mine.acquire()
    theirs.release()
    other_name.release()
    mine.release()  # not held: nothing


def test_a_file_lease_lies_next_to_the_sqlite_database(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/arbot.db")
    held = lease(store, "telegram abc")
    assert isinstance(held, FileLease) and held.path.startswith(f"{tmp_path}/arbot.db.lease-")
    assert "abc" not in held.path  # the name (a token's hash) is hashed again, not written out
    assert held.acquire()
    held.release()
    store.close()


def test_an_in_memory_store_leases_within_the_process():
    store = Store("sqlite://")
    first, second = lease(store, "n"), lease(store, "n")
    assert isinstance(first, LocalLease) and first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    store.close()


def test_a_lost_postgresql_session_frees_the_lease(two_stores):
    first, second = two_stores
    if first.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL session lease (ARBOT_TEST_DB_URL)")
    mine, theirs = lease(first, "discord t"), lease(second, "discord t")
    assert mine.acquire() and not theirs.acquire()
    with second.engine.begin() as conn:  # the server ends the holder's session, as a restart or a cut would
        killed = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                   "AND pid <> pg_backend_pid()")).scalars().all()
    assert killed and all(killed)
    assert not mine.held()  # it notices on the next check
    assert theirs.acquire()
    theirs.release()


def test_an_unreachable_postgresql_says_so():
    store = Store("postgresql://arbot:pw@127.0.0.1:9/none")
    with pytest.raises(LeaseUnavailable, match="127.0.0.1:9"):
        lease(store, "n").acquire()
    store.close()


def test_closing_the_store_ends_the_leases_taken_on_it(two_stores):
    """A holder that forgets to release before its store closes (a notifier whose stop timed out) neither keeps the
    name nor a connection: the close releases the lease, and the other process takes it over."""
    first, second = two_stores
    forgotten, other = lease(first, "telegram forgot"), lease(second, "telegram forgot")
    view = first.scoped("other bot")  # a lease taken on a view of the store ends with the store too
    on_view = lease(view, "telegram view")
    assert forgotten.acquire() and on_view.acquire() and not other.acquire()
    first.close()
    assert not forgotten.held() and not on_view.held()
    if first.engine.dialect.name == "postgresql":
        assert forgotten._conn is None and on_view._conn is None  # type: ignore[attr-defined]
        assert first.engine.pool.checkedout() == 0
    else:
        assert forgotten._fd is None and on_view._fd is None  # type: ignore[attr-defined]
    assert other.acquire() and other.held()  # the name is free: taken over at once
    forgotten.release()  # released by the close already: nothing
    other.release()


def test_closing_the_store_ends_a_lease_of_an_in_memory_store():
    store = Store("sqlite://")
    held = lease(store, "m")
    assert held.acquire()
    store.close()
    assert not held.held()
    other = Store("sqlite://")
    next_one = lease(other, "m")
    assert next_one.acquire()
    next_one.release()
    other.close()


def test_a_released_lease_is_not_kept_by_its_store(two_stores):
    first, _ = two_stores
    for n in range(50):
        taken = lease(first, f"n{n}")
        assert taken.acquire()
        taken.release()
    assert len(first._leases) == 0  # type: ignore[attr-defined]


async def test_a_bots_stop_ends_a_lease_its_holder_did_not_release(make_bot):
    """As a notifier whose stop timed out (the bot's stop cancels it and goes on): the bot's stop closes the store
    after its writer, and with it the lease: the process taking over can take the name."""
    import asyncio

    bot = await make_bot("")
    forgotten = lease(bot.store, "telegram forgot")
    assert await asyncio.to_thread(forgotten.acquire)
    await bot.stop()
    assert not forgotten.held()
    other_process = Store(bot.config.db_url)
    try:
        taking_over = lease(other_process, "telegram forgot")
        assert await asyncio.to_thread(taking_over.acquire)
        await asyncio.to_thread(taking_over.release)
    finally:
        other_process.close()
