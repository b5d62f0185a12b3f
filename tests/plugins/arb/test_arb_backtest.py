"""`arbot backtest`: a short seeded scenario end to end, its report checked against the store, reproducibility."""

from __future__ import annotations

import importlib.metadata
import json
import sqlite3
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

import plugins.arb
from plugins.arb.backtest import run_backtest

SCENARIO = """
mode = "paper"

[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
start_price = "150"
tick_size = "0.01"
lot_size = "0.001"
min_qty = "0.01"
spread_ticks = 2
level_step_ticks = 1
level_qty = "25"
volatility_bps = "2"
tick_interval_ms = 100
taker_fee_bps = "10"
initial_balances = {{ SOL = "100", USDC = "15000" }}
latency_ms = 50
seed = {cex_seed}

[exchanges.sol-pool]
type = "paper-dex"
symbol = "SOL/USDC"
anchor = "sol-cex"
start_price = "150"
tvl = "2000000"
fee_bps = 4
dislocation_probability = "0.08"
dislocation_min_bps = "30"
dislocation_max_bps = "90"
tick_interval_ms = 200
latency_ms = 100
initial_balances = {{ SOL = "100", USDC = "15000" }}
seed = {pool_seed}

[strategies.sol-arb]
type = "arb"
cex = "sol-cex"
dex = "sol-pool"
symbol = "SOL/USDC"
cex_taker_fee_bps = "10"
min_edge_bps = "{min_edge}"
max_notional = "1500"
size_step = "0.1"
min_size = "0.1"

[notifiers.console]
min_level = "info"
"""
STEPS = 900  # 600 CEX steps + 300 pool steps: 60 s of simulated market


