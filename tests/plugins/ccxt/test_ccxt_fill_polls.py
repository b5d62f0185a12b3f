"""A fill poll meeting the venue's rate limit: the poll ends there, and no order's look-up counts as failed."""

from __future__ import annotations

import pytest

from bot.api import Caller, RateLimited

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
