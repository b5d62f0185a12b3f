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
* :mod:`.exchange` is the :class:`~bot.api.Exchange`;
* ``arbot ccxt-features [ID ...]`` prints the feature table (:func:`register_cli`).
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register ``ccxt`` (any exchange ccxt supports, chosen by ``id``)."""
    register("ccxt", "plugins.ccxt.exchange:CcxtExchange")


def _features(args) -> int:
    from .features import POPULAR, load_ccxt, table

    try:
        load_ccxt()
    except ImportError as exc:
        print(exc)
        return 2
    print(table(tuple(args.ids) or POPULAR), end="")
    return 0


@hookimpl
def register_cli(register) -> None:
    """``arbot ccxt-features [ID ...]``: what each exchange supports through this plugin (ccxt loaded only then)."""
    parser = register("ccxt-features", _features, help="what exchanges support through the ccxt plugin (a table)")
    parser.add_argument("ids", nargs="*", help="ccxt exchange ids (default: the popular ones)")
