"""SIGKILL a real `arbot run --live` grid on the fake Kraken at chosen points, restart it, and check the venue's own
record: no ``cl_ord_id`` sent twice, every trade of ours in the store's fills once, no order left unsettled, and
trading going on after the restart.

The fake keeps its own truth (:mod:`tests.fakes.kraken`): every request it received (``log``), its orders and trades.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.kraken.exchange import venue_client_id
from tests.fakes.kraken import API_KEY, API_SECRET
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
[exchanges.kraken]
symbols = ["BTC/USD"]
depth = 25
ws_url = "{ws_url}"
rest_url = "{rest_url}"
private_ws_url = "{auth_url}"
private_stream = true
api_key = "env:FAKE_KRAKEN_KEY"
api_secret = "env:FAKE_KRAKEN_SECRET"
silence_timeout_s = 60
rest_per_s = 50
rest_burst = 20
request_timeout_s = 2
stream_poll_s = 0.5
fill_poll_s = 0.5
[strategies.g]
type = "grid"
exchange = "kraken"
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


class Run:
    """Starts `arbot run --live` against the fakes, and kills it."""

    def __init__(self, tmp_path: Path, db_url: str, ws, rest, auth):
        self.tmp_path = tmp_path
        self.config = tmp_path / "config.toml"
        self.config.write_text(CONFIG.format(data_dir=tmp_path, db_url=db_url, ws_url=ws.url, rest_url=rest.url,
                                             auth_url=auth.url))
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "FAKE_KRAKEN_KEY": API_KEY,
                    "FAKE_KRAKEN_SECRET": API_SECRET}
        self.runs = 0
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def log(self) -> Path:
        return self.tmp_path / f"run{self.runs}.log"

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        self.runs += 1
        with self.log.open("wb") as sink:
            self.proc = await asyncio.create_subprocess_exec(
                *arbot("run", "--live", "--config", str(self.config), *extra), env=self.env, cwd=self.tmp_path,
                stdout=sink, stderr=sink)
        return self.proc

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        """A clean stop (SIGTERM): what it knows is written; it exits 0."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.proc.wait(), 30) == 0, self.tail()

    def alive(self) -> bool:
        """Still running (AssertionError with its log when it exited)."""
        assert self.proc is not None and self.proc.returncode is None, self.tail()
        return True

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


@pytest.fixture
async def market(fake_ws):
    """The book moves, so the grid (which acts on book updates) places its orders."""

    async def ticks() -> None:
        while True:
            await fake_ws.random_updates("BTC/USD", 3)
            await asyncio.sleep(0.05)

    task = asyncio.get_running_loop().create_task(ticks())
    yield
    task.cancel()


def add_orders(rest) -> list[dict]:
    return [params for _, method, params in rest.log if method == "AddOrder"]


def stored_orders(db_url: str) -> dict[str, tuple[str, str | None, Decimal]]:
    """venue cl_ord_id -> (status, exchange order id, filled qty) of every order row."""
    rows = query_db(db_url, "select client_order_id, status, exchange_order_id, filled_qty from orders")
    return {venue_client_id(cid): (status, txid, Decimal(str(filled))) for cid, status, txid, filled in rows}


def agrees(rest, db_url: str) -> bool:
    """Whether :func:`check_against_the_venue` holds now."""
    try:
        check_against_the_venue(rest, db_url)
    except AssertionError:
        return False
    return True


def check_against_the_venue(rest, db_url: str) -> None:
    """The venue's record and the store's agree: each id sent once, each trade of ours stored once, each order's
    state the venue's, nothing left pending or unknown."""
    assert query_db(db_url, UNSETTLED) == [(0,)]
    sent = Counter(params["cl_ord_id"] for params in add_orders(rest))
    assert [vid for vid, n in sent.items() if n > 1] == []
    resting = Counter((o["descr"]["type"], o["descr"]["price"]) for o in rest.orders.values()
                      if o["status"] in ("open", "pending"))
    assert [slot for slot, n in resting.items() if n > 1] == [], "one grid slot with two orders resting"
    ours = stored_orders(db_url)
    by_txid = {txid: order for txid, order in rest.orders.items() if order.get("cl_ord_id") in ours}
    assert set(by_txid) == {t for t, o in rest.orders.items()}, "an order at the venue the store does not hold"
    fills = query_db(db_url, "select trade_id, count(*) from fills group by trade_id")
    stored_trades = {trade_id: n for trade_id, n in fills if ":fee:" not in trade_id}
    venue_trades = {tid for order in by_txid.values() for tid in order["trades"]}
    assert set(stored_trades) == venue_trades and set(stored_trades.values()) <= {1}
    for txid, order in by_txid.items():
        status, stored_txid, filled = ours[order["cl_ord_id"]]
        venue_status = {"open": "open", "pending": "open", "closed": "filled", "canceled": "cancelled"}[order["status"]]
        if venue_status == "cancelled" and Decimal(order["vol_exec"]) == 0:
            assert status in ("cancelled", "failed"), (txid, status)
        else:
            assert (status, stored_txid) == (venue_status, txid), (txid, order["status"], status)
        assert filled == Decimal(order["vol_exec"]), txid