def arb_plugins() -> list[tuple[str, object]]:
    """The arb plugin, unless its entry point is installed (then it loads by itself)."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    return [] if "arb" in installed else [("arb", plugins.arb)]


def write_config(tmp_path: Path, name: str = "scenario.toml", cex_seed: int = 11, pool_seed: int = 7,
                 min_edge: str = "10") -> Path:  # fmt: skip
    path = tmp_path / name
    path.write_text(SCENARIO.format(cex_seed=cex_seed, pool_seed=pool_seed, min_edge=min_edge))
    return path


def backtest(config: Path, out: Path, steps: int = STEPS):
    return run_backtest(config, out, steps, extra_plugins=arb_plugins())


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each chunk; raises if the signature, a length or a CRC is wrong."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + payload) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, payload))
        pos += 12 + length
    return chunks


def without_run(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "run"}


def test_seeded_backtest_writes_a_consistent_report(tmp_path):
    out = tmp_path / "out"
    result = backtest(write_config(tmp_path), out)
    report = json.loads((out / "report.json").read_text())
    opp = report["opportunities"]

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
    con.close()
    finished = [(oid, Decimal(r), Decimal(p)) for oid, r, p in rows if r is not None]
    assert report["executions"] == len(finished) == opp["taken"]
    assert published == opp["seen"]
    captured = sum((r for _, r, _ in finished), Decimal(0))
    assert Decimal(report["pnl"]["captured"]) == captured
    assert Decimal(report["pnl"]["predicted_of_executed"]) == sum((p for _, _, p in finished), Decimal(0))
    assert report["pnl"]["capture_rate"] is not None
    assert Decimal(report["pnl"]["capture_rate"]) == (captured / Decimal(opp["tradable_predicted_pnl"])).quantize(
        Decimal("0.0001"))
    curve = report["pnl_curve"]
    assert len(curve) == len(finished) and Decimal(curve[-1][1]) == captured
    errors = sorted(abs(r - p) for _, r, p in finished)
    stats = report["prediction_error"]["abs_quote"]
    assert stats["count"] == len(errors)
    assert Decimal(stats["p50"]) == errors[(len(errors) + 1) // 2 - 1].quantize(Decimal("0.000001"))
    assert Decimal(stats["p95"]) >= Decimal(stats["p50"])

    markdown = (out / "report.md").read_text()
    assert f"| {opp['seen']} | {opp['taken']} | {opp['missed']} | {opp['tradable']} |" in markdown
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
    second = json.loads((tmp_path / "b" / "report.json").read_text())
    assert without_run(first) == without_run(second)
    assert (tmp_path / "a" / "pnl.png").read_bytes() == (tmp_path / "b" / "pnl.png").read_bytes()
    assert (tmp_path / "a" / "report.md").read_text().split("Run: ")[0] == \
        (tmp_path / "b" / "report.md").read_text().split("Run: ")[0]

    other = write_config(tmp_path, "other.toml", pool_seed=8)
    backtest(other, tmp_path / "c")
    third = json.loads((tmp_path / "c" / "report.json").read_text())
    assert third["pnl_curve"] != first["pnl_curve"]


def test_a_higher_minimum_edge_takes_fewer_opportunities(tmp_path):
    loose = json.loads(backtest(write_config(tmp_path), tmp_path / "loose").report_json.read_text())
    strict_cfg = write_config(tmp_path, "strict.toml", min_edge="60")
    strict = json.loads(backtest(strict_cfg, tmp_path / "strict").report_json.read_text())
    assert strict["opportunities"]["taken"] < loose["opportunities"]["taken"]
    assert strict["opportunities"]["missed_by_reason"].get("below min edge", 0) > \
        loose["opportunities"]["missed_by_reason"].get("below min edge", 0)


def test_the_embedded_default_shows_arbitrage_within_a_minute(tmp_path):
    """`arbot run` without a config: the SOL/USDC demo finds, executes and reports arbitrages in 60 s."""
    result = run_backtest(None, tmp_path / "demo", 1500, chart=False, extra_plugins=arb_plugins())
    # 1500 steps: BTC/USD and SOL/USDC every 100 ms, the pool every 200 ms = 60 s of market
    assert result.simulated_ns == 59_900_000_000
    assert result.figures.seen > 0
    assert result.figures.taken >= 1 and result.figures.executions >= 1
    report = json.loads(result.report_json.read_text())
    assert "sol-pool: synthetic paper-dex" in report["scenario"]["input"]
    assert {"btc-grid", "sol-arb"} <= set(report["scenario"]["strategies"])


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


def write_kraken_recording(path: Path, updates: int, seed: int = 3) -> int:
    """A Kraken v2 SOL/USDC book recording (instrument, snapshot, updates 100 ms apart, CRC32 on each),
    as `arbot record` writes it; returns the number of book frames."""
    import random

    rng = random.Random(seed)
    bids = {15_000 - 1 - i: rng.randint(1, 5_000) * 1_000_000 for i in range(10)}
    asks = {15_000 + 1 + i: rng.randint(1, 5_000) * 1_000_000 for i in range(10)}

    def levels(items) -> str:
        return ",".join(f'{{"price":{p // 100}.{p % 100:02d},"qty":{q // 10**8}.{q % 10**8:08d}}}' for p, q in items)

    def frame(kind: str, b, a) -> str:
        text = "".join(f"{p}{asks[p]}" for p in sorted(asks)[:10]) + \
            "".join(f"{p}{bids[p]}" for p in sorted(bids, reverse=True)[:10])
        return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"SOL/USDC","bids":[{levels(b)}],'
                f'"asks":[{levels(a)}],"checksum":{zlib.crc32(text.encode())}}}]}}')

    lines = ['{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"SOL/USDC",'
             '"base":"SOL","quote":"USDC","status":"online","qty_precision":8,"qty_increment":0.00000001,'
             '"price_precision":2,"price_increment":0.01,"qty_min":0.02,"cost_min":0.5}]}}',
             frame("snapshot", sorted(bids.items(), reverse=True), sorted(asks.items()))]
    for _ in range(updates):
        if rng.random() < 0.8:  # a size changes
            side = bids if rng.random() < 0.5 else asks
            price = rng.choice(list(side))
            side[price] = rng.randint(1, 5_000) * 1_000_000
            change = [(price, side[price])]
            lines.append(frame("update", change if side is bids else [], change if side is asks else []))
        else:  # the book moves 1 tick, or now and then 40-80 (an arbitrage against the lagging pool)
            ticks = rng.choice((-1, 1)) * (rng.randint(40, 80) if rng.random() < 0.1 else 1)
            diffs = []
            for side in (bids, asks):
                moved = {p + ticks: q for p, q in side.items()}
                diffs.append([(p, 0) for p in side if p not in moved] + sorted(moved.items()))
                side.clear()
                side.update(moved)
            lines.append(frame("update", diffs[0], diffs[1]))
    start = 1_763_780_000_000_000_000
    path.write_text("".join(json.dumps({"ts_ns": start + i * 100_000_000, "raw": raw}) + "\n"
                            for i, raw in enumerate(lines)))
    return len(lines) - 1


def test_a_recorded_cex_stream_plays_to_its_end_against_a_synthetic_pool(tmp_path):
    book_frames = write_kraken_recording(tmp_path / "sol.jsonl", 600)
    text = write_config(tmp_path).read_text()
    recorded_cex = text[text.index("[exchanges.sol-cex]"):text.index("[exchanges.sol-pool]")]
    text = text.replace(recorded_cex, '''[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
market = "recording"
recording = "sol.jsonl"
recording_exchange = "kraken"
tick_size = "0.01"
lot_size = "0.00000001"
min_qty = "0.01"
taker_fee_bps = "10"
initial_balances = { SOL = "100", USDC = "15000" }
latency_ms = 50

''')
    config = tmp_path / "recorded.toml"
    config.write_text(text)
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)  # recording paths are relative to the working directory
    try:
        result = run_backtest(config, tmp_path / "out", None, extra_plugins=arb_plugins())
    finally:
        os.chdir(cwd)
    report = json.loads(result.report_json.read_text())
    assert "sol-cex: recording sol.jsonl (kraken)" in report["scenario"]["input"]
    assert "synthetic paper-dex" in report["scenario"]["input"] and "no DEX recording" in report["scenario"]["input"]
    # the whole file played (one step per book frame and feed state), 100 ms apart: a minute of market
    assert result.steps >= book_frames
    assert result.simulated_ns >= (book_frames - 1) * 100_000_000
    assert report["opportunities"]["seen"] > 0


def test_stale_inputs_are_reported(tmp_path):
    """A pool updated every 200 ms against max_input_age_ms = 150: decisions are skipped, and the report says so."""
    text = write_config(tmp_path).read_text()
    text = text.replace('min_size = "0.1"\n', 'min_size = "0.1"\nmax_input_age_ms = 150\n')
    config = tmp_path / "stale.toml"
    config.write_text(text)
    result = backtest(config, tmp_path / "out")
    report = json.loads(result.report_json.read_text())
    skipped = int(report["scenario"]["strategy_status"]["sol-arb"]["stale inputs"])
    assert skipped > 0
    assert f"Decisions skipped for stale input (never an opportunity): sol-arb {skipped}." in \
        result.report_md.read_text()
