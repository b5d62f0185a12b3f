"""Markouts: where the market went after each of our fills (were they adversely selected?).

For every fill the executor applies, the **mid of the fill's own market** (its venue's book, or its
pool for a DEX) **in force 1 s, 10 s and 60 s after the fill** (:data:`HORIZONS_S`): the mid of the
last book or pool update published at or before ``fill.ts_ns + horizon``. A live bot and a backtest
sample them the same way (:class:`MarkoutSampler`, reading the updates the portfolio keeps, stored in the
``markouts`` table); a horizon the market never reached (the run ended first, the feed went quiet) has no
sample.

A fill the bot learns of after one of its horizons (a REST poll, a reconnect's reconciliation, a swap read back
once it landed) is marked there at the mid in force *then*, read from the market's recent updates the portfolio
keeps (at least the largest horizon's worth, at most :data:`bot.portfolio.HISTORY_MAX_UPDATES` a market), never
at a later one; when the update in force then is no longer kept, that horizon has no sample (counted unsampled)
rather than a made-up one.

The figures are computed here and only here (:func:`markout`, :func:`summarize`) and read through
the ledger (:meth:`bot.ledger.Ledger.markouts`), so ``arbot report`` and the backtest report show the
same numbers: a fill's markout at a horizon is ``(mid - price) x qty`` for a buy and ``(price - mid)
x qty`` for a sell, in the quote asset (positive: the market moved our way after the fill), and in
basis points of the fill's price.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, Protocol

from .domain import BookUpdate, Fill, FillApplied, Side, split_symbol
from .exact import plain

log = logging.getLogger("arbot.markouts")

HORIZONS_S = (1, 10, 60)
"""Seconds after a fill at which its market's mid is sampled."""
ROWS_PER_WRITE = 32
"""Most samples one scheduled write stores; the rest go in the next (queued behind whatever is ready then: a leg's
request made by the tick that took the samples goes first), so that a long backlog never holds the loop at once."""
NS = 1_000_000_000
EXACT_DIGITS = 200  # a pool's mid has ~50 digits: products stay exact, as in the ledger
BPS = Decimal(10_000)

Samples = Mapping[tuple[str, str], Mapping[int, Decimal]]
"""(exchange, trade_id) -> horizon_s -> the mid in force then (:meth:`bot.store.Store.markouts`)."""


# --- the arithmetic (the one place) -----------------------------------------------------------


def markout(fill: Fill, mid: Decimal) -> Decimal:
    """The fill's markout against ``mid`` in its quote asset: positive when the market moved our way."""
    with localcontext(prec=EXACT_DIGITS):
        move = mid - fill.price if fill.side is Side.BUY else fill.price - mid
        return move * fill.qty


def markout_bps(fill: Fill, mid: Decimal) -> Decimal:
    """The same move in basis points of the fill's price."""
    with localcontext(prec=EXACT_DIGITS):
        move = mid - fill.price if fill.side is Side.BUY else fill.price - mid
        return move / fill.price * BPS if fill.price else Decimal(0)


@dataclass(frozen=True)
class MarkoutFigures:
    """One strategy's markouts at one horizon in one quote asset."""

    strategy: str
    horizon_s: int
    quote: str
    fills: int
    """Fills with a sample at this horizon."""
    unsampled: int
    """Fills without one (the market had not reached the horizon when the run ended)."""
    total: Decimal
    """Sum of the fills' markouts, in ``quote``."""
    mean_bps: Decimal | None
    """Mean markout in bps of the fill price (None without a sample)."""

    def as_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "horizon_s": self.horizon_s, "quote": self.quote, "fills": self.fills,
                "unsampled": self.unsampled, "total": plain(self.total),
                "mean_bps": None if self.mean_bps is None else plain(self.mean_bps.quantize(Decimal("0.01")))}


