"""Every surface shows the ledger's figure to the last digit: a DEX fill price has ~50 significant digits, which
Decimal's default 28 would round; and the metrics' fees per asset are the report's (each test failed before its
fix)."""

from __future__ import annotations

from decimal import Decimal, localcontext
from types import SimpleNamespace

from bot.api import ExecutionView
from bot.clock import ManualClock
from bot.domain import ExecutionResult, Fill, Liquidity, Side
from bot.exact import plain
from bot.ledger import EXACT_DIGITS, strategy_figures
from bot.report import fees_text
from bot.settings import parse_settings

Q = Decimal("0.987654321")  # 9-decimal base size, as a DEX swap's
T0 = ManualClock().time_ns()  # the fills are made today, on the clock the limits check reads

def dex_price(quote: str) -> Decimal:
    with localcontext(prec=50):
        return Decimal(quote) / Q

def fill(cid: str, side: Side, price: Decimal, ts: int, fee: str = "0", fee_asset: str = "USDC",
         exchange: str = "dex", symbol: str = "SOL/USDC", qty: Decimal = Q) -> Fill:
    return Fill(exchange, symbol, cid, f"t-{cid}", side, price, qty, Decimal(fee), fee_asset, Liquidity.TAKER, ts)

def arb_round_trips(loss: bool = False) -> list[tuple[str, Fill]]:
    out = []
    for i, quote in enumerate(("101.234567", "102.345678")):
        dex_side, cex_side = (Side.BUY, Side.SELL) if loss else (Side.SELL, Side.BUY)
        out.append(("arb", fill(f"c{i}", cex_side, Decimal("100.01"), T0 + 10 * i + 1, exchange="cex")))
        out.append(("arb", fill(f"d{i}", dex_side, dex_price(quote), T0 + 10 * i + 2)))
    return out

def execution_results(fills: list[tuple[str, Fill]]) -> list[ExecutionResult]:
    results = []
    for i in range(0, len(fills), 2):
        with localcontext(prec=EXACT_DIGITS):
            cash = sum(((f.price * f.qty) if f.side is Side.SELL else -(f.price * f.qty)
                        for _, f in fills[i:i + 2]), Decimal(0))
        results.append(ExecutionResult("arb", Decimal("1"), cash, "USDC", fills[i + 1][1].ts_ns + 1, f"o{i}"))
    return results

def test_arb_backtest_captured_pnl_is_the_ledgers_net():
    from plugins.arb.backtest_report import BacktestCollector, summarize

    fills = arb_round_trips()
    net = strategy_figures(fills)["arb"].net["USDC"]
    collector = BacktestCollector()
    for result in execution_results(fills):
        collector.on_execution(result)
    figures = summarize(collector)
    assert figures.as_json()["pnl"]["captured"] == plain(net)
    assert figures.pnl_curve[-1][1] == net

def test_web_execution_error_is_realized_minus_predicted_exactly():
    from plugins.web.views import execution_view

    realized = execution_results(arb_round_trips())[0].realized_pnl
    view = ExecutionView(strategy="arb", opportunity_id="o1", symbol="SOL/USDC", state="done", created_ns=1,
                         predicted_pnl=Decimal("1.5"), realized_pnl=realized, quote="USDC", size=Q, legs=())
    with localcontext(prec=EXACT_DIGITS):
        expected = realized - Decimal("1.5")
    assert Decimal(execution_view(view)["error"]) == expected

def make_limits():
    from plugins.limits.check import Limits
    from plugins.limits.settings import LimitsSettings

    issues: list = []
    settings = parse_settings(LimitsSettings, {"max_daily_loss": Decimal("1000"), "max_drawdown": Decimal("1000")},
                              "risk.limits", issues)
    assert not issues
    ctx = SimpleNamespace(clock=ManualClock(), operator=SimpleNamespace(timezone="UTC"),
                          pause=lambda names, reason: [], record_trip=lambda *a, **k: None,
                          kill=lambda reason: None, order=lambda cid: None)
    return Limits("limits", settings, ctx)

def test_limits_daily_loss_is_the_ledgers_net():
    fills = arb_round_trips(loss=True)
    limits = make_limits()
    for strategy, f in fills:
        limits.on_fill(strategy, f)
    net = strategy_figures(fills)["arb"].net["USDC"]
    assert net < 0
    assert limits.usage()["max_daily_loss.USDC"].used == net.copy_negate()  # (unary minus would round too)
    assert limits.equity("USDC") == net

def test_metrics_fees_keep_quote_fees_and_other_fees_in_the_same_asset():
    from plugins.metrics.exporter import MetricsExporter

    fills = [("dex", fill("a", Side.BUY, Decimal("0.005"), 1, "0.002", "SOL", symbol="JUP/SOL", qty=Decimal(100))),
             ("dex", fill("b", Side.BUY, Decimal("0.75"), 2, "0.000005", "SOL", symbol="JUP/USDC", qty=Decimal(100)))]
    figures = strategy_figures(fills)
    assert fees_text(figures["dex"]) == "0.002 SOL, 0.00 USDC + 0.000005 SOL"  # the report: 0.002005 SOL in all
    exporter = SimpleNamespace(operator=SimpleNamespace(pnl=lambda: figures,
                                                        store=SimpleNamespace(risk_event_counts=dict)))
    MetricsExporter.refresh_from_store(exporter)
    assert exporter.fees[("dex", "SOL")] == float(Decimal("0.002005"))

