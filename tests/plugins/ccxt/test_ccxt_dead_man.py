"""The venue's own dead-man switch through the ccxt plugin: Gate's countdown_cancel_all on the fake Gate."""

from __future__ import annotations

import pytest

from bot.api import AlertLevel
from bot.api.testing import wait_for
from bot.config import build_config, parse_toml
from bot.plugins import collect
from bot.settings import ConfigError

from .conftest import ccxt_plugins, gate_table
from .test_ccxt_grid import GRID, resting


async def test_the_countdown_is_kept_armed_while_the_bot_runs_and_cancels_when_it_cannot_be(make_bot, fake_gate):
    bot = await make_bot(gate_table(fake_gate, dead_man_s=2, dead_man_refresh_s=0.3) + GRID.format(exchange="gate"))
    alerts = []
    bot.subscribe_alerts(alerts.append, "test")
    pair = fake_gate.pairs["BTC_USDT"]
    await fake_gate.change("BTC_USDT", bids={max(pair.bids): pair.bids[max(pair.bids)] + 1})
    await wait_for(lambda: len(resting(fake_gate)) == 3, timeout_s=20, what="the grid's buys on the venue")
    # running: re-armed every 0.3 s with 2 s to go, so the orders outlive several timeouts' worth of time
    armed = len(fake_gate.countdown_calls)
    await wait_for(lambda: len(fake_gate.countdown_calls) >= armed + 8, timeout_s=20, what="re-arming")
    assert set(fake_gate.countdown_calls) == {2} and not fake_gate.countdown_cancelled
    assert len(resting(fake_gate)) == 3
    # the network to the venue fails: no re-arming gets through; the venue cancels by itself
    ids = {o["id"] for o in resting(fake_gate)}
    fake_gate.http_429 = -1
    await wait_for(lambda: not resting(fake_gate), timeout_s=20, what="the venue's countdown to run out")
    assert set(fake_gate.countdown_cancelled) == ids
    await wait_for(lambda: any(a.kind == "dead-man" for a in alerts), timeout_s=10, what="the alert")
    failed = [a for a in alerts if a.kind == "dead-man"]
    assert len(failed) == 1 and failed[0].level is AlertLevel.ERROR and "arming the dead-man switch failed" in \
        failed[0].message  # once, however many refreshes failed
    fake_gate.http_429 = 0


async def test_a_clean_stop_disarms_it(make_bot, fake_gate):
    bot = await make_bot(gate_table(fake_gate, dead_man_s=30, dead_man_refresh_s=5))
    await wait_for(lambda: fake_gate.countdown_calls == [30], timeout_s=20, what="arming at start")
    await bot.stop()
    assert fake_gate.countdown_calls == [30, 0]  # disarmed: orders kept with on_shutdown = "keep" stay


def test_dead_man_s_on_a_venue_without_one_is_refused_at_load():
    table = '[exchanges.b]\ntype = "ccxt"\nid = "binance"\nsymbols = ["BTC/USDT"]\ndead_man_s = 60\n'
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml('mode = "live"\n' + table, "t.toml"), collect(ccxt_plugins()), "t.toml")
    assert "exchanges.b.dead_man_s: binance through ccxt has no dead-man switch" in str(info.value)
