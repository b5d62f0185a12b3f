"""MEXC's "order not found" answers, which ccxt raises as a plain ExchangeError (-2013 "Order does not exist.") or a
BadRequest (-2011 "Unknown order sent.": the order "could not be found or is no longer valid for this operation ...
already been filled or canceled", MEXC's error codes), are the plugin's ``OrderNotFound`` for a look-up or a cancel.
Against the fake Gate answering them as MEXC's text (Gate's own label ``INVALID_PARAM_VALUE``, a BadRequest)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from bot.api import OrderStatus

from .conftest import SYMBOL
from .test_ccxt_fill_polls import ghost_order
from .test_ccxt_orders import order

MEXC_LIKE = (r"Order does not exist\.", r"Unknown order sent\.")
"""The fake Gate's MEXC-like answers, as the ``gate`` entry of ``NOT_FOUND_ANSWERS`` (MEXC's is by its codes)."""


def test_ccxt_raises_mexcs_order_not_found_answers_as_no_order_not_found():
    """The premise: ccxt's mexc classes neither answer as OrderNotFound; the plugin's table names both."""
    import ccxt

    from plugins.ccxt.orders import NOT_FOUND_ANSWERS, translate

    for code, msg in ((-2013, "Order does not exist."), (-2011, "Unknown order sent.")):
        body = json.dumps({"code": code, "msg": msg})
        with pytest.raises(ccxt.ExchangeError) as raised:
            ccxt.mexc().handle_errors(400, "", "https://api.mexc.com/api/v3/order", "GET", {}, body,
                                      json.loads(body), {}, "")
        assert not isinstance(raised.value, ccxt.OrderNotFound)
        error = translate(raised.value, "mexc look-up", sent=False, pause_s=0, not_found=NOT_FOUND_ANSWERS["mexc"])
        assert type(error).__name__ == "OrderNotFound", error
        compact = ccxt.ExchangeError(f'mexc {{"code":{code},"msg":"{msg}"}}')  # the venue's body as it comes
        error = translate(compact, "mexc look-up", sent=False, pause_s=0, not_found=NOT_FOUND_ANSWERS["mexc"])
        assert type(error).__name__ == "OrderNotFound", error
    other = ccxt.BadRequest('mexc {"code":-2010,"msg":"Order rejected"}')
    assert type(translate(other, "x", sent=False, pause_s=0, not_found=NOT_FOUND_ANSWERS["mexc"])).__name__ \
        == "PermanentError"


async def test_a_mexc_order_the_venue_no_longer_knows_ends_unknown_too(make_bot, fake_gate, monkeypatch):
    """On MEXC the look-up by venue id of an order it forgot answers -2013, a plain ExchangeError in ccxt: the poll
    took it for any failure, so the order stayed tracked for ever (a warning every ``fill_poll_s``) though the venue
    answered. It counts as "not found": after ``NOT_FOUND_POLLS`` such answers it is reported UNKNOWN and polled no
    more, as on any venue."""
    import plugins.ccxt.exchange as exchange
    import plugins.ccxt.orders as orders

    monkeypatch.setitem(orders.NOT_FOUND_ANSWERS, "gate", MEXC_LIKE)
    bot, gate, alerts, venue_order = await ghost_order(make_bot, fake_gate, monkeypatch, "mx-ghost-1",
                                                       not_found_s=0.0)
    refusal = (400, "INVALID_PARAM_VALUE", "Order does not exist.")
    fake_gate.fail_next[f"/spot/orders/{venue_order['id']}"] = [refusal] * exchange.NOT_FOUND_POLLS
    for _ in range(exchange.NOT_FOUND_POLLS):
        await gate.poll_once()
    assert "mx-ghost-1" not in gate._tracked
    assert len([a for a in alerts if "mx-ghost-1" in a.message]) == 1


async def test_a_mexc_cancel_of_an_order_filled_meanwhile_gives_its_filled_state(gate_bot, fake_gate, monkeypatch):
    """The order filled between the cancel's look-up and its request: MEXC answers -2011 "Unknown order sent." (a
    BadRequest in ccxt), and the cancel failed as refused, though the order is filled. The cancel reads it again and
    answers FILLED with its fill, as on a venue whose answer ccxt classes as OrderNotFound."""
    import plugins.ccxt.orders as orders

    monkeypatch.setitem(orders.NOT_FOUND_ANSWERS, "gate", MEXC_LIKE)
    bot, gate = await gate_bot(fill_poll_s=600)
    state = await gate.place_order(order("mx-cancel-1"))
    fake_gate.fail_next[f"/spot/orders/{state.exchange_order_id}"] = [
        (400, "INVALID_PARAM_VALUE", "Unknown order sent.")]
    looked_up = gate.fetch_order

    async def fill_after_the_look_up(symbol: str, cid: str):
        answer = await looked_up(symbol, cid)
        if fake_gate.orders[state.exchange_order_id]["status"] == "open":
            fake_gate.fill(state.exchange_order_id, D("0.01"))  # filled meanwhile
        return answer

    monkeypatch.setattr(gate, "fetch_order", fill_after_the_look_up)
    final = await gate.cancel_order(SYMBOL, "mx-cancel-1")
    assert final.status is OrderStatus.FILLED and [f.qty for f in final.fills] == [D("0.01")]
