"""The paper venue's own memory: a SQLite file it alone writes, like a real venue's database.

It holds balances, every order by client order id with its fills, every submission attempt and
where each simulated market stood, so a paper account survives a restart (SIGKILL included:
WAL mode with ``synchronous=NORMAL`` keeps every committed transaction across a process crash).
Amounts are decimal strings (SQLite would turn a Decimal into a float); timestamps are integer
nanoseconds. ``submissions`` has no unique constraint on purpose: every attempt is a row, so a
test can prove that an order was (or was not) sent twice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.api import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce

from .orders import Changes, PaperOrder
from .sqlite_file import VenueFile, json_str

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    ts_ns INTEGER,
    payload TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_client_order_id ON submissions (client_order_id);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    exchange_order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    tif TEXT NOT NULL,
    post_only INTEGER NOT NULL,
    qty TEXT NOT NULL,
    price TEXT,
    status TEXT NOT NULL,
    filled_qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_client_order_id ON fills (client_order_id);
CREATE TABLE IF NOT EXISTS markets (
    symbol TEXT PRIMARY KEY,
    step_count INTEGER NOT NULL,
    best_bid TEXT NOT NULL
);
"""

_ORDER_COLUMNS = (
    "client_order_id, exchange_order_id, seq, symbol, side, order_type, tif, post_only, qty, price, status, "
    "filled_qty, fee, reason, created_ns, updated_ns"
)
_FILL_COLUMNS = "trade_id, seq, client_order_id, symbol, side, price, qty, fee, fee_asset, liquidity, ts_ns"
_INSERT_ORDERS = f"INSERT OR REPLACE INTO orders ({_ORDER_COLUMNS})"
_INSERT_FILLS = f"INSERT INTO fills ({_FILL_COLUMNS})"


