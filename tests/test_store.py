"""The store on SQLite and PostgreSQL: migrations, column types, duplicates, threads (``db_url`` fixture)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Integer, MetaData, event, text

from bot import cli
from bot.domain import Balance, Fill, Liquidity, Order, OrderStatus, Side
from bot.redact import REDACTOR
from bot.store import HOST_TABLES, Store, StoreError, migrate, table_of
from plugins.grid.models import GridSlotRow  # a plugin table with money columns: created on open
from plugins.jupiter.records import JupiterSwapRow, load_swap, save_swap  # a plugin table: created on open

D = Decimal
DATA = Path(__file__).parent / "data"
BIG_NS = 1_796_000_000_123_456_789
"""A 2026 timestamp in nanoseconds: far beyond a 32-bit INTEGER."""


def run_sql(store: Store, path: Path) -> None:
    """Execute a file of ``;``-terminated statements (comments start with ``--``)."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("--")]
    with store.engine.begin() as conn:
        for statement in "\n".join(lines).split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement.strip().rstrip(";"))


def make_old_db(url: str) -> None:
    """A database exactly as the builds before migrations left it: their tables, some rows."""
    raw = Store(url)
    try:
        run_sql(raw, DATA / f"store_before_migrations.{raw.engine.dialect.name}.sql")
        run_sql(raw, DATA / "store_before_migrations.rows.sql")
    finally:
        raw.close()


def order(cid: str, **kw) -> Order:
    return Order(**{"client_order_id": cid, "strategy": "s", "exchange": "paper", "symbol": "BTC/USD",
                    "side": Side.BUY, "qty": D("0.01"), "price": D("30000"), "created_ns": BIG_NS,
                    "updated_ns": BIG_NS, **kw})


def fill(trade_id: str, cid: str = "c-1") -> Fill:
    return Fill("paper", "BTC/USD", cid, trade_id, Side.BUY, D("30000.123456789"), D("0.000000001"),
                D("0.0000001"), "USD", Liquidity.MAKER, BIG_NS)


@pytest.fixture
def store(db_url):
    s = Store(db_url).open()
    yield s
    s.close()


def test_a_db_made_before_migrations_upgrades_with_every_row_kept(db_url):
    make_old_db(db_url)
    store = Store(db_url, bot="upgrader")
    try:
        new_tables = ("transfers", "markouts")  # new in 0004 and 0006
        old_tables = [t.name for t in HOST_TABLES if t.name not in new_tables]
        before = {name: store_rows(store, name) for name in old_tables}
        assert sum(len(rows) for rows in before.values()) == 10
        store.open()
        assert migrate.current(store) == migrate.head()
        after = {name: store_rows(store, name) for name in old_tables}
        assert store_rows(store, "transfers") == [] and store_rows(store, "markouts") == []
        assert {name: [row[:len(before[name][0])] if before[name] else row for row in rows]
                for name, rows in after.items()} == before  # every row, every old column, the same
        assert {row[-3] for row in after["orders"]} == {None}  # orders.closes (0003): old orders close nothing
        # bot (0007): every row stored before belongs to the bot that upgraded the store
        assert {row[-2 if name == "orders" else -1] for name in old_tables for row in after[name]} == {"upgrader"}
        assert {row[-1] for row in after["orders"]} == {"{}"}  # orders.other_fees (0010): their fills paid in USD
        other = store.scoped("other")
        assert other.orders() == [] and other.fills() == [] and other.get_state("observe") is None
        assert other.audit_log() == [] and other.latest_balances() == [] and store.bots() == ["upgrader"]
        [g1, g2, a1] = store.orders()
        assert (g1.client_order_id, g1.post_only, g1.avg_fill_price, g1.fee) == ("g-1", True, D("29950.5"),
                                                                                 D("0.0299505"))
        assert (g2.price, a1.price, a1.qty, a1.status) == (D("30050.25"), None, D("1.000000001"), OrderStatus.UNKNOWN)
        assert [f.trade_id for _, f in store.fills(strategy="btc-grid")] == ["T-1", "T-2"]
        assert store.latest_balances()[0].free == D("9700.123456789012345678")
        assert store.get_state("observe") == "on" and store.audit_log()[0].command == "status"
        # the upgraded tables take what the old ones could not: 64-bit times, new rows after the old ids
        assert store.insert_order(order("new-1"))
        assert store.get_order("new-1").created_ns == BIG_NS and len(store.orders()) == 4
        assert store.insert_fill(fill("T-3"), "s") and not store.insert_fill(fill("T-1", "g-1"), "x")
    finally:
        store.close()


