"""An UNKNOWN "cannot tell" order's reason is written once: a later reconciliation pass that words how it was not
found differently (its own words, a restart's) states the same fact, and rewrote the order's row for nothing."""

from __future__ import annotations

from bot.domain import OrderStatus
from tests.test_execution_open_not_found import bot, open_order, passes  # noqa: F401 - the fixture

__all__ = ["bot"]


def counting_writes(bot, cid: str) -> list[str]:
    """The reasons of ``cid``'s rows the executor writes (one element a write)."""
    written: list[str] = []
    store = bot.store
    write_batch = store.write_batch

    def counted(orders, fills, *args, **kwargs):
        written.extend(o.reason for o in orders if o.client_order_id == cid)
        return write_batch(orders, fills, *args, **kwargs)

    store.write_batch = counted
    return written


async def test_an_unknown_orders_reason_is_not_rewritten_by_each_pass_that_words_it_differently(bot):
    """Acknowledged, OPEN, then "not found" at every look-up: UNKNOWN, "cannot tell (not found at 3 look-ups in a row
    over 1 min)". The passes after it, asked at the slower pace, found it missing again and rewrote its reason as
    "found by reconciliation": the same fact, another store write."""
    venue = bot.exchanges["v"]
    cid = await open_order(bot, "reason-1")
    del venue.orders[cid]
    await bot.executor.flush()  # its OPEN row written: only what comes after is counted
    written = counting_writes(bot, cid)
    await passes(bot, 7200)
    order = bot.executor.order(cid)
    print(f"two hours of passes: {len(written)} write(s) of {cid}:", *(w[:120] for w in written), sep="\n  ")
    assert order.status is OrderStatus.UNKNOWN and "cannot tell" in order.reason
    assert len(written) == 1, written  # the one write that made it UNKNOWN
