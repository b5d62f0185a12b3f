"""The start-up check of orders unknown to the store sees ccxt orders sent under a digest client id.

Gate takes 28 characters after its ``t-``: a longer id of ours reaches it as a sha256 digest (one-way). A store
lost with such an order resting must still stop the next start (``StoreMismatch``), and ``--cancel-unknown`` must
cancel it at the venue.
"""

from __future__ import annotations

import importlib.metadata
from decimal import Decimal
from pathlib import Path

import pytest

import plugins.ccxt
from bot import hookimpl
from bot.api import OrderIntent, OrderStatus, Side, Strategy
from bot.app import Bot, StartOptions
from bot.config import build_config, parse_toml, resolve_secrets
from bot.identity import StoreMismatch
from bot.plugins import collect, load_plugins
from plugins.ccxt.orders import CLIENT_IDS
from tests.fakes.gate import API_KEY, API_SECRET
from tests.helpers.waiting import wait_for
from tests.plugins.ccxt.conftest import SYMBOL, gate_table

LONG_ID = "watcher-" + "0123456789abcdef" * 2  # longer than Gate's 28: sent as a digest


class Watcher(Strategy):
    """Trades gate BTC/USDT only when the test submits for it."""

    def markets(self):
        return [("gate", SYMBOL)]


class WatcherPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("watcher", Watcher)


def build(data_dir: Path, fake_gate, db: str, name: str = "alpha", strategy: str = "watcher", **options) -> Bot:
    text = (f'mode = "live"\n[bot]\nname = "{name}"\ndata_dir = "{data_dir / name}"\n'
            f'db_url = "sqlite:///{data_dir / db}"\ncontrol_socket = ""\non_shutdown = "keep"\n'
            f'{gate_table(fake_gate)}\n[strategies.{strategy}]\ntype = "watcher"\n')
    registered = importlib.metadata.entry_points(group="arbot", name="ccxt")
    extra = [("watcher-plugin", WatcherPlugin)] + ([] if registered else [("ccxt", plugins.ccxt)])
    plugin_set = load_plugins(extra=extra)
    registry = collect(plugin_set)
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    return Bot(config, plugin_set, registry, options=StartOptions(**options))


@pytest.fixture(autouse=True)
def gate_keys(monkeypatch):
    monkeypatch.setenv("FAKE_GATE_KEY", API_KEY)
    monkeypatch.setenv("FAKE_GATE_SECRET", API_SECRET)


async def rest_an_order(bot: Bot, strategy: str = "watcher") -> str:
    cid = bot.executor.submit(OrderIntent(strategy=strategy, exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.01"), price=Decimal("29000")))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   timeout_s=20, what="the order resting")
    return cid


async def test_a_lost_store_with_a_digest_order_resting_refuses_to_start(tmp_path, fake_gate):
    first = build(tmp_path, fake_gate, "arbot.db")
    await first.start()
    try:
        cid = await rest_an_order(first)
    finally:
        await first.stop()  # on_shutdown = "keep": it rests at Gate
    vid = CLIENT_IDS["gate"].venue_id(cid)
    assert len(cid) > 28 and vid != "t-" + cid  # sent as a digest
    [resting] = fake_gate.orders_with_text(vid)
    assert resting["status"] == "open"

    second = build(tmp_path, fake_gate, "other.db")  # another, empty store
    with pytest.raises(StoreMismatch, match="unknown to the store") as refused:
        await second.start()  # before: started, the digest counted as nobody's
    assert vid in str(refused.value)
    await second.stop()
    assert resting["status"] == "open"  # nothing cancelled without being told

    third = build(tmp_path, fake_gate, "other.db", cancel_unknown=True)
    await third.start()
    try:
        assert resting["status"] == "cancelled"
    finally:
        await third.stop()


async def test_a_restart_on_the_same_store_knows_its_digest_orders(tmp_path, fake_gate):
    first = build(tmp_path, fake_gate, "arbot.db")
    await first.start()
    try:
        cid = await rest_an_order(first)
    finally:
        await first.stop()
    second = build(tmp_path, fake_gate, "arbot.db")
    await second.start()  # no StoreMismatch: the store knows the order
    try:
        assert second.executor.order(cid).status is OrderStatus.OPEN
    finally:
        await second.stop()


async def test_a_digest_shaped_id_of_ours_sent_as_it_is_is_not_hashed_again():
    rule = CLIENT_IDS["gate"]
    vid = rule.venue_id(LONG_ID)
    assert rule.venue_id(vid) == vid  # what open_orders lists for it finds it again (cancel, look-up)
    assert rule.our_id(vid) is None and rule.is_digest(vid)  # before: read back as its bare hex, a made-up id
    assert rule.our_id("t-grid-1") == "grid-1" and not rule.is_digest("t-grid-1")