def store_rows(store: Store, table: str) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def test_an_upgrade_that_fails_on_the_way_leaves_the_store_as_it_was_and_the_next_start_upgrades_it(db_url):
    # SQLite rebuilds a table to upgrade it (0007: renamed, created anew, its rows copied); the driver opened a
    # transaction only at the copy, so a full disk while copying left the renamed table committed, the new one
    # empty, and a store that no later start could upgrade ("there is already another table ... _0007_orders")
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL alters the tables in place, in its transactional DDL")
    from alembic import command

    old = Store(db_url, bot="b")
    with old.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn, "b"), "0006")
        conn.execute(text(
            "INSERT INTO orders (client_order_id, strategy, exchange, symbol, side, order_type, tif, post_only, price, "
            "qty, status, filled_qty, fee, reason, created_ns, updated_ns) VALUES (:cid, 's', 'paper', 'BTC/USD', "
            "'buy', 'limit', 'gtc', false, '30000', '0.01', 'open', '0', '0', :reason, 1, 2)"),
            [{"cid": f"c-{n}", "reason": "x" * 300} for n in range(2000)])
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    old.close()
    full = Store(db_url, bot="b")
    event.listen(full.engine, "connect", lambda conn, _: conn.execute(f"PRAGMA max_page_count={pages + 2}"))
    with pytest.raises(StoreError, match="database or disk is full"):
        full.open()
    full.close()
    store = Store(db_url, bot="b").open()
    try:
        assert migrate.current(store) == migrate.head() and len(store.orders()) == 2000
    finally:
        store.close()


def test_an_orders_fees_are_made_again_from_its_fills_per_asset_when_the_store_upgrades(db_url):
    # 0010: a fee in neither base nor quote (a JUP/USDC swap's network fee in SOL) was on its fill alone, and builds
    # before 0.2 had added every fill's fee to the order's fee whatever its asset
    from alembic import command

    old = Store(db_url, bot="b")
    with old.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn, "b"), "0009")
        conn.execute(text(
            "INSERT INTO orders (bot, client_order_id, strategy, exchange, symbol, side, order_type, tif, post_only, "
            "price, qty, status, filled_qty, fee, reason, created_ns, updated_ns) VALUES (:bot, :cid, 's', 'x', "
            ":symbol, 'buy', 'market', 'ioc', false, NULL, '100', 'filled', '100', :fee, '', 1, 2)"),
            [{"bot": "b", "cid": "j-1", "symbol": "JUP/USDC", "fee": "0.0000065"},  # 0.0000065 SOL as if USDC
             {"bot": "b", "cid": "k-1", "symbol": "BTC/USD", "fee": "0.0505"},  # 0.05 USD + 0.0005 BTC summed
             {"bot": "b", "cid": "n-1", "symbol": "BTC/USD", "fee": "0"},  # no fill
             {"bot": "other", "cid": "j-1", "symbol": "JUP/USDC", "fee": "12"}])  # another bot's, same id
        conn.execute(text(
            "INSERT INTO fills (bot, exchange, trade_id, client_order_id, strategy, symbol, side, price, qty, fee, "
            "fee_asset, liquidity, ts_ns) VALUES (:bot, 'x', :tid, :cid, 's', :symbol, 'buy', :price, '50', :fee, "
            ":asset, 'taker', :ts)"),
            [{"bot": "b", "tid": "t1", "cid": "j-1", "symbol": "JUP/USDC", "price": "0.85", "fee": "0.0000065",
              "asset": "SOL", "ts": 1},
             {"bot": "b", "tid": "t2", "cid": "k-1", "symbol": "BTC/USD", "price": "100", "fee": "0.05",
              "asset": "USD", "ts": 2},
             {"bot": "b", "tid": "t3", "cid": "k-1", "symbol": "BTC/USD", "price": "100", "fee": "0.0005",
              "asset": "BTC", "ts": 3},
             {"bot": "other", "tid": "t1", "cid": "j-1", "symbol": "JUP/USDC", "price": "0.85", "fee": "7",
              "asset": "BONK", "ts": 1},
             {"bot": "other", "tid": "t2", "cid": "j-1", "symbol": "JUP/USDC", "price": "0.85", "fee": "5",
              "asset": "BONK", "ts": 2}])
    old.close()
    store = Store(db_url, bot="b").open()
    try:
        assert migrate.current(store) == migrate.head()
        fees = {o.client_order_id: (o.fee, o.other_fees) for o in store.orders()}
        assert fees == {"j-1": (D(0), {"SOL": D("0.0000065")}), "k-1": (D("0.1"), {}), "n-1": (D(0), {})}
        assert store.get_order("j-1").fees == {"USDC": D(0), "SOL": D("0.0000065")}
        other = store.scoped("other").get_order("j-1")
        assert (other.fee, other.other_fees) == (D(0), {"BONK": D(12)})
        # what an order stores from now on is read back the same
        assert store.insert_order(order("new-1", other_fees={"SOL": D("0.000005"), "BONK": D("1E-9")}))
        assert store.get_order("new-1").other_fees == {"BONK": D("1E-9"), "SOL": D("0.000005")}
    finally:
        store.close()


