"""The backtest report's figures a trader tunes on: max drawdown on equity marked at the mids (open lots included),
the per-day table summing to the totals, markouts counting every fill."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext

from bot.backtest.driver import run_backtest

GRID = """
mode = "paper"
[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "4"
tick_interval_ms = 100
seed = 2
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
STEPS = 3_000  # 300 s: the grid ends holding BTC bought above the last mid (an unrealized loss larger than its net)


def grid_report(tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text(GRID)
    run_backtest(config, tmp_path / "out", STEPS, chart=False)
    return json.loads((tmp_path / "out" / "report.json").read_text())


def test_max_drawdown_is_of_equity_marked_at_the_mids_not_of_realized_pnl_alone(tmp_path):
    report = grid_report(tmp_path)
    grid = report["strategies"]["btc-grid"]
    net, unrealized = Decimal(grid["net"]["USD"]), Decimal(grid["unrealized"]["USD"])
    with localcontext(prec=200):
        end_equity = net + unrealized
    assert unrealized < 0 and end_equity < net  # the scenario: the loss is mostly in the BTC still held
    # the equity fell at least to where it ended: a drawdown of realized PnL alone (the net's) hid the held loss
    assert Decimal(grid["max_drawdown"]["USD"]) >= -end_equity
    # one owner: the equity curve ends at the report's net + unrealized
    curve = report["equity_curves"]["btc-grid"]["USD"]
    assert Decimal(curve[-1][1]) == end_equity
    assert [ts for ts, _ in curve] == sorted(ts for ts, _ in curve)


def test_the_per_day_table_sums_to_the_totals_exactly(tmp_path):
    report = grid_report(tmp_path)
    grid = report["strategies"]["btc-grid"]
    days = [d for d in report["days"] if d["strategy"] == "btc-grid"]
    with localcontext(prec=200):
        for figure in ("realized", "fees", "net"):
            assert sum((Decimal(d[figure]) for d in days), Decimal(0)) == Decimal(grid[figure]["USD"]), figure
    assert sum(d["fills"] for d in days) == grid["fills"]
    for m in report["markouts"]:  # every fill counted at every horizon: sampled or unsampled, never dropped
        assert m["fills"] + m["unsampled"] == grid["fills"], m


def test_the_same_backtest_twice_writes_byte_identical_reports_and_its_timings_apart(tmp_path):
    # report.json held the wall time and ticks/s under "run": two runs of one scenario never compared equal as files
    config = tmp_path / "grid.toml"
    config.write_text(GRID)
    for out in ("a", "b"):
        run_backtest(config, tmp_path / out, 300, chart=False)
    for name in ("report.json", "report.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert "run" not in json.loads((tmp_path / "a" / "report.json").read_text())
    timing = json.loads((tmp_path / "a" / "run.json").read_text())  # what depends on the machine, apart
    assert set(timing) == {"wall_s", "steps_wall_s", "ticks_per_s"}
