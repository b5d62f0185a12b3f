"""The ``arb`` plugin: CEX/DEX arbitrage (strategy ``arb``) and its ``/inventory`` and ``/arb`` commands."""

from bot import hookimpl

from .backtest import register_cli  # noqa: F401  (arbot backtest: a hookimpl)
from .commands import ARB, INVENTORY
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
