"""SIGKILL between the two legs of an arbitrage, then restart: the filled leg is never executed again and
the open leg is hedged (it is too old to be sent late).

Runs the real `arbot run` in a subprocess: the paper CEX and the paper DEX keep their own state files,
which log every submission they receive, as real venues would see them. ``leg_gap_ms`` holds the DEX
leg back after the CEX leg is final, so the kill lands in the window between the legs every time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from bot.ledger import EXACT_DIGITS
from tests.helpers.processes import arbot, run_until, wait_until
from tests.helpers.store_kit import query, query_db

CONFIG = """
mode = "paper"
[bot]
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
[exchanges.paper]
symbols = ["SOL/USDC"]
start_price = "150"
volatility_bps = 0
tick_interval_ms = 10
level_qty = "0.5"
taker_fee_bps = 10
lot_size = "0.01"
min_qty = "0.01"
initial_balances = {{ USDC = "100000", SOL = "100" }}
[exchanges.dex]
type = "paper-dex"
symbol = "SOL/USDC"
start_price = "153"
volatility_bps = "0.2"
dislocation_probability = 0
tick_interval_ms = 50
initial_balances = {{ SOL = "100", USDC = "100000" }}
[strategies.sol-arb]
type = "arb"
cex = "paper"
dex = "dex"
symbol = "SOL/USDC"
min_edge_bps = 10
cex_taker_fee_bps = 10
max_notional = 300
size_step = "0.1"
min_size = "0.1"
max_input_age_ms = 500
concurrent_legs = false
leg_order = "cex-first"
leg_gap_ms = {gap_ms}
cooldown_ms = 600000
[notifiers.console]
min_level = "warning"
"""


@pytest.mark.slow
def test_sigkill_between_the_legs_never_re_executes_the_filled_leg(tmp_path: Path, db_url: str):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, db_url=db_url, gap_ms=60_000))
    cex_db, dex_db = tmp_path / "paper-exchange.db", tmp_path / "paper-dex.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run1.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(arbot("run", "--config", str(config)), env=env, cwd=tmp_path, stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        # The CEX leg is stored as final with a fill in the execution row (an IOC may fill partly when the
        # paper book moved since the decision: then it is cancelled), the DEX leg not yet sent.
        between = wait_until(lambda: query_db(db_url, "select count(*) from arb_executions where cex_status in "
                                                   "('filled', 'cancelled') and cast(cex_filled as numeric) > 0 "
                                                   "and dex_submitted_ns = 0") == [(1,)], timeout_s=30)
        assert between, log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    [(oid, cex_cid, dex_cid, cex_filled)] = query_db(db_url, "select opportunity_id, cex_cid, dex_cid, cex_filled "
                                                          "from arb_executions")
    assert query(cex_db, f"select count(*) from submissions where client_order_id = '{cex_cid}'") == [(1,)]
    assert query(dex_db, "select count(*) from submissions") in ([(0,)], [])
    # Restart once the opportunity is older than max_input_age_ms (500 ms; a fast machine restarts sooner),
    # settle, stop cleanly.
    [(created_ns,)] = query_db(db_url, f"select created_ns from arb_executions where opportunity_id = '{oid}'")
    time.sleep(max(0.0, 0.6 - (time.time_ns() - int(created_ns)) / 1e9))
    config.write_text(CONFIG.format(data_dir=tmp_path, db_url=db_url, gap_ms=0))
    # Ctrl-C once the execution is settled: its row done and the hedge filled (the clean stop stores what is left)
    log2 = tmp_path / "run2.log"
    settled = (f"select count(*) from arb_executions where opportunity_id = '{oid}' and state = 'done' and exists "
               f"(select 1 from orders where client_order_id = '{oid}-hedge' and status = 'filled')")
    assert run_until(arbot("run", "--config", str(config)), log2, lambda: query_db(db_url, settled) == [(1,)],
                     env=env, cwd=tmp_path) == 0, log2.read_text()[-3000:]
    # The filled CEX leg reached the venue once over both runs; the DEX leg was never sent late.
    assert query(cex_db, f"select count(*) from submissions where client_order_id = '{cex_cid}'") == [(1,)]
    assert query(dex_db, f"select count(*) from submissions where client_order_id = '{dex_cid}'") in ([(0,)], [])
    assert query_db(db_url, f"select count(*) from orders where client_order_id = '{dex_cid}'") == [(0,)]
    # The open exposure was hedged on the CEX: sold back what the CEX leg bought.
    [(side, qty, status)] = query_db(db_url, f"select side, qty, status from orders "
                                             f"where client_order_id = '{oid}-hedge'")
    assert (side, Decimal(qty), status) == ("sell", Decimal(cex_filled), "filled") and Decimal(qty) > 0
    [(state, dex_status, residual, note)] = query_db(
        db_url, f"select state, dex_status, residual, note from arb_executions where opportunity_id = '{oid}'")
    assert (state, dex_status, Decimal(residual)) == ("done", "not sent", 0) and "too old" in note
    assert "left unfinished by the previous run" in log2.read_text()
    # Its realized PnL is that of its fills (the CEX leg's, stored before the kill, and the hedge's), each once.
    fills = query_db(db_url, f"select side, price, qty, fee from fills where client_order_id in ('{cex_cid}', "
                             f"'{oid}-hedge')")
    with localcontext(prec=EXACT_DIGITS):
        by_hand = sum(((1 if side == "sell" else -1) * Decimal(price) * Decimal(qty) - Decimal(fee)
                       for side, price, qty, fee in fills), Decimal(0))
    [(realized,)] = query_db(db_url, f"select realized_pnl from arb_executions where opportunity_id = '{oid}'")
    assert len(fills) >= 2 and Decimal(realized) == by_hand


@pytest.mark.slow
def test_sigkill_with_both_legs_in_flight_leaves_the_whole_intent_and_never_sends_a_leg_twice(
        tmp_path: Path, db_url: str):
    # Concurrent legs, both venues answering 2 s later: the execution row and both order rows are one durable
    # intent (file-backed SQLite), so whenever the row is there, so are both orders (sent or about to be);
    # killed while they are in flight, the restart asks the venues about them and never sends them again.
    config = tmp_path / "config.toml"
    text = (CONFIG.format(data_dir=tmp_path, db_url=db_url, gap_ms=0)
            .replace('concurrent_legs = false\nleg_order = "cex-first"\n', "concurrent_legs = true\n")
            .replace("[exchanges.dex]\n", "latency_ms = 2000\n[exchanges.dex]\n")
            .replace("tick_interval_ms = 50\n", "tick_interval_ms = 50\nlatency_ms = 2000\n"))
    assert text.count("latency_ms = 2000") == 2 and "concurrent_legs = true" in text
    config.write_text(text)
    cex_db, dex_db = tmp_path / "paper-exchange.db", tmp_path / "paper-dex.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run1.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(arbot("run", "--config", str(config)), env=env, cwd=tmp_path, stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        executed = wait_until(lambda: query_db(db_url, "select count(*) from arb_executions") == [(1,)],
                              timeout_s=30)
        assert executed, log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    [(cex_cid, dex_cid)] = query_db(db_url, "select cex_cid, dex_cid from arb_executions")
    if db_url.startswith("sqlite"):  # PostgreSQL commits each row on its own: the row may be there alone
        assert query_db(db_url, f"select count(*) from orders where client_order_id in ('{cex_cid}', "
                                f"'{dex_cid}')") == [(2,)]
    # Ctrl-C once the execution is settled (done, or refused: no leg sent)
    log2 = tmp_path / "run2.log"
    settled = "select count(*) from arb_executions where state in ('done', 'refused')"
    assert run_until(arbot("run", "--config", str(config)), log2, lambda: query_db(db_url, settled) == [(1,)],
                     env=env, cwd=tmp_path) == 0, log2.read_text()[-3000:]
    assert query(cex_db, f"select count(*) from submissions where client_order_id = '{cex_cid}'") in ([(0,)], [(1,)])
    assert query(dex_db, f"select count(*) from submissions where client_order_id = '{dex_cid}'") in ([(0,)], [(1,)],
                                                                                                       [])
    [(state, cex_status, dex_status)] = query_db(db_url, "select state, cex_status, dex_status from arb_executions")
    # done; or, when the kill came before either leg was stored (PostgreSQL commits the row on its own), refused:
    # no leg was ever sent, and none is sent late
    assert state == "done" or (state, cex_status, dex_status) == ("refused", "not sent", "not sent"), state
