"""Figures from stored orders and fills: realized PnL (average cost), fees, volume, per strategy."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .api import Reply
from .domain import ZERO, Fill, Side, split_symbol

if TYPE_CHECKING:
    from .store import Store


@dataclass
class StrategyFigures:
    strategy: str
    orders: Counter = field(default_factory=Counter)
    fills: int = 0
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)
    """Realized PnL by quote asset, before fees."""
    round_trips: int = 0
    """Sells that closed (part of) a long position, or buys that closed a short."""

    def net(self, asset: str) -> Decimal:
        return self.realized.get(asset, ZERO) - self.fees.get(asset, ZERO)


@dataclass
class _Book:
    position: Decimal = ZERO
    cost: Decimal = ZERO
    """Total cost basis of the open position, in quote units (negative for shorts)."""


def realized_steps(fills: Iterable[tuple[str, Fill]]) -> Iterator[tuple[str, Fill, Decimal | None]]:
    """Each fill with the PnL it realized (average cost per strategy and market, before fees).

    None for a fill that only opened or added to a position. Fills must come in time order.
    """
    books: dict[tuple[str, str, str], _Book] = {}
    for strategy, fill in fills:
        book = books.setdefault((strategy, fill.exchange, fill.symbol), _Book())
        signed = fill.qty if fill.side is Side.BUY else -fill.qty
        if book.position == 0 or (book.position > 0) == (signed > 0):
            book.position += signed
            book.cost += signed * fill.price
            yield strategy, fill, None
            continue
        closing = min(abs(signed), abs(book.position))
        avg = book.cost / book.position
        direction = 1 if book.position > 0 else -1
        pnl = (fill.price - avg) * closing * direction
        book.cost -= avg * closing * direction
        book.position += signed
        if book.position == 0:
            book.cost = ZERO
        elif (book.position > 0) == (signed > 0):  # flipped: the rest opens a new position
            book.cost = book.position * fill.price
        yield strategy, fill, pnl


def figures_from_fills(fills: list[tuple[str, Fill]], since_ns: int | None = None) -> dict[str, StrategyFigures]:
    """Average-cost realized PnL per strategy and market. Fees count in the asset they were paid in.

    With ``since_ns``, earlier fills only build the cost basis: the figures are those of later fills.
    """
    out: dict[str, StrategyFigures] = {}
    for strategy, fill, pnl in realized_steps(fills):
        if since_ns is not None and fill.ts_ns < since_ns:
            continue
        fig = out.setdefault(strategy, StrategyFigures(strategy))
        fig.fills += 1
        fig.fees[fill.fee_asset] = fig.fees.get(fill.fee_asset, ZERO) + fill.fee
        if fill.side is Side.BUY:
            fig.bought += fill.qty
        else:
            fig.sold += fill.qty
        if pnl is not None:
            _, quote = split_symbol(fill.symbol)
            fig.realized[quote] = fig.realized.get(quote, ZERO) + pnl
            fig.round_trips += 1
    return out


def collect_figures(store: Store, since_ns: int | None = None) -> dict[str, StrategyFigures]:
    """Figures per strategy; with ``since_ns``, of the fills from then on (on the cost basis of all fills)."""
    figures = figures_from_fills(store.fills(), since_ns=since_ns)
    if since_ns is None:
        for order in store.orders():
            figures.setdefault(order.strategy, StrategyFigures(order.strategy)).orders[order.status.value] += 1
    return figures


PERIODS = ("day", "week", "month")


def period_start_ns(period: str, now_ns: int, timezone: str) -> int:
    """Start of the current day, week (Monday) or month in ``timezone``, as ns since the epoch."""
    now = dt.datetime.fromtimestamp(now_ns / 1e9, zoneinfo.ZoneInfo(timezone))
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= dt.timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    elif period != "day":
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return int(start.timestamp()) * 1_000_000_000


def money(amount: Decimal, asset: str) -> str:
    """An amount with its unit, without exponent notation or pointless trailing zeros."""
    amount = amount.quantize(Decimal("0.00000001"))  # display precision; the figures stay exact
    text = format(amount.normalize(), "f") if amount != 0 else "0"
    return f"{text} {asset}"


def report_reply(store: Store) -> Reply:
    """The `arbot report` table: one row per strategy."""
    figures = collect_figures(store)
    rows: list[tuple[str, ...]] = [("strategy", "orders", "filled", "fills", "round trips", "fees", "realized PnL",
                                    "net PnL")]
    for name in sorted(figures):
        fig = figures[name]
        assets = sorted(set(fig.realized) | set(fig.fees)) or ["-"]
        rows.append((
            name,
            str(sum(fig.orders.values())),
            str(fig.orders.get("filled", 0)),
            str(fig.fills),
            str(fig.round_trips),
            ", ".join(money(fig.fees.get(a, ZERO), a) for a in assets),
            ", ".join(money(fig.realized.get(a, ZERO), a) for a in assets),
            ", ".join(money(fig.net(a), a) for a in assets),
        ))
    sections = [text for text in ("\n".join(balance_lines(store)), "\n".join(risk_lines(store))) if text]
    more = "\n\n".join(sections)
    if len(rows) == 1:
        return Reply("No orders stored yet.", text=f"store: {store.url}" + (f"\n\n{more}" if more else ""))
    return Reply("arbot report", rows=rows, header=True, text=f"\n{more}" if more else "")


def balance_lines(store: Store) -> list[str]:
    """The report's inventory section: each venue's latest balance snapshot (free / total per asset)."""
    rows = store.latest_balances()
    if not rows:
        return []
    lines = ["Balances (latest snapshot per venue):"]
    for row in rows:
        when = dt.datetime.fromtimestamp(row.ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  {row.exchange:<12} {row.asset:<6} free {money(row.free, row.asset):<24} "
                     f"total {money(row.total, row.asset)}  ({when})")
    return lines


def risk_lines(store: Store, recent: int = 5) -> list[str]:
    """The report's risk section: events per check and action, then the latest trips with their figures."""
    counts = store.risk_event_counts()
    if not counts:
        return []
    lines = ["Risk events: " + ", ".join(f"{check} {action} {n}" for (check, action), n in sorted(counts.items()))]
    trips = store.risk_events(recent, trips_only=True)
    if trips:
        lines.append("Latest trips:")
    for row in trips:
        when = dt.datetime.fromtimestamp(row.ts_ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        where = " ".join(x for x in (row.strategy, row.exchange, row.symbol) if x)
        figures = ", ".join(f"{k} {v}" for k, v in json.loads(row.details or "{}").items())
        lines.append(f"  {when} UTC  {row.check_name}  {row.action}  {row.reason}"
                     + (f"  [{where}]" if where else "") + (f"  ({figures})" if figures else ""))
    return lines
