"""Fill polls: a rate limit ends the poll, no order counted failed; an order the venue forgot ends UNKNOWN."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from bot.api import Caller, OrderIntent, OrderStatus, RateLimited, Side
from bot.api.testing import wait_for

from .conftest import SYMBOL, gate_table
from .test_ccxt_orders import order


async def test_a_rate_limit_ends_the_poll_and_counts_no_order_as_failed(gate_bot, fake_gate, caplog):
    """ccxt7 made one order's failing look-up no stop to the poll of the others. A rate-limit answer is no failure of
    that order's look-up: after it every REST call is held for ``rate_limit_pause_s``, so each next tracked order
    failed at once without a request, and a poll of 5 tracked orders logged 5 warnings and counted 5 failed polls on
    /status. A rate limit now ends the poll (the poll loop logs it once; the orders are asked next poll): 1 request,
    no order's poll counted failed."""
    bot, gate = await gate_bot(fill_poll_s=600)
    for i in range(5):
        await gate.place_order(order(f"rl-{i}"))
    assert len(gate._tracked) == 5
    fake_gate.http_429 = 1
    asked = len(fake_gate.rest_log)
    caplog.clear()
    with pytest.raises(RateLimited):
        await gate.poll_once()
    assert len(fake_gate.rest_log) - asked == 1  # the one the venue answered 429; the others held by the pause
    assert gate.counters.poll_errors == 0
    assert "poll of order" not in caplog.text
    rows = dict((await bot.commands.dispatch(Caller("test", "eye", "viewer"), "status", [])).rows)
    assert rows["gate order polls"] == "0 failed"
    assert len(gate._tracked) == 5  # asked again next poll


