"""The arb plugin's part of ``arbot backtest`` (the host runs it): its report section and chart layer.

The host's backtest driver (:mod:`bot.backtest`) runs any config on steppable venues and reports
fills, PnL per strategy (the ledger's), risk events and final status. The plugin's hooks (in its
``__init__``, importing this module when a backtest reports) add what is particular to arbitrage:
opportunities seen, taken and missed by reason, capture rate and the error of predicted against
realized PnL (:mod:`.backtest_report`), and the opportunities marked on the host's chart
(:mod:`.backtest_chart`).
"""

from __future__ import annotations

from typing import Any

from bot.api.backtest import BacktestRun, ReportSection

from .backtest_chart import draw
from .backtest_report import BacktestCollector, report_section, summarize_by_quote


def report_sections(run: BacktestRun) -> list[ReportSection] | None:
    """The "Arbitrage" section, when a strategy published opportunities or execution results."""
    section = report_section(run)
    return [section] if section is not None else None


def chart(axes: Any, run: BacktestRun) -> list[str] | None:
    """The opportunities, marked on their strategy's PnL curve (the host draws the curves): no curve of ours."""
    collector = BacktestCollector.of_run(run)
    if collector.episodes:
        draw(axes, [m for f in summarize_by_quote(collector).values() for m in f.markers], run)
    return None
