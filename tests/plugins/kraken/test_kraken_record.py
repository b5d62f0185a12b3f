"""``arbot record`` stores frames as received; ``arbot replay`` runs them through the same book code."""

from __future__ import annotations

import asyncio
import io
import json
from decimal import Decimal

import pytest

from bot.cli import main
from plugins.kraken.record import record
from tests.fakes.kraken import FakeKrakenWS, FakePair, checksum, populate
from tests.helpers.processes import arbot as arbot_command
from tests.helpers.waiting import wait_for


async def test_record_stores_raw_frames_including_instrument():
    pair = FakePair("BTC/USD")
    populate(pair)
    fake = await FakeKrakenWS([pair]).start()
    out = io.StringIO()

    async def market():  # the market moves once the recorder has subscribed
        await wait_for(lambda: any(fake.subscriptions.values()), what="subscribed")
        await fake.change("BTC/USD", bids={Decimal("29999.9"): Decimal("0.10000000")})

    try:
        mover = asyncio.ensure_future(market())
        # instrument answer + snapshot, book answer + snapshot, one update
        books = await record(fake.url, ["BTC/USD"], 10, out, messages=5, seconds=5)
        await mover
    finally:
        await fake.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 5
    assert all(isinstance(line["ts_ns"], int) for line in lines)
    assert any('"channel": "instrument", "type": "snapshot"' in line["raw"] for line in lines)
    assert any('"qty":0.10000000' in line["raw"] for line in lines)  # digits exactly as received
    assert books.counters.checksum_ok == 2


def test_replay_prints_the_summary_and_top_levels(tmp_path, capsys):
    pair = FakePair("BTC/USD")
    populate(pair)
    bids, asks = pair.view(10)
    snapshot = (
        '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[%s],"asks":[%s],"checksum":%d}]}' % (
            ",".join(pair.level_json(p, q) for p, q in bids), ",".join(pair.level_json(p, q) for p, q in asks),
            checksum(asks, bids, 1, 8)))
    frames = [
        json.dumps({"method": "subscribe", "result": {"channel": "book", "depth": 10, "symbol": "BTC/USD"},
                    "success": True}),
        '{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD",'
        '"price_precision":1,"qty_precision":8,"price_increment":0.1,"qty_increment":0.00000001}]}}',
        snapshot,
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":7}]}',
        '{"channel":"heartbeat"}',
        snapshot,  # the resubscription's fresh snapshot
    ]
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": i, "raw": f}) + "\n" for i, f in enumerate(frames)))
    assert main(["replay", "--exchange", "kraken", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "messages=6 checksum_ok=2 checksum_failed=1 resyncs=1"
    assert "BTC/USD" in out[1]
    assert str(bids[0][0]) in out[3] and str(asks[0][0]) in out[3]


@pytest.mark.slow
async def test_arbot_record_command_then_replay(tmp_path):

    pair = FakePair("BTC/USD")
    populate(pair)
    fake = await FakeKrakenWS([pair]).start()
    out = tmp_path / "btc.jsonl"
    try:
        proc = await asyncio.create_subprocess_exec(
            *arbot_command(), "record", "--exchange", "kraken", "--symbol", "BTC/USD",
            "--out", str(out), "--ws-url", fake.url, "--messages", "4", "--for", "20",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await fake.close()
    assert proc.returncode == 0, err.decode()
    assert len(out.read_text().splitlines()) == 4
    proc = await asyncio.create_subprocess_exec(
        *arbot_command(), "replay", "--exchange", "kraken", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert stdout.decode().splitlines()[0] == "messages=4 checksum_ok=1 checksum_failed=0 resyncs=0"


def test_kraken_replay_rebuilds_only_the_symbols_asked_for(tmp_path, capsys):
    from tests.backtest.backtest_kit import write_kraken_recording

    path = tmp_path / "two.jsonl"
    write_kraken_recording(path, 20)
    sol = path.read_text().splitlines()
    eth = [line.replace("SOL/USDC", "ETH/USDC") for line in sol]  # the same book under a second symbol
    path.write_text("\n".join(line for pair in zip(sol, eth, strict=True) for line in pair) + "\n")
    assert main(["replay", "--exchange", "kraken", "--symbol", "SOL/USDC", str(path)]) == 0
    out = capsys.readouterr().out
    assert "SOL/USDC (synced: yes)" in out
    assert "ETH/USDC" not in out, out
    assert main(["replay", "--exchange", "kraken", str(path)]) == 0  # no --symbol: every recorded market
    out = capsys.readouterr().out
    assert "SOL/USDC (synced: yes)" in out and "ETH/USDC (synced: yes)" in out
    # a market the recording does not hold is bad input (exit 2), naming the file, what it holds and the fix
    assert main(["replay", "--exchange", "kraken", "--symbol", "BTC/USD", str(path)]) == 2
    err = capsys.readouterr().err
    assert "two.jsonl" in err and "BTC/USD" in err and "ETH/USDC, SOL/USDC" in err, err
    assert main(["replay", "--exchange", "kraken", "--symbol", "SOL/USDC", "--symbol", "BTC/USD", str(path)]) == 2