def test_upgrading_from_the_baseline_gives_exactly_the_tables_a_new_store_gets(db_url):
    make_old_db(db_url)
    upgraded = Store(db_url).open()
    try:
        host = MetaData()
        for table in HOST_TABLES:
            table.to_metadata(host)
        with upgraded.engine.connect() as conn:
            names = {t.name for t in HOST_TABLES}
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": lambda name, kind, _: kind != "table" or name in names})
            assert compare_metadata(context, host) == []
    finally:
        upgraded.close()


def test_a_new_store_is_created_at_the_newest_revision(store):
    assert migrate.current(store) == migrate.head() != migrate.BASELINE
    assert migrate.upgrade(store) == (migrate.head(), migrate.head())


def test_head_is_alembics_newest_revision():
    assert migrate.HEAD == migrate.head()


def test_a_new_or_current_store_opens_without_importing_alembic(db_url):
    code = ("import sys\nfrom bot.store import Store\n"
            f"Store({db_url!r}).open().close()\nStore({db_url!r}).open().close()\n"
            "print('alembic' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
    reopened = Store(db_url).open()
    try:  # what the quick path wrote is what Alembic reads
        assert migrate.current(reopened) == migrate.head()
    finally:
        reopened.close()


def test_a_db_newer_than_the_code_is_refused_with_a_clear_message(store, db_url):
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    again = Store(db_url)
    try:
        with pytest.raises(StoreError, match="schema revision 9999, which this arbot does not know: it was written "
                                             "by a newer arbot"):
            again.open()
    finally:
        again.close()


def test_64_bit_times_huge_token_amounts_and_exact_decimals_round_trip(store):
    assert store.insert_order(order("c-1", fee=D("0.000000000000000001")))
    assert store.get_order("c-1").fee == D("0.000000000000000001")
    assert store.insert_fill(fill("t-1"), "s")
    [(_, got)] = store.fills()
    assert got == fill("t-1")
    u64_max, u256 = 2**64 - 1, 2**256 - 1
    save_swap(store, JupiterSwapRow(
        exchange="jup", client_order_id="c-1", symbol="SOL/USDC", side="buy", qty="1", input_mint="A",
        output_mint="B", in_amount=u64_max, out_amount=u256, min_out_amount=2**63, signature="sig",
        signed_tx_b64="tx", last_valid_block_height=2**40, updated_ns=BIG_NS))
    row = load_swap(store, "jup", "c-1")
    assert (row.in_amount, row.out_amount, row.min_out_amount) == (u64_max, u256, 2**63)
    assert row.last_valid_block_height == 2**40 and row.updated_ns == BIG_NS and row.filled_base_units is None


ROW_ID_TABLES = ("orders", "fills", "balance_snapshots", "risk_events", "audit_log", "markouts", "grid_slots")


def test_row_ids_go_past_32_bits_on_both_databases(store):
    # a row id was SERIAL on PostgreSQL, 32 bits (SQLite's is its 64-bit rowid): past 2^31 rows of a table (a
    # plugin's log, markouts) every insert failed ("nextval: reached maximum value of sequence"), fills included
    big = 2**31 - 1
    with store.engine.begin() as conn:
        for table in ROW_ID_TABLES:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {big})"))
    for n in range(2):
        assert store.insert_order(order(f"c-{n}")) and store.insert_fill(fill(f"t-{n}", f"c-{n}"), "s")
        store.snapshot_balances("paper", [], BIG_NS)
        store.record_risk_event(check_name="c", reason="r")
        store.audit(transport="t", user_id="u", command="c", args="", outcome="ok")
        store.insert_markouts([dict(exchange="paper", trade_id=f"t-{n}", horizon_s=1, mid=D(1), ts_ns=BIG_NS)])
        assert store.record(GridSlotRow, dict(strategy="g", slot=n, state="free", seq=0, round_trips=0, updated_ns=0,
                                              **dict.fromkeys(("buy_price", "sell_price", "qty", "cost", "proceeds",
                                                               "profit"), D(0))))
        if n == 0 and store.engine.dialect.name == "sqlite":  # SQLite's next row id is the largest one's + 1
            with store.engine.begin() as conn:
                for table in ROW_ID_TABLES:
                    conn.execute(text(f"UPDATE {table} SET id = {big}"))
    with store.engine.connect() as conn:
        for table in ("orders", "fills", "risk_events", "audit_log", "markouts", "grid_slots"):
            assert conn.execute(text(f"SELECT max(id) FROM {table}")).scalar() > big, table
    assert [f.trade_id for _, f in store.fills()] == ["t-0", "t-1"] and len(store.orders()) == 2


