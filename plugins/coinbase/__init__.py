"""The coinbase plugin: Coinbase Advanced Trade spot as an exchange (real orders: live mode only).

* :mod:`.book` turns WebSocket ``level2`` (``l2_data``), ``heartbeats`` and ``ticker`` messages into
  order books, watching ``sequence_num`` for gaps (integer units, no float anywhere);
* :mod:`.feed` keeps the connection: subscriptions, resubscribe on a gap, reconnect with backoff
  and jitter, silence timeout;
* :mod:`.rest` signs REST calls with CDP API-key JWTs (ES256), paces them, maps Coinbase's errors;
* :mod:`.exchange` is the :class:`~bot.api.Exchange`: feed states and books on the bus, orders with
  ``client_order_id``, look-up by client id after a lost answer, fills by polling;
* :mod:`.record` is its ``recorder``: ``arbot record``/``arbot replay --exchange coinbase``.
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register Coinbase Advanced Trade spot as ``coinbase``."""
    register("coinbase", "plugins.coinbase.exchange:CoinbaseExchange")
