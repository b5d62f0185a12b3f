"""A client order id an earlier order carried is never sent again, even when the insert that would have refused
it fails once (disk I/O error) on the immediate path; an order whose own insert wrote its row and then raised is
sent, once."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError

from bot import hookimpl
from bot.api import Strategy
from bot.domain import OrderIntent, OrderStatus, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

CONFIG = """
[executor]
backoff_initial_s = 0.01
backoff_max_s = 0.05
request_timeout_s = 0.2
[exchanges.v]
type = "scripted"
[strategies.s]
type = "quiet"
"""


class Quiet(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]


class quiet_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("quiet", Quiet)


def intent(cid: str) -> OrderIntent:
    return OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.1"), Decimal("100"), client_order_id=cid)


async def test_a_reused_client_id_is_not_sent_again_when_its_refusing_insert_fails_once(make_bot, monkeypatch):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    if not bot.store.records_inline:
        pytest.skip("the insert that refuses a reused id is file-backed SQLite's immediate path; on PostgreSQL "
                    "submit refuses it by a read before any insert "
                    "(test_execution.py::test_same_client_id_is_never_sent_twice)")
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]

    # an order that lived and ended (a previous run's, or this run's: final and written)
    assert ctx.submit(intent("dup-1")) == "dup-1"
    await wait_for(lambda: bot.executor.order("dup-1").status is OrderStatus.OPEN)
    ctx.cancel("dup-1")
    await wait_for(lambda: bot.executor.order("dup-1").status is OrderStatus.CANCELLED)
    assert await bot.executor.flush()
    assert venue.submissions["dup-1"] == 1

    # the same id submitted again; the insert that would find it taken fails once (a disk I/O error)
    original = bot.store.insert_order
    failures = [OperationalError("INSERT ...", {}, sqlite3.OperationalError("disk I/O error"))]

    def flaky(order, **kwargs):
        if failures:
            raise failures.pop()
        return original(order, **kwargs)

    monkeypatch.setattr(bot.store, "insert_order", flaky)
    ctx.submit(intent("dup-1"))
    await wait_for(lambda: bot.executor.store_error is None and not failures)
    await bot.executor.settle(2)

    assert venue.submissions["dup-1"] == 1, "the id of a finished order reached the venue a second time"


async def test_an_order_whose_failed_insert_wrote_its_row_is_sent_once(make_bot, monkeypatch):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx, venue = bot.strategies["s"].ctx, bot.exchanges["v"]
    original = bot.store.insert_order
    failures = [OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))]

    def written_then_failed(order, **kwargs):
        done = original(order, **kwargs)
        if failures:
            raise failures.pop()  # the row is there, the caller cannot know
        return done

    monkeypatch.setattr(bot.store, "insert_order", written_then_failed)
    assert ctx.submit(intent("own-1")) == "own-1"
    await wait_for(lambda: bot.executor.store_error is None and not failures)
    await wait_for(lambda: bot.executor.order("own-1") is not None
                   and bot.executor.order("own-1").status is OrderStatus.OPEN)
    await bot.executor.settle(2)
    assert venue.submissions["own-1"] == 1
