"""What each venue can spend: balances from periodic snapshots, adjusted by fills in between, shared out.

A snapshot (``await exchange.balances()``, every ``inventory_refresh_s``) replaces what we knew of
a venue; each fill on it moves the venue's free balances at once. An answer during which a fill of its account was
applied (after :attr:`SharedBalances.fills_applied` was read for its request) is set aside, and what we knew (the
last snapshot moved by every fill since) is kept until the next one: whether the venue had counted that fill when
it answered cannot be told, so taking the answer could undo the fill and adding the fill to it could count it twice.
The next snapshot corrects any other drift (deposits, withdrawals). The
strategy reads :meth:`InventoryBook.inventory` on the hot path (a plain object, no I/O) and hands
it to the pricer, which sizes an opportunity within it.

**Several pairs on one account and one wallet** (SOL/USDC, JUP/USDC and BONK/USDC against the same
CEX and DEX venues): the arb strategies of one bot share one :class:`SharedBalances`, so a fill of
any of them (any fill on those venues, in fact: ``FillApplied`` on the bus) moves the balances every
one of them reads, once. And each asset of a venue is split between the strategies that count on it
(as base, quote, or the DEX's network-fee asset) in proportion to their ``inventory_weight``: two
strategies of weight 1 sharing the CEX's USDC may each spend half of it, so together they never
plan to spend more than there is. An asset only one strategy uses is all its own.

The split is of what the account holds *now* (its free balance as last known), not a fixed allocation per
strategy: when one pair spends, every sharer's share falls with the balance, at once and for good (a snapshot
does not give it back). With 1000 USDC split 1:1, a SOL/USDC execution that spends 150.15 USDC leaves each of
SOL/USDC and JUP/USDC 424.925, not 349.85 and 500. Weights divide what there is; they do not reserve money for a
pair.

**Accounts, not venue names.** Balances are kept per *account* (:attr:`bot.api.Exchange.account`): three pools
that swap from one wallet (a ``paper-dex`` with ``wallet = "sol-pool"``, or jupiter venues signing with one key)
are three venues but one account, so the wallet's USDC is counted once and split between the three pairs, a
snapshot of any of them replaces what all of them see, and a fill on one pool moves the others' view too.

One side "cannot trade" when the pricer's inventory cap rules out its smallest size
(:meth:`plugins.arb.pricing.Pricer.shortfall`: the same check, so the alert and the cap never disagree): a CEX
buy's limit x size with the fee, a DEX buy's quote, the size to sell, the SOL fees. That is alerted once, and
again only after the side recovered and ran low anew.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from bot.api import ZERO, Balance, Fill, FillApplied, Side, split_symbol

from .pricing import Shortfall

APPLIED_MEMORY = 100_000
"""Fills remembered as applied (a fill arrives from the strategy and from the bus: counted once)."""
ONE = Decimal(1)
_NONE: dict[str, Decimal] = {}


class SharedBalances:
    """Free and total balances per account, shared by the arb strategies of one bot, and who counts on what."""

    def __init__(self) -> None:
        self.free: dict[str, dict[str, Decimal]] = {}
        """account -> asset -> free balance (likewise :attr:`total`, :attr:`snapshot_ns`, :attr:`fills_since`)."""
        self.total: dict[str, dict[str, Decimal]] = {}
        self.snapshot_ns: dict[str, int] = {}
        self.fills_since: dict[str, int] = {}
        self.accounts: dict[str, str] = {}
        """venue -> the account its balances belong to (:meth:`bind`; a venue not bound is nobody's concern)."""
        self.weights: dict[tuple[str, str], dict[str, Decimal]] = {}
        """(account, asset) -> strategy -> its inventory_weight."""
        self.joins = 0
        """Grows with every :meth:`join` (the only change of :attr:`weights`): a reader's cached shares are stale
        when it differs."""
        self.version = 0
        """Grows with every change: a reader's cached view is stale when it differs."""
        self.fills_applied = 0
        """How many fills were applied, on any account: read when a snapshot is requested, it tells which fills came
        after the request (:meth:`snapshot`'s ``since``)."""
        self._applied: set[tuple[str, str]] = set()
        self._order: deque[tuple[str, str]] = deque()
        self._last_fill: dict[str, int] = {}
        """account -> the number (in :attr:`fills_applied`) of the last fill applied to it."""

    def bind(self, venue: str, account: str) -> None:
        """``venue``'s balances are ``account``'s (its :attr:`bot.api.Exchange.account`; the venue's name for one
        of its own). Raises ValueError when the venue was bound to another account already."""
        known = self.accounts.setdefault(venue, account)
        if known != account:
            raise ValueError(f'venue "{venue}" trades from account "{known}", not "{account}"')

    def account(self, venue: str) -> str:
        """The account ``venue``'s balances belong to (the venue's own name when not bound)."""
        return self.accounts.get(venue, venue)

    def join(self, strategy: str, weight: Decimal, uses: Iterable[tuple[str, str]]) -> None:
        """``strategy`` counts on these (account, asset) balances, with ``weight`` against the others that do."""
        for account, asset in uses:
            self.free.setdefault(account, {})
            self.total.setdefault(account, {})
            self.snapshot_ns.setdefault(account, 0)
            self.fills_since.setdefault(account, 0)
            self.weights.setdefault((account, asset), {})[strategy] = weight
        self.joins += 1
        self.version += 1

    def share(self, strategy: str, account: str, asset: str) -> Decimal:
        """The fraction of ``account``'s ``asset`` that ``strategy`` may spend (1 when nobody else counts on it)."""
        weights = self.weights.get((account, asset))
        if not weights or strategy not in weights or len(weights) == 1:
            return Decimal(1)
        return weights[strategy] / sum(weights.values())

    def snapshot(self, venue: str, balances: dict[str, Balance], ts_ns: int, since: int | None = None) -> bool:
        """Replace what we knew of ``venue``'s account by the venue's own answer to a request made when
        :attr:`fills_applied` was ``since`` (None: the answer is as of now). False, and nothing replaced, when a fill
        of that account was applied after ``since``: the answer may or may not count it (see the module doc)."""
        account = self.account(venue)
        if since is not None and self._last_fill.get(account, -1) > since and account in self.free:
            return False
        self.free[account] = {asset: b.free for asset, b in balances.items()}
        self.total[account] = {asset: b.total for asset, b in balances.items()}
        self.snapshot_ns[account] = ts_ns
        self.fills_since[account] = 0
        self.version += 1
        return True

    def apply_fill(self, fill: Fill) -> bool:
        """Move the balances of the fill's venue's account by it (price x qty in quote, the fee in its asset), once
        per (exchange, trade id); False for a fill already applied or on a venue nobody counts on."""
        venue = fill.exchange
        account = self.accounts.get(venue)
        if account is None or account not in self.free:
            return False
        key = (venue, fill.trade_id)
        if key in self._applied:
            return False
        self._applied.add(key)
        self._order.append(key)
        if len(self._order) > APPLIED_MEMORY:
            self._applied.discard(self._order.popleft())
        _move(self.free[account], self.total[account], fill)
        self.fills_applied += 1
        self._last_fill[account] = self.fills_applied
        self.fills_since[account] += 1
        self.version += 1
        return True

    def on_fill_applied(self, event: FillApplied) -> None:
        """Bus subscriber: every fill the executor applied, whichever strategy it was for."""
        self.apply_fill(event.fill)


def _move(free: dict[str, Decimal], total: dict[str, Decimal], fill: Fill) -> None:
    """Move an account's free and total balances by a fill: price x qty in quote, the fee in its asset."""
    base, quote = split_symbol(fill.symbol)
    qty, notional, fee = fill.qty, fill.price * fill.qty, fill.fee
    if fill.side is not Side.BUY:  # a sell: base out, quote in (negated once, not for each book)
        qty, notional = -qty, -notional
    for book in (free, total):
        book[base] = book.get(base, ZERO) + qty
        book[quote] = book.get(quote, ZERO) - notional
        if fee:
            book[fill.fee_asset] = book.get(fill.fee_asset, ZERO) - fee


_SHARED: weakref.WeakKeyDictionary[Any, SharedBalances] = weakref.WeakKeyDictionary()


def shared_balances(bus: Any) -> SharedBalances:
    """The balances shared by the arb strategies on ``bus`` (one bot), subscribed to its fills once."""
    shared = _SHARED.get(bus)
    if shared is None:
        shared = _SHARED[bus] = SharedBalances()
        bus.subscribe(FillApplied, shared.on_fill_applied, owner="arb inventory")
    return shared


class InventoryBook:
    """One strategy's view of the CEX and DEX balances of its base/quote pair: its share of each.

    ``cex_account``/``dex_account``: the accounts the venues trade from (:attr:`bot.api.Exchange.account`; by
    default the venue's own name)."""

    def __init__(self, cex: str, dex: str, base: str, quote: str, fee_asset: str = "SOL", *,
                 shared: SharedBalances | None = None, strategy: str = "", weight: Decimal = Decimal(1),
                 cex_account: str | None = None, dex_account: str | None = None):
        self.cex, self.dex, self.base, self.quote, self.fee_asset = cex, dex, base, quote, fee_asset
        self.cex_account, self.dex_account = cex_account or cex, dex_account or dex
        self.strategy = strategy
        self.shared = shared if shared is not None else SharedBalances()
        self.shared.bind(cex, self.cex_account)
        self.shared.bind(dex, self.dex_account)
        ca, da = self.cex_account, self.dex_account
        self.shared.join(strategy, weight, [(ca, base), (ca, quote), (da, base), (da, quote), (da, fee_asset)])
        self._low: dict[str, Shortfall] = {}
        """Directions currently alerted as unable to trade (reset once they can again)."""
        self._amounts: tuple[int, tuple[Decimal, Decimal, Decimal, Decimal]] = (-1, (ZERO, ZERO, ZERO, ZERO))
        """(the shared balances' version, :meth:`amounts` at it): made again only after a change."""
        self._shares: tuple[int, tuple[Decimal, Decimal, Decimal, Decimal]] = (-1, (ONE, ONE, ONE, ONE))
        """(the shared balances' joins, this strategy's share of each of :meth:`amounts`' balances): the weights
        change only when a strategy joins, the balances at every fill."""

    @property
    def free(self) -> dict[str, dict[str, Decimal]]:
        """The free balances by venue (the CEX's and the DEX's: those of the accounts they trade from)."""
        free = self.shared.free
        return {self.cex: free.get(self.cex_account, {}), self.dex: free.get(self.dex_account, {})}

    @property
    def total(self) -> dict[str, dict[str, Decimal]]:
        total = self.shared.total
        return {self.cex: total.get(self.cex_account, {}), self.dex: total.get(self.dex_account, {})}

    @property
    def snapshot_ns(self) -> dict[str, int]:
        got = self.shared.snapshot_ns
        return {self.cex: got.get(self.cex_account, 0), self.dex: got.get(self.dex_account, 0)}

    @property
    def fills_since(self) -> dict[str, int]:
        got = self.shared.fills_since
        return {self.cex: got.get(self.cex_account, 0), self.dex: got.get(self.dex_account, 0)}

    @property
    def version(self) -> int:
        return self.shared.version

    @property
    def known(self) -> bool:
        """True once both venues answered a snapshot."""
        snapshot_ns = self.shared.snapshot_ns
        return bool(snapshot_ns.get(self.cex_account) and snapshot_ns.get(self.dex_account))

    @property
    def fills_applied(self) -> int:
        """The shared balances' count of fills applied: read it when requesting a snapshot, pass it as ``since``."""
        return self.shared.fills_applied

    def snapshot(self, venue: str, balances: dict[str, Balance], ts_ns: int, since: int | None = None) -> bool:
        """Replace what we knew of ``venue`` by its own answer to a request made at ``since`` (:attr:`fills_applied`
        then); False when a fill of its account came meanwhile and the answer was set aside
        (:meth:`SharedBalances.snapshot`)."""
        return self.shared.snapshot(venue, balances, ts_ns, since)

    def on_fill(self, fill: Fill) -> None:
        """Move the venue's balances by one of our fills at once (applied once, also when the bus brings it)."""
        self.shared.apply_fill(fill)

    def balance(self, venue: str, asset: str) -> Decimal:
        """The whole free balance of ``asset`` of the account ``venue`` trades from (every strategy's)."""
        return self.shared.free.get(self.shared.account(venue), _NONE).get(asset, ZERO)

    def available(self, venue: str, asset: str) -> Decimal:
        """What this strategy may spend of it: its share of the free balance, never below zero."""
        share = self.shared.share(self.strategy, self.shared.account(venue), asset)
        return _spendable(self.balance(venue, asset), share)

    def amounts(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(cex base, cex quote, dex base, dex quote) this strategy may spend, free, never below zero (made once per
        change of the shared balances)."""
        version, amounts = self._amounts
        shared = self.shared
        if version != shared.version:
            joins, shares = self._shares
            b, q, cex, dex = self.base, self.quote, self.cex_account, self.dex_account
            if joins != shared.joins:
                share = shared.share
                shares = (share(self.strategy, cex, b), share(self.strategy, cex, q),
                          share(self.strategy, dex, b), share(self.strategy, dex, q))
                self._shares = (shared.joins, shares)
            free = shared.free
            cex_free, dex_free = free.get(cex, _NONE), free.get(dex, _NONE)
            amounts = (_spendable(cex_free.get(b, ZERO), shares[0]), _spendable(cex_free.get(q, ZERO), shares[1]),
                       _spendable(dex_free.get(b, ZERO), shares[2]), _spendable(dex_free.get(q, ZERO), shares[3]))
            self._amounts = (shared.version, amounts)
        return amounts

    def check_low(self, shortfalls: list[Shortfall], alert: Callable[[Shortfall], None]) -> None:
        """Alert each direction of ``shortfalls`` (the pricer's: :meth:`Pricer.shortfall`, the figure its inventory
        cap uses) that newly cannot trade; forget those that recovered. Nothing while the balances are unknown."""
        if not self.known:
            shortfalls = []
        if not shortfalls and not self._low:  # both directions can trade, as they could: nothing to do
            return
        now = {s.direction: s for s in shortfalls}
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
        free, total = self.free, self.total
        for venue in (self.cex, self.dex):
            assets = sorted(free[venue], key=lambda a: (order.get(a, 3), a))
            for asset in assets:
                out.append((venue, asset, plain(free[venue][asset]), plain(total[venue].get(asset, ZERO))))
        return out


def _spendable(free: Decimal, share: Decimal) -> Decimal:
    """A strategy's ``share`` of a ``free`` balance, never below zero (:meth:`InventoryBook.available`)."""
    free = max(free, ZERO)
    return free if share == 1 else free * share


def plain(amount: Decimal) -> str:
    """An amount as text without trailing zeros or exponent: ``101.90`` -> ``101.9``."""
    return format(amount.normalize(), "f")