async def ghost_order(make_bot, fake_gate, monkeypatch, cid: str, not_found_s: float):
    """A live bot whose executor placed ``cid`` (resting, tracked by the fill poll), then the venue forgot it (deleted:
    every look-up answers "not found"): (bot, gate, alerts, the venue's order as it was). The "not found" time bound
    is ``not_found_s``."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "NOT_FOUND_S", not_found_s, raising=False)
    bot = await make_bot(gate_table(fake_gate, fill_poll_s=600)
                         + "[executor]\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.02\nmax_retries = 1\n")
    alerts: list = []
    bot.subscribe_alerts(alerts.append, "test")
    gate = bot.exchanges["gate"]
    bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                    qty=D("0.01"), price=D("29000"), client_order_id=cid))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=10, what="the order resting")
    assert cid in gate._tracked
    [venue_order] = fake_gate.orders_with_text(f"t-{cid}")
    del fake_gate.orders[venue_order["id"]]  # the venue no longer knows it (older than it keeps, or deleted)
    return bot, gate, alerts, venue_order


async def test_an_order_the_venue_no_longer_knows_is_reported_unknown_once_and_polled_no_more(
        make_bot, fake_gate, monkeypatch, caplog):
    """ccxt8 found it: a tracked order whose every look-up answers "not found" stayed tracked for ever, a warning
    every ``fill_poll_s``, and its state never ended (the executor, /status and its strategy heard nothing). After
    ``NOT_FOUND_POLLS`` "not found" answers in a row over at least ``NOT_FOUND_S`` it is reported UNKNOWN once
    ("cannot tell": never sent again), an alert names it and says to check it on the venue, and it is polled no
    more."""
    import plugins.ccxt.exchange as exchange

    bot, gate, alerts, _ = await ghost_order(make_bot, fake_gate, monkeypatch, "ghost-1", not_found_s=3600)
    for _ in range(exchange.NOT_FOUND_POLLS):  # within NOT_FOUND_S: still polled (the venue may lag)
        await gate.poll_once()
    assert "ghost-1" in gate._tracked
    monkeypatch.setattr(exchange, "NOT_FOUND_S", 0.2)  # ...and now that long since the first "not found"
    await asyncio.sleep(0.25)
    await gate.poll_once()
    assert "ghost-1" not in gate._tracked
    await wait_for(lambda: bot.executor.order("ghost-1").status is OrderStatus.UNKNOWN, timeout_s=5,
                   what="the order reported unknown")
    rows = dict((await bot.commands.dispatch(Caller("test", "eye", "viewer"), "status", [])).rows)
    assert rows["unknown orders"] == "ghost-1"  # /status hears the end: its outcome cannot be told
    said = [a for a in alerts if "ghost-1" in a.message]
    assert len(said) == 1, [a.message for a in alerts]
    assert "no longer knows" in said[0].message and "check it on the venue" in said[0].message
    caplog.clear()
    asked = len(fake_gate.rest_log)
    await gate.poll_once()
    assert len(fake_gate.rest_log) == asked and "ghost-1" not in caplog.text  # no more polls, no more warnings
    await bot.executor.reconcile()  # reconciliation asks the venue again: still unknown, never sent again
    assert bot.executor.order("ghost-1").status is OrderStatus.UNKNOWN
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/spot/orders") == 1
    assert len([a for a in alerts if "ghost-1" in a.message]) == 1


async def test_a_network_error_streak_never_ends_tracking(make_bot, fake_gate, monkeypatch):
    """Errors that are no answer (the venue unavailable: 502) are transient: however many, however long, the order
    stays tracked and is not reported; "not found" answers count only when the venue answered."""
    bot, gate, alerts, _ = await ghost_order(make_bot, fake_gate, monkeypatch, "netdown-1", not_found_s=0.1)
    fake_gate.fail_next["/spot/orders/t-netdown-1"] = [(502, "SERVER_ERROR", "Internal server error")] * 12
    for _ in range(12):
        await gate.poll_once()
        await asyncio.sleep(0.02)
    assert "netdown-1" in gate._tracked
    assert gate.counters.poll_errors == 12
    assert bot.executor.order("netdown-1").status is OrderStatus.OPEN
    assert not [a for a in alerts if "netdown-1" in a.message]


async def test_an_order_found_again_starts_its_not_found_count_over(make_bot, fake_gate, monkeypatch):
    """A venue that answers "not found" for a while and then lists the order again (a lagging replica): the count
    starts over, so only answers in a row end its tracking."""
    import plugins.ccxt.exchange as exchange

    bot, gate, alerts, venue_order = await ghost_order(make_bot, fake_gate, monkeypatch, "flaky-1", not_found_s=0.0)
    for _ in range(exchange.NOT_FOUND_POLLS - 1):
        await gate.poll_once()
    fake_gate.orders[venue_order["id"]] = venue_order  # listed again
    await gate.poll_once()  # found: the count starts over
    del fake_gate.orders[venue_order["id"]]
    for _ in range(exchange.NOT_FOUND_POLLS - 1):
        await gate.poll_once()
    assert "flaky-1" in gate._tracked
    await gate.poll_once()
    assert "flaky-1" not in gate._tracked


async def test_an_order_missing_from_lists_read_whole_ends_unknown_on_a_venue_without_fetch_order(
        make_bot, fake_gate, monkeypatch):
    """A venue ccxt has no fetchOrder for: a tracked order its open and finished lists, read whole, no longer hold
    was skipped by every poll without a word (not even counted failed). Those lists are the venue's "not found": it
    ends UNKNOWN as above."""
    import plugins.ccxt.exchange as exchange

    bot, gate, alerts, _ = await ghost_order(make_bot, fake_gate, monkeypatch, "nolist-1", not_found_s=0.0)
    gate.api.has["fetchOrder"] = False
    for _ in range(exchange.NOT_FOUND_POLLS):
        await gate.poll_once()
    assert "nolist-1" not in gate._tracked
    assert gate.counters.poll_errors == exchange.NOT_FOUND_POLLS
    assert len([a for a in alerts if "nolist-1" in a.message]) == 1
