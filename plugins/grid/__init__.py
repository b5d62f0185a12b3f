"""The ``grid`` strategy: buy a step down, sell a step up, between two prices on one market."""

from bot import hookimpl

from .settings import GridSettings
from .strategy import GridStrategy

__all__ = ["GridSettings", "GridStrategy"]


@hookimpl
def register_strategies(register):
    """Register the grid strategy class under the name ``grid``."""
    register("grid", GridStrategy)
