"""The trailing drawdown limit's peak equity, kept across restarts.

Equity includes open positions marked to market, so the peak cannot be replayed from stored fills
alone: it is saved when it changes (at most every ``SAVE_EVERY_S``), after a trip and on stop; where a commit is a
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
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select

from bot.api.storage import Store, money

SAVE_EVERY_S = 10.0

COUNTS_COSTS = "*transfer costs*"
"""The ``quote`` of the row saying the check's peaks count transfer costs (its ``peak`` is unused)."""


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
    """The peaks stored for a check: per quote, when each was saved, and whether they count transfer costs."""

    peaks: dict[str, Decimal]
    saved_ns: dict[str, int]
    counts_costs: bool


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
        peaks = [r for r in rows if r.quote != COUNTS_COSTS]
        return StoredPeaks({r.quote: r.peak for r in peaks}, {r.quote: r.updated_ns for r in peaks},
                           len(peaks) < len(rows))


def save_peaks(store: Store, check_name: str, peaks: dict[str, Decimal], now_ns: int) -> None:
    """Store ``peaks`` (each counting transfer costs: the row saying so is written in the same commit)."""
    key = _key(store, check_name)
    with store.session() as s:
        rows = {r.quote: r for r in s.exec(select(PeakRow).where(PeakRow.check_name == key))}
        for quote, peak in peaks.items():
            row = rows.get(quote) or PeakRow(check_name=key, quote=quote)
            row.peak, row.updated_ns = peak, now_ns
            s.add(row)
        if COUNTS_COSTS not in rows:
            s.add(PeakRow(check_name=key, quote=COUNTS_COSTS, peak=Decimal(0), updated_ns=now_ns))
