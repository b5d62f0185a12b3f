"""SIGKILL a real `arbot run --live` grid on the fake Coinbase while a create's answer hangs, right after a fill,
and at random moments (the venue filling orders while the bot is down); then a run that settles everything. The
venue's own record (orders by ``client_order_id``, its fills by ``entry_id``) and the store must agree: a create
sent again is answered with the same order (Coinbase's idempotency), every fill stored once, every order's state
the venue's, nothing left pending or unknown, trading going on after the restarts."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.coinbase import KEY_NAME, PRIVATE_KEY_PEM
from tests.helpers.processes import arbot
from tests.helpers.store_kit import query_db
from tests.helpers.waiting import wait_for

CONFIG = """
mode = "live"
[bot]
data_dir = "{data_dir}"
db_url = "{db_url}"
control_socket = ""
on_shutdown = "keep"
[executor]
request_timeout_s = 2
max_retries = 2
backoff_initial_s = 0.05
backoff_max_s = 0.2
[scheduler]
reconcile_every_s = 0.5
[exchanges.coinbase]
symbols = ["BTC/USD"]
ws_url = "{ws_url}"
rest_url = "{rest_url}"
user_ws_url = "{user_url}"
private_stream = true
api_key_name = "env:FAKE_CB_KEY_NAME"
api_private_key = "env:FAKE_CB_PRIVATE_KEY"
silence_timeout_s = 60
request_timeout_s = 2
rest_per_s = 1000.0
rest_burst = 100
stream_poll_s = 0.5
fill_poll_s = 0.5
[strategies.g]
type = "grid"
exchange = "coinbase"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 9
order_size = "0.001"
post_only = false
retry_after_s = 0.5
[notifiers.console]
min_level = "error"
"""

UNSETTLED = "select count(*) from orders where status in ('pending', 'unknown')"
STATUS = {"OPEN": "open", "FILLED": "filled", "CANCELLED": "cancelled"}


@pytest.mark.slow
async def test_sigkill_at_chosen_points_keeps_the_store_and_coinbase_in_agreement(
        tmp_path: Path, db_url: str, fake_ws, fake_rest, fake_user_ws):
    rng = random.Random(11)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, db_url=db_url, ws_url=fake_ws.url, rest_url=fake_rest.url,
                                    user_url=fake_user_ws.url))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FAKE_CB_KEY_NAME": KEY_NAME, "FAKE_CB_PRIVATE_KEY": PRIVATE_KEY_PEM}
    runs: list[asyncio.subprocess.Process] = []
    fills_made = 0

    def log_tail() -> str:
        return (tmp_path / f"run{len(runs)}.log").read_text()[-3000:]

    async def start() -> asyncio.subprocess.Process:
        with (tmp_path / f"run{len(runs) + 1}.log").open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(*arbot("run", "--live", "--config", str(config)), env=env,
                                                        cwd=tmp_path, stdout=sink, stderr=sink)
        runs.append(proc)
        await wait_for(lambda: alive() and b"grid coinbase BTC/USD" in (tmp_path / f"run{len(runs)}.log").read_bytes(),
                       timeout_s=30, what="the grid started")
        return proc

    def alive() -> bool:
        assert runs[-1].returncode is None, log_tail()
        return True

    async def kill() -> None:
        if runs and runs[-1].returncode is None:
            runs[-1].send_signal(signal.SIGKILL)
            await runs[-1].wait()

    def resting() -> list[str]:
        return [oid for oid, o in fake_rest.orders.items() if o["status"] == "OPEN"]

    def fill_one(whole: bool = False) -> bool:
        nonlocal fills_made
        open_ = resting()
        if not open_:
            return False
        oid = rng.choice(open_)
        order = fake_rest.orders[oid]
        left = Decimal(order["base_size"]) - Decimal(order["filled_size"])
        qty = left if whole or rng.random() < 0.6 else (left / 2).quantize(Decimal("0.00000001"))
        fake_rest.fill(oid, qty, Decimal(order["order_configuration"]["limit_limit_gtc"]["limit_price"]))
        fills_made += 1
        return True

    trading = True

    async def market() -> None:  # the book moves and, until the end, the market trades against our resting orders
        while True:
            await fake_ws.random_updates("BTC-USD", 3)
            if trading and rng.random() < 0.1:
                fill_one()
            await asyncio.sleep(0.05)

    ticking = asyncio.get_running_loop().create_task(market())
    try:
        # 1. a fill, killed within the writer's gathering time (50 ms): not yet in the store
        await start()
        await wait_for(lambda: alive() and resting(), timeout_s=20, what="orders resting")
        await wait_for(fill_one, timeout_s=20, what="an order to fill")
        await asyncio.sleep(rng.uniform(0.0, 0.04))  # the kill point itself, not a wait for anything
        await kill()
        # 2. a create the venue takes, whose answer hangs: killed before the bot hears of it
        await start()
        creates = sum(1 for _, method, path in fake_rest.log if method == "POST" and path.endswith("/orders"))
        fake_rest.hang_create_order_s = 5.0
        await wait_for(lambda: alive() and sum(1 for _, m, p in fake_rest.log
                                               if m == "POST" and p.endswith("/orders")) > creates,
                       timeout_s=30, what="a create taken")
        await kill()
        fake_rest.hang_create_order_s = 0.0
        # 3. random moments
        for _ in range(2):
            await start()
            await asyncio.sleep(rng.uniform(0.1, 1.5))  # the kill point itself
            await kill()
        # a run that settles what the kills left, trades on, then stops cleanly
        orders_before = len(fake_rest.orders)
        await start()
        await wait_for(lambda: alive() and fill_one(whole=True), timeout_s=20, what="an order to fill")
        await wait_for(lambda: alive() and len(fake_rest.orders) > orders_before, timeout_s=20,
                       what="an order sent after the restarts")
        trading = False  # then the bot hears of every trade made before it stops
        await wait_for(lambda: alive() and agrees(fake_rest, db_url), timeout_s=30,
                       what="the store to agree with the venue")
    finally:
        ticking.cancel()
        if runs and runs[-1].returncode is None:
            runs[-1].send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(runs[-1].wait(), 30) == 0, log_tail()
    assert fills_made >= 1
    check_against_the_venue(fake_rest, db_url)


def agrees(fake_rest, db_url: str) -> bool:
    """Whether :func:`check_against_the_venue` holds now."""
    try:
        check_against_the_venue(fake_rest, db_url)
    except AssertionError:
        return False
    return True


def check_against_the_venue(fake_rest, db_url: str) -> None:
    """Every order of the venue stored, in the venue's state, each fill once, no grid slot resting two orders, and
    nothing left pending or unknown."""
    assert query_db(db_url, UNSETTLED) == [(0,)]
    stored = {cid: (status, oid, Decimal(str(filled))) for cid, status, oid, filled in query_db(
        db_url, "select client_order_id, status, exchange_order_id, filled_qty from orders")}
    assert {o["client_order_id"] for o in fake_rest.orders.values()} <= set(stored)
    for oid, order in fake_rest.orders.items():
        status, stored_oid, filled = stored[order["client_order_id"]]
        assert (status, stored_oid, filled) == (STATUS[order["status"]], oid, Decimal(order["filled_size"])), oid
    fills = dict(query_db(db_url, "select trade_id, count(*) from fills group by trade_id"))
    assert fills == {f["entry_id"]: 1 for f in fake_rest.fills}
    resting_slots = Counter((o["side"], o["order_configuration"]["limit_limit_gtc"]["limit_price"])
                            for o in fake_rest.orders.values() if o["status"] == "OPEN")
    assert [slot for slot, n in resting_slots.items() if n > 1] == [], "one grid slot with two orders resting"
