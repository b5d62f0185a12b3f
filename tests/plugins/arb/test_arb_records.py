"""The arbitrage's rows as stored: the opportunity's costs column is exactly ``json.dumps`` of its costs; an
execution saved with what was stored writes only what changed, and the row ends as a full write leaves it."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store import Store
from plugins.arb.records import (
    ExecutionRecord,
    costs_json,
    execution_values,
    insert_execution,
    new_execution,
    save_execution,
)

_names = st.sampled_from(["cex_fee", "dex_fee", "network", "slippage", "é\"\\\n", ""]) | st.text(max_size=8)
_amounts = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from([Decimal("-0E-8"), Decimal("1E+3")])


@given(st.lists(st.tuples(_names, _amounts), max_size=6))
def test_costs_json_is_json_dumps_character_for_character(costs: list[tuple[str, Decimal]]) -> None:
    assert costs_json(costs) == json.dumps({name: str(value) for name, value in costs})


def _execution(oid: str) -> ExecutionRecord:
    one = Decimal("1.5")
    return new_execution(opportunity_id=oid, strategy="s", state="open", symbol="SOL/USDC", direction="d",
                         created_ns=1, size=one, legs="concurrent", predicted_pnl=one, sol_price=one,
                         cex_exchange="k", cex_side="buy", cex_qty=one, cex_price=one, cex_cid=f"{oid}-cex",
                         dex_exchange="o", dex_side="sell", dex_qty=one, dex_price=one, dex_cid=f"{oid}-dex")


def test_a_new_execution_holds_every_column_and_names_those_missing() -> None:
    row = _execution("x")
    assert execution_values(row)["hedge_cid"] == "" and row.cex_filled == 0 and row.realized_pnl is None
    values = {k: v for k, v in execution_values(row).items() if k not in ("cex_cid", "strategy", "hedge_cid")}
    with pytest.raises(TypeError, match="an execution needs strategy, cex_cid$"):
        new_execution(**values)


def _stored(db: Path, oid: str) -> dict[str, object]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM arb_executions WHERE opportunity_id = ?", (oid,)).fetchone())
    finally:
        con.close()


def test_a_saved_execution_writes_what_changed_and_ends_as_a_full_write_would(tmp_path: Path) -> None:
    db_a, db_b = tmp_path / "a.db", tmp_path / "b.db"
    stores = [Store(f"sqlite:///{db}").open() for db in (db_a, db_b)]
    updates: list[dict[str, object]] = []
    try:
        rows = [_execution("x"), _execution("x")]
        for store, row in zip(stores, rows, strict=True):
            assert insert_execution(store, row)
        saved = execution_values(rows[0])
        record_update = stores[0].record_update

        def counted(table: Any, where: dict[str, Any], values: dict[str, Any]) -> int:
            updates.append(values)
            return record_update(table, where, values)

        stores[0].record_update = counted  # type: ignore[method-assign]
        changes: list[dict[str, object]] = [
            {},  # nothing changed: nothing written
            {"cex_filled": Decimal("0.0")},  # equal to 0 but stored as other text: written
            {"state": "done", "realized_pnl": Decimal("-0.25"), "cex_avg_price": Decimal("1.50")},
            {"realized_pnl": None, "cex_avg_price": Decimal("1.5")},
        ]
        for change in changes:
            for row in rows:
                for name, value in change.items():
                    setattr(row, name, value)
            save_execution(stores[0], rows[0], saved)  # what changed
            save_execution(stores[1], rows[1])  # every column
            assert _stored(db_a, "x") == _stored(db_b, "x")
        assert updates == [changes[1], changes[2], changes[3]]
        assert _stored(db_a, "x")["cex_filled"] == "0.0"
    finally:
        for store in stores:
            store.close()
