"""Two bots of one database (``db_url``: SQLite, or PostgreSQL with ARBOT_TEST_DB_URL): the arbitrage tables
have no bot column, so each bot's report section and executions are those of the strategies its orders carry."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Order, OrderStatus, Side
from bot.report import fleet_reply
from bot.store import Store
from plugins.arb import executions, report_sections
from plugins.arb.records import ArbExecutionRow, insert_execution, insert_opportunities

D = Decimal


def execution(oid: str, strategy: str, realized: str) -> ArbExecutionRow:
    return ArbExecutionRow(
        opportunity_id=oid, strategy=strategy, state="done", symbol="SOL/USDC", direction="buy-cex-sell-dex",
        created_ns=1, size=D(1), predicted_pnl=D(1), sol_price=D(150), cex_exchange="c", cex_side="buy",
        cex_qty=D(1), cex_price=D(150), cex_cid=f"{oid}-cex", dex_exchange="d", dex_side="sell", dex_qty=D(1),
        dex_price=D(151), dex_cid=f"{oid}-dex", realized_pnl=D(realized))


def trades_under(store: Store, strategy: str, oid: str, realized: str) -> None:
    """What a running arb strategy of the store's bot leaves: its orders, an execution, opportunities."""
    assert insert_execution(store, execution(oid, strategy, realized))
    assert store.insert_order(Order(client_order_id=f"{oid}-cex", strategy=strategy, exchange="c",
                                    symbol="SOL/USDC", side=Side.BUY, qty=D(1), price=D(150),
                                    status=OrderStatus.FILLED))
    row = dict(strategy=strategy, ts_ns=1, mode="live", symbol="SOL/USDC", direction="buy-cex-sell-dex",
               buy_exchange="c", sell_exchange="d", buy_price=D(150), sell_price=D(151), qty=D(1),
               gross_pnl=D(1), net_pnl=D("0.5"), net_bps=D(33), costs="{}", reason="")
    insert_opportunities(store, [{**row, "opportunity_id": oid, "acted": True},
                                 {**row, "opportunity_id": f"{oid}-x", "acted": False}])


def test_each_bot_reports_and_views_only_its_own_arbitrage(db_url):
    alpha, beta = Store(db_url, bot="alpha").open(), Store(db_url, bot="beta").open()
    try:
        assert report_sections(alpha) is None
        trades_under(alpha, "arb-a", "a1", "0.80")
        (section,) = report_sections(alpha)  # the database's only bot so far: every row is its
        assert [r[:4] for r in section.rows[1:]] == [("arb-a", "2", "1", "1")]
        trades_under(beta, "arb-b", "b1", "-0.40")
        for store, name, realized in ((alpha, "arb-a", D("0.80")), (beta, "arb-b", D("-0.40"))):
            (section,) = report_sections(store)
            assert [r[:4] for r in section.rows[1:]] == [(name, "2", "1", "1")]
            views = executions(store, None, None, None, 50)
            assert [(v.strategy, v.realized_pnl) for v in views] == [(name, realized)]
            assert executions(store, "arb-a" if name == "arb-b" else "arb-b", None, None, 50) == []
        # arbot report --all: each bot's section, read through a view of the other bot's rows
        assert [r[0] for r in report_sections(alpha.scoped("beta"))[0].rows[1:]] == ["arb-b"]
        assert [r[0] for r in report_sections(beta.scoped("alpha"))[0].rows[1:]] == ["arb-a"]
        assert [r[0] for r in fleet_reply(alpha).rows[1:]] == ["alpha", "beta", "fleet total"]
    finally:
        alpha.close()
        beta.close()
