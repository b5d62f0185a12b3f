"""Where ccxt's ``fetchClosedOrders`` leaves the cancelled orders out, the look-up reads the lists that hold them
(``FINISHED_LISTS``): a finished order not in lists read whole must be one the venue never saw, and an order cancelled
after a partial fill is no such order. OKX's, against the fake venue, in :mod:`.test_ccxt_okx_lists`; here the premise
for the other venues the table names, read off the installed ccxt without a network (each venue's inner list call
replaced by one answering a cancelled and a filled order)."""

from __future__ import annotations

from typing import Any

import pytest

ANSWER = [{"id": "1", "status": "canceled"}, {"id": "2", "status": "closed"}]


async def asked_and_kept(venue: str, inner: str, method: str) -> tuple[list[Any], list[dict]]:
    """(what ccxt's ``venue`` asked its inner list call ``inner`` for, the orders its ``method`` kept of ANSWER)."""
    import ccxt.async_support as ccxt_async

    api = getattr(ccxt_async, venue)({"options": {"defaultType": "spot"}})
    api.markets = {}
    asked: list[Any] = []

    async def answer(*args: Any) -> list[dict]:
        asked.append(args[0] if inner == "fetch_spot_orders_by_states" else dict(args[-1] or {}))
        return [dict(o) for o in ANSWER]

    setattr(api, inner, answer)
    try:
        kept = await getattr(api, method)(None, 1_700_000_000_000, 100, {})
    finally:
        await api.close()
    return asked, kept


@pytest.mark.parametrize(("venue", "inner", "closed_asks", "closed_keeps"), [
    ("bybit", "fetch_canceled_and_closed_orders", [{"orderStatus": "Filled"}], ["1", "2"]),
    ("bitget", "fetch_canceled_and_closed_orders", [{}], ["2"]),
    ("htx", "fetch_spot_orders_by_states", ["filled"], ["1", "2"]),
])
async def test_ccxts_closed_list_leaves_cancelled_orders_out_and_the_tables_lists_do_not(
        venue, inner, closed_asks, closed_keeps):
    """ccxt's bybit asks ``/v5/order/history`` for ``orderStatus=Filled``, its bitget keeps the ``closed`` ones of
    its list, its htx asks ``/v1/order/orders`` for ``states=filled``: an order cancelled there (even one filled in
    part) is in none, so a look-up reading them whole said "never received" of it. The lists ``FINISHED_LISTS`` names
    for each ask for every final state and keep what the venue answers."""
    from plugins.ccxt.exchange import FINISHED_LISTS

    asked, kept = await asked_and_kept(venue, inner, "fetch_closed_orders")
    assert asked == closed_asks and [o["id"] for o in kept] == closed_keeps
    [method] = FINISHED_LISTS[venue]
    asked, kept = await asked_and_kept(venue, inner, method)
    assert [o["id"] for o in kept] == ["1", "2"]
    if venue == "htx":
        assert {"canceled", "partial-canceled", "filled"} <= set(asked[0].split(",")), asked
    else:
        assert asked == [{}], asked