def test_an_older_postgresql_store_gets_64_bit_row_ids_its_rows_kept(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's row id always had 64 bits")
    from alembic import command

    old = Store(db_url, bot="b")
    with old.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn, "b"), "0008")  # SERIAL row ids
        slots = table_of(GridSlotRow).to_metadata(MetaData())
        slots.c.id.type = Integer()  # a plugin table as an older store made it
        slots.create(conn)
    old.close()
    store = Store(db_url, bot="b").open()
    try:
        assert store.insert_order(order("before"))
        with store.engine.begin() as conn:
            for table in ("orders", "grid_slots"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {2**31 - 1})"))
        assert store.insert_order(order("after")) and [o.client_order_id for o in store.orders()] == ["before", "after"]
        assert store.record(GridSlotRow, dict(strategy="g", slot=0, state="free", seq=0, round_trips=0, updated_ns=0,
                                              **dict.fromkeys(("buy_price", "sell_price", "qty", "cost", "proceeds",
                                                               "profit"), D(0))))
    finally:
        store.close()


def test_the_lot_an_order_closes_round_trips(store):
    assert store.insert_order(order("buy-1")) and store.insert_order(order("sell-1", side=Side.SELL, closes="buy-1"))
    assert store.insert_order(order("other", strategy="t", closes="x"))
    assert store.get_order("sell-1").closes == "buy-1" and store.get_order("buy-1").closes is None
    assert store.closes() == {"sell-1": "buy-1", "other": "x"}
    assert store.closes(strategy="s") == {"sell-1": "buy-1"}


LONG = D("-155.459042743957857142857142857142857142857142857257856531111111111111111111111111111111")
"""An exact figure longer than 64 characters (a sum of products of pool prices): VARCHAR(64) refused it."""


def test_an_exact_amount_of_any_length_is_stored_and_read_back(store):
    assert len(str(LONG)) > 64
    assert store.insert_order(order("c-1"))
    assert store.insert_fill(Fill("dex", "SOL/USDC", "c-1", "t-1", Side.BUY, -LONG, D(1), -LONG / 10**6, "SOL",
                                  Liquidity.TAKER, BIG_NS), "s")
    (_, stored), = store.fills()
    assert stored.price == -LONG and stored.fee == -LONG / 10**6


