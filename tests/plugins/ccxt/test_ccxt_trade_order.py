"""An order's trades read from the account's trade list where the venue lists none by order (Bitget, Gemini), against
the fake Gate serving its pages in each venue's documented order:

* Bitget, ``GET /api/v2/spot/trade/fills``: ``idLessThan`` "requests the content on the page before this ID (older
  data)": a page holds the newest fills of the range, and older ones come through that cursor;
* Gemini, ``POST /v1/mytrades``: "the list is sorted by timestamp descending", and its documented walk through the
  whole history asks ``timestamp`` 0, then the first (highest) timestamp + 1, until a page comes back empty: a page
  holds the oldest ``limit_trades`` trades from ``timestamp`` on, given newest first.
"""

from __future__ import annotations

import time
from decimal import Decimal as D

from bot.api import OrderStatus

from .conftest import SYMBOL
from .test_ccxt_orders import order

FILLS = 250
"""More than two pages (TRADE_PAGE_SIZE 100) of one order's fills."""


async def many_fills(gate_bot, fake_gate, cid: str, spread_s: int = 0, fills: int = FILLS, age_s: int = 1000):
    """The ccxt gate (no fetchOrderTrades, as Bitget's and Gemini's) and an order of ``cid`` filled in ``fills``
    trades of 0.0001, ``spread_s`` seconds apart (0: all at once), made ``age_s`` seconds ago."""
    bot, gate = await gate_bot(fill_poll_s=600)
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order(cid, qty=str(D("0.0001") * fills)))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - age_s
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    for i in range(fills):
        trade = fake_gate.fill(mine["id"], D("0.0001"))
        if spread_s:
            at = start + 1 + i * spread_s
            trade.update(create_time=str(at), create_time_ms=f"{at * 1000}.000")
    return gate


async def test_bitget_an_orders_fills_beyond_its_newest_page_are_read_through_the_older_cursor(
        gate_bot, fake_gate, monkeypatch):
    """Bitget's trade list filtered by the order (``orderId``) gives its newest 100 fills: an order of 250 fills
    showed 100 (the reading moved on to trades newer than the page, which there are none of), and its lagging polls
    ended reporting it short. Older pages come through ``idLessThan``, the page's smallest trade id."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_ORDER_PARAMS", {"gate": "order_id"})  # Bitget's orderId
    monkeypatch.setattr(exchange, "TRADE_OLDER_CURSOR", {"gate": "id_less_than"})  # Bitget's idLessThan
    fake_gate.trade_list_order = "bitget"
    gate = await many_fills(gate_bot, fake_gate, "bg-250")
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "bg-250")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.0250")
    assert len(state.fills) == len({f.trade_id for f in state.fills}) == FILLS
    assert sum(f.qty for f in state.fills) == D("0.0250")
    assert len(fake_gate.my_trades_queries) == 3  # 100 + 100 + 50


async def test_gemini_an_orders_fills_are_read_forward_from_its_creation_pages_given_newest_first(
        gate_bot, fake_gate):
    """Gemini's pages, the oldest ``limit_trades`` from ``timestamp`` given newest first, are read forward from the
    order's creation (the next page from the page's highest timestamp; ccxt sorts each page oldest first)."""
    fake_gate.trade_list_order = "gemini"
    gate = await many_fills(gate_bot, fake_gate, "gm-250", spread_s=2)
    state = await gate.fetch_order(SYMBOL, "gm-250")
    assert state.status is OrderStatus.FILLED
    assert len(state.fills) == len({f.trade_id for f in state.fills}) == FILLS
    assert sum(f.qty for f in state.fills) == D("0.0250")


async def test_gemini_1200_fills_are_read_in_3_pages_of_its_documented_500(gate_bot, fake_gate, monkeypatch, caplog):
    """Gemini's ``/v1/mytrades`` takes ``limit_trades`` up to 500 (its documented walk through the whole history asks
    500 a page; ccxt's features table says 500 too), but trades were asked 100 at a time: an order of 1,200 fills
    took 12 requests, and the read stopped at TRADE_PAGES (10) short of them. The page follows the venue's maximum:
    3 requests (500, 500, and the rest); the fake serves no more than 500 a page, as Gemini."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_PAGE_LIMIT", {"gate": 500}, raising=False)  # Gemini's, for the ccxt gate
    fake_gate.trade_list_order = "gemini"
    gate = await many_fills(gate_bot, fake_gate, "gm-1200", spread_s=2, fills=1200, age_s=3000)
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "gm-1200")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.1200")
    assert len(state.fills) == len({f.trade_id for f in state.fills}) == 1200, \
        f"{len(state.fills)} fills read in {len(fake_gate.my_trades_queries)} requests"
    assert [q["limit"] for q in fake_gate.my_trades_queries] == ["500"] * 3
    assert "stopped at" not in caplog.text


