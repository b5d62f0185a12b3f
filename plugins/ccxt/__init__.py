"""The ccxt plugin: the long tail of exchanges through ccxt (and its ``ccxt.pro`` WebSocket module).

``[exchanges.NAME] type = "ccxt"`` with ``id = "gate"`` (``"mexc"``, ``"gemini"``, ``"binance"``, ...).
ccxt is an optional extra (``pip install 'arbot[ccxt]'``): nothing here imports it until such an
exchange is configured.

* :mod:`.settings` is the config table (the ``validate`` step imports ccxt, checks the id and
  refuses an exchange without the features the table ``require``\\s);
* :mod:`.features` reads what an exchange supports from ccxt's ``has``/``features`` (the feature
  table in ``docs/venues.md``: ``python -m plugins.ccxt.features``);
* :mod:`.book` turns ccxt's order books into exact Decimal levels and verifies update-id
  continuity where ccxt does not (Gate's ``spot.obu``);
* :mod:`.orders` maps our orders, client ids, fills and ccxt's errors;
* :mod:`.exchange` is the :class:`~bot.api.Exchange`.
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register ``ccxt`` (any exchange ccxt supports, chosen by ``id``)."""
    register("ccxt", "plugins.ccxt.exchange:CcxtExchange")
