"""`arbot backtest` of the arbitrage demo through the host's driver: a seeded scenario end to end, the arb
plugin's section checked against the store, reproducibility, recordings."""

from __future__ import annotations

import json
import sqlite3
import struct
from decimal import Decimal, localcontext

import pytest

from bot.backtest.driver import run_backtest
from bot.config import BACKTEST_BOT
from bot.ledger import strategy_figures
from bot.store import Store
from tests.backtest.backtest_kit import (
    STEPS,
    arb_plugins,
    backtest,
    png_chunks,
    recorded_cex_config,
    write_config,
    write_kraken_recording,
)


def test_seeded_backtest_writes_a_consistent_report(tmp_path):
    out = tmp_path / "out"
    result = backtest(write_config(tmp_path), out)
    report = json.loads((out / "report.json").read_text())
    arb = report["sections"]["arb"]
    opp = arb["opportunities"]

    assert result.steps == STEPS and report["scenario"]["steps"] == STEPS
    assert Decimal(report["scenario"]["simulated_s"]) == Decimal("59.9")  # 100 ms a CEX step, the first at 0
    assert opp["seen"] > 0 and opp["taken"] > 0, opp  # the scenario does dislocate
    assert opp["taken"] + opp["missed"] == opp["seen"]
    assert sum(opp["missed_by_reason"].values()) == opp["missed"]
    assert opp["taken"] <= opp["tradable"] <= opp["seen"]

    # The strategy's own records, read from the store the backtest leaves behind: every execution
    # and its realized PnL, independently of the bus events the report was built from.
    con = sqlite3.connect(out / "backtest.db")
    rows = con.execute("select opportunity_id, realized_pnl, predicted_pnl from arb_executions").fetchall()
    published = con.execute("select count(distinct opportunity_id) from arb_opportunities").fetchone()[0]
    stored_fills = con.execute("select count(*) from fills where strategy = 'sol-arb'").fetchone()[0]
    con.close()
    finished = [(oid, Decimal(r), Decimal(p)) for oid, r, p in rows if r is not None]
    assert arb["executions"] == len(finished) == opp["taken"]
    # the host's generic part: every fill of the strategy, as stored
    assert report["strategies"]["sol-arb"]["type"] == "arb"
    assert report["strategies"]["sol-arb"]["fills"] == stored_fills == report["fills"]["count"] > 0
    assert published == opp["seen"]
    with localcontext(prec=200):  # exact, as the report sums
        captured = sum((r for _, r, _ in finished), Decimal(0))
    assert Decimal(arb["pnl"]["captured"]) == captured
    # the ledger's net PnL of the strategy (both legs of each execution matched FIFO, fees in quote) is
    # the executions' realized PnL: the host's figure and the plugin's agree, to the last digit
    ledger_net = Decimal(report["strategies"]["sol-arb"]["net"]["USDC"])
    assert ledger_net == captured
    # and its position is what the wallet lost to the pool's network fees, paid in SOL, the base: no more
    store = Store(f"sqlite:///{out / 'backtest.db'}", bot=BACKTEST_BOT).open()
    try:
        fills = store.fills(strategy="sol-arb")
    finally:
        store.close()
    sol_fees = [f.fee for _, f in fills if f.fee_asset == "SOL"]
    assert sol_fees and strategy_figures(fills)["sol-arb"].markets[0].position == -sum(sol_fees, Decimal(0))
    with localcontext(prec=200):
        assert Decimal(arb["pnl"]["predicted_of_executed"]) == sum((p for _, _, p in finished), Decimal(0))
        assert arb["pnl"]["capture_rate"] is not None
        assert Decimal(arb["pnl"]["capture_rate"]) == (captured / Decimal(opp["tradable_predicted_pnl"])).quantize(
            Decimal("0.0001"))
        errors = sorted(abs(r - p) for _, r, p in finished)
    curve = arb["pnl_curve"]
    assert len(curve) == len(finished) and Decimal(curve[-1][1]) == captured
    stats = arb["prediction_error"]["abs_quote"]
    assert stats["count"] == len(errors)
    assert Decimal(stats["p50"]) == errors[(len(errors) + 1) // 2 - 1].quantize(Decimal("0.000001"))
    assert Decimal(stats["p95"]) >= Decimal(stats["p50"])

    # drawdown and per-day figures from the same ledger steps: the days add up to the strategy's net
    strat = report["strategies"]["sol-arb"]
    assert Decimal(strat["max_drawdown"]["USDC"]) >= 0
    days = [d for d in report["days"] if d["strategy"] == "sol-arb"]
    assert sum(d["fills"] for d in days) == strat["fills"]
    with localcontext(prec=200):  # the report's figures are exact (a pool price has ~50 digits)
        assert sum((Decimal(d["net"]) for d in days), Decimal(0)) == Decimal(strat["net"]["USDC"])

    # markouts of every fill of the strategy, sampled from the venues' own books and pool during the run
    markouts = {m["horizon_s"]: m for m in report["markouts"] if m["strategy"] == "sol-arb"}
    assert sorted(markouts) == [1, 10, 60]
    assert all(m["fills"] + m["unsampled"] == strat["fills"] for m in markouts.values())
    assert markouts[1]["fills"] > 0
    con = sqlite3.connect(out / "backtest.db")
    sampled = con.execute("select count(*) from markouts where horizon_s = 1").fetchone()[0]
    con.close()
    assert sampled >= markouts[1]["fills"]

    markdown = (out / "report.md").read_text()
    assert "## Per day (UTC)" in markdown and "max drawdown" in markdown and "## Markouts" in markdown
    assert f"| {opp['seen']} | {opp['taken']} | {opp['missed']} | {opp['tradable']} |" in markdown
    assert "## PnL per strategy" in markdown and "| sol-arb | arb |" in markdown and "## Arbitrage" in markdown
    assert "![cumulative PnL](pnl.png)" in markdown

    chunks = png_chunks((out / "pnl.png").read_bytes())
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (1000, 500)


def test_the_same_seed_gives_the_same_report_and_another_seed_does_not(tmp_path):
    config = write_config(tmp_path)
    backtest(config, tmp_path / "a")
    backtest(config, tmp_path / "b")
    first = json.loads((tmp_path / "a" / "report.json").read_text())
    for name in ("report.json", "report.md", "pnl.png"):  # byte for byte: the machine's timings are in run.json
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    other = write_config(tmp_path, "other.toml", pool_seed=8)
    backtest(other, tmp_path / "c")
    third = json.loads((tmp_path / "c" / "report.json").read_text())
    assert third["sections"]["arb"]["pnl_curve"] != first["sections"]["arb"]["pnl_curve"]


def test_an_execution_composes_no_alert_in_a_backtest_where_nobody_hears_one(tmp_path, monkeypatch):
    from plugins.arb.execution import ArbExecutions

    composed = []
    monkeypatch.setattr(ArbExecutions, "_alert_done", lambda self, *figures: composed.append(figures))
    result = backtest(write_config(tmp_path), tmp_path / "out")
    assert json.loads(result.report_json.read_text())["sections"]["arb"]["opportunities"]["taken"] > 0
    assert composed == []


def test_a_higher_minimum_edge_takes_fewer_opportunities(tmp_path):
    loose = json.loads(backtest(write_config(tmp_path), tmp_path / "loose").report_json.read_text())
    strict_cfg = write_config(tmp_path, "strict.toml", min_edge="60")
    strict = json.loads(backtest(strict_cfg, tmp_path / "strict").report_json.read_text())
    strict, loose = strict["sections"]["arb"]["opportunities"], loose["sections"]["arb"]["opportunities"]
    assert strict["taken"] < loose["taken"]
    assert strict["missed_by_reason"].get("below min edge", 0) > loose["missed_by_reason"].get("below min edge", 0)


def test_the_embedded_default_runs_the_grid_and_the_arbitrage_demo(tmp_path):
    """`arbot backtest` without a config: both demo strategies trade within a minute of simulated market,
    the grid reported by the host alone, the arbitrage with the arb plugin's section."""
    result = run_backtest(None, tmp_path / "demo", 1500, chart=False, extra_plugins=arb_plugins())
    # 1500 steps: BTC/USD and SOL/USDC every 100 ms, the pool every 200 ms = 60 s of market
    assert result.simulated_ns == 59_900_000_000
    report = json.loads(result.report_json.read_text())
    assert "sol-pool: synthetic paper-dex seed 7" in report["scenario"]["input"]
    assert report["scenario"]["strategies"] == ["btc-grid", "sol-arb"]
    grid, arb = report["strategies"]["btc-grid"], report["strategies"]["sol-arb"]
    assert grid["type"] == "grid" and grid["fills"] > 0 and grid["fees"]["USD"] != "0"
    assert "round trips" in grid["status"]
    assert arb["type"] == "arb" and arb["fills"] > 0
    section = report["sections"]["arb"]
    assert section["opportunities"]["seen"] > 0 and section["opportunities"]["taken"] >= 1
    assert section["executions"] >= 1
    assert list(report["sections"]) == ["arb"]  # the grid contributes no section: the host's part covers it
    assert report["chart"] is None and not (tmp_path / "demo" / "pnl.png").exists()


@pytest.mark.parametrize("table, key", [
    ('[strategies.sol-arb]\nmin_edge_bps = "ten"', "strategies.sol-arb.min_edge_bps"),
    ('[exchanges.sol-pool]\nfee_bps = -1', "exchanges.sol-pool.fee_bps"),
])
def test_a_bad_config_is_refused_naming_the_key(tmp_path, table, key):
    from bot.settings import ConfigError

    section, line = table.split("\n")
    text = write_config(tmp_path).read_text().replace(section + "\n", section + "\n" + line + "\n", 1)
    text = text.replace('min_edge_bps = "10"\n', "", 1) if "min_edge" in line else text.replace("fee_bps = 4\n", "", 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as info:
        backtest(bad, tmp_path / "out")
    assert key in str(info.value)
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_real_venue_is_refused_with_the_way_to_replay_it(tmp_path):
    from bot.settings import ConfigError

    bad = tmp_path / "real.toml"
    bad.write_text(write_config(tmp_path).read_text() + '\n[exchanges.kraken]\nsymbols = ["SOL/USD"]\n')
    with pytest.raises(ConfigError) as info:
        backtest(bad, tmp_path / "out")
    assert "exchanges.kraken.type" in str(info.value) and 'market = "recording"' in str(info.value)


def test_a_recorded_cex_stream_plays_to_its_end_against_a_synthetic_pool(tmp_path):
    book_frames = write_kraken_recording(tmp_path / "sol.jsonl", 600)
    config = recorded_cex_config(tmp_path)
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)  # recording paths are relative to the working directory
    try:
        result = run_backtest(config, tmp_path / "out", None, extra_plugins=arb_plugins())
    finally:
        os.chdir(cwd)
    report = json.loads(result.report_json.read_text())
    assert "sol-cex: recording sol.jsonl (kraken)" in report["scenario"]["input"]
    assert "sol-pool: synthetic paper-dex seed 7 (synthetic: not recorded)" in report["scenario"]["input"]
    # the whole file played (one step per book frame and feed state), 100 ms apart: a minute of market
    assert result.steps >= book_frames
    assert result.simulated_ns >= (book_frames - 1) * 100_000_000
    assert report["sections"]["arb"]["opportunities"]["seen"] > 0


def test_stale_inputs_are_reported(tmp_path):
    """A pool updated every 200 ms against max_input_age_ms = 150: decisions are skipped, and the report says so."""
    text = write_config(tmp_path).read_text()
    text = text.replace('min_size = "0.1"\n', 'min_size = "0.1"\nmax_input_age_ms = 150\n')
    config = tmp_path / "stale.toml"
    config.write_text(text)
    result = backtest(config, tmp_path / "out")
    report = json.loads(result.report_json.read_text())
    skipped = int(report["strategies"]["sol-arb"]["status"]["stale inputs this run"])
    assert skipped > 0
    assert f"Decisions skipped for stale input (never an opportunity): sol-arb {skipped}." in \
        result.report_md.read_text()
