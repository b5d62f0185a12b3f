"""The arb plugin's part of ``arbot backtest`` (the host runs it): its report section and chart layer.

The host's backtest driver (:mod:`bot.backtest`) runs any config on steppable venues and reports
fills, PnL per strategy, risk events and final status. These hooks add what is particular to
arbitrage: opportunities seen, taken and missed by reason, capture rate and the error of predicted
against realized PnL (:mod:`.backtest_report`), and the captured-PnL curve with the opportunities
marked on the host's chart (:mod:`.backtest_chart`).
"""

from __future__ import annotations

from typing import Any

from bot.backtest.contract import BacktestRun, ReportSection

from .backtest_report import BacktestCollector, report_section, summarize


def report_sections(run: BacktestRun) -> list[ReportSection] | None:
    """The "Arbitrage" section, when a strategy published opportunities or execution results."""
    section = report_section(run)
    return [section] if section is not None else None


def chart(axes: Any, run: BacktestRun) -> list[str] | None:
    """Captured PnL (the executions' realized PnL) with the opportunities marked, instead of the host's
    per-market realized curve: an arbitrage's legs are on two venues, so only its executions say what it made."""
    collector = BacktestCollector.of_run(run)
    if not collector.episodes and not collector.results:
        return None
    from .backtest_chart import draw

    names = sorted({e.strategy for e in collector.episodes.values()} | {r.strategy for r in collector.results})
    draw(axes, summarize(collector), run, ", ".join(names))
    return names
