"""A look-up that reads the venue's order lists range after range (Crypto.com: one day a request, and ccxt paces its
``private/get-order-history`` at one a second) is cut short by the executor's ``request_timeout_s`` (10 s: about ten
requests) and asked again: the next look goes on from the ranges already read whole, it does not read them again."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from bot.api import OrderStatus

from .test_ccxt_closed_lookup import by_list  # noqa: F401 - the fixture
from .test_ccxt_orders import order

DAY_S = 86_400
PER_LOOK = 5
"""Order-list requests a look gets before it is cancelled (the executor's timeout, in requests)."""


@pytest.fixture
async def day_ranges(gate_bot, fake_gate, by_list, monkeypatch):  # noqa: F811
    """A ccxt gate whose order lists are read one day a request, as Crypto.com's, and whose looks are cancelled on
    their (PER_LOOK + 1)th order-list request, as the executor's timeout cancels them: (gate, the requests made)."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setitem(exchange.LOOKUP_RANGE_MS, "gate", DAY_S * 1000)
    bot, gate = await gate_bot(fill_poll_s=600)
    listed = gate.api.fetch_closed_orders
    made: list[tuple[int, int]] = []
    look = {"calls": 0}

    async def cut_short(symbol=None, since=None, limit=None, params={}):  # noqa: B006 - ccxt's signature
        look["calls"] += 1
        if look["calls"] > PER_LOOK:
            raise asyncio.CancelledError  # the executor's timeout: this request's answer never comes
        made.append((since, params.get("until")))
        return await listed(symbol, since, limit, params)

    monkeypatch.setattr(gate.api, "fetch_closed_orders", cut_short)
    return gate, made, look


async def looks_until_answered(gate, stored, look, most: int = 10):
    """Ask ``find_order`` again after each cancelled look (as the executor and reconciliation do): (answer, looks)."""
    for n in range(1, most + 1):
        look["calls"] = 0
        try:
            return await gate.find_order(stored), n
        except asyncio.CancelledError:
            continue
    raise AssertionError(f"no answer after {most} looks")


async def test_an_order_never_sent_20_days_ago_is_answered_after_a_few_cut_looks(day_ranges):
    """Stored 20 days ago, never on the venue: 21 day ranges to read. Each look read the same first five and was
    cancelled: the order stayed unknown for ever. Each look now goes on where the last one stopped."""
    gate, made, look = day_ranges
    stored = dataclasses.replace(order("never-20d"), status=OrderStatus.PENDING,
                                 created_ns=time.time_ns() - 20 * DAY_S * 10**9)
    answer, looks = await looks_until_answered(gate, stored, look)
    assert answer is None and looks == 5  # 21 ranges, five a look
    assert len(made) == len(set(made)) == 21  # every day read once
    assert not gate._lookups  # answered: nothing kept


async def test_a_resumed_look_still_finds_an_order_in_the_ranges_it_had_not_read(day_ranges, fake_gate):
    """The order reached the venue 12 days after its intent (ranges 13 of 21): found on the third look, with its
    state, by ranges never read before."""
    gate, made, look = day_ranges
    await gate.place_order(order("late-12d"))
    [mine] = fake_gate.orders.values()
    at = int(time.time()) - 8 * DAY_S
    mine.update(status="cancelled", finish_as="cancelled", create_time=str(at), create_time_ms=at * 1000)
    gate.memory.ids.clear()
    stored = dataclasses.replace(order("late-12d"), status=OrderStatus.OPEN,
                                 created_ns=time.time_ns() - 20 * DAY_S * 10**9)
    answer, looks = await looks_until_answered(gate, stored, look)
    assert answer is not None and answer.status is OrderStatus.CANCELLED
    assert looks == 3 and len(made) == len(set(made))
