"""Kraken's dead-man switch (``CancelAllOrdersAfter``): a real `arbot run --live` grid against the fake Kraken.

A running bot keeps re-arming the switch, so its resting orders live on; a clean stop with
``on_shutdown = "keep"`` disarms it, so they still live on; a SIGKILLed bot stops re-arming, and
the fake cancels every resting order when the countdown runs out, as Kraken does.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bot.api import AlertLevel
from tests.fakes.kraken import API_KEY, API_SECRET
from tests.helpers.processes import arbot
from tests.helpers.waiting import wait_for

DEAD_MAN_S = 2

CONFIG = """
mode = "live"
[bot]
data_dir = "{data_dir}"
control_socket = ""
on_shutdown = "keep"
[exchanges.kraken]
symbols = ["BTC/USD"]
depth = 25
ws_url = "{ws_url}"
rest_url = "{rest_url}"
api_key = "env:FAKE_KRAKEN_KEY"
api_secret = "env:FAKE_KRAKEN_SECRET"
private_stream = false
silence_timeout_s = 60
rest_per_s = 50
rest_burst = 20
dead_man_s = {dead_man_s}
dead_man_refresh_s = 0.5
[strategies.g]
type = "grid"
exchange = "kraken"
symbol = "BTC/USD"
lower = "29500"
upper = "30500"
levels = 11
order_size = "0.001"
post_only = false
[notifiers.console]
min_level = "error"
"""


@pytest.mark.slow
async def test_a_sigkilled_bots_orders_are_cancelled_by_the_venue_and_a_running_bots_are_kept(
        tmp_path, fake_ws, fake_rest):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path, ws_url=fake_ws.url, rest_url=fake_rest.url,
                                    dead_man_s=DEAD_MAN_S))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FAKE_KRAKEN_KEY": API_KEY, "FAKE_KRAKEN_SECRET": API_SECRET}
    loop = asyncio.get_running_loop()

    async def market() -> None:  # the book moves, so the grid (which acts on book updates) places its orders
        while True:
            await fake_ws.random_updates("BTC/USD", 3)
            await asyncio.sleep(0.05)

    ticking = loop.create_task(market())
    try:
        await _scenario(tmp_path, config, env, fake_rest, loop)
    finally:
        ticking.cancel()


async def _scenario(tmp_path, config, env, fake_rest, loop) -> None:
    # 1. a clean stop with on_shutdown = "keep": the switch is disarmed, the orders stay
    with (tmp_path / "run1.log").open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*arbot("run", "--live", "--config", str(config), "--for", "4s"),
                                                    env=env, cwd=tmp_path, stdout=sink, stderr=sink)
        assert await asyncio.wait_for(proc.wait(), 60) == 0, (tmp_path / "run1.log").read_text()[-3000:]
    kept = fake_rest.open_orders()
    assert kept, (tmp_path / "run1.log").read_text()[-3000:]
    timeouts = [t for _, t in fake_rest.dead_man_calls]
    assert timeouts[0] == DEAD_MAN_S and timeouts[-1] == 0 and timeouts.count(DEAD_MAN_S) >= 3
    stopped_at = loop.time()
    await wait_for(lambda: loop.time() > stopped_at + DEAD_MAN_S + 0.5, timeout_s=10, what="past the timeout")
    assert fake_rest.dead_man_fired == [] and set(kept) <= set(fake_rest.open_orders())

    # 2. a running bot keeps its orders alive well past the timeout; SIGKILLed, the venue cancels them
    calls_before = len(fake_rest.dead_man_calls)
    with (tmp_path / "run2.log").open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(*arbot("run", "--live", "--config", str(config)),
                                                    env=env, cwd=tmp_path, stdout=sink, stderr=sink)
    try:
        await wait_for(lambda: len(fake_rest.dead_man_calls) > calls_before, timeout_s=30, what="armed again")
        armed_at = loop.time()
        await wait_for(lambda: loop.time() > armed_at + 2.5 * DEAD_MAN_S, timeout_s=20, what="time passing")
        assert fake_rest.dead_man_fired == [], "a running bot's orders were cancelled by the dead-man switch"
        resting = fake_rest.open_orders()
        assert resting and set(kept) <= set(resting)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    killed_at = loop.time()
    await wait_for(lambda: fake_rest.dead_man_fired, timeout_s=DEAD_MAN_S + 10, what="the venue's countdown")
    fired_at, cancelled = fake_rest.dead_man_fired[0]
    assert fired_at - killed_at <= DEAD_MAN_S + 2  # counted from the last refresh, before the kill
    assert fake_rest.open_orders() == [] and cancelled == len(resting)
    assert all(fake_rest.orders[t]["status"] == "canceled" for t in resting)


async def test_a_failed_arming_is_alerted_and_so_is_its_recovery(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, dead_man_s=4, dead_man_refresh_s=0.2)
    alerts = []
    bot.subscribe_alerts(alerts.append, owner="test")
    assert fake_rest.dead_man_calls[0][1] == 4  # armed at start
    fake_rest.fail_dead_man = True
    await wait_for(lambda: any(a.kind == "dead-man" and a.level is AlertLevel.ERROR for a in alerts),
                   what="failure alerted")
    fake_rest.fail_dead_man = False
    await wait_for(lambda: any(a.kind == "dead-man" and "armed again" in a.message for a in alerts),
                   what="recovery alerted")
    await bot.stop()
    assert fake_rest.dead_man_calls[-1][1] == 0  # disarmed on a clean stop
