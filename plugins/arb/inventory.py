"""What each venue can spend: balances from periodic snapshots, adjusted by our fills in between.

A snapshot (``await exchange.balances()``, every ``inventory_refresh_s``) replaces what we knew of
a venue; each fill of ours moves the venue's free balances at once (the next snapshot corrects any
drift, e.g. from deposits or from a fill that landed while the snapshot was on its way). The
strategy reads :meth:`InventoryBook.inventory` on the hot path (a plain object, no I/O) and hands
it to the pricer, which sizes an opportunity within it.

One side "cannot trade" when the venue that must pay for a direction holds less than the
configured ``min_size`` worth: the quote to buy ``min_size`` base, or ``min_size`` base to sell.
That is alerted once, and again only after the side recovered and ran low anew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.api import ZERO, Balance, Fill, Side


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One direction cannot trade ``min_size``: which venue lacks which asset, and by how much."""

    direction: str
    venue: str
    asset: str
    have: Decimal
    need: Decimal


class InventoryBook:
    """Free balances of the CEX and the DEX venue, for one base/quote pair."""

    def __init__(self, cex: str, dex: str, base: str, quote: str, fee_asset: str = "SOL"):
        self.cex, self.dex, self.base, self.quote, self.fee_asset = cex, dex, base, quote, fee_asset
        self.free: dict[str, dict[str, Decimal]] = {cex: {}, dex: {}}
        self.total: dict[str, dict[str, Decimal]] = {cex: {}, dex: {}}
        self.snapshot_ns: dict[str, int] = {cex: 0, dex: 0}
        self.fills_since: dict[str, int] = {cex: 0, dex: 0}
        self._low: dict[str, Shortfall] = {}
        """Directions currently alerted as unable to trade (reset once they can again)."""

    @property
    def known(self) -> bool:
        """True once both venues answered a snapshot."""
        return all(self.snapshot_ns.values())

    def snapshot(self, venue: str, balances: dict[str, Balance], ts_ns: int) -> None:
        """Replace what we knew of ``venue`` by its own answer."""
        self.free[venue] = {asset: b.free for asset, b in balances.items()}
        self.total[venue] = {asset: b.total for asset, b in balances.items()}
        self.snapshot_ns[venue] = ts_ns
        self.fills_since[venue] = 0

    def on_fill(self, fill: Fill) -> None:
        """Move the venue's balances by one of our fills (price x qty in quote, the fee in its asset)."""
        venue = fill.exchange
        if venue not in self.free:
            return
        sign = 1 if fill.side is Side.BUY else -1
        notional = fill.price * fill.qty
        for book in (self.free[venue], self.total[venue]):
            book[self.base] = book.get(self.base, ZERO) + sign * fill.qty
            book[self.quote] = book.get(self.quote, ZERO) - sign * notional
            if fill.fee:
                book[fill.fee_asset] = book.get(fill.fee_asset, ZERO) - fill.fee
        self.fills_since[venue] += 1

    def balance(self, venue: str, asset: str) -> Decimal:
        return self.free.get(venue, {}).get(asset, ZERO)

    def amounts(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(cex base, cex quote, dex base, dex quote), free, never below zero."""
        b, q = self.base, self.quote
        return (max(self.balance(self.cex, b), ZERO), max(self.balance(self.cex, q), ZERO),
                max(self.balance(self.dex, b), ZERO), max(self.balance(self.dex, q), ZERO))

    def shortfalls(self, min_size: Decimal, cex_ask: Decimal, dex_price: Decimal) -> list[Shortfall]:
        """The directions that cannot trade ``min_size`` with the balances we know (empty if unknown)."""
        if not self.known:
            return []
        cex_base, cex_quote, dex_base, dex_quote = self.amounts()
        out = []
        need_quote = min_size * cex_ask
        if cex_quote < need_quote:
            out.append(Shortfall("buy-cex-sell-dex", self.cex, self.quote, cex_quote, need_quote))
        elif dex_base < min_size:
            out.append(Shortfall("buy-cex-sell-dex", self.dex, self.base, dex_base, min_size))
        need_quote = min_size * dex_price
        if dex_quote < need_quote:
            out.append(Shortfall("buy-dex-sell-cex", self.dex, self.quote, dex_quote, need_quote))
        elif cex_base < min_size:
            out.append(Shortfall("buy-dex-sell-cex", self.cex, self.base, cex_base, min_size))
        return out

    def check_low(self, min_size: Decimal, cex_ask: Decimal, dex_price: Decimal,
                  alert: Callable[[Shortfall], None]) -> None:
        """Alert each direction that newly cannot trade ``min_size``; forget those that recovered."""
        now = {s.direction: s for s in self.shortfalls(min_size, cex_ask, dex_price)}
        for direction, shortfall in now.items():
            if direction not in self._low:
                alert(shortfall)
        self._low = now

    @property
    def low(self) -> list[Shortfall]:
        return list(self._low.values())

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(venue, asset, free, total) for every asset we know, the pair's assets first."""
        out = []
        order = {self.fee_asset: 2, self.quote: 1, self.base: 0}  # the base first, even when it is the fee asset
        for venue in (self.cex, self.dex):
            assets = sorted(self.free[venue], key=lambda a: (order.get(a, 3), a))
            for asset in assets:
                out.append((venue, asset, plain(self.free[venue][asset]), plain(self.total[venue].get(asset, ZERO))))
        return out


def plain(amount: Decimal) -> str:
    """An amount as text without trailing zeros or exponent: ``101.90`` -> ``101.9``."""
    return format(amount.normalize(), "f")
