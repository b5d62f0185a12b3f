"""What the ``limits`` check reads from the store at start: the bot's fills a page at a time (:data:`FILLS_PAGE`), then
the rest in one call (:func:`read_start`); on the store writer's thread where a store read is a round trip
(PostgreSQL: ``store.records_inline`` false), so that a server that stops answering delays the check's start, never
the loop; at once on SQLite and in a backtest. Each page is a short read: a write handed to the store writer meanwhile
runs between two pages, not behind every stored fill (a long read there held the writes past its stall alarm, which
refuses orders)."""

from __future__ import annotations

from typing import NamedTuple

from bot.api import Transfer
from bot.api.storage import Store

from .peaks import StoredPeaks, stored_peaks
from .tripped import load_tripped

FILLS_PAGE = 5_000
"""Stored fills the check reads at start per read (as the executor reads them)."""


class StartRead(NamedTuple):
    """What the store held for the check when it started."""

    tripped: set[tuple[str, ...]]
    """The loss limits kept as breached (and acted on) today (:mod:`.tripped`)."""
    tripped_error: str | None
    """Why what is kept as breached today could not be read (None: it was): the check logs it and goes on."""
    closes: dict[str, str]
    transfers: list[Transfer]
    """Every transfer of the bot (read when a loss limit counts their costs, else none)."""
    peaks: StoredPeaks
    recent_ns: list[int]
    """When each of the latest stored orders was created (``max_orders_per_minute`` of them; none without it)."""


def read_start(store: Store, check_name: str, day_start_ns: int, transfers: bool, orders: int | None) -> StartRead:
    """Read what the check starts from, its fills apart (read first, a page at a time): its own state (the limits
    breached today, the peaks), what the bot's orders close, its transfers (with ``transfers``), the creation times
    of its latest ``orders`` orders. A store that cannot be read raises (the check's start fails: it never checks
    with figures unknown); what is kept as breached that cannot be understood is returned as ``tripped_error``."""
    try:
        tripped, tripped_error = load_tripped(store, check_name, day_start_ns), None
    except ValueError as exc:
        tripped, tripped_error = set(), str(exc)
    closes = store.closes()
    moved = store.transfers() if transfers else []
    peaks = stored_peaks(store, check_name)
    recent = [o.created_ns for o in store.orders(limit=orders)] if orders is not None else []
    return StartRead(tripped, tripped_error, closes, moved, peaks, recent)
