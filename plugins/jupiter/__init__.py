"""The jupiter plugin: swaps routed by Jupiter's Swap API as an exchange (live mode only).

* :mod:`.api`: ``GET /quote`` and ``POST /swap`` (base URL from config);
* :mod:`.records`: signed swaps persisted before their first send, keyed by client order id;
* :mod:`.errors`: slippage, insufficient funds, blockhash expired, rate limited, as executor errors;
* :mod:`.exchange`: the :class:`~bot.api.Exchange`: sign with the wallet (``arbotlib.solana``), send,
  rebroadcast the same bytes, confirm, sign again only after provable expiry.
"""

from collections.abc import Callable

from bot.api import Exchange, hookimpl


@hookimpl
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register Jupiter swaps as ``jupiter``."""
    register("jupiter", "plugins.jupiter.exchange:JupiterExchange")
