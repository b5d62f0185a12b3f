"""The exact outcome of small backtests, pinned: the fills (every trade id, price, size and fee), the
report (PnL, per-day breakdown, markouts, drawdown, curves, plugin sections) and the number of
opportunities recorded. The engine is made faster without changing what a backtest decides: any
change to these files must be one of behaviour, made on purpose.

``ARBOT_PIN_BACKTESTS=1`` rewrites the pinned files from the current code (then review the diff)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from bot.backtest.driver import run_backtest
from bot.config import BACKTEST_BOT
from bot.store import Store
from tests.backtest.backtest_kit import write_config, write_kraken_recording
from tests.plugins.arb.arb_kit import arb_plugins

PINNED = Path(__file__).parent / "pinned"

GRID = """
mode = "paper"
[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "4"
tick_interval_ms = 100
[strategies.btc-grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29700"
upper = "30300"
levels = 21
order_size = "0.01"
out_of_range = "shift"
"""

RECORDED = """
mode = "paper"
[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
market = "recording"
recording = "{recording}"
recording_exchange = "kraken"
tick_size = "0.01"
lot_size = "0.00000001"
min_qty = "0.01"
taker_fee_bps = "10"
initial_balances = {{ SOL = "100", USDC = "15000" }}
latency_ms = 50
[exchanges.sol-pool]
type = "paper-dex"
symbol = "SOL/USDC"
anchor = "sol-cex"
start_price = "150"
dislocation_probability = "0.05"
dislocation_min_bps = "25"
dislocation_max_bps = "90"
tick_interval_ms = 200
latency_ms = 100
initial_balances = {{ SOL = "100", USDC = "15000" }}
seed = 7
[strategies.sol-arb]
type = "arb"
cex = "sol-cex"
dex = "sol-pool"
symbol = "SOL/USDC"
cex_taker_fee_bps = "10"
max_notional = "1500"
size_step = "0.1"
min_size = "0.1"
"""


def outcome(tmp_path: Path, config: Path, steps: int | None) -> dict:
    """What a backtest decided, without what depends on the machine or the temporary paths."""
    result = run_backtest(config, tmp_path / "out", steps, chart=False, extra_plugins=arb_plugins())
    report = json.loads(result.report_json.read_text())
    report["scenario"].pop("config", None)
    report["scenario"]["input"] = report["scenario"]["input"].replace(str(tmp_path), "TMP")
    db = tmp_path / "out" / "backtest.db"
    store = Store(f"sqlite:///{db}", bot=BACKTEST_BOT).open()
    try:
        epoch = store.get_state("id_epoch")  # random per store: part of every client order id
        fills = [[strategy, f.exchange, f.symbol, f.client_order_id.replace(f"{epoch}.", "EPOCH."), f.trade_id,
                  f.side.value, str(f.price), str(f.qty), str(f.fee), f.fee_asset, f.liquidity.value, f.ts_ns]
                 for strategy, f in store.fills()]
    finally:
        store.close()
    with sqlite3.connect(db) as con:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our names
                for table in ("arb_opportunities", "arb_executions", "orders", "markouts") if table in tables}
    return {"steps": result.steps, "simulated_ns": result.simulated_ns, "report": report, "fills": fills,
            "rows": rows}


def check(name: str, got: dict) -> None:
    path = PINNED / f"{name}.json"
    text = json.dumps(got, indent=1, sort_keys=True) + "\n"
    if os.environ.get("ARBOT_PIN_BACKTESTS") == "1":
        path.write_text(text)
        return
    pinned = json.loads(path.read_text())
    for key in ("steps", "simulated_ns", "fills", "rows"):
        assert got[key] == pinned[key], f"{name}: {key} changed"
    for key in sorted(set(pinned["report"]) | set(got["report"])):
        assert got["report"].get(key) == pinned["report"].get(key), f"{name}: report[{key!r}] changed"


def test_the_synthetic_arbitrage_backtest_gives_the_pinned_fills_and_report(tmp_path):
    assert (got := outcome(tmp_path, write_config(tmp_path), 1500))["fills"]
    check("arb_synthetic", got)


def test_the_grid_backtest_gives_the_pinned_fills_and_report(tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text(GRID)
    assert (got := outcome(tmp_path, config, 3000))["fills"]
    check("grid", got)


@pytest.mark.parametrize("frames", [1500])
def test_the_arbitrage_backtest_over_a_recorded_book_gives_the_pinned_fills_and_report(tmp_path, frames):
    write_kraken_recording(tmp_path / "sol.jsonl", frames)
    config = tmp_path / "recorded.toml"
    config.write_text(RECORDED.format(recording=tmp_path / "sol.jsonl"))
    assert (got := outcome(tmp_path, config, None))["fills"]
    check("arb_recorded", got)


def test_a_timer_that_decides_nothing_changes_nothing(tmp_path, monkeypatch):
    """The bot's store watch left running (a timer every 5 simulated seconds): each step still runs at exactly
    its time, so a decision on a boundary (a cooldown's end) does not depend on whether a timer was pending."""
    import bot.backtest.driver as driver

    monkeypatch.setattr(driver, "STORE_WATCH_TASK", "(none)")
    check("arb_synthetic", outcome(tmp_path, write_config(tmp_path), 1500))


def test_timers_cancelled_or_run_for_nothing_change_nothing(tmp_path, monkeypatch):
    """Timers that come and go at odd times while the market steps (a timeout cancelled when its answer comes,
    a task's sleep that decides nothing, one due a fraction of a nanosecond ahead) leave every fill, report figure
    and stored row as pinned: the clock reaches each timer on its own nanosecond, whatever stops it made on the
    way."""
    import asyncio

    import bot.backtest.driver as driver

    async def come_and_go() -> None:
        loop = asyncio.get_running_loop()
        while True:
            dead = loop.call_later(0.000_777_777, lambda: None)  # due before the next stop, then cancelled
            await asyncio.sleep(0.000_333_333)
            dead.cancel()
            loop.call_later(0.013_131_313, lambda: None).cancel()  # cancelled at once, a heap's head now and then
            await asyncio.sleep(0.010_101_01)
            await asyncio.sleep(1e-10)  # due a fraction of a nanosecond ahead: the clock stays where it stands

    base_drive = driver.drive

    async def drive_with_timers(*args, **kwargs):
        noise = asyncio.ensure_future(come_and_go())
        try:
            return await base_drive(*args, **kwargs)
        finally:
            noise.cancel()

    monkeypatch.setattr(driver, "drive", drive_with_timers)
    check("arb_synthetic", outcome(tmp_path, write_config(tmp_path), 1500))


@pytest.mark.parametrize("scenario", ["arb_synthetic", "arb_recorded"])
def test_the_episode_shortcut_decides_as_the_full_decision(tmp_path, monkeypatch, scenario):
    """While an episode goes on, the arb strategy keeps it without pricing again when ``Pricer.tradable`` can tell
    (the kept evaluation, else the smallest size): the pinned runs take that shortcut, and deciding every tick in
    full instead (``tradable`` telling nothing) gives the same fills, report and rows."""
    from plugins.arb.pricing import Pricer

    if scenario == "arb_recorded":
        write_kraken_recording(tmp_path / "sol.jsonl", 1500)
        config = tmp_path / "recorded.toml"
        config.write_text(RECORDED.format(recording=tmp_path / "sol.jsonl"))
        steps = None
    else:
        config, steps = write_config(tmp_path), 1500
    told = {True: 0, False: 0, None: 0}
    tradable = Pricer.tradable

    def counted(self, *args):
        answer = tradable(self, *args)
        told[answer] += 1
        return answer

    monkeypatch.setattr(Pricer, "tradable", counted)
    check(scenario, outcome(tmp_path / "shortcut", config, steps))
    # episodes went on without a search: tradable ones (a cooldown, an execution in progress) in both runs, and in
    # the recorded one also episodes whose every size a cap ruled out
    assert told[True] and (told[False] or scenario == "arb_synthetic"), told
    monkeypatch.setattr(Pricer, "tradable", lambda self, *args: None)
    check(scenario, outcome(tmp_path / "full", config, steps))
