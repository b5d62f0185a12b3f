"""Backtesting contracts, public like :mod:`bot.api`: what a venue offers to be stepped on
simulated time (:class:`Steppable`, :class:`BacktestPlan`), and what a plugin adds to the report
(:class:`BacktestRun`, :class:`ReportSection`, the ``backtest_report_sections`` and
``backtest_chart`` hooks). :func:`exact` writes a figure as ``report.json`` does (display rounding
is :mod:`bot.api.ledger`'s ``money``).
Imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ..backtest.contract import DEFAULT_STEPS, BacktestPlan, BacktestRun, Curve, ReportSection, Steppable
    from ..backtest.report import exact

_CONTRACT = ("DEFAULT_STEPS", "BacktestPlan", "BacktestRun", "Curve", "ReportSection", "Steppable")
_WHERE = {**dict.fromkeys(_CONTRACT, "bot.backtest.contract"), "exact": "bot.backtest.report"}
__all__ = ["DEFAULT_STEPS", "BacktestPlan", "BacktestRun", "Curve", "ReportSection", "Steppable", "exact"]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
