"""Storage for a plugin's own tables, public like :mod:`bot.api`.

A plugin that keeps records (an arbitrage execution log, a grid's levels) declares SQLModel tables
in its own module, using :func:`money` for exact decimal columns, and reads and writes them through
the :class:`Store` its components get as ``ctx.store`` (and commands as ``operator.store``):
``with store.session() as s: ...``. Tables are created when the store opens, for every table
class imported by then. The host's own tables (orders, fills, ...) are not part of the API: read
them through :class:`~bot.api.Context` (``stored_orders``, ``stored_fills``, ``stored_position``)
or the :class:`~bot.api.Operator`.
"""

from ..store import Store, money

__all__ = ["Store", "money"]
