"""The paper DEX's own memory, a SQLite file only it writes: the wallet, the pool and every swap.

Like a chain, it answers "did this swap happen?" by client order id after any crash: a swap's row,
the wallet's new balances and the pool after it are committed in one transaction (WAL mode,
``synchronous=NORMAL``: every committed transaction survives a process crash). Amounts are decimal
strings and pool integers are kept exact in JSON (see :func:`plugins.paper.dex_pool.dump`).
``submissions`` logs every request, so a test can prove a swap was asked twice and done once.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NamedTuple

from bot.api import Liquidity, Order, OrderState, OrderStatus, Side

from .events import new_fill, new_order_state
from .sqlite_file import VenueFile, json_str

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dex_submissions_by_cid ON submissions (client_order_id);
CREATE TABLE IF NOT EXISTS swaps (
    seq INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    limit_price TEXT,
    status TEXT NOT NULL,
    base_units INTEGER NOT NULL,
    quote_units INTEGER NOT NULL,
    price TEXT,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pool (
    symbol TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    step_count INTEGER NOT NULL,
    slot INTEGER NOT NULL
);
"""

_SWAP_COLUMNS = ("seq, client_order_id, symbol, side, qty, limit_price, status, base_units, quote_units, price, fee, "
                 "fee_asset, reason, ts_ns")
_INSERT_SWAP = ("INSERT INTO swaps (client_order_id, symbol, side, qty, limit_price, status, base_units, quote_units, "
                "price, fee, fee_asset, reason, ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class SwapRecord(NamedTuple):
    """One swap as the venue remembers it: done (FILLED) or refused (REJECTED), never in between. (A named
    tuple: made in a fraction of a frozen dataclass's time, once per swap.)"""

    seq: int
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    limit_price: Decimal | None
    status: OrderStatus
    base_units: int
    quote_units: int
    price: Decimal | None
    """Quote per base, fee included (quote amount / base amount)."""
    fee: Decimal
    """Network + priority fee, and the rent of an output token account the swap created, in ``fee_asset``."""
    fee_asset: str
    reason: str
    ts_ns: int

    @property
    def signature(self) -> str:
        return f"paper-dex-{self.seq}"

    def state(self, exchange: str) -> OrderState:
        """The swap as an order state: FILLED with one fill, or REJECTED with the reason."""
        if self.status is not OrderStatus.FILLED:
            return OrderState(self.client_order_id, self.status, exchange_order_id=self.signature, reason=self.reason)
        price = self.price
        if price is None:  # written together with FILLED
            raise ValueError(f"paper-dex swap {self.client_order_id} is FILLED without a price")
        signature = self.signature
        fill = new_fill(exchange, self.symbol, self.client_order_id, signature, self.side, price, self.qty, self.fee,
                        self.fee_asset, Liquidity.TAKER, self.ts_ns)
        return new_order_state(self.client_order_id, OrderStatus.FILLED, signature, self.qty, price, (fill,), "")


class PaperDexState(VenueFile):
    """The SQLite file of one paper DEX. Writes happen inside :meth:`transaction`."""

    def __init__(self, path: str):
        super().__init__(path, _SCHEMA)

    # --- pool ---------------------------------------------------------------------------------

    def pool(self, symbol: str) -> tuple[str, int, int] | None:
        """(saved pool JSON, step count, slot) of ``symbol``, or None for a new file."""
        row = self._db.execute("SELECT state, step_count, slot FROM pool WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def save_pool(self, symbol: str, state: str, step_count: int, slot: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO pool (symbol, state, step_count, slot) VALUES (?, ?, ?, ?)",
                         (symbol, state, step_count, slot))

    # --- swaps --------------------------------------------------------------------------------

    def record_submission(self, order: Order, ts_ns: int) -> None:
        """Log one request, whatever becomes of it."""
        # json.dumps({"side", "qty", "order_type", "tif", "price", "symbol", "strategy"}, sort_keys=True), written
        # directly: the keys in sorted order, amounts in plain notation
        price = "null" if order.price is None else json_str(format(order.price, "f"))
        payload = (f'{{"order_type": {json_str(order.order_type)}, "price": {price}, '
                   f'"qty": {json_str(format(order.qty, "f"))}, "side": {json_str(order.side)}, '
                   f'"strategy": {json_str(order.strategy)}, "symbol": {json_str(order.symbol)}, '
                   f'"tif": {json_str(order.tif)}}}')
        self._db.execute("INSERT INTO submissions (client_order_id, ts_ns, payload) VALUES (?, ?, ?)",
                         (order.client_order_id, ts_ns, payload))

    def submissions(self, client_order_id: str | None = None) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(seq, client order id, ts_ns, payload) of every request, oldest first."""
        query = "SELECT seq, client_order_id, ts_ns, payload FROM submissions"
        args: tuple[str, ...] = ()
        if client_order_id is not None:
            query, args = query + " WHERE client_order_id = ?", (client_order_id,)
        return [(s, c, t, json.loads(p)) for s, c, t, p in self._db.execute(query + " ORDER BY seq", args)]

    def add_swap(self, client_order_id: str, symbol: str, side: Side, qty: Decimal, limit_price: Decimal | None,
                 status: OrderStatus, base_units: int, quote_units: int, price: Decimal | None, fee: Decimal,
                 fee_asset: str, reason: str, ts_ns: int) -> SwapRecord:
        """Write a new swap (inside a transaction) and return it with its ``seq``: the file numbers it, one past
        the highest so far (SQLite gives a row with no ``INTEGER PRIMARY KEY`` value the largest one plus one)."""
        seq = self._db.execute(_INSERT_SWAP, (
            client_order_id, symbol, side.value, format(qty, "f"), _text_or_none(limit_price), status.value, base_units,
            quote_units, _text_or_none(price), format(fee, "f"), fee_asset, reason, ts_ns,
        )).lastrowid  # fmt: skip
        if seq is None:  # pragma: no cover - an INSERT always sets it
            raise RuntimeError("paper dex: the swap's row got no seq")
        if self._ids is not None:
            self._ids.add(client_order_id)
        return SwapRecord(seq, client_order_id, symbol, side, qty, limit_price, status, base_units, quote_units, price,
                          fee, fee_asset, reason, ts_ns)

    def swap(self, client_order_id: str) -> SwapRecord | None:
        if self.unseen(client_order_id):
            return None
        row = self._db.execute(f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE client_order_id = ?",
                               (client_order_id,)).fetchone()
        return None if row is None else _record(row)

    def swaps(self) -> list[SwapRecord]:
        """Every swap, oldest first."""
        return [_record(row) for row in self._db.execute(f"SELECT {_SWAP_COLUMNS} FROM swaps ORDER BY seq")]


def _text_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount, "f")


def _record(row: tuple) -> SwapRecord:
    (seq, cid, symbol, side, qty, limit_price, status, base_units, quote_units, price, fee, fee_asset, reason,
     ts_ns) = row  # fmt: skip
    return SwapRecord(seq, cid, symbol, Side(side), Decimal(qty), None if limit_price is None else Decimal(limit_price),
                      OrderStatus(status), base_units, quote_units, None if price is None else Decimal(price),
                      Decimal(fee), fee_asset, reason, ts_ns)