def test_a_plugin_tables_money_column_an_older_store_made_narrow_is_widened_at_open(db_url):
    # a plugin's table is its model, created at open; on PostgreSQL an older store made its money columns
    # VARCHAR(64), which the next open widens (SQLite stores any length in any text column)
    if not db_url.startswith("postgresql"):
        pytest.skip("VARCHAR(64) refuses a longer value only on PostgreSQL (ARBOT_TEST_DB_URL)")

    def column_type(store: Store) -> str:
        with store.engine.connect() as conn:
            return conn.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'grid_slots' "
                "AND column_name = 'profit' AND table_schema = current_schema()")).scalar_one()

    first = Store(db_url).open()
    with first.engine.begin() as conn:
        conn.execute(text("ALTER TABLE grid_slots ALTER COLUMN profit TYPE VARCHAR(64)"))
    assert column_type(first) == "character varying"
    first.close()
    reopened = Store(db_url).open()
    try:
        with reopened.engine.connect() as conn:
            length = conn.execute(text(
                "SELECT character_maximum_length FROM information_schema.columns WHERE table_name = 'grid_slots' "
                "AND column_name = 'profit' AND table_schema = current_schema()")).scalar_one()
        assert column_type(reopened) == "character varying" and length is None
    finally:
        reopened.close()


def test_the_latest_balances_come_in_the_same_order_whatever_the_databases_collation(store, db_url):
    # SQLite compares text by code point; a PostgreSQL database made with a language's collation (Debian's
    # en_US.UTF-8 cluster) sorts "solana" before "sol-pool" and "binance" before "Kraken". Simulated here by
    # giving the two columns ICU's root collation in this test's own schema.
    if db_url.startswith("postgresql"):
        with store.engine.begin() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).scalar():
                pytest.skip("this PostgreSQL has no ICU collation to sort by a language's rules")
            for column in ("exchange", "asset"):
                conn.execute(text(f'ALTER TABLE balance_snapshots ALTER COLUMN {column} TYPE VARCHAR '
                                  f'COLLATE "und-x-icu"'))
    names = ["solana", "sol-pool", "binance", "Kraken", "kraken_2"]
    for n, exchange in enumerate(names):
        store.snapshot_balances(exchange, [Balance("usdc", D(1), D(1)), Balance("USD", D(2), D(2)),
                                           Balance("SOL", D(3), D(3))], BIG_NS + n)
    got = [(row.exchange, row.asset) for row in store.latest_balances()]
    assert got == sorted((e, a) for e in names for a in ("usdc", "USD", "SOL"))  # code point order, as on SQLite


