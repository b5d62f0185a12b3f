"""Backtesting in the host: ``arbot backtest`` runs a config's strategies on simulated time.

* :mod:`.contract`: what a venue offers to be stepped (:class:`~.contract.Steppable`,
  :class:`~.contract.BacktestPlan`) and what report hooks receive (:class:`~.contract.BacktestRun`,
  :class:`~.contract.ReportSection`). Public: plugins build on it.
* :mod:`.clock`: the manual clock and the event loop that runs on it.
* :mod:`.driver`: the config turned into a backtest config, the bot started, the venues stepped.
* :mod:`.report` and :mod:`.chart`: the generic report (fills, PnL per strategy, risk events,
  final status) with the plugins' sections, and the PnL chart (matplotlib, imported when drawn).
* :mod:`.command`: the ``arbot backtest`` subcommand (imports the rest only when it runs).

Importing this package imports nothing but itself: ``arbot --help`` stays light.
"""
