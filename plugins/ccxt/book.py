"""ccxt order books -> exact Decimal levels, and the update-id continuity ccxt does not check itself.

**Exactness.** ccxt parses every other number as the exchange's own text when ``number = str``
(orders, trades, balances, markets), but its WebSocket order book keeps floats: its sorted sides
bisect on them. A level is therefore converted through the float's shortest round-trip text
(``repr``), which is the exchange's decimal text for any number of at most 15 significant digits,
and then checked against the market's tick (prices) and lot (sizes): a level that is not an
exact multiple is refused and the book marked broken, never rounded (:class:`LevelConverter`).

**Integrity.** Where ccxt verifies a venue's checksum or sequence numbers it raises
``ChecksumError``/``InvalidNonce`` from ``watch_order_book`` and the exchange resynchronises.
Where the venue sends update ids but ccxt does not check them (Gate's ``spot.obu``: a ``full``
snapshot, then updates whose ``U`` must be the previous ``u`` + 1), a :class:`SequenceMonitor`
sees each raw message before ccxt does, drops the update after a gap and every one until the next
snapshot, and asks for that snapshot (unsubscribe + subscribe, as Gate documents). A venue with
neither is published as *unverified* (:data:`INTEGRITY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Levels = tuple[tuple[Decimal, Decimal], ...]
UnitLevels = tuple[tuple[int, int], ...]

CCXT_CHECKSUM = "checksum"
CCXT_SEQUENCE = "sequence"
ARBOT_SEQUENCE = "update ids"
UNVERIFIED = "none"

INTEGRITY: dict[str, tuple[str, str]] = {
    # id: (kind, how), read from ccxt.pro's handle_order_book of each (4.5.x)
    "gate": (ARBOT_SEQUENCE, "spot.obu U/u continuity, checked by arbot (ccxt does not)"),
    "binance": (CCXT_SEQUENCE, "depth U/u continuity, checked by ccxt (ChecksumError)"),
    "okx": (CCXT_SEQUENCE, "seqId/prevSeqId continuity, checked by ccxt (InvalidNonce)"),
    "htx": (CCXT_SEQUENCE, "seqNum/prevSeqNum continuity, checked by ccxt"),
    "cryptocom": (CCXT_SEQUENCE, "u/pu continuity, checked by ccxt (ChecksumError)"),
    "kraken": (CCXT_CHECKSUM, "CRC32 of the top 10 levels, checked by ccxt"),
    "bitget": (CCXT_CHECKSUM, "CRC32 of the top 25 levels, checked by ccxt"),
    "bitfinex": (CCXT_CHECKSUM, "CRC32 of the book, checked by ccxt"),
}


def integrity(exchange_id: str) -> tuple[str, str]:
    """(kind, how) of the book integrity an exchange gets through this plugin."""
    return INTEGRITY.get(exchange_id, (UNVERIFIED, "no checksum or update ids verified: book unverified"))


class BrokenLevel(ValueError):
    """A level that is not an exact multiple of the market's tick or lot."""


