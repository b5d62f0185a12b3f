"""What moving funds cost, as the ``limits`` loss limits count it: the day's for ``max_daily_loss``, every
transfer's for ``max_drawdown``'s equity (the rule of docs/architecture.md, "Accounting")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from bot.api import ZERO
from bot.api.ledger import Ledger, money
from bot.api.storage import Store

ONE = Decimal(1)

DAILY = "max_daily_loss"
"""The limit that counts the day's transfer costs (those created since the limits' day began)."""
DRAWDOWN = "max_drawdown"
"""The limit whose equity counts every transfer's costs (since the store began, as its realized total)."""

Plan = tuple[Decimal | None, tuple[tuple[str, Decimal, str], ...]]
"""(the cost in the quote itself, None for none; each cost to convert, as (asset, cost, ASSET/QUOTE))."""


class CostsRead(NamedTuple):
    """The transfer costs per asset as read from the store at once (:func:`read_costs`)."""

    today: dict[str, Decimal]
    all_time: dict[str, Decimal]


def read_costs(store: Store, day_start_ns: int, daily: bool, drawdown: bool) -> CostsRead:
    """Read the costs the limits count: the day's (from ``day_start_ns``) with ``daily``, every transfer's with
    ``drawdown`` (``Ledger.transfer_costs``). A store call: on PostgreSQL the check runs it on the store writer's
    thread (``ctx.read_later``), never on the loop."""
    ledger = Ledger(store)
    return CostsRead(ledger.transfer_costs(since_ns=day_start_ns) if daily else {},
                     ledger.transfer_costs() if drawdown else {})


class TransferCosts:
    """The bot's transfer costs per asset, as read from the store, and the loss each limit counts of them in a quote.

    A cost in an asset the limit is watched in (``watched(key)``: its quote assets) counts in that asset only; any
    other (a wallet's SOL network fee) in every quote, at ``mid(ASSET/QUOTE)`` (the portfolio's), or is named as
    not counted when no venue prices it. How each (limit, quote) counts them is kept until the costs or the limit's
    quotes change (:meth:`forget_plans`): a tick that asks the drawdown's equity only prices what converts."""

    def __init__(self, watched: Callable[[str], list[str]], mid: Callable[[str], Decimal | None]) -> None:
        self.today: dict[str, Decimal] = {}
        """The day's costs per asset (``Ledger.transfer_costs`` of the transfers created since the limits' day began,
        as ``/pnl day``): in the daily loss, in no strategy's."""
        self.all_time: dict[str, Decimal] = {}
        """Every transfer's costs per asset: in the drawdown's equity."""
        self.reads = False
        """Whether they are read from the store (from the check's start on, with either limit set)."""
        self._watched = watched
        self._mid = mid
        self._plans: dict[tuple[str, str], Plan] = {}
        self._priced_at: dict[str, tuple[tuple[str, str], ...]] | None = None
        """ASSET/QUOTE -> the (limit, quote) whose counted costs convert at its price (:meth:`converted_at`), found
        again when the plans are forgotten."""

    def converted_at(self, symbol: str) -> tuple[tuple[str, str], ...]:
        """The (limit, quote) pairs whose counted costs convert at ``symbol``'s price (a SOL cost at SOL/USD): a move
        of that price alone changes their loss, so re-checks them."""
        priced_at = self._priced_at
        if priced_at is None:
            found: dict[str, list[tuple[str, str]]] = {}
            for key in (DAILY, DRAWDOWN):
                if self.of(key):
                    for quote in self._watched(key):
                        for _, _, at in self._plan(key, quote)[1]:
                            found.setdefault(at, []).append((key, quote))
            priced_at = self._priced_at = {at: tuple(pairs) for at, pairs in found.items()}
        return priced_at.get(symbol, ())

    def of(self, key: str) -> dict[str, Decimal]:
        """The costs ``key`` counts: the day's for :data:`DAILY`, every transfer's for :data:`DRAWDOWN`."""
        return self.today if key == DAILY else self.all_time

    def update(self, today: dict[str, Decimal], all_time: dict[str, Decimal]) -> bool:
        """Take the costs read; True when they changed."""
        if today == self.today and all_time == self.all_time:
            return False
        self.today, self.all_time = today, all_time
        self._plans.clear()
        self._priced_at = None
        return True

    def new_day(self) -> None:
        """The limits' day rolled: none of the new day's is known until they are read again."""
        self.today = {}
        self._plans.clear()
        self._priced_at = None

    def forget_plans(self) -> None:
        """A quote asset was first traded: the limits' quotes, so what converts, may have changed."""
        self._plans.clear()
        self._priced_at = None

    def _plan(self, key: str, quote: str) -> Plan:
        plan = self._plans.get((key, quote))
        if plan is None:
            costs = self.of(key)
            watched = set(self._watched(key)) if costs else set()
            plan = self._plans[(key, quote)] = (costs.get(quote), tuple(
                (asset, cost, f"{asset}/{quote}") for asset, cost in costs.items()
                if asset != quote and asset not in watched))
        return plan

    def loss(self, key: str, quote: str) -> Decimal:
        """What ``key`` counts of its costs as a loss in ``quote``, in the caller's exact context (composes no text:
        the drawdown's hot path asks it)."""
        own, converted = self._plan(key, quote)
        loss = ZERO if own is None else own
        for _, cost, symbol in converted:
            if (mid := self._mid(symbol)) is not None:
                loss += cost * mid
        return loss

    def priced(self, key: str, quote: str) -> list[tuple[str, Decimal, Decimal | None]]:
        """Each cost ``key`` counts in ``quote`` as (asset, cost, its price in ``quote``: 1 for ``quote`` itself,
        the portfolio's mid for another asset, None when no venue prices it), in the assets' order."""
        own, converted = self._plan(key, quote)
        priced: list[tuple[str, Decimal, Decimal | None]] = [(quote, own, ONE)] if own is not None else []
        priced += [(asset, cost, self._mid(symbol)) for asset, cost, symbol in converted]
        return sorted(priced, key=lambda item: item[0])

    def words(self, key: str, quote: str) -> tuple[Decimal, list[str], list[str]]:
        """(the loss, what was counted, what could not be priced), the last two as text for ``/risk``, in the
        caller's exact context."""
        loss = ZERO
        counted: list[str] = []
        unpriced: list[str] = []
        for asset, cost, mid in self.priced(key, quote):
            if mid is None:
                unpriced.append(f"{money(cost, asset)} not counted (no {asset}/{quote} price)")
            elif asset == quote:
                loss += cost
                counted.append(money(cost, asset))
            else:
                loss += cost * mid
                counted.append(f"{money(cost, asset)} at {money(mid, quote)}")
        return loss, counted, unpriced