def summarize(fills: Iterable[tuple[str, Fill]], samples: Samples,
              horizons: Iterable[int] = HORIZONS_S) -> list[MarkoutFigures]:  # fmt: skip
    """Each strategy's markouts per horizon and quote (sorted by strategy, quote, horizon)."""
    sums: dict[tuple[str, str, int], list[Any]] = {}
    horizons = tuple(horizons)
    with localcontext(prec=EXACT_DIGITS):
        for strategy, fill in fills:
            if not fill.qty:
                continue  # a fill of no quantity (a fee alone) has no markout
            quote = split_symbol(fill.symbol)[1]
            mids = samples.get((fill.exchange, fill.trade_id), {})
            for horizon in horizons:
                row = sums.setdefault((strategy, quote, horizon), [0, 0, Decimal(0), Decimal(0)])
                mid = mids.get(horizon)
                if mid is None:
                    row[1] += 1
                    continue
                row[0] += 1
                row[2] += markout(fill, mid)
                row[3] += markout_bps(fill, mid)
        return [MarkoutFigures(strategy, horizon, quote, n, missing, total, bps / n if n else None)
                for (strategy, quote, horizon), (n, missing, total, bps) in sorted(sums.items())]


class Market(Protocol):
    """The keeper of each market's latest update that a sampler follows (:class:`bot.portfolio.Portfolio`)."""

    def follow(self, key: tuple[str, str], follower: Callable[[tuple[str, str], int, Any], None],
               after_ns: int) -> None: ...

    def keep_history(self, window_ns: int) -> None: ...

    def history(self, key: tuple[str, str]) -> Sequence[tuple[Any, ...]]: ...


def _in_force(history: Sequence[tuple[Any, ...]], ts_ns: int) -> tuple[Any, ...] | None:
    """The kept update in force at ``ts_ns`` (the last one at or before it); None when it is older than the first
    kept (trimmed, or there was none yet). Looked for from the latest: a late fill's horizon is recent."""
    top: tuple[Any, ...]
    for top in reversed(history):
        if top[0] <= ts_ns:
            return top
    return None


def _mid(last: tuple[Any, ...]) -> Decimal | None:
    """The mid of a market update as the keeper holds it (:data:`bot.portfolio.Top`): the pool's mid, or the
    book's (bid + ask) / 2 as ``BookUpdate.mid`` (None without both sides)."""
    bid: Decimal | None = last[1]
    ask: Decimal | None = last[2]
    source = last[3]
    if isinstance(source, BookUpdate):
        bid, ask = source.best_bid, source.best_ask
    elif source is not None:
        return Decimal(source.mid())
    if bid is None or ask is None:
        return None
    return (bid + ask) / 2


# --- sampling (live and backtest alike) ---------------------------------------------------------