def test_the_fills_of_one_order_are_read_by_its_id_alone(store):
    # a grid or arbitrage missing an order's fills reads that order's, not every fill of the strategy's history
    store.write_batch([], [("s", fill("t-1", "a")), ("s", fill("t-2", "b")), ("g", fill("t-3", "b")),
                           ("s", fill("t-4", "b")), ("s", fill("t-5", "c"))])
    assert [f.trade_id for _, f in store.fills(client_order_id="b")] == ["t-2", "t-3", "t-4"]
    assert [f.trade_id for _, f in store.fills(strategy="s", client_order_id="b")] == ["t-2", "t-4"]
    assert store.fills(client_order_id="none") == []
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    store.fills(strategy="s", client_order_id="b")
    event.remove(store.engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "client_order_id = " in statements[0]  # asked of the database, not filtered after


def test_a_duplicate_order_or_fill_writes_nothing_and_says_so(store):
    assert store.insert_order(order("c-1"))
    assert not store.insert_order(order("c-1", reason="again"))
    assert store.insert_fill(fill("t-1"), "s")
    assert not store.insert_fill(fill("t-1"), "other")
    assert [o.reason for o in store.orders()] == [""] and [s for s, _ in store.fills()] == ["s"]
    store.write_batch([], [("s", fill("t-1")), ("s", fill("t-2")), ("s", fill("t-2"))])
    assert [f.trade_id for _, f in store.fills()] == ["t-1", "t-2"]


def test_a_fill_another_process_stored_after_the_check_is_skipped_not_an_error(store, db_url):
    # a standby handover: the other process of this bot stores the fill between write_batch's check for stored
    # fills and its insert; the batch (and the order changes in it) still goes through, the fill stored once
    if store.fast is not None:
        pytest.skip("a file-backed SQLite store writes a batch under SQLite's lock, with no check before it")
    other = Store(db_url).open()
    assert store.insert_order(order("c-1"))
    raced: list[bool] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def race(conn, cursor, statement, parameters, context, executemany):
        if not raced and statement.lstrip().upper().startswith("SELECT") and "fills" in statement:
            raced.append(other.insert_fill(fill("t-1"), "s"))

    try:
        store.write_batch([order("c-1", status=OrderStatus.FILLED, filled_qty=D("0.01"))],
                          [("s", fill("t-1")), ("s", fill("t-2"))])
    finally:
        event.remove(store.engine, "after_cursor_execute", race)
        other.close()
    assert raced == [True]
    assert [f.trade_id for _, f in store.fills()] == ["t-1", "t-2"]
    assert store.get_order("c-1").status is OrderStatus.FILLED


@pytest.mark.parametrize("wait", [True, False])
def test_a_nul_character_in_a_venues_error_text_holds_back_no_write(store, wait):
    # PostgreSQL's text refuses NUL (a DataError that no retry cures): an order's reason holding one made every
    # write_batch of its change fail, and the fills batched with it were never stored; SQLite stored it as it was
    assert store.insert_order(order("c-1", reason="sent\x00"))
    rejected = order("c-1", status=OrderStatus.REJECTED, reason="venue said: bad\x00request")
    store.write_batch([rejected], [("s", fill("t-1"))], wait=wait)
    assert store.get_order("c-1").reason == "venue said: bad\ufffdrequest" and len(store.fills()) == 1
    store.record_risk_event(check_name="venue", reason="bad\x00text", details={"error": "bad\x00text"})
    store.audit(transport="chat", user_id="u", command="pause", args="a\x00b", outcome="ok\x00")
    store.audit_many([dict(ts_ns=1, transport="chat", user_id="u", chat_id="", role="", command="pause",
                           args="\x00", outcome="")])
    assert store.risk_events()[0].reason == "bad\ufffdtext"
    assert [(a.args, a.outcome) for a in store.audit_log()] == [("\ufffd", ""), ("a\ufffdb", "ok\ufffd")]


async def test_the_store_can_be_written_from_worker_threads(store):
    async def write(n: int) -> None:
        await asyncio.to_thread(store.insert_order, order(f"c-{n}"))
        await asyncio.to_thread(store.insert_fill, fill(f"t-{n}", f"c-{n}"), "s")
        done = order(f"c-{n}", status=OrderStatus.FILLED, filled_qty=D("0.01"))
        await asyncio.to_thread(store.write_batch, [done], [])
        await asyncio.to_thread(store.set_state, f"k-{n}", str(n))

    await asyncio.gather(*(write(n) for n in range(24)))
    assert {o.client_order_id for o in store.orders(statuses=[OrderStatus.FILLED])} == {f"c-{n}" for n in range(24)}
    assert len(store.fills()) == 24 and store.get_state("k-7") == "7"


def test_arbot_db_current_and_upgrade(db_url, capsys):
    make_old_db(db_url)
    assert cli.main(["db", "current", "--db", db_url]) == 0
    assert "made before migrations" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", "--db", db_url]) == 0
    assert f"upgraded from revision {migrate.BASELINE} to {migrate.head()}" in capsys.readouterr().out
    assert cli.main(["db", "current", "--db", db_url]) == 0
    assert f"revision {migrate.head()} (the newest)" in capsys.readouterr().out


def test_a_url_password_is_masked_where_the_store_is_shown(caplog):
    canary = "Canary-pw-5c1e0f7a"
    store = Store(f"postgresql://arbot:{canary}@127.0.0.1:1/arbot")
    try:
        assert store.url == "postgresql://arbot:***@127.0.0.1:1/arbot"
        with pytest.raises(StoreError) as raised:
            store.open()
        assert canary not in str(raised.value) and "127.0.0.1" in str(raised.value)
        logging.getLogger("arbot").addFilter(REDACTOR)
        try:
            with caplog.at_level(logging.INFO, logger="arbot"):
                logging.getLogger("arbot").info("connecting to postgresql://arbot:%s@127.0.0.1:1/arbot", canary)
        finally:
            logging.getLogger("arbot").removeFilter(REDACTOR)
        assert canary not in caplog.text and "arbot:***@" in caplog.text
    finally:
        store.close()


def test_a_postgresql_server_that_never_answers_fails_the_connection_within_the_connect_timeout(monkeypatch):
    """A server that accepts the TCP connection and then says nothing (a stopped postmaster: the kernel still
    accepts) fails the connection after ``PG_CONNECT_TIMEOUT_S`` instead of waiting forever; the store's outage
    handling then takes over."""
    import socket
    import threading
    import time

    from bot import store as store_module

    monkeypatch.setattr(store_module, "PG_CONNECT_TIMEOUT_S", 2, raising=False)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    outcome: list[BaseException | None] = []

    def connect() -> None:
        store = Store(f"postgresql://arbot:not-said-{port}@127.0.0.1:{port}/arbot")
        try:
            with store.engine.connect():
                pass
        except Exception as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=connect, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(15)
    silent.close()  # (a connection still waiting ends now)
    assert outcome, "still connecting to a server that never answers after 15 s"
    assert outcome[0] is not None and time.monotonic() - started < 10
    assert f"not-said-{port}" not in str(outcome[0])


def test_postgresql_connections_have_a_connect_timeout_and_tcp_keepalives(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connection parameters (ARBOT_TEST_DB_URL)")
    store = Store(db_url)
    try:
        with store.engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()
        assert params["connect_timeout"] == str(store_module_timeout())
        assert params["keepalives"] == "1" and int(params["keepalives_idle"]) > 0
        assert int(params["keepalives_interval"]) > 0 and int(params["keepalives_count"]) > 0
        assert int(params["tcp_user_timeout"]) > 0
    finally:
        store.close()


def store_module_timeout() -> int:
    from bot import store as store_module

    return store_module.PG_CONNECT_TIMEOUT_S


def test_a_transfers_network_fee_gets_its_asset_when_the_store_upgrades(db_url):
    # 0011: a transfer stored its network fee without the asset it was paid in (a Jupiter USDC transfer's 0.00204428
    # was SOL, shown with no unit). Every venue that charged one before 0011 paid it in SOL; a row without a
    # network fee had no asset to record: it stays NULL, shown as "unit unknown" should a fee ever be read
    from alembic import command

    from bot.domain import Transfer, TransferStatus
    from bot.report import transfer_text

    old = Store(db_url, bot="b")
    with old.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn, "b"), "0010")
        conn.execute(text(
            "INSERT INTO transfers (bot, transfer_id, asset, amount, source, destination, address, fee, network_fee, "
            "status, venue_ref, reason, created_ns, updated_ns) VALUES (:bot, :tid, :asset, '5', 'a', 'b', 'addr', "
            ":fee, :nf, 'sent', '', '', 1, 2)"),
            [{"bot": "b", "tid": "t-wallet", "asset": "USDC", "fee": "0", "nf": "0.00204428"},
             {"bot": "b", "tid": "t-cex", "asset": "SOL", "fee": "0.01", "nf": "0"}])
    old.close()
    store = Store(db_url, bot="b").open()
    try:
        assert migrate.current(store) == migrate.head()
        by_id = {t.transfer_id: t for t in store.transfers()}
        wallet, cex = by_id["t-wallet"], by_id["t-cex"]
        assert (wallet.network_fee, wallet.network_fee_asset) == (D("0.00204428"), "SOL")
        assert (cex.network_fee, cex.network_fee_asset) == (D(0), None)
        assert "network fee 0.00204428 SOL" in transfer_text(wallet, 3)
        # what a transfer stores from now on is read back the same
        store.save_transfer(Transfer("t-new", "USDC", D(1), "a", "b", "addr", D(0), D("0.000005"),
                                     TransferStatus.PLANNED, 5, 5, network_fee_asset="SOL"))
        assert {t.transfer_id: t for t in store.transfers()}["t-new"].network_fee_asset == "SOL"
    finally:
        store.close()


def test_every_fill_is_read_a_page_at_a_time_in_time_order_ties_included(store):
    """``fills_page``: the executor's start reads the fills in short reads (bot.writer: the stall alarm); the pages
    together are ``fills()``, fills made at one instant neither lost nor read twice at a page's edge."""
    store.write_batch([], [("s", replace(fill(f"t-{n}"), ts_ns=BIG_NS + n // 3)) for n in range(7)])
    pages, after = [], None
    while True:
        page, after = store.fills_page(after, 2)
        pages.append([f.trade_id for _, f in page])
        if len(page) < 2:
            break
    assert pages == [["t-0", "t-1"], ["t-2", "t-3"], ["t-4", "t-5"], ["t-6"]]
    assert [f for page in pages for f in page] == [f.trade_id for _, f in store.fills()]
    assert store.fills_page(after, 2) == ([], None)
