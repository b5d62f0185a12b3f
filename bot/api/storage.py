"""Storage for a plugin's own tables, public like :mod:`bot.api`.

A plugin that keeps records (an arbitrage execution log, a grid's levels) declares SQLModel tables
in its own module, using :func:`money` for exact decimal columns and :class:`Units` for integer
token amounts, and reads and writes them through the :class:`Store` its components get as
``ctx.store`` (and commands as ``operator.store``): ``with store.session() as s: ...``; rows that
must be on disk before something leaves go through ``store.record`` / ``store.record_update``, a
log written from the event loop through ``store.record_many(table, rows, wait=False)``
(:class:`StoreBusy`: nothing written, try again later; :func:`is_store_error` tells any other failure of the
store itself, the disk full or the database gone, from a bad row). A store used after the bot closed it (its
stop) raises :class:`StoreClosed` and opens no connection (:func:`is_store_closed`: neither an outage to retry nor a
bad row; drop the work, saying so once). A read made off the loop from a command or a server
(``await store.read_off_loop(fn, ...)``) runs on the store's own few threads; one that cannot get a thread (the
database not answering) raises :class:`ReadRefused` instead of waiting without bound. Text from outside (a venue's or
a node's error) goes in through :func:`free_text`: known secrets masked, a NUL character, which PostgreSQL's text
refuses, replaced. Tables
are created when the store opens, for every table class imported by then: a hook that may run on a
store where none of the plugin's components ran (``report_sections``, ``executions``) checks
``store.has_table(MyRow)`` first. The host's own tables
(orders, fills, ...) are not part of the API: read them through :class:`~bot.api.Context`
(``stored_orders``, ``stored_fills``, ``stored_position``) or the :class:`~bot.api.Operator`.

:func:`lease` gives one process at a time a name among the processes that share the store (a
PostgreSQL advisory lock, a file lock next to a SQLite database): what must have one holder in a
fleet (one poller per chat bot token) takes ``lease(ctx.store, "telegram " + token_hash)``, calls
``acquire()``/``held()``/``release()`` from a worker thread, and stands by while another holds it.

Imported when first used (the store loads SQLAlchemy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ..store import ReadRefused, Store, StoreBusy, StoreClosed, Units, free_text, money
    from ..store.lease import Lease, LeaseUnavailable, lease
    from ..writer import is_store_closed, is_store_error

_WHERE = {"ReadRefused": "bot.store", "Store": "bot.store", "StoreBusy": "bot.store", "StoreClosed": "bot.store",
          "Units": "bot.store",
          "money": "bot.store",
          "free_text": "bot.store",
          "Lease": "bot.store.lease", "LeaseUnavailable": "bot.store.lease", "lease": "bot.store.lease",
          "is_store_closed": "bot.writer", "is_store_error": "bot.writer"}
__all__ = [
    "Lease", "LeaseUnavailable", "ReadRefused", "Store", "StoreBusy", "StoreClosed", "Units", "free_text",
    "is_store_closed", "is_store_error", "lease", "money",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
