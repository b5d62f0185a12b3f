"""The arb plugin's backtest section: miss-reason categories and figures from hand-made bus events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.backtest.contract import BacktestRun
from bot.domain import ExecutionResult, Opportunity
from plugins.arb import backtest_chart, backtest_report_sections
from plugins.arb.backtest_report import BacktestCollector, reason_category, summarize


def test_miss_reasons_fall_into_categories():
    cases = {
        "at 0.1 SOL: gross edge 17.3 bps less costs 16.7 bps (cex fee 10.0, dex fee 4.0): net 0.62 bps <= min 10 bps":
            "below min edge",
        "gross edge 25 bps, but the DEX wallet has 0 SOL free; the smallest size is 0.1": "inventory",
        "gross edge 25 bps, but the pool's price impact for 1 SOL is 40 bps > max_dex_impact_bps 30": "size caps",
        "cooldown after the last execution": "cooldown",
        "an execution is in progress": "execution in progress",
        "observe mode": "observe mode",
        "strategy paused": "paused",
        "stale input": "stale input",
        "risk limits vetoed the CEX leg": "risk veto",
        "already executed": "already executed",
        "something new": "other",
        "": "not acted (no reason given)",
    }
    for reason, category in cases.items():
        assert reason_category(reason, Decimal("1")) == category, reason
    assert reason_category("at 0.1 SOL: gross edge 1.3 bps <= min 10 bps before any cost", Decimal("-0.2")) == \
        "unprofitable after costs"


def _opportunity(oid: str, ts: int, net: str, acted: bool = False, reason: str = "") -> Opportunity:
    return Opportunity(strategy="arb", symbol="SOL/USDC", buy_exchange="cex", sell_exchange="dex",
                       buy_price=Decimal("100"), sell_price=Decimal("101"), qty=Decimal("2"), edge_bps=Decimal(0),
                       ts_ns=ts, acted=acted, opportunity_id=oid, net_pnl=Decimal(net), reason=reason)


def test_figures_from_hand_made_events():
    c = BacktestCollector()
    c.on_opportunity(_opportunity("a", 1, "1.5", acted=True))
    c.on_opportunity(_opportunity("b", 2, "0.5", reason="cooldown after the last execution"))
    c.on_opportunity(_opportunity("b", 3, "0.8", reason="cooldown after the last execution"))  # same episode
    c.on_opportunity(_opportunity("c", 4, "0.3", reason="at 2 SOL: gross edge 9 bps less costs: net 3 bps <= min 10"))
    c.on_opportunity(_opportunity("d", 5, "3", acted=True))
    c.on_opportunity(_opportunity("e", 6, "2.5", reason="an execution is in progress"))  # "d" again: not tradable
    c.on_execution(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 10, "a"))
    c.on_execution(ExecutionResult("arb", Decimal("3"), Decimal("3.1"), "USDC", 11, "d"))
    f = summarize(c)
    assert (f.seen, f.taken, f.missed) == (5, 2, 3)
    assert f.missed_by_reason == {"below min edge": 1, "cooldown": 1, "execution in progress": 1}
    assert f.tradable == 3 and f.tradable_predicted_pnl == Decimal("5.3")  # 1.5 + 3 taken, 0.8 best of "b"
    assert f.captured_pnl == Decimal("4.3") and f.capture_rate == Decimal("0.8113")  # 4.3 / 5.3
    assert f.error_quote.count == 2 and f.error_quote.mean == Decimal("0.200000")  # |-0.3| and |0.1|
    assert f.error_quote.p50 == Decimal("0.100000") and f.error_quote.p95 == Decimal("0.300000")
    assert f.error_bps.p95 == Decimal("15.00")  # 0.3 of a 200 USDC buy leg
    assert f.mean_error_quote == Decimal("-0.100000")
    assert f.pnl_curve == [(10, Decimal("1.2")), (11, Decimal("4.3"))]
    assert f.quote == "USDC"



def test_a_partial_fill_is_judged_against_its_prediction_for_what_filled():
    """3 USDC predicted for 2 SOL, 1 SOL filled and 1.5 USDC earned: exactly as predicted for what was executed (the
    prediction check's rule, ``predicted_pnl * filled / size``), no 1.5 USDC miss; a quarter filled earning nothing
    misses by the quarter predicted for it, 0.75 USDC, in bps of the quarter of the buy leg that filled."""
    c = BacktestCollector()
    c.on_opportunity(_opportunity("a", 1, "3", acted=True))
    c.on_opportunity(_opportunity("b", 2, "3", acted=True))
    c.on_execution(ExecutionResult("arb", Decimal("3"), Decimal("1.5"), "USDC", 10, "a", size=Decimal(2),
                                   filled=Decimal(1)))
    c.on_execution(ExecutionResult("arb", Decimal("3"), Decimal("0"), "USDC", 11, "b", size=Decimal(2),
                                   filled=Decimal("0.5")))
    f = summarize(c)
    assert f.error_quote.p50 == Decimal("0.000000") and f.error_quote.p95 == Decimal("0.750000")
    assert f.mean_error_quote == Decimal("-0.375000")
    assert f.error_bps.p95 == Decimal("150.00")  # 0.75 USDC of the 50 USDC bought (0.5 SOL at 100)


def test_the_hook_gives_the_arbitrage_section_only_when_there_was_arbitrage():
    quiet = BacktestRun(config="c", start_ns=0, end_ns=10, strategies={"btc-grid": "grid"})
    assert backtest_report_sections(run=quiet) is None

    run = BacktestRun(config="c", start_ns=0, end_ns=10, strategies={"arb": "arb"},
                      opportunities=(_opportunity("a", 1, "1.5", acted=True),
                                     _opportunity("b", 2, "0.5", reason="cooldown after the last execution")),
                      executions=(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 10, "a"),),
                      status={"arb": {"stale inputs this run": "3"}})
    [section] = backtest_report_sections(run=run)
    assert section.key == "arb" and section.title == "Arbitrage"
    assert section.data["opportunities"]["seen"] == 2 and section.data["pnl"]["captured"] == "1.2"
    assert section.summary[0] == "opportunities: 2 seen, 1 taken, 1 missed (cooldown: 1)"
    assert "capture rate 60.00%" in section.summary[1]  # 1.2 / (1.5 + 0.5)
    assert "| 2 | 1 | 1 | 2 |" in section.markdown
    assert "Decisions skipped for stale input (never an opportunity): arb 3." in section.markdown


def test_arbitrage_in_two_quote_assets_is_reported_per_quote_and_never_summed():
    def opportunity(strategy: str, symbol: str, oid: str, net: str) -> Opportunity:
        return Opportunity(strategy, symbol, "cex", "dex", Decimal(100), Decimal(101), Decimal(1), Decimal(50), 1,
                           acted=True, opportunity_id=oid, net_pnl=Decimal(net))

    run = BacktestRun(
        config="two-quotes.toml", start_ns=0, end_ns=10, strategies={"sol-arb": "arb", "eth-arb": "arb"},
        opportunities=(opportunity("sol-arb", "SOL/USDC", "a", "10"), opportunity("eth-arb", "ETH/EUR", "b", "5")),
        executions=(ExecutionResult("sol-arb", Decimal(10), Decimal(10), "USDC", 2, "a"),
                    ExecutionResult("eth-arb", Decimal(5), Decimal(-100), "EUR", 3, "b")),
    )
    [section] = backtest_report_sections(run=run)
    # 10 USDC and -100 EUR are not "-90 USDC": each quote's figures on their own, in the JSON ...
    data = section.data
    assert data["quote"] is None and list(data["quotes"]) == ["EUR", "USDC"]
    assert data["quotes"]["USDC"]["pnl"] == {"captured": "10", "predicted_of_executed": "10", "capture_rate": "1"}
    assert data["quotes"]["EUR"]["pnl"]["captured"] == "-100" and data["quotes"]["EUR"]["executions"] == 1
    assert data["quotes"]["EUR"]["prediction_error"]["abs_quote"]["mean"] == "105"  # |-100 - 5|, EUR's alone
    assert data["pnl"]["captured"] == {"EUR": "-100", "USDC": "10"}  # by quote, never a sum
    assert (data["executions"], data["opportunities"]["seen"]) == (2, 2)  # counts do add up
    # ... in the summary and in the markdown
    assert section.summary[1:] == ("captured PnL in EUR: -100.00 EUR over 1 executions; capture rate -2000.00%",
                                   "captured PnL in USDC: 10.00 USDC over 1 executions; capture rate 100.00%")
    assert "### In EUR" in section.markdown and "### In USDC" in section.markdown
    assert "**-100.00 EUR**" in section.markdown and "**10.00 USDC**" in section.markdown
    assert "-90" not in section.markdown + " ".join(section.summary)
    with pytest.raises(ValueError, match="2 quote assets"):  # the figures of one quote, asked of several
        summarize(BacktestCollector.of_run(run))
    assert summarize(BacktestCollector.of_run(run), "EUR").captured_pnl == Decimal(-100)

    class Axes:  # the host's matplotlib axes, as far as the chart layer uses them
        labels: list[str] = []

        def scatter(self, xs, ys, **kwargs):
            self.labels.append(kwargs["label"])

    backtest_chart(axes=(axes := Axes()), run=run)
    assert axes.labels == ["opportunities taken (2)"]  # both quotes' opportunities on their strategies' curves


def test_the_prediction_error_is_shown_in_money_as_arbot_report_and_the_sweep_show_it():
    """The mean |realized - predicted| is one figure on three surfaces: `arbot report`'s arbitrage table and a sweep's
    table give it to the cent (bot/units.py), so the run's report.md does too, not to six decimals."""
    from bot.units import money

    run = BacktestRun(config="c", start_ns=0, end_ns=10, strategies={"arb": "arb"},
                      opportunities=(_opportunity("a", 1, "1.5", acted=True), _opportunity("d", 5, "3", acted=True)),
                      executions=(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 10, "a"),
                                  ExecutionResult("arb", Decimal("3"), Decimal("3.1"), "USDC", 11, "d")))
    [section] = backtest_report_sections(run=run)
    mean = Decimal(section.data["prediction_error"]["abs_quote"]["mean"])  # what the sweep shows through money()
    assert f"| quote | {money(mean, 'USDC')} | 0.10 USDC | 0.30 USDC |" in section.markdown
    assert money(mean, "USDC") == "0.20 USDC"
    assert "Signed mean (realized - predicted): -0.10 USDC." in section.markdown


