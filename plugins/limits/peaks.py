"""The trailing drawdown limit's peak equity, kept across restarts.

Equity includes open positions marked to market, so the peak cannot be replayed from stored fills
alone: it is saved when it changes (at most every ``SAVE_EVERY_S``), after a trip and on stop.

Several bots may share one database and each has its own equity: a row's ``check_name`` is the bot's
name and the check's, ``BOT:CHECK`` (a bot name and a component name hold no ``:``). Peaks saved
before bots had names (``CHECK`` alone) become the first loading bot's, as the host's rows become
the upgrading bot's.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select

from bot.api.storage import Store, money

SAVE_EVERY_S = 10.0


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


def load_peaks(store: Store, check_name: str) -> dict[str, Decimal]:
    key = _key(store, check_name)
    with store.session() as s:
        rows = list(s.exec(select(PeakRow).where(PeakRow.check_name == key)))
        if not rows and key != check_name:  # saved before bots had names: this bot's from now on
            rows = list(s.exec(select(PeakRow).where(PeakRow.check_name == check_name)))
            for row in rows:
                row.check_name = key
                s.add(row)
        return {r.quote: r.peak for r in rows}


def save_peaks(store: Store, check_name: str, peaks: dict[str, Decimal], now_ns: int) -> None:
    key = _key(store, check_name)
    with store.session() as s:
        rows = {r.quote: r for r in s.exec(select(PeakRow).where(PeakRow.check_name == key))}
        for quote, peak in peaks.items():
            row = rows.get(quote) or PeakRow(check_name=key, quote=quote)
            row.peak, row.updated_ns = peak, now_ns
            s.add(row)
