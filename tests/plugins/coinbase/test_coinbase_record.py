"""``arbot record``/``arbot replay --exchange coinbase``: the host commands over the exchange's recorder."""

from __future__ import annotations

import asyncio
import io
import json
from decimal import Decimal

from bot.cli import main
from bot.recording import RecordOptions, record_to
from plugins.coinbase.exchange import CoinbaseExchange
from tests.fakes.coinbase import FakeCoinbaseWS, FakeProduct, populate
from tests.helpers.waiting import wait_for


async def test_record_stores_raw_frames_as_received():
    product = FakeProduct("BTC-USD")
    populate(product)
    fake = await FakeCoinbaseWS([product], heartbeat_interval_s=60).start()
    out = io.StringIO()

    async def market():  # the market moves once the recorder has subscribed
        await wait_for(lambda: any(c.subs["level2"] for c in fake.conns.values()), what="subscribed")
        await fake.change("BTC-USD", bids={Decimal("29999.99"): Decimal("0.10000000")})

    try:
        mover = asyncio.ensure_future(market())
        # 3 subscription answers, the level2 snapshot, the ticker snapshot, one update
        text = await record_to(CoinbaseExchange.recorder, RecordOptions(["BTC/USD"], ws_url=fake.url), out,
                               messages=6, seconds=5)
        await mover
    finally:
        await fake.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 6 and all(isinstance(line["ts_ns"], int) for line in lines)
    assert any('"new_quantity": "0.10000000"' in line["raw"] for line in lines)  # digits exactly as received
    assert text.splitlines()[0] == "messages=6 sequence_gaps=0 resyncs=0 malformed=0"


def _frame(seq: int, kind: str, updates: list[tuple[str, str, str]]) -> str:
    return json.dumps({"channel": "l2_data", "client_id": "", "timestamp": "t", "sequence_num": seq, "events": [
        {"type": kind, "product_id": "BTC-USD",
         "updates": [{"side": s, "event_time": "t", "price_level": p, "new_quantity": q} for s, p, q in updates]}]})


def test_replay_prints_gaps_and_the_top_levels(tmp_path, capsys):
    frames = [
        json.dumps({"channel": "subscriptions", "client_id": "", "timestamp": "t", "sequence_num": 0,
                    "events": [{"subscriptions": {"level2": ["BTC-USD"]}}]}),
        _frame(1, "snapshot", [("bid", "29999.99", "0.10000000"), ("bid", "29999.50", "2"),
                               ("offer", "30000.01", "12345678.12345678")]),
        _frame(2, "update", [("bid", "29999.50", "0")]),
        _frame(4, "update", [("bid", "29999.98", "1")]),  # after a gap: ignored until the next snapshot
        _frame(5, "snapshot", [("bid", "29999.99", "0.1"), ("offer", "30000.01", "1.5")]),
    ]
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": i, "raw": f}) + "\n" for i, f in enumerate(frames)))
    assert main(["replay", "--exchange", "coinbase", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "messages=5 sequence_gaps=1 resyncs=1 malformed=0"
    assert out[1] == "BTC/USD (synced: yes)"
    assert out[3].split() == ["0.1", "29999.99", "|", "30000.01", "1.5"]
    assert len(out) == 4


def test_record_refuses_an_exchange_that_cannot_record(capsys):
    assert main(["replay", "--exchange", "paper", "nothing.jsonl"]) == 2
    err = capsys.readouterr().err
    assert 'exchange type "paper" cannot record' in err and "coinbase" in err and "kraken" in err


def test_replay_of_a_product_the_recording_does_not_hold_is_bad_input_naming_what_it_holds(tmp_path, capsys):
    # it printed an empty "ETH/USD (synced: no)" book and exited 0
    frames = [_frame(1, "snapshot", [("bid", "29999.99", "0.1"), ("offer", "30000.01", "1.5")])]
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": i, "raw": f}) + "\n" for i, f in enumerate(frames)))
    assert main(["replay", "--exchange", "coinbase", "--symbol", "ETH/USD", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rec.jsonl" in err and "ETH/USD" in err and "holds BTC/USD" in err, err
    assert main(["replay", "--exchange", "coinbase", "--symbol", "BTC/USD", str(path)]) == 0
