"""How far back a venue lists what it keeps: its finished orders, its cancelled ones, an account's trades.

ccxt's ``features`` table gives it per list method, in days: ``daysBack`` (what the list holds at all) and
``daysBackCanceled`` (how long a cancelled order stays in it). ccxt 4.5's spot tables: MEXC's order lists
(fetchClosedOrders, fetchOrders) 7 days and its trades (fetchMyTrades) 30; OKX's finished orders 90 days, its
cancelled ones 2 hours (1/12), its trades 90 days; Bybit's 730 days, cancelled ones 1; HTX's orders 180 days,
cancelled ones 2 hours, trades 120. :data:`HISTORY_DAYS` adds what the table lacks, and corrects it where ccxt's
method reads a list that keeps less (OKX's 7 days). A request reaching further back is refused (Bitget's 43111 "param
error time range illegal") or answered without what is older, which reads as "not found": the plugin asks from where
the history begins (:func:`begins_ms`) and says what lies before it is beyond it (:func:`unkept`), never that it does
not exist.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.api.ledger import counted

HISTORY_DAYS: dict[tuple[str, str], int] = {("bitget", "fetchMyTrades"): 90, ("okx", "fetchClosedOrders"): 7}
"""How far back a venue lists what a ccxt method reads, per (ccxt id, method) where ccxt's ``features`` table gives no
``daysBack`` for it, or one for another list than the method reads: Bitget's ``GET /api/v2/spot/trade/fills`` "only
supports to get the data within 90days" (older data is downloaded from its web site) and refuses a ``startTime``
before then (43111 "param error time range illegal", which ccxt's bitget raises as PermissionDenied: ccxt issue
#21502). OKX's finished orders: ccxt's okx reads them (fetchClosedOrders, fetchCanceledOrders) from ``GET
/api/v5/trade/orders-history``, which holds "completed orders which are placed in the last 7 days" (and a cancelled
order that filled nothing 2 hours: ccxt's ``daysBackCanceled`` 1/12 stands); ccxt's 90 days are
``orders-history-archive``'s ("last 3 months", without any cancelled order that filled nothing), which it reads only
when asked to."""
HISTORY_MARGIN_MS = 60_000
"""What is asked starts this long after the venue's history begins by our clock: the venue's clock may be ahead of
ours, and a range starting a moment before its history begins is refused whole."""
FINISHED = "daysBack"
"""ccxt's ``features`` key: how far back the list holds anything."""
CANCELLED = "daysBackCanceled"
"""ccxt's ``features`` key: how long a cancelled order stays in the list."""


def kept_ms(api: Any, venue: str, method: str, key: str = FINISHED) -> int | None:
    """How long (ms, whole seconds) the venue's list ``method`` (ccxt's name: ``fetchClosedOrders``) keeps what ``key``
    says (:data:`FINISHED`, :data:`CANCELLED`): :data:`HISTORY_DAYS`, else ccxt's ``features`` table for spot;
    None: no limit known."""
    days = HISTORY_DAYS.get((venue, method)) if key == FINISHED else None
    if days is None:
        days = ((((getattr(api, "features", None) or {}).get("spot") or {}).get(method)) or {}).get(key)
    if not days:
        return None
    return round(Decimal(str(days)) * 86_400) * 1000  # (OKX's 1/12 day is a float: 2 hours to the second)


def begins_ms(api: Any, venue: str, method: str, now_ms: int, key: str = FINISHED) -> int | None:
    """The earliest start (ms, our clock) of a request the list ``method`` takes now and answers whole: what it keeps
    (:func:`kept_ms`) ago, plus :data:`HISTORY_MARGIN_MS`; None: no limit known."""
    kept = kept_ms(api, venue, method, key)
    return None if kept is None else now_ms - kept + HISTORY_MARGIN_MS


def kept_text(ms: int) -> str:
    """A history's length in words: ``7 days``, ``2 hours``, ``90 minutes``."""
    seconds = ms // 1000
    for unit, noun in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds % unit == 0:
            return counted(seconds // unit, noun)
    return counted(seconds, "second")


def unkept(api: Any, venue: str, method: str, since_ms: int, now_ms: int) -> str | None:
    """What the venue's order list ``method``, read whole from its history's start on, may lack of the orders made
    from ``since_ms`` on, in words ("finished orders for 7 days"); None: it holds them all."""
    for key, what in ((FINISHED, "finished orders"), (CANCELLED, "cancelled orders")):
        begins = begins_ms(api, venue, method, now_ms, key)
        kept = kept_ms(api, venue, method, key)
        if begins is not None and kept is not None and since_ms < begins:
            return f"{what} for {kept_text(kept)}"
    return None