class PaperState(VenueFile):
    """The SQLite file of one paper venue. Writes happen inside :meth:`transaction`."""

    def __init__(self, path: Path | str, exchange: str):
        super().__init__(str(path), _SCHEMA)
        self.exchange = exchange

    def last_seqs(self) -> tuple[int, int]:
        """The highest order and fill sequence numbers used so far."""
        (orders,) = self._db.execute("SELECT coalesce(max(seq), 0) FROM orders").fetchone()
        (fills,) = self._db.execute("SELECT coalesce(max(seq), 0) FROM fills").fetchone()
        return orders, fills

    # --- orders -------------------------------------------------------------------------------

    def record_submission(self, order: Order, ts_ns: int) -> None:
        """Log one submission attempt, whatever becomes of it."""
        self._db.execute(
            "INSERT INTO submissions (client_order_id, ts_ns, payload) VALUES (?, ?, ?)",
            (order.client_order_id, ts_ns, _payload(order)),
        )

    def submissions(self, client_order_id: str | None = None) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(seq, client order id, ts_ns, payload) of every attempt, oldest first."""
        query = "SELECT seq, client_order_id, ts_ns, payload FROM submissions"
        args: tuple[str, ...] = ()
        if client_order_id is not None:
            query += " WHERE client_order_id = ?"
            args = (client_order_id,)
        return [(seq, cid, ts, json.loads(p)) for seq, cid, ts, p in self._db.execute(query + " ORDER BY seq", args)]

    def save(self, changes: Changes) -> None:
        """Write changed orders, new fills and changed balances (inside a transaction; a file kept in memory, a
        backtest's, is read back only for its orders: its balances are read once, at start)."""
        if changes.orders:
            if self._ids is not None:
                self._ids.update(changes.orders)
            self.insert(_INSERT_ORDERS, 16, [_order_row(o) for o in changes.orders.values()])
        if changes.fills:
            self.insert(_INSERT_FILLS, 11, [_fill_row(f) for fills in changes.fills.values() for f in fills])
        if changes.assets and not self.in_memory:  # in memory: read once, at start (the engine holds them)
            self.save_balances(changes.assets)

    def order(self, client_order_id: str) -> PaperOrder | None:
        """One order with all its fills, or None if the venue never saw it."""
        if self.unseen(client_order_id):
            return None
        row = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        if row is None:
            return None
        fills = self._db.execute(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE client_order_id = ? ORDER BY seq", (client_order_id,)
        ).fetchall()
        return self._order(row, [self._fill(f) for f in fills])

    def open_orders(self) -> list[PaperOrder]:
        """Every resting order with its fills, oldest first."""
        rows = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE status = ? ORDER BY seq", (OrderStatus.OPEN.value,)
        ).fetchall()
        fills: dict[str, list[Fill]] = {}
        for f in self._db.execute(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE client_order_id IN "
            "(SELECT client_order_id FROM orders WHERE status = ?) ORDER BY seq",
            (OrderStatus.OPEN.value,),
        ):
            fills.setdefault(f[2], []).append(self._fill(f))
        return [self._order(row, fills.get(row[0], [])) for row in rows]

    # --- markets ------------------------------------------------------------------------------

    def market_positions(self) -> dict[str, tuple[int, Decimal]]:
        """(step count, best bid) by symbol, where each market stood when last saved."""
        rows = self._db.execute("SELECT symbol, step_count, best_bid FROM markets")
        return {symbol: (step_count, Decimal(bid)) for symbol, step_count, bid in rows}

    def save_market_positions(self, positions: dict[str, tuple[int, Decimal]]) -> None:
        self.insert("INSERT OR REPLACE INTO markets (symbol, step_count, best_bid)", 3,
                    [(symbol, n, _text(bid)) for symbol, (n, bid) in positions.items()])

    # --- rows ---------------------------------------------------------------------------------

    def _order(self, row: tuple, fills: list[Fill]) -> PaperOrder:
        (cid, eid, seq, symbol, side, order_type, tif, post_only, qty, price, status, filled_qty, fee, reason,
         created_ns, updated_ns) = row  # fmt: skip
        return PaperOrder(
            client_order_id=cid, exchange_order_id=eid, seq=seq, symbol=symbol, side=Side(side),
            order_type=OrderType(order_type), tif=TimeInForce(tif), post_only=bool(post_only), qty=Decimal(qty),
            price=None if price is None else Decimal(price), status=OrderStatus(status), created_ns=created_ns,
            updated_ns=updated_ns, filled_qty=Decimal(filled_qty), fee=Decimal(fee), reason=reason, fills=fills,
        )  # fmt: skip

    def _fill(self, row: tuple) -> Fill:
        trade_id, _seq, cid, symbol, side, price, qty, fee, fee_asset, liquidity, ts_ns = row
        return Fill(
            exchange=self.exchange, symbol=symbol, client_order_id=cid, trade_id=trade_id, side=Side(side),
            price=Decimal(price), qty=Decimal(qty), fee=Decimal(fee), fee_asset=fee_asset,
            liquidity=Liquidity(liquidity), ts_ns=ts_ns,
        )  # fmt: skip


def _text(amount: Decimal) -> str:
    """Plain decimal notation ("0.00000000", never "0E-8"): exact, and readable in the file."""
    return format(amount, "f")


def _payload(order: Order) -> str:
    """The request as JSON: ``json.dumps`` of its fields with ``sort_keys=True``, the same text written directly
    (the keys in sorted order; amounts in plain notation, ``post_only`` a bool)."""
    price = "null" if order.price is None else json_str(_text(order.price))
    return (f'{{"client_order_id": {json_str(order.client_order_id)}, "order_type": {json_str(order.order_type)}, '
            f'"post_only": {"true" if order.post_only else "false"}, "price": {price}, '
            f'"qty": {json_str(_text(order.qty))}, "side": {json_str(order.side)}, '
            f'"strategy": {json_str(order.strategy)}, "symbol": {json_str(order.symbol)}, '
            f'"tif": {json_str(order.tif)}}}')


def _order_row(o: PaperOrder) -> tuple:
    return (
        o.client_order_id, o.exchange_order_id, o.seq, o.symbol, o.side.value, o.order_type.value, o.tif.value,
        int(o.post_only), _text(o.qty), None if o.price is None else _text(o.price), o.status.value,
        _text(o.filled_qty), _text(o.fee), o.reason, o.created_ns, o.updated_ns,
    )  # fmt: skip


def _fill_row(f: Fill) -> tuple:
    seq = int(f.trade_id.rsplit("-", 1)[1])
    return (
        f.trade_id, seq, f.client_order_id, f.symbol, f.side.value, _text(f.price), _text(f.qty), _text(f.fee),
        f.fee_asset, f.liquidity.value, f.ts_ns,
    )  # fmt: skip
