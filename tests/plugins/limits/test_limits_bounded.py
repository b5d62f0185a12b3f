"""The limits check keeps what accepted orders close bounded, with the ledger's figures."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.api.ledger import Position
from bot.clock import ManualClock
from bot.domain import OrderStatus, Side
from plugins.limits import check as limits_module
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, fill, intent, risk_check
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

KEPT = 4
CONFIG = """
[executor]
backoff_initial_s = 0.01
request_timeout_s = 0.5
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
[notifiers.rec]
type = "alerts"
[risk.limits]
max_daily_loss = "1000000"
"""


async def test_what_orders_close_is_kept_for_the_newest_only_and_every_sell_still_closes_its_lot(make_bot,
                                                                                                monkeypatch):
    monkeypatch.setattr(limits_module, "CLOSES_KEPT", KEPT, raising=False)
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("kit", kit_plugin)], clock=ManualClock())
    lim, ctx = risk_check(bot, "limits"), bot.strategies["s"].ctx
    n = 30
    fills = [fill(f"b{i}", Side.BUY, "1", str(100 + 10 * i)) for i in range(n)]  # lots at 100, 110, ...
    for f in fills:
        lim.on_fill("s", f)
    for i in range(n):  # each sell names its buy, 5 above it
        sell = replace(intent("s", Side.SELL, "1", str(105 + 10 * i), f"s{i}"), closes=f"b{i}")
        assert ctx.submit(sell) == f"s{i}"
    await wait_for(lambda: all(bot.executor.order(f"s{i}").status is OrderStatus.OPEN for i in range(n)))
    assert len(lim._closes) <= KEPT  # not one per order ever accepted
    ctx.cancel("s0")  # a final order is forgotten at once
    await wait_for(lambda: bot.executor.order("s0").status is OrderStatus.CANCELLED)
    assert "s0" not in lim._closes

    for i in reversed(range(n)):  # newest first: FIFO would match s29 (395) with the 100 lot
        f = fill(f"s{i}", Side.SELL, "1", str(105 + 10 * i))
        fills.append(f)
        lim.on_fill("s", f)
    await bot.executor.flush()
    book, realized = Position(), Decimal(0)
    for f in fills:  # the ledger, with what each stored order closes
        realized += book.apply_fill(f, bot.store.closes().get(f.client_order_id))
    assert lim._realized_total["USD"] == realized == 5 * n
    assert len(lim._closes) <= KEPT
