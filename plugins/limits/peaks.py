"""The trailing drawdown limit's peak equity, kept across restarts.

Equity includes open positions marked to market, so the peak cannot be replayed from stored fills
alone: it is saved when it changes (at most every ``SAVE_EVERY_S``), after a trip and on stop.
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


def load_peaks(store: Store, check_name: str) -> dict[str, Decimal]:
    with store.session() as s:
        return {r.quote: r.peak for r in s.exec(select(PeakRow).where(PeakRow.check_name == check_name))}


def save_peaks(store: Store, check_name: str, peaks: dict[str, Decimal], now_ns: int) -> None:
    with store.session() as s:
        rows = {r.quote: r for r in s.exec(select(PeakRow).where(PeakRow.check_name == check_name))}
        for quote, peak in peaks.items():
            row = rows.get(quote) or PeakRow(check_name=check_name, quote=quote)
            row.peak, row.updated_ns = peak, now_ns
            s.add(row)