def test_a_corrected_result_replaces_the_first_in_the_captured_pnl():
    """A late fill changed a finished execution's realized PnL: the strategy publishes the new figure (``corrects``),
    and the captured PnL, the error and the execution count are those of the row, as `arbot report` shows it."""
    c = BacktestCollector()
    c.on_opportunity(_opportunity("a", 1, "1.5", acted=True))
    c.on_execution(ExecutionResult("arb", Decimal("1.5"), Decimal("-0.76"), "USDC", 10, "a"))
    c.on_execution(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 12, "a", corrects=True))
    f = summarize(c)
    assert (f.captured_pnl, f.executions, f.error_quote.mean) == (Decimal("1.2"), 1, Decimal("0.300000"))
    assert f.pnl_curve == [(12, Decimal("1.2"))]


def test_the_captured_pnl_is_shown_with_the_ledgers_net_of_the_same_strategies_and_the_difference():
    """Two figures, two names: the executions' own PnL (captured) and the ledger's net realized PnL of the strategies
    that made them (the report's table), side by side with what separates them, never one called the other."""
    run = BacktestRun(config="c", start_ns=0, end_ns=10, strategies={"arb": "arb", "grid": "grid"},
                      opportunities=(_opportunity("a", 1, "1.5", acted=True),),
                      executions=(ExecutionResult("arb", Decimal("1.5"), Decimal("1.2"), "USDC", 10, "a"),),
                      pnl_curves={"arb": {"USDC": [(5, Decimal("0.5")), (9, Decimal("1.19966"))]},
                                  "grid": {"USDC": [(7, Decimal(40))]}})  # another strategy's: not in this net
    [section] = backtest_report_sections(run=run)
    lines = section.markdown.splitlines()
    [captured] = [line for line in lines if line.startswith("- captured")]
    assert "**1.20 USDC**" in captured and "not the ledger's net" in captured and "realized" not in captured
    assert "- the ledger's net PnL of these strategies (the table above): 1.20 USDC; captured - net: 0.00034 USDC" \
        in lines
    assert "Captured PnL is the executions' own PnL summed" in section.markdown  # the definitions say what it is
    # a run that carries no ledger curve (hand-made) shows the captured PnL alone
    bare = BacktestRun(config="c", start_ns=0, end_ns=10, strategies={"arb": "arb"}, executions=run.executions)
    [section] = backtest_report_sections(run=bare)
    assert "the ledger's net PnL of these strategies" not in section.markdown and "**1.20 USDC**" in section.markdown
