"""One prediction error per execution: a done execution of 2 units that filled 1 is judged against its prediction
for what filled (``bot.api.ledger.predicted_for_filled``) by ``arbot report``'s arbitrage section, the web
console's executions, the backtest report and the ``prediction`` risk check alike."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from bot.api import ExecutionResult, ExecutionView
from bot.clock import ManualClock
from bot.settings import parse_settings
from bot.store import Store

SIZE, FILLED, PREDICTED = D(2), D(1), D(3)  # predicted 3 for 2 units; 1 filled: 1.5 predicted for what filled


def _store_partial(db_url: str, realized: D, hedge_filled: D = D(0)) -> Store:
    from plugins.arb.records import ArbExecutionRow, insert_execution

    store = Store(db_url).open()
    row = ArbExecutionRow(
        opportunity_id="o1", strategy="arb", state="done", symbol="SOL/USDC", direction="buy-cex-sell-dex",
        created_ns=1, size=SIZE, predicted_pnl=PREDICTED, sol_price=D(150), cex_exchange="c", cex_side="buy",
        cex_qty=SIZE, cex_price=D(150), cex_cid="o1-cex", cex_status="partially_filled", cex_filled=FILLED,
        dex_exchange="d", dex_side="sell", dex_qty=SIZE, dex_price=D(151), dex_cid="o1-dex", dex_status="filled",
        dex_filled=FILLED - hedge_filled, hedge_cid="o1-hedge" if hedge_filled else "",
        hedge_side="sell" if hedge_filled else "", hedge_qty=hedge_filled, hedge_filled=hedge_filled,
        hedge_status="filled" if hedge_filled else "", realized_pnl=realized, finished_ns=2)
    assert insert_execution(store, row)
    return store


def _report_error(store: Store) -> str:
    from plugins.arb.records import summary

    header, row = summary(store)
    return row[header.index("mean |error|")]


def _web_error(store: Store) -> D:
    from plugins.arb.records import execution_views
    from plugins.web.views import execution_view

    (view,) = execution_views(store, None, None, None, 10)
    return D(execution_view(view)["error"])


def _backtest_error(result: ExecutionResult) -> D:
    from plugins.arb.backtest_report import BacktestCollector, summarize

    collector = BacktestCollector()
    collector.on_execution(result)
    figures = summarize(collector)
    assert figures.mean_error_quote is not None
    return figures.mean_error_quote


def _gate_error_pct(result: ExecutionResult) -> str:
    from plugins.prediction import PredictionGate, PredictionSettings

    issues: list = []
    settings = parse_settings(PredictionSettings, {}, "risk.prediction", issues)
    assert not issues
    ctx = SimpleNamespace(clock=ManualClock(), store=SimpleNamespace(set_state=lambda *a: None))
    gate = PredictionGate("prediction", settings, ctx)
    gate.on_result(result)
    return gate.status()["error arb USDC"].split("%")[0]


def test_a_partial_fill_that_earned_its_part_shows_no_error_in_the_report_and_the_web_console(db_url):
    store = _store_partial(db_url, realized=D("1.5"))
    try:
        assert _report_error(store) == "0.00"  # was 1.50: 3 predicted for 2 units against 1.5 for the 1 filled
        assert _web_error(store) == 0
    finally:
        store.close()


def test_every_surface_shows_the_same_error_for_the_same_execution(db_url):
    realized = D("1.2")  # predicted for what filled: 3 * 1 / 2 = 1.5; error -0.3, 20 % of the prediction
    store = _store_partial(db_url, realized)
    try:
        web = _web_error(store)
        report = _report_error(store)
        (view,) = __import__("plugins.arb.records", fromlist=["x"]).execution_views(store, None, None, None, 10)
    finally:
        store.close()
    result = ExecutionResult("arb", PREDICTED, realized, "USDC", 2, "o1", SIZE, FILLED)
    assert view.filled == FILLED  # the web console's view says what filled, as the published result does
    assert web == D("-0.3")
    assert report == "0.30"
    assert _backtest_error(result) == D("-0.30")
    assert _gate_error_pct(result) == "20.00"


def test_a_hedge_counts_in_what_filled(db_url):
    """Bought 1 on the CEX, sold 0.25 on the DEX and hedged 0.75: 1 of the 2 executed, as the strategy publishes."""
    store = _store_partial(db_url, realized=D("1.5"), hedge_filled=D("0.75"))
    try:
        assert _report_error(store) == "0.00"
        assert _web_error(store) == 0
    finally:
        store.close()


def test_a_view_without_what_filled_compares_the_prediction_as_it_is():
    from plugins.web.views import execution_view

    view = ExecutionView(strategy="s", opportunity_id="o", symbol="BTC/USD", state="done", created_ns=1,
                         predicted_pnl=D(3), realized_pnl=D("1.5"), quote="USD", size=SIZE)
    assert execution_view(view)["error"] == "-1.5"