def test_prediction_trip_records_exact_sums():
    from plugins.prediction import PredictionGate, PredictionSettings

    issues: list = []
    settings = parse_settings(PredictionSettings, {"executions": 2, "max_error_pct": "1"}, "risk.prediction", issues)
    assert not issues
    trips: list[dict] = []
    ctx = SimpleNamespace(pause=lambda names, reason: names, record_trip=lambda *a, **k: trips.append(k),
                          bus=None)
    gate = PredictionGate("prediction", settings, ctx)
    results = execution_results(arb_round_trips())
    for result in results:
        gate.on_result(result)
    with localcontext(prec=EXACT_DIGITS):
        realized = results[0].realized_pnl + results[1].realized_pnl
    assert trips and trips[0]["realized"] == realized

def test_arb_total_shows_the_fees_pnl_shows(monkeypatch):
    """A swap's SOL network fee on JUP/USDC: /arb's total shows every fee /pnl's fees column shows, the one in SOL
    too (apart and out of net, as /pnl keeps it), not only those in USDC."""
    import asyncio

    import plugins.arb.commands as commands
    from bot.builtins import pnl
    from bot.store.reads import StoreReads
    from plugins.arb.strategy import ArbStrategy

    fills = [("arb", fill("j1", Side.BUY, Decimal("0.75"), T0, "0.000005", "SOL", symbol="JUP/USDC",
                          qty=Decimal(100))),
             ("arb", fill("j2", Side.SELL, Decimal("0.76"), T0 + 1, "0.02", "USDC", exchange="cex",
                          symbol="JUP/USDC", qty=Decimal(100)))]
    figures = strategy_figures(fills)
    strategy = ArbStrategy.__new__(ArbStrategy)
    strategy.quote = "USDC"
    strategy.status = dict  # type: ignore[method-assign]
    store = SimpleNamespace(read_off_loop=StoreReads("stand-in", RuntimeError).read)  # the reads' threads, no database
    op = SimpleNamespace(strategies={"arb": strategy}, store=store, timezone="UTC", period_start_ns=lambda p: 0,
                         ledger=lambda: SimpleNamespace(strategy=lambda name: figures[name],
                                                        transfer_costs=lambda since_ns=None: {}),
                         pnl=lambda since_ns=None: figures)
    monkeypatch.setattr(commands, "executions", lambda store, name, limit: [])
    total = asyncio.run(commands.arb(op, None, [])).text.splitlines()[0]
    shown = asyncio.run(pnl(op, None, [])).rows[1][3]
    assert shown == fees_text(figures["arb"]) == "0.02 USDC + 0.000005 SOL"
    assert total.startswith("arb total: realized 1.00 USDC - fees 0.02 USDC = +0.98 USDC after fees, "
                            "+ 0.000005 SOL of fees in other assets (not in net; FIFO, as /pnl)"), total


def test_backtest_report_shows_the_fee_only_entries_and_sums_the_fees_paid_exactly():
    """The backtest report's fills are `arbot report`'s ("2 (+1 fee only)"), and its fees paid per asset are summed to
    the last digit as the ledger sums them (a fee of a DEX-priced notional has more digits than Decimal's 28)."""
    from bot.backtest.report import host_figures, render_markdown
    from bot.report import fills_text

    fee = "0.0300000000000000000000000000000001"  # 33 significant digits
    fills = [("arb", fill("a", Side.BUY, Decimal("0.75"), T0, fee, exchange="cex", symbol="JUP/USDC", qty=Q)),
             ("arb", fill("b", Side.SELL, Decimal("0.76"), T0 + 1, fee, exchange="cex", symbol="JUP/USDC", qty=Q)),
             ("arb", fill("c", Side.SELL, Decimal("0.76"), T0 + 2, "0.000005", "SOL", symbol="JUP/USDC",
                          qty=Decimal(0)))]
    store = SimpleNamespace(bot="", fills=lambda strategy=None: fills, closes=lambda strategy=None: {},
                            orders=list, markouts=dict, risk_event_counts=dict)
    host = host_figures(store, fills, lambda exchange, symbol: None, {"arb": "arb"}, {})  # type: ignore[arg-type]
    fig = strategy_figures(fills)["arb"]
    [result] = host.strategies
    assert result.as_json()["fee_only"] == fig.fee_only == 1
    assert host.fees == fig.other_fees | {"USDC": fig.fees["USDC"]} == {
        "USDC": Decimal("0.0600000000000000000000000000000002"), "SOL": Decimal("0.000005")}
    markdown = render_markdown(host, [], {}, None)
    assert f"| arb | arb | 0 | {fills_text(fig)} | 1 |" in markdown and fills_text(fig) == "2 (+1 fee only)"
    assert "Fills: 2 (+1 fee only); fees paid, each in the asset it was paid in" in markdown
