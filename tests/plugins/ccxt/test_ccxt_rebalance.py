"""Rebalancing through the ccxt gate end to end: the service (auto mode) withdraws BTC from the fake
Gate.io to a paper DEX, once, through a lost answer, and across a SIGKILL while the answer is outstanding."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from decimal import Decimal as D
from pathlib import Path

import pytest

import plugins.ccxt
import plugins.rebalance
from bot.api import TransferStatus
from bot.api.testing import BotUnderTest, wait_for
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import collect, load_plugins
from tests.fakes.gate import API_KEY, API_SECRET
from tests.helpers.processes import arbot
from tests.helpers.store_kit import query, query_db

from . import transfer_kit
from .transfer_kit import HOLDER, config, missing_entry_points

ROOT = Path(__file__).resolve().parents[3]
SLOW_CHAIN = (("REQUEST", 0.0), ("PEND", 1.0), ("DONE", 3600.0))
"""The gate's withdrawals stay on their way: the paper DEX credits them (after transfer_delay_s)."""


@pytest.fixture
async def start_bot(monkeypatch):
    monkeypatch.setenv("FAKE_GATE_KEY", API_KEY)
    monkeypatch.setenv("FAKE_GATE_SECRET", API_SECRET)
    started: list[BotUnderTest] = []

    async def factory(text: str, alerts: list | None = None) -> BotUnderTest:
        modules = {"ccxt": plugins.ccxt, "rebalance": plugins.rebalance}
        plugin_set = load_plugins(extra=[("holder", transfer_kit)] + [(n, modules[n]) for n in missing_entry_points()])
        registry = collect(plugin_set)
        cfg = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        resolve_secrets(cfg)
        host = Bot(cfg, plugin_set, registry)
        if alerts is not None:
            host.alerts.subscribe(alerts.append, "test")
        bot = BotUnderTest(host)
        await bot.start()
        started.append(bot)
        return bot

    yield factory
    for bot in started:
        await bot.stop()


@pytest.mark.parametrize("look_ups_fail", [False, True], ids=["found-at-once", "look-ups-refused-too"])
async def test_auto_mode_withdraws_btc_from_the_gate_to_the_dex_once_through_a_lost_answer(start_bot, fake_gate,
                                                                                          tmp_path, db_url,
                                                                                          look_ups_fail):
    fake_gate.withdraw_timeline = SLOW_CHAIN
    fake_gate.lose_withdraw = 1  # the withdrawal is made and its answer lost
    if look_ups_fail:  # ... and the venue refuses the next calls: the service keeps it PLANNED, asks later
        fake_gate.http_429_after_lost_withdraw = 12
    bot = await start_bot(config(fake_gate.urls(), data_dir=str(tmp_path), db_url=db_url))
    await wait_for(lambda: any(t.status is TransferStatus.CREDITED for t in bot.store.transfers()), timeout_s=60,
                   what="the transfer credited on the DEX")
    [t] = bot.store.transfers()
    assert (t.asset, t.source, t.destination, t.amount, t.fee) == ("BTC", "gate", "dex", D("4.5"), D("0.0005"))
    [made] = fake_gate.withdrawals
    assert (made["withdraw_order_id"], made["amount"], made["address"], made["chain"]) == (
        t.transfer_id, "4.5005", "paper:dex:BTC", "BTC")
    assert t.venue_ref == made["id"]  # settled against the venue: its reference kept, however it was found
    assert fake_gate.accounts["BTC"] == D("10") - D("4.5005")
    assert (await bot.component("exchange", "dex").balances())["BTC"].total == D("5.5")
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/withdrawals") == 1


async def test_a_deposit_address_off_the_whitelist_is_never_sent_to(start_bot, fake_gate, tmp_path, db_url):
    bot = await start_bot(config(fake_gate.urls(), data_dir=str(tmp_path), db_url=db_url,
                                 whitelist="bc1qsomeoneelse"))
    await wait_for(lambda: any(t.status is TransferStatus.FAILED for t in bot.store.transfers()), timeout_s=60,
                   what="the transfer refused")
    failed = bot.store.transfers()[0]
    assert "refusing to withdraw BTC to paper:dex:BTC: not in withdraw_to.BTC" in failed.reason
    service = bot.component("service", "rebalance")
    checks = service.checks
    await wait_for(lambda: service.checks >= checks + 5, timeout_s=30, what="more planning rounds")
    assert [t.status for t in bot.store.transfers()] == [TransferStatus.FAILED]  # not retried every round
    assert not fake_gate.withdrawals and fake_gate.accounts["BTC"] == D("10")


