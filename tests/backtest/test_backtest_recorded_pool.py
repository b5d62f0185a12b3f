"""An arbitrage backtest over a recorded Kraken book and a recorded Orca pool (recorded from the fake Solana
node's accountSubscribe), played together in receive-time order; the paper-dex trades against the recorded pool."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path

import pytest

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from bot.api.kit import RecordOptions
from bot.backtest.driver import BacktestInputError, run_backtest
from bot.recording import frame_line, read_recording
from plugins.orca.record import OrcaRecorder
from plugins.orca.settings import OrcaSettings
from tests.backtest.backtest_kit import write_kraken_recording
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import arb_plugins
from tests.plugins.orca.orca_pools import WHIRLPOOL, put_pool, whirlpool_state

KRAKEN_START_NS = 1_763_780_000_000_000_000  # write_kraken_recording's first frame
TICK_150 = round(math.log(0.15) / math.log(1.0001))  # about 150 USDC per SOL (decimals 9 / 6)


async def record_pool(path: Path, ticks: list[int], start_ns: int, every_ns: int) -> int:
    """Record the pool from the fake node while it moves through ``ticks``, one move every ``every_ns`` of
    recorded receive time (the first state at ``start_ns``); returns the pool states published."""
    node = await FakeSolanaRpc().start()
    try:
        await put_pool(node, ticks[0])
        settings = OrcaSettings(rpc_urls=[node.url], ws_urls=[node.ws_url], pools={"SOL/USDC": WHIRLPOOL},
                                request_timeout_s=5.0, start_timeout_s=10.0)
        lines: list[tuple[int, str]] = []
        now = [start_ns]

        def sink(frame: str) -> None:
            now[0] += 1_000  # each line a microsecond after the one before: receive order kept
            lines.append((now[0], frame))

        def published() -> int:
            return sum('"published"' in raw for _, raw in lines)

        stop = asyncio.Event()
        task = asyncio.create_task(OrcaRecorder().record(RecordOptions(symbols=["SOL/USDC"], settings=settings),
                                                         sink, stop))
        await wait_for(lambda: published() == 1, 20, "the first pool")
        for i, tick in enumerate(ticks[1:], 1):
            now[0] = start_ns + i * every_ns
            await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(tick)))
            await wait_for(lambda i=i: published() == i + 1, 20, f"pool state {i + 1}")
        stop.set()
        await task
    finally:
        await node.close()
    path.write_text("".join(frame_line(raw, ts) for ts, raw in lines))
    return published()


CONFIG = """
mode = "paper"

