"""Shared by the backtest tests: the SOL/USDC arbitrage scenario, the arb plugin, PNG and recording helpers, and
`arbot backtest` run in a process group of its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path

from bot.backtest.driver import SCRATCH_PREFIX, run_backtest
from tests.helpers.processes import arbot
from tests.plugins.arb.arb_kit import arb_plugins

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
RECORDED_CEX = '''[exchanges.sol-cex]
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

'''
"""The scenario's CEX played from ``sol.jsonl`` (a Kraken recording, relative to the working directory)."""
STEPS = 900  # 600 CEX steps + 300 pool steps: 60 s of simulated market


def write_config(tmp_path: Path, name: str = "scenario.toml", cex_seed: int = 11, pool_seed: int = 7,
                 min_edge: str = "10") -> Path:  # fmt: skip
    path = tmp_path / name
    path.write_text(SCENARIO.format(cex_seed=cex_seed, pool_seed=pool_seed, min_edge=min_edge))
    return path


def recorded_cex_config(tmp_path: Path) -> Path:
    """``recorded.toml``: the scenario with its CEX book played from ``sol.jsonl`` beside the synthetic pool."""
    text = write_config(tmp_path).read_text()
    config = tmp_path / "recorded.toml"
    config.write_text(text.replace(text[text.index("[exchanges.sol-cex]"):text.index("[exchanges.sol-pool]")],
                                   RECORDED_CEX))
    return config


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




# --- `arbot backtest` in a process group of its own -------------------------------------------------


def start(args: list[str], cwd: Path, temp: Path, *, command: list[str] | None = None,
          sigint: signal.Handlers = signal.SIG_DFL) -> subprocess.Popen[str]:  # fmt: skip
    """``arbot ARGS`` (``command`` + ARGS when given) in a session of its own (its workers in its process group), its
    temp directory ``temp``, SIGINT's disposition ``sigint`` (a test run in the background inherits it ignored, as a
    command a script starts with ``&`` does)."""
    temp.mkdir(exist_ok=True)
    return subprocess.Popen([*command, *args] if command else arbot(*args), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "NO_COLOR": "1", "TMPDIR": str(temp)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))


def group_alive(process: subprocess.Popen[str]) -> bool:
    """Whether any process of the command's group (the command, its workers) still exists."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def end_group(process: subprocess.Popen[str]) -> None:
    """Kill whatever of the command's group is left (the test failed): no worker outlives the test."""
    if group_alive(process):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.communicate()


def left_behind(temp: Path) -> list[str]:
    """The backtest scratch directories (:data:`~bot.backtest.driver.SCRATCH_PREFIX`) in ``temp``."""
    return sorted(p.name for p in temp.glob(f"{SCRATCH_PREFIX}*"))


def stored_fills(db: Path) -> int:
    """The fills a running backtest's store (``--out``'s ``backtest.db``) holds so far, read-only: more than 0 once its
    bot has started and the markets are being stepped; 0 while the store is not there or not ready."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as store:
            return int(store.execute("SELECT count(*) FROM fills").fetchone()[0])
    except sqlite3.Error:
        return 0