async def test_a_venue_that_cannot_withdraw_is_named_when_rebalancing_starts(start_bot, fake_gate, tmp_path, db_url):
    alerts: list = []
    await start_bot(config(fake_gate.urls(), data_dir=str(tmp_path), db_url=db_url, mode="alert",
                           dex_type="paper-dex-no-withdrawals"), alerts)
    warned = [a.message for a in alerts if a.kind == "rebalance" and "cannot withdraw" in a.message]
    assert warned == ["dex cannot withdraw (withdrawals, which inventory rebalancing needs to move funds out of the "
                      "venue): rebalancing never moves funds out of it; move them by hand"]


def test_the_ccxt_exchange_lacks_withdrawals_where_ccxt_has_none():
    from plugins.ccxt.exchange import CcxtExchange
    from plugins.ccxt.settings import CcxtSettings

    assert CcxtExchange.lacks(CcxtSettings(id="gemini"), ("withdraw", "ioc")) == ["withdraw"]
    assert CcxtExchange.lacks(CcxtSettings(id="gate"), ("withdraw",)) == []


def plugin_path(tmp_path: Path) -> str:
    """A directory whose dist-info declares the holder strategy (and ccxt, rebalance unless installed)."""
    info = tmp_path / "entry-points" / "arbot_ccxt_transfer_test-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: arbot-ccxt-transfer-test\nVersion: 0\n")
    lines = [f"holder = {HOLDER}\n"] + [f"{n} = plugins.{n}\n" for n in missing_entry_points()]
    (info / "entry_points.txt").write_text("[arbot]\n" + "".join(lines))
    return str(info.parent)


@pytest.mark.slow
async def test_sigkill_while_the_withdrawal_answer_is_outstanding_then_restart_sends_it_once(fake_gate, tmp_path,
                                                                                             db_url):
    fake_gate.withdraw_timeline = SLOW_CHAIN
    fake_gate.hang_withdraw_s = 60.0  # the withdrawal is made; the answer never comes before the kill
    cfg = tmp_path / "config.toml"
    cfg.write_text(config(fake_gate.urls(), data_dir=str(tmp_path), dex_state="dex.db", db_url=db_url,
                          request_timeout_s=120))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FAKE_GATE_KEY": API_KEY, "FAKE_GATE_SECRET": API_SECRET,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH"),
                                                       plugin_path(tmp_path)]))}

    def statuses() -> list[str]:
        try:
            return [s for (s,) in query_db(db_url, "select status from transfers order by created_ns")]
        except Exception:  # not created yet
            return []

    log = tmp_path / "run1.log"
    with log.open("wb") as sink:
        first = await asyncio.create_subprocess_exec(*arbot("run", "--config", str(cfg), "--live"), env=env,
                                                     cwd=tmp_path, stdout=sink, stderr=asyncio.subprocess.STDOUT)
    try:
        await wait_for(lambda: len(fake_gate.withdrawals) == 1 or first.returncode is not None, timeout_s=90,
                       what="the withdrawal made on the venue")
        assert len(fake_gate.withdrawals) == 1, log.read_text()[-3000:]
    finally:
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)
    assert statuses() == ["planned"]  # killed with the withdrawal made, its answer never seen
    fake_gate.hang_withdraw_s = 0.0

    log2 = tmp_path / "run2.log"
    with log2.open("wb") as sink:
        second = await asyncio.create_subprocess_exec(*arbot("run", "--config", str(cfg), "--live", "--for", "20s"),
                                                      env=env, cwd=tmp_path, stdout=sink,
                                                      stderr=asyncio.subprocess.STDOUT)
    try:
        # Stopped with Ctrl-C once the store says the transfer was credited (the DEX logged it in its own file first),
        # as its owner would; --for 20s bounds a run that never gets there (the assertions below then say what is
        # missing). The store is read off the loop, which serves the fake Gate.io to the bot.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while second.returncode is None and loop.time() < deadline:
            if await asyncio.to_thread(statuses) == ["credited"]:
                with contextlib.suppress(ProcessLookupError):  # it may have ended by itself meanwhile
                    second.send_signal(signal.SIGINT)
                break
            await asyncio.sleep(0.1)  # polling another process's store: there is no event to wait on
        assert await asyncio.wait_for(second.wait(), 60) == 0, log2.read_text()[-3000:]
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    rows = query_db(db_url, "select transfer_id, status, amount from transfers order by created_ns")
    assert [(status, D(amount)) for _, status, amount in rows] == [("credited", D("4.5"))], rows
    tid = rows[0][0]
    assert [w["withdraw_order_id"] for w in fake_gate.withdrawals] == [tid]  # made once, found after the restart
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/withdrawals") == 1
    assert query(tmp_path / "dex.db", "select transfer_id, count(*) from transfers where direction = 'in' "
                                      "group by 1") == [(tid, 1)]
