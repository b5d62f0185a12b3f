"""The Operator read models the console is built on: executions from plugins' hooks, history pages, audit, feeds."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot import hookimpl
from bot.api import AuditEntry, ExecutionLeg, ExecutionView, FeedState, FeedStatus
from bot.api.testing import wait_for

GRID = """
[exchanges.paper]
symbols = ["BTC/USD"]
tick_interval_ms = 20
"""


def view(strategy: str, created_ns: int) -> ExecutionView:
    leg = ExecutionLeg("cex", "paper", "buy", Decimal("1"), Decimal("100"), f"{strategy}-{created_ns}", "filled",
                       Decimal("1"), Decimal("99.5"), submitted_ns=1_000_000, final_ns=3_500_000)
    return ExecutionView(strategy=strategy, opportunity_id=f"o{created_ns}", symbol="SOL/USDC", state="done",
                         created_ns=created_ns, predicted_pnl=Decimal("1.5"), realized_pnl=Decimal("1.25"),
                         quote="USDC", size=Decimal("1"), legs=(leg,))


class Reporter:
    def __init__(self, strategy: str, times: list[int]):
        self.strategy, self.times = strategy, times
        self.calls: list[tuple] = []

    @hookimpl
    def executions(self, store, strategy, since_ns, until_ns, limit):
        self.calls.append((strategy, since_ns, until_ns, limit))
        return [view(self.strategy, t) for t in self.times if strategy in (None, self.strategy)][:limit]


class Broken:
    @hookimpl
    def executions(self, store, strategy, since_ns, until_ns, limit):
        raise RuntimeError("table gone")


async def test_executions_merge_every_plugins_views_newest_first_and_page_them(make_bot):
    a, b = Reporter("a", [10, 30, 50]), Reporter("b", [20, 40])
    bot = await make_bot(GRID, extra=[("rep-a", a), ("rep-b", b), ("broken", Broken())])
    op = bot.operator
    assert [v.created_ns for v in await asyncio.to_thread(op.executions)] == [50, 40, 30, 20, 10]  # as a server
    assert [v.created_ns for v in op.executions(limit=2, offset=1)] == [40, 30]
    assert a.calls[-1][3] == 3  # each plugin is asked for limit + offset, the page is cut after the merge
    assert [v.strategy for v in op.executions(strategy="b")] == ["b", "b"]
    assert op.executions()[0].legs[0].latency_ms == Decimal("2.5")
    await wait_for(lambda: any("executions raised RuntimeError: table gone" in e
                               for e in bot.plugins.info("broken").errors), what="the broken hook reported on the loop")


async def test_history_pages_are_newest_first_within_the_time_window(make_bot):
    bot = await make_bot(GRID)
    op = bot.operator
    from bot.domain import Fill, Liquidity, Order, Side

    for i in range(5):
        bot.store.insert_order(Order(client_order_id=f"c{i}", strategy="s" if i % 2 else "t", exchange="paper",
                                     symbol="BTC/USD", side=Side.BUY, qty=Decimal("1"), price=Decimal("10"),
                                     created_ns=100 + i))
        bot.store.insert_fill(Fill(exchange="paper", symbol="BTC/USD", client_order_id=f"c{i}", trade_id=f"t{i}",
                                   side=Side.BUY, price=Decimal("10"), qty=Decimal("1"), fee=Decimal("0.01"),
                                   fee_asset="USD", liquidity=Liquidity.MAKER, ts_ns=200 + i), "s")
    assert [o.client_order_id for o in op.order_history()] == ["c4", "c3", "c2", "c1", "c0"]
    assert [o.client_order_id for o in op.order_history(strategy="s")] == ["c3", "c1"]
    assert [o.client_order_id for o in op.order_history(since_ns=101, until_ns=104, limit=2)] == ["c3", "c2"]
    assert [o.client_order_id for o in op.order_history(limit=2, offset=2)] == ["c2", "c1"]
    assert op.order_history(statuses=["filled"]) == []
    assert [f.trade_id for _, f in op.fill_history(since_ns=201, until_ns=203)] == ["t2", "t1"]
    assert op.fill_history(exchange="other") == []


async def test_audit_lines_written_together_read_back_newest_first(make_bot):
    bot = await make_bot(GRID)
    op = bot.operator
    op.record_audit([AuditEntry(ts_ns=i, transport="web", user_id="ada", command=f"GET /x{i}", outcome="ok",
                                role="admin") for i in range(3)])
    assert [e.command for e in op.audit_log(2)] == ["GET /x2", "GET /x1"]
    assert op.audit_log(1, offset=2)[0] == AuditEntry(ts_ns=0, transport="web", user_id="ada", command="GET /x0",
                                                      outcome="ok", role="admin")


async def test_feed_health_counts_resyncs_and_keeps_the_reason(make_bot):
    bot = await make_bot(GRID)
    op = bot.operator
    await wait_for(lambda: op.feed_health(), what="paper market data")
    bot.bus.publish(FeedStatus("paper", "BTC/USD", FeedState.RESYNCING, 5, "checksum mismatch"))
    [feed] = [f for f in op.feed_health() if f.exchange == "paper"]
    assert (feed.state, feed.reason, feed.resyncs, feed.changed_ns) == ("resyncing", "checksum mismatch", 1, 5)
    assert feed.data_ns is not None
    bot.bus.publish(FeedStatus("paper", "BTC/USD", FeedState.LIVE, 6, "snapshot"))
    [feed] = [f for f in op.feed_health() if f.exchange == "paper"]
    assert (feed.state, feed.resyncs) == ("live", 1)
