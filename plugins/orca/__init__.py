"""The orca plugin: Orca Whirlpool pool states as an exchange (``orca``).

The Whirlpool maths, account decoding and pool model it publishes live in the shared library
:mod:`arbotlib.amm.whirlpool` (the paper DEX and strategies quote with them without this plugin).

* :mod:`.watch`: one watched pool's state and tick-array window (pure);
* :mod:`.exchange`: the :class:`~bot.api.Exchange`: loads and subscribes the accounts, publishes
  PoolUpdates and feed states. It places no orders: swaps go through the ``jupiter`` exchange.
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register Orca Whirlpool pool states as ``orca``."""
    register("orca", "plugins.orca.exchange:OrcaExchange")
