"""A slot write that fails on a file-backed SQLite store (grid7): retried by the grid as on PostgreSQL, with one alert,
and an order is still sent only once its slot row is written."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError

from bot.domain import AlertLevel, OrderStatus, Side
from tests.helpers.waiting import wait_for

D = Decimal


class FailingInlineSaves:
    """``plugins.grid.models.save`` as the strategy calls it inline (file-backed SQLite): its next ``failures`` calls
    fail as a database locked by another process does (nothing written: the transaction is rolled back)."""

    def __init__(self, monkeypatch, failures: int):
        from plugins.grid import models, strategy

        self.failures, self.tries = failures, 0
        real = models.save

        def save(*args, **kwargs):
            self.tries += 1
            if self.failures:
                self.failures -= 1
                raise OperationalError("UPDATE grid_slots ...", {}, sqlite3.OperationalError("database is locked"))
            return real(*args, **kwargs)

        monkeypatch.setattr(strategy, "save", save)


@pytest.fixture
def inline(ctx):
    if not ctx.store.records_inline:
        pytest.skip("a file-backed SQLite store (slot writes inline)")


async def test_a_failed_slot_write_on_sqlite_is_written_again_by_the_grid(inline, make_grid, ctx, monkeypatch,
                                                                         caplog):
    """Slot 0's buy is cancelled and the slot's write fails (SQLite: the database is locked): the error went up out
    of ``on_order_update`` into the host's handling of a failed strategy (stopped until the store is writable),
    where the same failure on PostgreSQL is written again by the grid, alerted once. Now SQLite's is too: written
    again after 1 s, doubling (shortened here), one WARNING alert and one INFO note once written."""
    from plugins.grid import strategy
    from tests.plugins.grid.test_grid_strategy import stored

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    monkeypatch.setattr(strategy, "WRITE_RETRY_MAX_S", 0.04)
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    writes = FailingInlineSaves(monkeypatch, failures=3)
    ctx.finish(grid, "g-0-1", OrderStatus.CANCELLED)
    assert grid._slots[0].state.value == "free"
    await wait_for(lambda: stored(grid, 0).state.value == "free", what="the freed slot written again")
    assert writes.tries == 4 and grid._write_failures == 0
    warnings = [a for a in ctx.alerts if "not written" in a[2]]
    assert len(warnings) == 1 and warnings[0][0] is AlertLevel.WARNING, ctx.alerts
    notes = [a for a in ctx.alerts if "written again" in a[2]]
    assert len(notes) == 1 and notes[0][0] is AlertLevel.INFO, ctx.alerts


async def test_on_sqlite_an_order_is_sent_only_once_its_slot_row_is_written(inline, make_grid, ctx, monkeypatch):
    """Slot 2's buy fills and its sell's slot row cannot be written (SQLite locked): the sell is not sent (a restart
    must find the id it was sent under), the slot waits; written again by the grid, its sell goes out after its
    ``retry_after_s`` as on PostgreSQL."""
    from plugins.grid import strategy
    from tests.plugins.grid.test_grid_strategy import stored

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    grid = await make_grid(retry_after_s=0.1)
    grid.on_market(ctx.book("124.99", "125.01"))
    writes = FailingInlineSaves(monkeypatch, failures=2)
    ctx.fill_all(grid, "g-2-1")
    assert ctx.submitted_ids() == ["g-0-1", "g-1-1", "g-2-1"]  # its sell's row not written: not sent
    await wait_for(lambda: stored(grid, 2).state.value == "locked", what="the slot written again")
    assert stored(grid, 2).order_id is None and writes.failures == 0
    ctx.clock.advance(0.1)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.last().side is Side.SELL and ctx.last().price == D(130)
    assert stored(grid, 2).order_id == ctx.last().client_order_id


async def test_a_new_slot_row_whose_write_failed_is_inserted_when_written_again(inline, make_grid, ctx, monkeypatch,
                                                                               store):
    """The first layout's write fails (its slot rows are new): nothing is written, and no row id is kept for a row
    that does not exist (the next write would update nothing); written again, the rows and layout are there."""
    from plugins.grid import strategy
    from plugins.grid.models import load_grid

    monkeypatch.setattr(strategy, "WRITE_RETRY_FIRST_S", 0.01)
    FailingInlineSaves(monkeypatch, failures=1)
    grid = await make_grid()
    assert all(slot.row_id is None for slot in grid._slots)
    await wait_for(lambda: len(load_grid(store, "g")[1]) == 5, what="the layout written again")
    assert load_grid(store, "g")[0] is not None
    grid.on_market(ctx.book("124.99", "125.01"))
    assert [slot.order_id for slot in load_grid(store, "g")[1]] == ["g-0-1", "g-1-1", "g-2-1", None, None]