class LevelConverter:
    """Float level values from ccxt's book -> exact Decimals and integer units, checked against tick and lot.

    Prices are in units of ``10**-price_decimals`` (the tick's decimals), sizes of
    ``10**-qty_decimals`` (the lot's): what :meth:`bot.api.BookUpdate.of_units` takes. Each
    distinct float is converted once and cached (prices and sizes repeat).
    """

    __slots__ = ("tick", "lot", "price_decimals", "qty_decimals", "_prices", "_sizes")

    def __init__(self, tick: Decimal, lot: Decimal):
        self.tick = tick
        self.lot = lot
        self.price_decimals = max(0, -int(tick.as_tuple().exponent))
        self.qty_decimals = max(0, -int(lot.as_tuple().exponent))
        self._prices: dict[float, tuple[Decimal, int]] = {}
        self._sizes: dict[float, tuple[Decimal, int]] = {}

    @staticmethod
    def _convert(value: float, step: Decimal, decimals: int, cache: dict[float, tuple[Decimal, int]],
                 what: str) -> tuple[Decimal, int]:
        d = Decimal(repr(value))
        if d <= 0 or d % step:
            raise BrokenLevel(f"{what} {value!r} is not a multiple of {step}")
        d = d.quantize(step)  # exact (a multiple of step), written at the market's precision
        if len(cache) > 100_000:
            cache.clear()
        hit = cache[value] = (d, int(d.scaleb(decimals)))
        return hit

    def side(self, levels: list[Any], n: int | None) -> tuple[Levels, UnitLevels]:
        """The first ``n`` levels (all when None) of one ccxt book side, best first: Decimals, and units."""
        prices, sizes = self._prices, self._sizes
        out, units = [], []
        for level in levels[:n] if n is not None else levels:
            p, q = level[0], level[1]
            price = prices.get(p)
            if price is None:
                price = self._convert(p, self.tick, self.price_decimals, prices, "price")
            size = sizes.get(q)
            if size is None:
                size = self._convert(q, self.lot, self.qty_decimals, sizes, "size")
            out.append((price[0], size[0]))
            units.append((price[1], size[1]))
        return tuple(out), tuple(units)


GapCallback = Callable[[str, str], None]
"""(stream, reason) -> None: a stream's book broke and needs a snapshot."""


@dataclass
class SequenceMonitor:
    """Gate ``spot.obu``: a ``full`` snapshot, then each update's ``U`` = previous ``u`` + 1.

    :meth:`admit` is called with every raw message before ccxt handles it and says whether ccxt
    may see it. After a gap every update of that stream is held back until the next snapshot, so
    ccxt's book is never patched past a hole; :meth:`in_sync` tells the exchange when the book
    may be published again.
    """

    on_gap: GapCallback
    last: dict[str, int] = field(default_factory=dict)
    """stream ("ob.BTC_USDT.50") -> the last update id applied."""
    pending: set[str] = field(default_factory=set)
    """Market ids whose book broke and awaits a snapshot."""
    gaps: int = 0
    held: int = 0

    channel = "spot.obu"

    @staticmethod
    def market_id(stream: str) -> str:
        parts = stream.split(".")
        return parts[1] if len(parts) == 3 else stream

    def admit(self, message: Any) -> bool:
        if not isinstance(message, dict) or message.get("channel") != self.channel or message.get("event") != "update":
            return True
        result = message.get("result")
        if not isinstance(result, dict):
            return True
        stream, last_id, first_id = result.get("s"), result.get("u"), result.get("U")
        if not isinstance(stream, str) or not isinstance(last_id, int):
            return True  # ccxt's own handler decides what to do with a malformed message
        if result.get("full"):
            self.last[stream] = last_id
            self.pending.discard(self.market_id(stream))
            return True
        previous = self.last.get(stream)
        if previous is None:
            self.held += 1
            return False
        if first_id != previous + 1:
            self.gaps += 1
            self.held += 1
            del self.last[stream]
            self.pending.add(self.market_id(stream))
            self.on_gap(stream, f"update ids jumped from {previous} to {first_id}")
            return False
        self.last[stream] = last_id
        return True

    def in_sync(self, market_id: str) -> bool:
        """False from a gap in ``market_id``'s updates until its next snapshot."""
        return market_id not in self.pending

    def reset(self) -> None:
        """The connection dropped: every stream waits for the snapshot its resubscription brings."""
        self.last.clear()

    @staticmethod
    def resubscribe(stream: str, request_id: int, now_s: int) -> list[dict[str, Any]]:
        """Gate's documented recovery: unsubscribe, then subscribe (the answer starts with a full snapshot)."""
        return [{"id": request_id, "time": now_s, "channel": "spot.obu", "event": event, "payload": [stream]}
                for event in ("unsubscribe", "subscribe")]
