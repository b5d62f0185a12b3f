"""The start-up check of orders unknown to the store sees Kraken orders sent under a uuid5 ``cl_ord_id``.

The executor's ids (``STRATEGY-EPOCH`` + 16 hex) never fit Kraken's 18 characters of free text, so every order the
executor places reaches Kraken as ``uuid5(ARBOT_NAMESPACE, id)``: one-way. A store lost with such orders resting must
still stop the next start (``StoreMismatch``), and ``--cancel-unknown`` must cancel them.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bot import hookimpl
from bot.api import OrderIntent, OrderStatus, Side, Strategy
from bot.app import Bot, StartOptions
from bot.config import build_config, parse_toml, resolve_secrets
from bot.identity import StoreMismatch
from bot.plugins import collect, load_plugins
from plugins.kraken.exchange import venue_client_id
from tests.fakes.kraken import API_KEY, API_SECRET
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


class Watcher(Strategy):
    """Trades kraken BTC/USD only when the test submits for it."""

    def markets(self):
        return [("kraken", SYMBOL)]


class WatcherPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("watcher", Watcher)


def build(data_dir: Path, ws, rest, db: str = "arbot.db", name: str = "alpha", strategy: str = "watcher",
          **options) -> Bot:
    text = textwrap.dedent(f"""
        mode = "live"
        [bot]
        name = "{name}"
        data_dir = "{data_dir / name}"
        db_url = "sqlite:///{data_dir / db}"
        control_socket = ""
        on_shutdown = "keep"
        [exchanges.kraken]
        symbols = ["BTC/USD"]
        depth = 25
        ws_url = "{ws.url}"
        rest_url = "{rest.url}"
        api_key = "env:FAKE_KRAKEN_KEY"
        api_secret = "env:FAKE_KRAKEN_SECRET"
        private_stream = false
        request_timeout_s = 2
        start_timeout_s = 5
        [strategies.{strategy}]
        type = "watcher"
        """)
    plugins = load_plugins(extra=[("watcher-plugin", WatcherPlugin)])
    registry = collect(plugins)
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    return Bot(config, plugins, registry, options=StartOptions(**options))


@pytest.fixture(autouse=True)
def kraken_keys(monkeypatch):
    monkeypatch.setenv("FAKE_KRAKEN_KEY", API_KEY)
    monkeypatch.setenv("FAKE_KRAKEN_SECRET", API_SECRET)


async def rest_an_order(bot: Bot, strategy: str = "watcher") -> str:
    cid = bot.executor.submit(OrderIntent(strategy=strategy, exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                                          qty=Decimal("0.01"), price=Decimal("29000")))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is OrderStatus.OPEN,
                   what="the order resting")
    return cid


async def test_a_lost_store_with_a_uuid5_order_resting_at_kraken_refuses_to_start(tmp_path, fake_ws, fake_rest):
    first = build(tmp_path, fake_ws, fake_rest)
    await first.start()
    try:
        cid = await rest_an_order(first)
    finally:
        await first.stop()  # on_shutdown = "keep": it rests at Kraken
    vid = venue_client_id(cid)
    assert len(cid) > 18 and vid != cid  # sent as a uuid5
    [txid] = [t for t, o in fake_rest.orders.items() if o["cl_ord_id"] == vid and o["status"] == "open"]

    second = build(tmp_path, fake_ws, fake_rest, db="other.db")  # another, empty store
    with pytest.raises(StoreMismatch, match="unknown to the store") as refused:
        await second.start()
    assert vid in str(refused.value)
    await second.stop()
    assert fake_rest.orders[txid]["status"] == "open"  # nothing cancelled without being told

    third = build(tmp_path, fake_ws, fake_rest, db="other.db", cancel_unknown=True)
    await third.start()
    try:
        assert fake_rest.orders[txid]["status"] == "canceled"
    finally:
        await third.stop()


async def test_a_restart_on_the_same_store_knows_its_uuid5_orders(tmp_path, fake_ws, fake_rest):
    first = build(tmp_path, fake_ws, fake_rest)
    await first.start()
    try:
        cid = await rest_an_order(first)
    finally:
        await first.stop()
    second = build(tmp_path, fake_ws, fake_rest)
    await second.start()  # no StoreMismatch: the store knows the order
    try:
        kraken = second.exchanges["kraken"]
        assert [s.client_order_id for s in await kraken.open_orders(SYMBOL)] == [cid]  # mapped back to our id
        assert second.executor.order(cid).status is OrderStatus.OPEN
    finally:
        await second.stop()


async def test_another_bots_uuid5_order_on_a_shared_database_and_account_is_not_unknown(tmp_path, fake_ws, fake_rest):
    """Bots sharing a database and a Kraken account: the other bot's resting order (a uuid5 this bot cannot read
    back) is one its stored orders derive to, so it stops nothing."""
    alpha = build(tmp_path, fake_ws, fake_rest)
    await alpha.start()
    try:
        await rest_an_order(alpha)
    finally:
        await alpha.stop()
    beta = build(tmp_path, fake_ws, fake_rest, name="beta", strategy="watcher-b")  # the same arbot.db
    await beta.start()  # before: StoreMismatch naming alpha's order (when uuid5s counted as ours at all)
    await beta.stop()
