"""The paper venues' SQLite file (plugins/paper/sqlite_file.py, dex_state.py): transactions, multi-row writes and
swap numbering write exactly what one statement per row would."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D

import pytest

from bot.api import Order, OrderStatus, OrderType, Side, TimeInForce
from plugins.paper.dex_state import PaperDexState
from plugins.paper.sqlite_file import VenueFile
from plugins.paper.state import PaperState


def test_a_transaction_commits_together_or_rolls_back_and_goes_on(tmp_path):
    file = VenueFile(str(tmp_path / "v.db"), "")
    with file.transaction():
        file.save_balances({"SOL": D("1.5"), "USDC": D("2")})
    with pytest.raises(sqlite3.IntegrityError), file.transaction():
        file.save_balances({"SOL": D("9")})
        file.record_transfer("t1", "out", "SOL", D("1"), 5)
        file.record_transfer("t1", "out", "SOL", D("1"), 6)  # the same key: the whole transaction is undone
    assert file.balances() == {"SOL": D("1.5"), "USDC": D("2")} and file.transfer("t1", "out") is None
    with file.transaction():  # usable again afterwards
        file.record_transfer("t1", "out", "SOL", D("1"), 5)
    file.close()
    reopened = VenueFile(str(tmp_path / "v.db"), "")
    assert reopened.transfer("t1", "out") == ("SOL", D("1"), 5)
    reopened.close()


@pytest.mark.parametrize("rows", [1, 2, 3, 100, 101, 250])
def test_multi_row_inserts_write_what_one_statement_per_row_writes(tmp_path, rows):
    many, one_by_one = VenueFile(":memory:", ""), VenueFile(":memory:", "")
    totals = {f"A{i % 97}": D(i).scaleb(-3) for i in range(rows)}  # some assets twice: the later total wins
    values = [(f"A{i % 97}", format(D(i).scaleb(-3), "f")) for i in range(rows)]
    with many.transaction():
        many.insert("INSERT OR REPLACE INTO balances (asset, total)", 2, values)
    with one_by_one.transaction():
        one_by_one._db.executemany("INSERT OR REPLACE INTO balances (asset, total) VALUES (?, ?)", values)
    dump = [list(f._db.execute("SELECT rowid, asset, total FROM balances ORDER BY rowid")) for f in (many, one_by_one)]
    assert dump[0] == dump[1] and many.balances() == totals


def test_swaps_are_numbered_one_past_the_highest_by_the_file(tmp_path):
    path = str(tmp_path / "dex.db")
    state = PaperDexState(path)

    def add(cid: str, status: OrderStatus = OrderStatus.FILLED):
        with state.transaction():
            return state.add_swap(cid, "SOL/USDC", Side.SELL, D("0.5"), None, status, 500, 75_000_000,
                                  D("150"), D("0.000005"), "SOL", "", 7)

    first, refused = add("a"), add("b", OrderStatus.REJECTED)
    assert (first.seq, refused.seq, first.signature) == (1, 2, "paper-dex-1")
    assert state.swap("a") == first and state.swaps() == [first, refused]
    state.close()
    state = PaperDexState(path)  # a restart carries on from the file
    assert add("c").seq == 3
    state.close()


@pytest.mark.parametrize("cid, strategy, price, post_only", [
    ("arb-1-cex", "sol-arb", D("150.12"), False),
    ('quo"te\\back\nslash', "grid é ü", None, True),
    ("日本-\u2028-\x01", "", D("1E-8"), False),
])  # fmt: skip
def test_a_submission_is_logged_as_json_dumps_writes_it(tmp_path, cid, strategy, price, post_only):
    order = Order(cid, strategy, "p", "SOL/USDC", Side.SELL, D("0.5000"), price, OrderType.LIMIT if price else
                  OrderType.MARKET, TimeInForce.IOC, post_only=post_only)  # fmt: skip
    fields = {"side": "sell", "qty": "0.5000", "order_type": str(order.order_type), "tif": "ioc",
              "price": None if price is None else format(price, "f"), "symbol": "SOL/USDC", "strategy": strategy}
    cex, dex = PaperState(":memory:", "p"), PaperDexState(":memory:")
    cex.record_submission(order, 5)
    dex.record_submission(order, 5)
    written = [f._db.execute("SELECT payload FROM submissions").fetchone()[0] for f in (cex, dex)]
    assert written == [json.dumps({**fields, "client_order_id": cid, "post_only": post_only}, sort_keys=True),
                       json.dumps(fields, sort_keys=True)]