[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
market = "recording"
recording = "{cex}"
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
market = "recording"
recording = "{pool}"
latency_ms = 100
initial_balances = {{ SOL = "100", USDC = "15000" }}

[strategies.sol-arb]
type = "arb"
cex = "sol-cex"
dex = "sol-pool"
symbol = "SOL/USDC"
cex_taker_fee_bps = "10"
min_edge_bps = "10"
max_notional = "1500"
size_step = "0.1"
min_size = "0.1"
max_input_age_ms = 5000
"""


def test_an_arbitrage_backtest_over_a_recorded_book_and_a_recorded_pool(tmp_path):
    book_frames = write_kraken_recording(tmp_path / "sol.jsonl", 600)  # a minute, 100 ms apart
    # the pool: near the book's 150, a few ticks each half second, and twice a jump of ~60 bps the book lacks
    moves = [0, 3, -2, 5, 60, 58, 4, 1, -3, -60, -61, -2, 0, 2, 1]
    ticks = [TICK_150 + m for m in moves for _ in range(8)]
    states = asyncio.run(record_pool(tmp_path / "pool.jsonl", ticks, KRAKEN_START_NS + 50_000_000, 500_000_000))
    assert states == len(ticks)
    replayed = list(OrcaRecorder().market_events(read_recording(tmp_path / "pool.jsonl"), RecordOptions(symbols=[])))
    config = tmp_path / "recorded.toml"
    config.write_text(CONFIG.format(cex=tmp_path / "sol.jsonl", pool=tmp_path / "pool.jsonl"))

    result = run_backtest(config, tmp_path / "out", None, extra_plugins=arb_plugins())
    report = json.loads(result.report_json.read_text())
    assert "sol-cex: recording sol.jsonl (kraken)" in report["scenario"]["input"]
    assert "sol-pool: recording pool.jsonl (orca)" in report["scenario"]["input"]
    assert "synthetic" not in report["scenario"]["input"]
    # both recordings played to their end, together: every book frame and every recorded pool event
    assert result.steps >= book_frames + len(replayed)
    assert result.simulated_ns >= (book_frames - 1) * 100_000_000  # the book's minute (the pool's is within it)
    arb = report["sections"]["arb"]
    assert arb["opportunities"]["seen"] > 0 and arb["executions"] > 0, arb["opportunities"]
    # the swaps went against the recorded pool: the paper-dex's fills are priced from its states
    con_fills = report["strategies"]["sol-arb"]["fills"]
    assert con_fills == 2 * arb["executions"] or con_fills >= arb["executions"]
    assert (tmp_path / "out" / "report.md").is_file() and (tmp_path / "out" / "pnl.png").is_file()


def test_a_recorded_pool_that_cannot_be_played_past_a_bad_line_is_refused_not_ended_silently(tmp_path, caplog):
    """An orca line the replay refuses (an account read without its data) stops the pool's playback: logged at
    ERROR naming the file and the line, as the paper CEX does, and the backtest is refused as bad input (a report
    on the part before it, the rest missing, is not what was asked for), naming the file, the line and the fix."""
    write_kraken_recording(tmp_path / "sol.jsonl", 300)
    ticks = [TICK_150 + m for m in (0, 3, 60, 58, 2, -60, 0, 1)]
    asyncio.run(record_pool(tmp_path / "pool.jsonl", ticks, KRAKEN_START_NS + 50_000_000, 2_000_000_000))
    lines = (tmp_path / "pool.jsonl").read_text().splitlines(keepends=True)
    middle = len(lines) // 2
    bad = frame_line(json.dumps({"account": WHIRLPOOL, "slot": 1}), KRAKEN_START_NS + 7_000_000_000)  # no "data"
    (tmp_path / "pool.jsonl").write_text("".join(lines[:middle]) + bad + "".join(lines[middle:]))
    config = tmp_path / "recorded.toml"
    config.write_text(CONFIG.format(cex=tmp_path / "sol.jsonl", pool=tmp_path / "pool.jsonl"))

    with caplog.at_level(logging.ERROR), pytest.raises(BacktestInputError) as refused:
        run_backtest(config, tmp_path / "out", None, extra_plugins=arb_plugins())

    told = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "pool.jsonl" in r.getMessage()]
    assert told and f"line {middle + 1}" in told[0], told
    message = str(refused.value)
    assert 'exchange "sol-pool"' in message and "pool.jsonl" in message and f"line {middle + 1}" in message
    assert "data" in message and f"head -n {middle}" in message and "sol-cex" not in message, message
    assert not (tmp_path / "out").exists()


def test_a_book_recording_whose_clock_stepped_back_plays_as_if_it_had_not_beside_a_recorded_pool(tmp_path):
    """The book's receive times step 19.9 s back a third of the way in (an NTP step while recording): it plays in
    file order with that step taken as no time passing, so the backtest is exactly the one over the same book
    stamped without the step (the rest of it 0.1 s earlier), merged with the pool as that one is; the report's
    recordings say the time went back."""
    write_kraken_recording(tmp_path / "sol.jsonl", 600)
    ticks = [TICK_150 + m for m in (0, 3, 60, 58, 2, -60, -61, 0, 1, 2, 60, 0) for _ in range(4)]
    asyncio.run(record_pool(tmp_path / "pool.jsonl", ticks, KRAKEN_START_NS + 50_000_000, 1_200_000_000))
    book = [json.loads(line) for line in (tmp_path / "sol.jsonl").read_text().splitlines()]
    step_at = 300  # the line index where the wall clock stepped back
    stepped, steady = tmp_path / "stepped.jsonl", tmp_path / "steady.jsonl"
    stepped.write_text("".join(frame_line(e["raw"], e["ts_ns"] - (20_000_000_000 if i >= step_at else 0))
                               for i, e in enumerate(book)))
    steady.write_text("".join(frame_line(e["raw"], e["ts_ns"] - (100_000_000 if i >= step_at else 0))
                              for i, e in enumerate(book)))

    def run(cex: Path) -> tuple[dict, object]:
        config = tmp_path / f"{cex.stem}.toml"
        config.write_text(CONFIG.format(cex=cex, pool=tmp_path / "pool.jsonl"))
        result = run_backtest(config, tmp_path / cex.stem, None, chart=False, extra_plugins=arb_plugins())
        report = json.loads(result.report_json.read_text())
        report.pop("recordings")
        report["scenario"].pop("config")
        report["scenario"]["input"] = report["scenario"]["input"].replace(cex.name, "CEX")
        return report, result

    got, result = run(stepped)
    want, expected = run(steady)
    assert got["sections"]["arb"]["executions"] > 0
    assert (result.steps, result.simulated_ns) == (expected.steps, expected.simulated_ns)
    assert got == want
    went_back = json.loads(result.report_json.read_text())["recordings"]["sol-cex"]["went_back"]
    assert went_back == {"steps": 1, "largest_ns": 19_900_000_000, "total_ns": 19_900_000_000,
                         "first_line": step_at + 1}
    assert "went_back" not in json.loads(expected.report_json.read_text())["recordings"]["sol-cex"]
    assert "went back 1 time" in result.report_md.read_text()
