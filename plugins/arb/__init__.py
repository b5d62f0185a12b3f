"""The ``arb`` plugin: CEX/DEX arbitrage (strategy ``arb``) and its ``/inventory`` and ``/arb`` commands."""

from bot import hookimpl
from bot.api import Reply

from .backtest import backtest_chart, backtest_report_sections  # noqa: F401  (arbot backtest's report: hookimpls)
from .commands import ARB, INVENTORY
from .records import summary
from .settings import ArbSettings
from .strategy import ArbStrategy

__all__ = ["ArbSettings", "ArbStrategy"]


@hookimpl
def register_strategies(register):
    """Register the arbitrage strategy class under the name ``arb``."""
    register("arb", ArbStrategy)


@hookimpl
def register_commands(register):
    """``/inventory`` (balances per venue) and ``/arb`` (latest executions)."""
    register(INVENTORY)
    register(ARB)


@hookimpl
def report_sections(store):
    """``arbot report``: opportunities and executions per arb strategy, predicted vs realized PnL."""
    rows = summary(store)
    if len(rows) == 1:
        return None
    return [Reply("Arbitrage", rows=rows, header=True,
                  text="PnL in each strategy's quote currency, over finished executions; /arb lists the latest.")]
