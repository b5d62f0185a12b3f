"""The kraken plugin: Kraken spot as an exchange (real orders: live mode only).

* :mod:`.book` turns WebSocket v2 ``book``/``instrument`` frames into verified order books
  (CRC32 on every message, integer units, no float anywhere);
* :mod:`.feed` keeps the connection: subscriptions, resubscribe on a checksum mismatch,
  reconnect with backoff and jitter, silence timeout;
* :mod:`.rest` signs private REST calls (API-Sign, nonces), paces them, maps Kraken's errors;
* :mod:`.exchange` is the :class:`~bot.api.Exchange`: feed states and books on the bus, orders
  with ``cl_ord_id``, look-up by client id after a lost answer, fills by polling;
* :mod:`.record` is the exchange's ``recorder``: ``arbot record``/``arbot replay --exchange kraken``
  (raw frames in, the same book code out).
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register Kraken spot as ``kraken``."""
    register("kraken", "plugins.kraken.exchange:KrakenExchange")