@pytest.mark.slow
async def test_an_add_order_still_queued_at_the_venue_when_the_bot_is_killed_is_adopted_once_it_lands(
        tmp_path, db_url, fake_ws, fake_rest, fake_auth_ws, market):
    """The AddOrder's answer is lost and Kraken's queue takes it seconds later, within its deadline; the bot is
    SIGKILLed meanwhile. The next run must not call it "never received" (FAILED) while it may still land: once it
    does, it is that run's open order, not one resting at the venue that no run knows."""
    run = Run(tmp_path, db_url, fake_ws, fake_rest, fake_auth_ws)
    fake_rest.queue_add_order_s = 2.5
    await run.start()
    try:
        await wait_for(lambda: run.alive() and add_orders(fake_rest), timeout_s=30, what="the first AddOrder")
        lost = add_orders(fake_rest)[0]["cl_ord_id"]
        await run.kill()
        sent_before = len(add_orders(fake_rest))
        await run.start()
        await wait_for(lambda: fake_rest.late_add_orders, timeout_s=10, what="the queued AddOrder to land")
        txid = fake_rest.late_add_orders[0]
        assert txid.endswith("-FAKE-ORDER"), txid
        await wait_for(lambda: stored_orders(db_url).get(lost, (None, None, 0))[:2] == ("open", txid),
                       timeout_s=20, what=f"the landed order adopted (store: {stored_orders(db_url).get(lost)})")
        await wait_for(lambda: run.alive() and len(add_orders(fake_rest)) > sent_before, timeout_s=20,
                       what="an order sent after the restart")
        # the orders the killed run stored and never sent are UNKNOWN as long as they might land, then FAILED
        await wait_for(lambda: run.alive() and agrees(fake_rest, db_url), timeout_s=20,
                       what="the store to agree with the venue")
        await run.stop()
    finally:
        await run.kill()
    check_against_the_venue(fake_rest, db_url)


def our_open_orders(rest) -> list[str]:
    return [txid for txid in rest.open_orders() if rest.orders[txid].get("cl_ord_id")]