def test_the_fake_gemini_serves_at_most_500_trades_a_page():
    """The fake's Gemini trade list keeps to Gemini's maximum page: asked 1,000, it gives 500."""
    from tests.fakes.gate import FakeGate

    trades = [{"id": str(i), "currency_pair": "BTC_USDT", "order_id": "1", "create_time": str(1_700_000_000 + i),
               "create_time_ms": f"{(1_700_000_000 + i) * 1000}.000"} for i in range(1200)]
    page = FakeGate._trade_page(trades, {"from": "1700000000", "limit": "1000"}, "gemini")
    assert len(page) == 500
    assert len(FakeGate._trade_page(trades, {"from": "1700000000", "limit": "1000"}, "gate")) == 1000


async def test_gemini_a_full_page_inside_one_second_is_paged_past_by_a_millisecond_timestamp(
        gate_bot, fake_gate, monkeypatch, caplog):
    """ccxt's gemini sends ``timestamp`` in whole seconds: 150 fills of an order inside one second (more than a page)
    could not be paged past (the next page from the page's highest millisecond asked the same second again), and the
    read stopped at the first 100 (its lagging polls ended reporting it short). Gemini takes ``timestamp`` in
    milliseconds too ("supported in order of preference: milliseconds, seconds", its Timestamps data type): the next
    page is asked from the millisecond."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_SINCE_MS_PARAM", {"gate": "from"}, raising=False)  # Gemini's timestamp, in ms
    fake_gate.trade_list_order = "gemini"
    bot, gate = await gate_bot(fill_poll_s=600)
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("gm-burst", qty="0.0150"))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - 1000
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    for i in range(150):
        trade = fake_gate.fill(mine["id"], D("0.0001"))
        trade.update(create_time=str(start + 1), create_time_ms=f"{(start + 1) * 1000 + i}.000")
    state = await gate.fetch_order(SYMBOL, "gm-burst")
    assert state.status is OrderStatus.FILLED
    assert len(state.fills) == len({f.trade_id for f in state.fills}) == 150
    assert sum(f.qty for f in state.fills) == D("0.0150")
    assert "cannot be paged past" not in caplog.text


async def test_gemini_a_full_page_inside_one_millisecond_is_a_warning_naming_the_order(
        gate_bot, fake_gate, monkeypatch, caplog):
    """Past a millisecond the next page cannot start inside it: 150 fills in one millisecond show 100, and the stop
    is a warning naming the order rather than silent."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_SINCE_MS_PARAM", {"gate": "from"}, raising=False)
    fake_gate.trade_list_order = "gemini"
    bot, gate = await gate_bot(fill_poll_s=600)
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("gm-same-ms", qty="0.0150"))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - 1000
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    for _ in range(150):
        trade = fake_gate.fill(mine["id"], D("0.0001"))
        trade.update(create_time=str(start + 1), create_time_ms=f"{(start + 1) * 1000}.000")
    state = await gate.fetch_order(SYMBOL, "gm-same-ms")
    assert len(state.fills) == 100
    assert "gm-same-ms" in caplog.text and "cannot be paged past" in caplog.text
