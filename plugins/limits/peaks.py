"""The trailing drawdown limit's peak equity, kept across restarts.

Equity includes open positions marked to market, so the peak cannot be replayed from stored fills
alone: it is saved when it changes (at most every ``SAVE_EVERY_S``), after a trip, on stop, and at start when the start
sets it anew (no peak stored in its quote: ``max_drawdown`` just set, a quote first traded); where a commit is a
round trip (PostgreSQL) on the store writer's thread, in the order handed over (the last saved is the last handed
over; the bot's stop waits for it).

Several bots may share one database and each has its own equity: a row's ``check_name`` is the bot's
name and the check's, ``BOT:CHECK`` (a bot name and a component name hold no ``:``). Peaks saved
before bots had names (``CHECK`` alone) become the first loading bot's, as the host's rows become
the upgrading bot's.

The equity counts transfer costs (:mod:`.costs`); a peak saved before it did (an older version) does not. A row of
quote ``COUNTS_COSTS`` (no asset is named so), written with the peaks in one commit, says they count them: peaks
without it are rebased once at load (:meth:`~plugins.limits.check.Limits.start`), so an upgrade alone never shows the
costs paid before the old peak as a fall.

A cost in another asset that no venue priced when the check started (a wallet's SOL network fee: the risk checks
start before the exchanges) is in neither the peak the start set nor the equity; it moves both at its first price,
once. Until then it is pending, stored with the peaks in the same commit as rows of quote ``*not priced* ASSET/QUOTE``
(``peak``: the cost, in ASSET), so a restart before that first price keeps it pending instead of showing it as a
fall. Rows of the same table, no new column (a plugin's table shape is its own to migrate): a database without such
rows (every one before) has nothing pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select

from bot.api.storage import Store, money

SAVE_EVERY_S = 10.0

COUNTS_COSTS = "*transfer costs*"
"""The ``quote`` of the row saying the check's peaks count transfer costs (its ``peak`` is unused)."""

NOT_PRICED = "*not priced* "
"""The start of the ``quote`` of a row of a cost pending in a peak (``*not priced* SOL/USD``: its ``peak`` is the
cost, in SOL)."""


def _not_priced(asset: str, quote: str) -> str:
    return f"{NOT_PRICED}{asset}/{quote}"


class PeakRow(SQLModel, table=True):
    __tablename__ = "limits_peaks"
    __table_args__ = (UniqueConstraint("check_name", "quote"),)

    id: int | None = Field(default=None, primary_key=True)
    check_name: str
    quote: str
    peak: Decimal = money()
    updated_ns: int = 0


def _key(store: Store, check_name: str) -> str:
    return f"{store.bot}:{check_name}" if store.bot else check_name


class StoredPeaks(NamedTuple):
    """The peaks stored for a check: per quote, when each was saved, whether they count transfer costs, and the costs
    pending in them."""

    peaks: dict[str, Decimal]
    saved_ns: dict[str, int]
    counts_costs: bool
    unpriced: Mapping[str, Mapping[str, Decimal]] = MappingProxyType({})
    """Quote -> asset -> a transfer cost in that quote's peak that no venue had priced yet (the peak lacks it)."""


def load_peaks(store: Store, check_name: str) -> dict[str, Decimal]:
    """The peak per quote stored for ``check_name``."""
    return stored_peaks(store, check_name).peaks


def stored_peaks(store: Store, check_name: str) -> StoredPeaks:
    """The peaks stored for ``check_name``, with when each was saved and whether they count transfer costs."""
    key = _key(store, check_name)
    with store.session() as s:
        rows = list(s.exec(select(PeakRow).where(PeakRow.check_name == key)))
        if not rows and key != check_name:  # saved before bots had names: this bot's from now on
            rows = list(s.exec(select(PeakRow).where(PeakRow.check_name == check_name)))
            for row in rows:
                row.check_name = key
                s.add(row)
        peaks = [r for r in rows if r.quote != COUNTS_COSTS and not r.quote.startswith(NOT_PRICED)]
        unpriced: dict[str, dict[str, Decimal]] = {}
        for row in rows:
            if row.quote.startswith(NOT_PRICED):
                asset, _, quote = row.quote.removeprefix(NOT_PRICED).partition("/")
                unpriced.setdefault(quote, {})[asset] = row.peak
        return StoredPeaks({r.quote: r.peak for r in peaks}, {r.quote: r.updated_ns for r in peaks},
                           any(r.quote == COUNTS_COSTS for r in rows), unpriced)


def save_peaks(store: Store, check_name: str, peaks: dict[str, Decimal], now_ns: int,
               unpriced: dict[str, dict[str, Decimal]] | None = None) -> None:
    """Store ``peaks`` (each counting transfer costs: the row saying so is written in the same commit) and, given
    ``unpriced`` (quote -> asset -> cost), the costs pending in them: exactly those, in the same commit."""
    key = _key(store, check_name)
    with store.session() as s:
        rows = {r.quote: r for r in s.exec(select(PeakRow).where(PeakRow.check_name == key))}
        for quote, peak in peaks.items():
            row = rows.get(quote) or PeakRow(check_name=key, quote=quote)
            row.peak, row.updated_ns = peak, now_ns
            s.add(row)
        if unpriced is not None:
            pending = {_not_priced(asset, quote): cost for quote, costs in unpriced.items()
                       for asset, cost in costs.items()}
            for name, row in rows.items():
                if name.startswith(NOT_PRICED) and name not in pending:
                    s.delete(row)
            for name, cost in pending.items():
                row = rows.get(name) or PeakRow(check_name=key, quote=name)
                row.peak, row.updated_ns = cost, now_ns
                s.add(row)
        if COUNTS_COSTS not in rows:
            s.add(PeakRow(check_name=key, quote=COUNTS_COSTS, peak=Decimal(0), updated_ns=now_ns))