@pytest.mark.slow
async def test_sigkill_at_chosen_points_never_sends_an_id_twice_and_applies_every_venue_fill_once(
        tmp_path, db_url, fake_ws, fake_rest, fake_auth_ws, market):
    """Killed right after the venue reported a fill (before the bot wrote it), while an AddOrder's answer hangs
    (the venue has the order, the bot does not know), and at a random moment; fills keep happening at the venue
    while the bot is down. Then a run that settles everything: the venue's record and the store's agree."""
    rng = random.Random(7)
    run = Run(tmp_path, db_url, fake_ws, fake_rest, fake_auth_ws)
    fills_made = 0

    def fill_one(whole: bool = False) -> bool:
        nonlocal fills_made
        open_ = our_open_orders(fake_rest)
        if not open_:
            return False
        txid = rng.choice(open_)
        order = fake_rest.orders[txid]
        rest_qty = Decimal(order["vol"]) - Decimal(order["vol_exec"])
        qty = rest_qty if whole or rng.random() < 0.6 else (rest_qty / 2).quantize(Decimal("0.00000001"))
        fake_rest.fill(txid, qty, Decimal(order["descr"]["price"]))
        fills_made += 1
        return True

    async def venue_fills() -> None:  # the market trades against our resting orders, bot up or down
        while True:
            fill_one()
            await asyncio.sleep(rng.uniform(0.05, 0.25))

    async def started() -> None:
        await run.start()
        await wait_for(lambda: run.alive() and our_open_orders(fake_rest), timeout_s=30, what="orders resting")

    filling = asyncio.get_running_loop().create_task(venue_fills())
    try:
        # 1. a fill reported, killed within the writer's gathering time (50 ms): not yet in the store
        await started()
        await wait_for(lambda: fills_made >= 3, timeout_s=20, what="fills")
        await wait_for(fill_one, timeout_s=20, what="an order to fill")
        await asyncio.sleep(rng.uniform(0.0, 0.04))  # the kill point itself, not a wait for anything
        await run.kill()
        # 2. an AddOrder the venue takes, whose answer hangs: killed before the bot hears of it
        fake_rest.hang_add_order_s = 5.0
        sent = len(add_orders(fake_rest))
        await started()
        await wait_for(lambda: run.alive() and len(add_orders(fake_rest)) > sent, timeout_s=30,
                       what="an AddOrder taken")
        await run.kill()
        fake_rest.hang_add_order_s = 0.0
        # 3. three random moments
        for _ in range(3):
            await started()
            await asyncio.sleep(rng.uniform(0.1, 1.5))  # the kill point itself
            await run.kill()
        filling.cancel()
        # a run that settles what the kills left behind (an order whose AddOrder may still land is UNKNOWN until
        # its deadline has passed), trades on (a whole fill: the grid places the other side), then stops cleanly
        sent = len(add_orders(fake_rest))
        await started()
        await wait_for(lambda: run.alive() and fill_one(whole=True), timeout_s=20, what="an order to fill")
        await wait_for(lambda: run.alive() and len(add_orders(fake_rest)) > sent, timeout_s=20,
                       what="an order sent after the restarts")
        await wait_for(lambda: run.alive() and agrees(fake_rest, db_url), timeout_s=30,
                       what="the store to agree with the venue")
        await run.stop()
    finally:
        filling.cancel()
        await run.kill()
    assert fills_made > 5
    check_against_the_venue(fake_rest, db_url)


@pytest.mark.slow
async def test_a_full_disk_mid_run_stops_new_orders_with_a_critical_alert_and_trading_resumes_once_it_has_room(
        tmp_path, fake_ws, fake_rest, fake_auth_ws, market):
    """The disk fills up under a running bot (its file size limit is lowered to what it has written: every write
    that would grow a file fails with EFBIG, as on a full disk), while the venue keeps filling its orders. No order
    may leave without its row; the bot says so at CRITICAL; once the disk has room again it trades on by itself."""
    db_url = f"sqlite:///{tmp_path}/arbot.db"
    run = Run(tmp_path, db_url, fake_ws, fake_rest, fake_auth_ws)
    run.runs += 1
    output = bytearray()
    proc = run.proc = await asyncio.create_subprocess_exec(  # a pipe: the log must not be a file that cannot grow
        *arbot("run", "--live", "--config", str(run.config)), env=run.env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)

    async def read() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            output.extend(chunk)

    reading = asyncio.get_running_loop().create_task(read())
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    try:
        await wait_for(lambda: proc.returncode is None and len(our_open_orders(fake_rest)) >= 2, timeout_s=30,
                       what=f"orders resting: {output[-2000:].decode(errors='replace')}")
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, hard))  # the disk is full
        full_at = len(fake_rest.orders)
        for txid in our_open_orders(fake_rest):  # the market trades: the grid wants to place its counter-orders
            order = fake_rest.orders[txid]
            fake_rest.fill(txid, Decimal(order["vol"]), Decimal(order["descr"]["price"]))
        await wait_for(lambda: b"CRITICAL" in output, timeout_s=20,
                       what=f"a CRITICAL alert: {output[-3000:].decode(errors='replace')}")
        assert proc.returncode is None
        unsaved = {txid for txid, o in fake_rest.orders.items()
                   if venue_client_id_known(db_url, o["cl_ord_id"]) is False}
        assert unsaved == set(), "sent with no row in the store"
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (hard, hard))  # room again
        await wait_for(lambda: proc.returncode is None and len(fake_rest.orders) > full_at, timeout_s=30,
                       what=f"an order sent once the disk had room: {output[-3000:].decode(errors='replace')}")
        await wait_for(lambda: b"writable again" in output, timeout_s=10, what="the recovery said")
        await wait_for(lambda: query_db(db_url, UNSETTLED) == [(0,)], timeout_s=20, what="every order settled")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        await reading
    check_against_the_venue(fake_rest, db_url)


def venue_client_id_known(db_url: str, vid: str) -> bool:
    return vid in stored_orders(db_url)
