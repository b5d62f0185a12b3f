"""Parameter sweeps (bot/backtest/sweep.py): every combination over the same data, on worker processes,
one ranked table, deterministic; walk-forward; bad sweeps refused naming the key."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext

import pytest

from bot.backtest.sweep import Axis, Outcome, build_rows, combinations, combined_curve, parse_axis, run_sweep, value_at
from bot.ledger import pnl_curve_drawdown
from bot.settings import ConfigError
from tests.backtest.backtest_kit import write_config
from tests.backtest.test_backtest_cli import arbot
from tests.plugins.arb.arb_kit import arb_plugins

AXES = [parse_axis("min_edge_bps=5,10,20"), parse_axis("max_notional=500,1000,1500")]
STEPS = 450


def test_a_3x3_sweep_gives_the_same_ranked_table_twice_on_two_processes(tmp_path):
    config = write_config(tmp_path)
    first = run_sweep(config, tmp_path / "a", AXES, STEPS, workers=2, extra_plugins=arb_plugins())
    run_sweep(config, tmp_path / "b", AXES, STEPS, workers=2, extra_plugins=arb_plugins())
    assert first.workers == 2 and len(first.rows) == 9  # both cores
    for name in ("sweep.md", "sweep.json", "sweep.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    table = json.loads(first.table_json.read_text())
    rows = table["rows"]
    assert table["ranked_by"] == "USDC" and all(list(r["quotes"]) == ["USDC"] for r in rows)
    assert sorted(r["combination"] for r in rows) == list(range(1, 10))
    net = [Decimal(r["quotes"]["USDC"]["net"]) for r in rows]
    assert net == sorted(net, reverse=True)
    assert {tuple(r["params"].items()) for r in rows} == {
        (("min_edge_bps", e), ("max_notional", n)) for e in ("5", "10", "20") for n in ("500", "1000", "1500")}
    # each row is its own run's report, read back: the ledger's net PnL and the arb section's figures
    for r in rows:
        report = json.loads((tmp_path / "a" / f"run-{r['combination']:03d}" / "report.json").read_text())
        usdc = r["quotes"]["USDC"]
        assert Decimal(report["strategies"]["sol-arb"]["net"]["USDC"]) == Decimal(usdc["net"])
        assert report["sections"]["arb"]["pnl"]["captured"] == usdc["captured"]  # one figure, one name
        assert report["sections"]["arb"]["executions"] == r["executions"]
        assert report["sections"]["arb"]["pnl"]["capture_rate"] == usdc["capture_rate"]
        assert report["strategies"]["sol-arb"]["max_drawdown"]["USDC"] == usdc["max_drawdown"]
    # a higher minimum edge never takes more: the sweep really changed the setting
    execs = {tuple(r["params"].values()): r["executions"] for r in rows}
    assert execs[("5", "1000")] >= execs[("10", "1000")] >= execs[("20", "1000")]
    assert len({r["quotes"]["USDC"]["net"] for r in rows}) > 1
    markdown = first.table_md.read_text()
    assert markdown.count("\n| ") == 2 + 9 and "| 1 | " in markdown  # head, separator, the rows


def test_walk_forward_ranks_on_the_tuning_part_and_shows_the_rest(tmp_path):
    result = run_sweep(write_config(tmp_path), tmp_path / "wf", [parse_axis("max_notional=500,1500")], STEPS,
                       workers=1, walk_forward=0.5, chart=False, extra_plugins=arb_plugins())
    tunes = [r.in_quote("USDC").tune for r in result.rows]
    assert all(t is not None for t in tunes) and tunes == sorted(tunes, reverse=True)
    with localcontext(prec=200):  # exact figures (a pool price has ~50 digits)
        for r in result.rows:
            [f] = r.quotes
            report = json.loads((tmp_path / "wf" / f"run-{r.index:03d}" / "report.json").read_text())
            equity = report["equity_curves"]["sol-arb"]["USDC"]
            assert f.tune + f.rest == Decimal(equity[-1][1])  # the parts add up to the run's equity at the end
    assert "Walk-forward" in result.table_md.read_text() and result.chart is None


def test_curves_of_several_strategies_merge_in_time_order():
    curves = {"a": {"USDC": [(10, Decimal(5)), (30, Decimal(2))]}, "b": {"USDC": [(20, Decimal(-1))]}}
    merged = combined_curve(curves, ["a", "b"], "USDC")
    assert merged == [(10, Decimal(5)), (20, Decimal(4)), (30, Decimal(1))]
    assert value_at(merged, 5) == 0 and value_at(merged, 25) == 4


def test_a_row_shows_the_reports_exact_figures_however_many_digits():
    # the ledger's curves are exact (a pool price has ~50 digits): the row's captured PnL and drawdown are the
    # report's, not rounded to Decimal's default 28 digits
    long = Decimal("0.4974963295904545454545454545")  # 28 significant digits after 0.
    curve = [(1, long), (2, Decimal("0.1") + long), (3, Decimal("-100.0000000000000000000000000001"))]
    outcome = Outcome(index=1, overrides=(), net={"a": {"USDC": curve[-1][1]}}, fills={"a": 3},
                      curves={"a": {"USDC": curve}}, arb=None, start_ns=0, end_ns=3, steps=3, steps_wall_s=0.0,
                      cpu_s=0.0, equity={"a": {"USDC": curve}})  # nothing left open: equity is the realized curve
    row = build_rows([outcome], ["a"], walk_forward=None)[0]
    assert combined_curve({"a": {"USDC": curve}}, ["a"], "USDC") == curve
    assert row.in_quote("USDC").net == curve[-1][1]
    assert row.in_quote("USDC").max_drawdown == pnl_curve_drawdown(curve) == Decimal("100.5974963295904545454545454546")


def test_malformed_sweeps_are_refused_saying_how_to_write_them(tmp_path):
    for spec in ("min_edge_bps", "=5,10", "min_edge_bps=5,,10", "min_edge_bps=5,5"):
        with pytest.raises(ValueError, match="--sweep"):
            parse_axis(spec)
    with pytest.raises(ValueError, match="given twice"):
        combinations([Axis("a", ("1",)), Axis("a", ("2",))])
    config = write_config(tmp_path)
    with pytest.raises(ConfigError, match="no_such_setting"):
        run_sweep(config, tmp_path / "x", [parse_axis("no_such_setting=1,2")], STEPS, extra_plugins=arb_plugins())
    with pytest.raises(ConfigError, match="min_edge_bps"):
        run_sweep(config, tmp_path / "x", [parse_axis("min_edge_bps=5,ten")], STEPS, extra_plugins=arb_plugins())
    with pytest.raises(ValueError, match="walk-forward"):
        run_sweep(config, tmp_path / "x", AXES, STEPS, walk_forward=1.5, extra_plugins=arb_plugins())


def test_the_cli_sweeps_from_a_sweep_table_and_from_flags(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text() + '\n[sweep]\n"strategies.sol-arb.min_edge_bps" = ["5", "20"]\n')
    out = arbot("backtest", "--config", str(config), "--out", "sw", "--steps", "300", "--workers", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sweep: 2 combinations" in out.stdout and "1. strategies.sol-arb.min_edge_bps=" in out.stdout
    assert (tmp_path / "sw" / "sweep.md").is_file() and (tmp_path / "sw" / "run-002" / "report.md").is_file()
    bad = arbot("backtest", "--config", str(config), "--sweep", "min_edge_bps", cwd=tmp_path)
    assert bad.returncode == 2 and "KEY=V1,V2" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("typo", ["flase", "ture", "maybe", "1", "yes"])
def test_a_boolean_sweep_value_other_than_true_or_false_is_refused_naming_the_key_whether_the_config_sets_it_or_not(
        tmp_path, typo):
    from bot.backtest.driver import backtest_config

    plain = write_config(tmp_path, name="plain.toml")  # concurrent_legs not in the config
    sets_it = write_config(tmp_path, name="sets.toml")
    sets_it.write_text(sets_it.read_text().replace('min_size = "0.1"\n', 'min_size = "0.1"\nconcurrent_legs = true\n'))
    for config in (plain, sets_it):
        with pytest.raises(ConfigError, match=f'concurrent_legs: expected true or false, got "?{typo}'):
            backtest_config(config, tmp_path, tmp_path / "x.db", extra_plugins=arb_plugins(),
                            overrides=[("concurrent_legs", typo)])
    for spelling, value in (("false", False), ("TRUE", True)):  # either path reads true/false the same
        for config in (plain, sets_it):
            built = backtest_config(config, tmp_path, tmp_path / "x.db", extra_plugins=arb_plugins(),
                                    overrides=[("concurrent_legs", spelling)])[2]
            assert built.of_kind("strategy")["sol-arb"].settings.concurrent_legs is value


def test_two_sweep_keys_that_set_the_same_setting_are_refused_naming_both_before_anything_runs(tmp_path):
    # `min_edge_bps` (every strategy that has it) and `strategies.sol-arb.min_edge_bps` are one setting here: run,
    # the last applied would win and every row's min_edge_bps label would be a value never used
    axes = [parse_axis("min_edge_bps=5,500"), parse_axis("strategies.sol-arb.min_edge_bps=10")]
    with pytest.raises(ValueError, match=r"--sweep min_edge_bps and --sweep strategies\.sol-arb\.min_edge_bps both "
                                         r"set strategies\.sol-arb\.min_edge_bps"):
        run_sweep(write_config(tmp_path), tmp_path / "sw", axes, 60, workers=1, chart=False,
                  extra_plugins=arb_plugins())
    assert not (tmp_path / "sw" / "run-001").exists()


def test_a_sweep_row_carries_every_quotes_pnl_and_the_table_does_not_rank_across_quotes(tmp_path):
    from bot.backtest.sweep import ranking_quote, render_markdown, sweep_chart_png

    def outcome(index: int, usdc: int, usdt: int) -> Outcome:  # sol-usdc trades in USDC, sol-usdt in USDT
        curves = {"sol-usdc": {"USDC": [(10, Decimal(usdc))]}, "sol-usdt": {"USDT": [(20, Decimal(usdt))]}}
        return Outcome(index=index, overrides=(("min_edge_bps", str(index)),),
                       net={"sol-usdc": {"USDC": Decimal(usdc)}, "sol-usdt": {"USDT": Decimal(usdt)}},
                       fills={"sol-usdc": 2, "sol-usdt": 2}, curves=curves,
                       arb=None, start_ns=0, end_ns=30, steps=3, steps_wall_s=0.0, cpu_s=0.0, equity=curves)

    rows = build_rows([outcome(1, 1, -500), outcome(2, 5, -600)], ["sol-usdc", "sol-usdt"], walk_forward=None)
    first = rows[0]
    assert [q.quote for q in first.quotes] == ["USDC", "USDT"]  # the -500 USDT is in the row, not dropped
    assert (first.in_quote("USDC").net, first.in_quote("USDT").net) == (Decimal(1), Decimal(-500))
    assert first.in_quote("USDT").max_drawdown == Decimal(500)
    assert first.as_json()["quotes"]["USDT"] == {"net": "-500", "max_drawdown": "500", "captured": None,
                                                 "capture_rate": None, "prediction_error_abs_mean": None}
    # +5 USDC -600 USDT is not "better" than +1 USDC -500 USDT: no rank across quotes, combination order
    assert ranking_quote(rows) is None and [r.index for r in rows] == [1, 2]
    markdown = render_markdown(rows, [Axis("min_edge_bps", ("1", "2"))], ["sol-usdc", "sol-usdt"], "s", None)
    assert "Not ranked: the PnL of sol-usdc, sol-usdt is in 2 quote assets (USDC, USDT)" in markdown
    assert "| net realized PnL (USDC) |" in markdown and "| net realized PnL (USDT) |" in markdown
    assert "| - | 1 | 1 | 1.00 USDC |" in markdown and "| -500.00 USDT |" in markdown
    assert sweep_chart_png(rows, walk_forward=False).startswith(b"\x89PNG")
    # one quote: ranked by it, as ever
    one = build_rows([outcome(1, 1, 0), outcome(2, 5, 0)], ["sol-usdc"], walk_forward=None)
    assert ranking_quote(one) == "USDC" and [r.index for r in one] == [2, 1]


def test_a_sweep_row_shows_the_arbitrage_of_the_swept_pair_alone_not_every_pairs(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "arb-three-pairs.toml"
    one = run_sweep(example, tmp_path / "one", [parse_axis("strategies.sol-arb.min_edge_bps=10")], 2_400,
                    workers=1, chart=False, extra_plugins=arb_plugins())
    report = json.loads((tmp_path / "one" / "run-001" / "report.json").read_text())
    row, every_pair = one.rows[0], report["sections"]["arb"]
    # the row's net PnL is sol-arb's (the swept strategy): so are its executions, captured PnL, capture rate and error
    executed = int(report["strategies"]["sol-arb"]["status"]["executed this run"])
    assert row.executions == executed < every_pair["executions"]
    assert row.in_quote("USDC").net == Decimal(report["strategies"]["sol-arb"]["net"]["USDC"])
    assert row.in_quote("USDC").capture_rate != every_pair["pnl"]["capture_rate"]
    assert row.in_quote("USDC").captured != Decimal(every_pair["pnl"]["captured"])
    # sweeping every pair (the bare key) shows every pair's arbitrage: the report's section
    every = run_sweep(example, tmp_path / "every", [parse_axis("min_edge_bps=10")], 2_400, workers=1, chart=False,
                      extra_plugins=arb_plugins())
    report = json.loads((tmp_path / "every" / "run-001" / "report.json").read_text())
    row, section = every.rows[0], report["sections"]["arb"]
    assert row.executions == section["executions"]
    assert row.in_quote("USDC").capture_rate == section["pnl"]["capture_rate"]
    assert row.in_quote("USDC").captured == Decimal(section["pnl"]["captured"])
    assert row.in_quote("USDC").prediction_error == section["prediction_error"]["abs_quote"]["mean"]


def test_a_rows_captured_pnl_is_its_runs_arbitrage_captured_and_its_net_pnl_the_ledgers():
    # a residual valued at the mid or a SOL fee at the opportunity's SOL price makes the executions' realized PnL
    # (the arb section's "captured") differ from the ledger's net: each figure keeps its own name in the table,
    # the one it has in the run's report
    from bot.backtest.sweep import render_markdown

    arb = {"quote": "USDC", "executions": 2, "pnl": {"captured": "12.5", "capture_rate": "0.8"},
           "prediction_error": {"abs_quote": {"mean": "0.1"}}}
    outcome = Outcome(index=1, overrides=(("min_edge_bps", "5"),), net={"a": {"USDC": Decimal(10)}}, fills={"a": 4},
                      curves={"a": {"USDC": [(1, Decimal(10))]}}, arb=arb, start_ns=0, end_ns=3, steps=3,
                      steps_wall_s=0.0, cpu_s=0.0)
    [row] = build_rows([outcome], ["a"], walk_forward=None)
    usdc = row.as_json()["quotes"]["USDC"]
    assert usdc["captured"] == "12.5"  # the report's sections.arb.pnl.captured
    assert usdc["net"] == "10"  # the report's strategies.a.net.USDC
    markdown = render_markdown([row], [Axis("min_edge_bps", ("5",))], ["a"], "s", None)
    head, _, cells = markdown.split("\n| ")[1:4]
    columns = dict(zip(head.strip(" |").split(" | "), cells.strip(" |").split(" | "), strict=True))
    assert columns["net realized PnL"] == "10.00 USDC" and columns["captured PnL"] == "12.50 USDC"
    # without arbitrage there is no captured PnL: the ledger's net alone
    [plain] = build_rows([Outcome(**{**outcome.__dict__, "arb": None})], ["a"], walk_forward=None)
    assert plain.as_json()["quotes"]["USDC"]["captured"] is None


@pytest.mark.parametrize("values", ['["5", 5]', "[1, 1]", '["5", "10", "5"]'])
def test_a_sweep_table_value_given_twice_is_refused_naming_the_key_as_the_flag_is(tmp_path, values):
    # each value ran twice as two rows under one label: the table's rank and chart counted one setting twice
    config = write_config(tmp_path)
    config.write_text(config.read_text() + f"\n[sweep]\nmin_edge_bps = {values}\n")
    out = arbot("backtest", "--config", str(config), "--out", "sw", "--steps", "60", "--workers", "1", cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert "sweep.min_edge_bps" in out.stderr and "given twice" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "sw").exists(), "a refused sweep writes nothing"


def test_a_refused_sweep_value_leaves_no_output_directory(tmp_path):
    with pytest.raises(ConfigError, match="min_edge_bps"):
        run_sweep(write_config(tmp_path), tmp_path / "x", [parse_axis("min_edge_bps=5,ten")], STEPS,
                  extra_plugins=arb_plugins())
    assert not (tmp_path / "x").exists()


def test_a_rows_drawdowns_are_of_equity_with_open_lots_marked_as_the_report_gives_them():
    # realized 0 then +10, but a lot held from 2 to 4 lost 30 at its mark before closing: the row's drawdown is the
    # report's (equity), and the walk-forward rest's counts from the equity at the split
    realized = [(4, Decimal(10))]
    equity = [(2, Decimal(0)), (3, Decimal(-30)), (4, Decimal(10)), (6, Decimal(-5))]
    outcome = Outcome(index=1, overrides=(), net={"a": {"USDC": Decimal(10)}}, fills={"a": 2},
                      curves={"a": {"USDC": realized}}, arb=None, start_ns=0, end_ns=6, steps=6, steps_wall_s=0.0,
                      cpu_s=0.0, equity={"a": {"USDC": equity}})
    [figures] = build_rows([outcome], ["a"], walk_forward=None)[0].quotes
    assert figures.max_drawdown == Decimal(30) and figures.net == Decimal(10)
    [split] = build_rows([outcome], ["a"], walk_forward=0.5)[0].quotes  # split at 3: equity -30 there
    assert (split.tune, split.rest, split.rest_drawdown, split.carried) == (Decimal(-30), Decimal(25), Decimal(15),
                                                                           Decimal(-30))


def test_walk_forward_parts_split_equity_so_a_lot_carried_over_the_split_credits_each_part_its_own_move():
    # bought at 100 in the tuning part, marked 90 at the split, sold at 95 in the rest: the tuning part lost 10
    # (it held the loss at the split) and the rest made 5. Split on realized PnL, the tuning part showed 0 (its
    # held loss unseen, so it ranked as if flat) and the rest -5 (the tuning part's loss booked out of sample).
    outcome = Outcome(index=1, overrides=(), net={"a": {"USDC": Decimal(-5)}}, fills={"a": 2},
                      curves={"a": {"USDC": [(4, Decimal(-5))]}}, arb=None, start_ns=0, end_ns=6, steps=6,
                      steps_wall_s=0.0, cpu_s=0.0,
                      equity={"a": {"USDC": [(2, Decimal(-10)), (4, Decimal(-5))]}})
    [row] = build_rows([outcome], ["a"], walk_forward=0.5)
    [f] = row.quotes
    assert (f.tune, f.rest, f.carried) == (Decimal(-10), Decimal(5), Decimal(-10))
    assert row.as_json()["quotes"]["USDC"]["walk_forward"] == {"tune": "-10", "rest": "5", "carried": "-10",
                                                               "rest_max_drawdown": "0"}


def test_a_swept_value_the_settings_refuse_is_named_as_the_sweeps_not_the_files(tmp_path):
    # the config file sets max_notional = "1500": the bad value came from the sweep, and the error says so
    with pytest.raises(ConfigError) as caught:
        run_sweep(write_config(tmp_path), tmp_path / "x", [parse_axis("max_notional=500,lots")], STEPS,
                  extra_plugins=arb_plugins())
    text = str(caught.value)
    assert "strategies.sol-arb.max_notional" in text and '"lots"' in text
    assert "--sweep max_notional=lots" in text.splitlines()[0], text


def test_a_sweep_key_naming_a_component_the_config_lacks_is_refused_naming_the_configured_ones(tmp_path):
    # it made an empty [strategies.nope] table, refused as 'no strategy plugin provides "nope"'
    with pytest.raises(ConfigError) as caught:
        run_sweep(write_config(tmp_path), tmp_path / "x", [parse_axis("strategies.nope.min_edge_bps=5")], STEPS,
                  extra_plugins=arb_plugins())
    text = str(caught.value)
    assert "sweep.strategies.nope.min_edge_bps" in text and "no [strategies.nope]" in text and "sol-arb" in text
    assert "plugin" not in text
    assert not (tmp_path / "x").exists()


def test_a_sweep_whose_run_fails_leaves_no_run_directories_and_no_table(tmp_path):
    # the second combination plays a recording damaged mid-file (bad input): the first one's run-001 was left
    # behind beside no table, an output that looked like a sweep of one combination
    from tests.backtest.backtest_kit import recorded_cex_config, write_kraken_recording

    write_kraken_recording(tmp_path / "sol.jsonl", 300)
    lines = (tmp_path / "sol.jsonl").read_text().splitlines(keepends=True)
    lines[100] = lines[100][: len(lines[100]) // 2] + "\n"
    (tmp_path / "cut.jsonl").write_text("".join(lines))
    config = recorded_cex_config(tmp_path)
    out = arbot("backtest", "--config", str(config), "--out", "sw", "--workers", "1",
                "--sweep", "exchanges.sol-cex.recording=sol.jsonl,cut.jsonl", cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr[-2000:])
    assert "cut.jsonl" in out.stderr and "line 102" in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "sw").exists(), sorted(p.name for p in (tmp_path / "sw").iterdir())
