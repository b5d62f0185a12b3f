"""The arb plugin's part of ``arbot backtest`` (the host runs it): its report section and chart layer.

The host's backtest driver (:mod:`bot.backtest`) runs any config on steppable venues and reports
fills, PnL per strategy, risk events and final status. These hooks add what is particular to
arbitrage: opportunities seen, taken and missed by reason, capture rate and the error of predicted
against realized PnL (:mod:`.backtest_report`), and the opportunities marked on the host's chart
(:mod:`.backtest_chart`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import hookimpl

if TYPE_CHECKING:  # the report's modules load when a backtest reports, not with the plugin
    from bot.backtest.contract import BacktestRun, ReportSection


@hookimpl
def backtest_report_sections(run: BacktestRun) -> list[ReportSection] | None:
    """The "Arbitrage" section, when a strategy published opportunities or execution results."""
    from .backtest_report import report_section

    section = report_section(run)
    return [section] if section is not None else None


@hookimpl
def backtest_chart(axes: Any, run: BacktestRun) -> list[str] | None:
    """The opportunities, marked on their strategy's PnL curve (the host draws the curves)."""
    from .backtest_chart import draw
    from .backtest_report import BacktestCollector, summarize

    collector = BacktestCollector.of_run(run)
    if not collector.episodes:
        return None
    draw(axes, summarize(collector), run)
    return None
