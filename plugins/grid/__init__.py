"""The ``grid`` strategy: buy a step down, sell a step up, between two prices on one market."""

from bot.api import hookimpl


@hookimpl
def register_strategies(register):
    """Register the grid strategy class under the name ``grid``."""
    register("grid", "plugins.grid.strategy:GridStrategy")
