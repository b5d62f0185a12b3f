"""A store that knows who it is: a deleted, new or restored arbot.db never leads to a client id sent twice.

The grid (deterministic client order ids) trades on the paper venue, whose own state file logs every
submission it receives, as a real venue would see them.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from bot import app as app_module
from bot.app import Bot, StartOptions
from bot.config import build_config, parse_toml
from bot.domain import AlertLevel, OrderStatus
from bot.identity import StoreMismatch
from bot.plugins import collect, load_plugins
from plugins.paper.state import PaperState
from tests.helpers.waiting import wait_for

CONFIG = """
[bot]
data_dir = "{data_dir}"
control_socket = ""
on_shutdown = "keep"
[exchanges.paper]
tick_interval_ms = 10
[strategies.g]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 11
order_size = "0.01"
"""


def build(data_dir: Path, **options) -> Bot:
    plugins = load_plugins()
    registry = collect(plugins)
    text = textwrap.dedent(CONFIG.format(data_dir=data_dir))
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    return Bot(config, plugins, registry, options=StartOptions(**options))


async def run_until_resting(bot: Bot, count: int = 3) -> list[str]:
    await bot.start()
    await wait_for(lambda: sum(o.status is OrderStatus.OPEN for o in bot.executor.open_orders()) >= count,
                   timeout_s=10, what="the grid's resting buys")
    return [o.client_order_id for o in bot.executor.open_orders()]


def submissions(data_dir: Path) -> list[str]:
    state = PaperState(str(data_dir / "paper-exchange.db"), "paper")
    try:
        return [cid for _, cid, _, _ in state.submissions()]
    finally:
        state.close()


def open_at_venue(data_dir: Path) -> list[str]:
    """The client ids of the orders the paper venue holds open (what a venue would list)."""
    state = PaperState(str(data_dir / "paper-exchange.db"), "paper")
    try:
        return [o.client_order_id for o in state.open_orders()]
    finally:
        state.close()


def status_at_venue(data_dir: Path, client_order_id: str) -> OrderStatus | None:
    state = PaperState(str(data_dir / "paper-exchange.db"), "paper")
    try:
        order = state.order(client_order_id)
        return None if order is None else order.status
    finally:
        state.close()


def remove_db(data_dir: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (data_dir / f"arbot.db{suffix}").unlink(missing_ok=True)


async def test_deleting_the_db_while_running_is_alerted(tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "STORE_WATCH_EVERY_S", 0.05)
    bot = build(tmp_path)
    seen: list = []
    bot.alerts.subscribe(seen.append, "test")
    await bot.start()
    try:
        remove_db(tmp_path)

        def deleted() -> list:
            return [a for a in seen if a.kind == "store" and "was deleted while the bot runs" in a.message]

        await wait_for(deleted, timeout_s=10, what="the store alert")
        [alert] = deleted()
        assert alert.level is AlertLevel.CRITICAL
        # A write after the deletion may fail as well ("unable to open database file"): the writer says so in its
        # own alert, and new orders are refused. Nothing else is alerted about the store.
        others = [a.message for a in seen if a.kind == "store" and a is not alert]
        assert all(m.startswith(("the store cannot be written", "the store is writable again")) for m in others), others
    finally:
        await bot.stop()


async def test_an_empty_db_after_a_restart_refuses_to_trade_until_told_and_never_resends_an_id(tmp_path):
    first = build(tmp_path)
    resting = await run_until_resting(first)
    epoch = first.identity.id_epoch
    assert all(cid.startswith(f"g-{epoch}.") for cid in resting)
    await first.stop()  # on_shutdown = "keep": the buys rest at the venue
    # what rests there now: those seen resting, and any the grid placed between that look and its stop
    held = open_at_venue(tmp_path)
    # none was cancelled: each one seen resting still rests, or the market filled it before the stop (the paper venue
    # ticks every 10 ms: on a loaded machine a buy near the price fills between the look and the stop)
    assert {cid: status_at_venue(tmp_path, cid) for cid in resting if cid not in held} == {
        cid: OrderStatus.FILLED for cid in resting if cid not in held}
    remove_db(tmp_path)  # the store is lost; the venue still holds our orders

    second = build(tmp_path)
    with pytest.raises(StoreMismatch, match="unknown to the store") as refused:
        await second.run()
    assert "--cancel-unknown" in str(refused.value)
    assert second.identity.replaced == first.identity.store_id  # noticed: another store in this data dir
    assert sorted(submissions(tmp_path)) == sorted(held)  # nothing was sent

    third = build(tmp_path, cancel_unknown=True)
    seen: list = []
    third.alerts.subscribe(seen.append, "test")
    try:
        resting_now = await run_until_resting(third)
        assert third.identity.id_epoch != epoch  # a new store: a new epoch
        # those still open when it looked (the market may fill one of them first: paper ticks every 10 ms)
        cancelled = [int(m.group(1)) for a in seen
                     if (m := re.match(r"cancelled (\d+) order\(s\) unknown to the store", a.message))]
        assert cancelled and 1 <= cancelled[0] <= len(held), [a.message for a in seen]
        assert not set(resting_now) & set(held)
    finally:
        await third.stop()
    assert not set(open_at_venue(tmp_path)) & set(held), "an order unknown to the store still rests at the venue"
    sent = submissions(tmp_path)
    assert len(sent) == len(set(sent)), "a client order id reached the venue twice"


async def test_a_store_restored_from_an_older_backup_is_refused_until_a_new_epoch(tmp_path):
    first = build(tmp_path)
    await first.start()
    epoch = first.identity.id_epoch
    await first.stop()
    backup = tmp_path / "backup.db"
    shutil.copy(tmp_path / "arbot.db", backup)  # after a clean stop the WAL is checkpointed into the file

    second = build(tmp_path)
    await run_until_resting(second)
    await second.stop()
    remove_db(tmp_path)
    shutil.copy(backup, tmp_path / "arbot.db")  # the older store comes back

    third = build(tmp_path)
    with pytest.raises(StoreMismatch, match="older than the last run") as refused:
        await third.run()
    assert "--new-epoch" in str(refused.value)

    fourth = build(tmp_path, new_epoch=True, cancel_unknown=True)
    try:
        await run_until_resting(fourth)
        assert fourth.identity.id_epoch != epoch
    finally:
        await fourth.stop()
    sent = submissions(tmp_path)
    assert len(sent) == len(set(sent)), "a client order id reached the venue twice"
