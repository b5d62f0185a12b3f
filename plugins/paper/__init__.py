"""The paper plugin: a simulated venue with simulated markets, the default exchange.

No network and no real money: seeded random-walk markets (:mod:`.market`), a matching engine with
partial fills, fees and reservations (:mod:`.engine`), and the venue's own SQLite file so a paper
account survives restarts (:mod:`.state`). :class:`PaperExchange` ties them together.
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register the simulated venue as ``paper`` and the simulated pool venue as ``paper-dex``."""
    register("paper", "plugins.paper.exchange:PaperExchange")
    register("paper-dex", "plugins.paper.dex:PaperDexExchange")