class MarkoutSampler:
    """Samples the mid of each applied fill's market at each horizon and stores the samples.

    Fills come from the bus; the market's updates from the one keeper of each market's latest update (the
    portfolio, :meth:`subscribe`), which calls the sampler only on the first update of a market after its
    earliest sample is due: any other market update costs the sampler nothing. A sample is taken when the first
    update *after* its due time arrives: the mid in force at the due time is the one published before it.
    Samples are written a loop turn later (``schedule``), never on the tick (but in a backtest: :attr:`gathered`).
    """

    def __init__(self, write: Callable[[list[dict[str, Any]]], None], schedule: Callable[[Callable[[], None]], Any],
                 horizons_s: Iterable[int] = HORIZONS_S):  # fmt: skip
        self._write = write
        self._schedule = schedule
        self.gathered = False
        """Set by a backtest (nothing reads its store before the run ends, and a write on the tick delays nobody):
        no write is scheduled; the samples are stored on the tick that took them once :data:`ROWS_PER_WRITE` wait,
        and the rest by :meth:`flush` (the backtest flushes before it reads the markouts). The same rows in the
        same order, without a loop turn per write (which moves nothing: the backtest clock reaches every timer on
        its own nanosecond, whatever turns the loop took)."""
        self.horizons_ns = tuple(h * NS for h in horizons_s)
        self._market: Market | None = None
        self._pending: dict[tuple[str, str], list[tuple[int, int, int, Fill]]] = {}
        self._seq = 0
        self._rows: list[dict[str, Any]] = []
        self._flush_scheduled = False

    def subscribe(self, bus: Any, market: Market) -> None:
        """Hear applied fills on ``bus``; follow ``market`` (the portfolio) for the updates of their markets, and
        have it keep each market's updates of the largest horizon (a fill heard of late is marked from them)."""
        self._market = market
        market.keep_history(max(self.horizons_ns, default=0))
        bus.subscribe(FillApplied, self.on_fill, owner="markouts")

    def on_fill(self, event: FillApplied) -> None:
        fill = event.fill
        market = self._market
        if not self.horizons_ns or market is None or not fill.qty:  # a fee alone traded nothing to mark
            return
        key = (fill.exchange, fill.symbol)
        history = market.history(key)
        latest_ns = history[-1][0] if history else None
        pending = None
        for horizon_ns in self.horizons_ns:
            due_ns = fill.ts_ns + horizon_ns
            if latest_ns is not None and latest_ns > due_ns:  # heard of after this horizon: the update in force
                self._sample(key, ((fill, horizon_ns),), _in_force(history, due_ns))  # then is settled (or forgotten)
                continue
            if pending is None:
                pending = self._pending.setdefault(key, [])
            self._seq += 1
            heapq.heappush(pending, (due_ns, self._seq, horizon_ns, fill))
        if pending is not None:
            market.follow(key, self._on_update, pending[0][0])  # the earliest due: this fill's, or one before
        self._taken()

    def _sample(self, key: tuple[str, str], due: Iterable[tuple[Fill, int]], before: tuple[Any, ...] | None) -> None:
        """Samples of the ``due`` (fill, horizon_ns) at the mid of ``before``, the update of ``key`` in force then;
        none when no update is known then, or its mid cannot be made (a pool without liquidity), as none is
        without a two-sided book."""
        try:
            mid = _mid(before) if before is not None else None
        except Exception as exc:  # on the tick: a markout never stops the market's update
            log.warning("markouts: no mid of %s %s for a sample: %s", key[0], key[1], exc)
            mid = None
        if mid is None or before is None:
            return  # no sample rather than a made-up one
        for fill, horizon_ns in due:
            self._rows.append({"exchange": fill.exchange, "trade_id": fill.trade_id,
                               "horizon_s": horizon_ns // NS, "mid": mid, "ts_ns": before[0]})

    def _on_update(self, key: tuple[str, str], ts_ns: int, before: tuple[Any, ...] | None) -> None:
        """Samples due before ``ts_ns`` (the first update of ``key`` after the earliest is due): the mid of
        ``before``, the update in force until then; then follow the market to the next due time, if any."""
        pending = self._pending[key]
        due = []
        while pending and pending[0][0] < ts_ns:
            _, _, horizon_ns, fill = heapq.heappop(pending)
            due.append((fill, horizon_ns))
        if due:
            self._sample(key, due, before)
        if not pending:
            del self._pending[key]
        elif self._market is not None:
            self._market.follow(key, self._on_update, pending[0][0])
        self._taken()

    def _taken(self) -> None:
        """Store the samples taken, or schedule their write (off the tick)."""
        if not self._rows:
            return
        if self.gathered:  # a backtest's: stored here, on the tick, once that many wait
            if len(self._rows) >= ROWS_PER_WRITE:
                self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(self._write_some)  # written a loop turn later, off the tick

    def _write_some(self) -> None:
        """The scheduled write: at most :data:`ROWS_PER_WRITE` samples, the rest in another scheduled write."""
        if len(self._rows) <= ROWS_PER_WRITE:
            self.flush()
            return
        rows, self._rows = self._rows[:ROWS_PER_WRITE], self._rows[ROWS_PER_WRITE:]
        self._schedule(self._write_some)
        self._store(rows)

    def flush(self) -> None:
        """Store every sample taken so far (a failure is logged: markouts never stop trading)."""
        rows, self._rows = self._rows, []
        self._flush_scheduled = False
        if rows:
            self._store(rows)

    def _store(self, rows: list[dict[str, Any]]) -> None:
        try:
            self._write(rows)
        except Exception as exc:
            log.error("markouts: %d samples could not be stored: %s", len(rows), exc)
