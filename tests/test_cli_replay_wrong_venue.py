"""``arbot replay`` of a recording its venue cannot read (another exchange's, or nothing but noise): one line that
says so and names the likely ``--exchange``, the venue's warnings folded to the first few, and a failing exit."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main
from tests.backtest.backtest_kit import write_kraken_recording


def coinbase_recording(path: Path, updates: int = 30) -> None:
    """A Coinbase Advanced Trade level2 recording of BTC-USD: a snapshot, then ``updates`` updates."""
    from tests.fakes.coinbase import FakeProduct, populate

    product = FakeProduct("BTC-USD")
    populate(product, levels=10)
    bids, asks = product.view()

    def message(seq: int, kind: str, updates: list[dict]) -> str:
        return json.dumps({"channel": "l2_data", "client_id": "", "timestamp": "2026-11-22T01:00:00.000000000Z",
                           "sequence_num": seq, "events": [{"type": kind, "product_id": "BTC-USD",
                                                            "updates": updates}]})

    levels = [product.level("bid", p, q) for p, q in bids] + [product.level("offer", p, q) for p, q in asks]
    frames = [message(0, "snapshot", levels)]
    frames += [message(1 + i, "update", [product.level("bid", bids[0][0], bids[0][1] + i + 1)]) for i in range(updates)]
    path.write_text("".join(json.dumps({"ts_ns": 1_000 + i, "raw": f}) + "\n" for i, f in enumerate(frames)))


def test_a_kraken_recording_replayed_as_coinbase_says_so_in_a_line_and_fails(tmp_path, capsys):
    path = tmp_path / "sol.jsonl"
    write_kraken_recording(path, 120)
    status = main(["replay", "--exchange", "coinbase", str(path)])
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    print(f"status={status}, {len(err)} stderr lines; last: {err[-1] if err else ''!r}")
    assert status != 0
    assert len(err) <= 8, err  # not a warning per frame: the first few, then a count
    assert any("more warning" in line for line in err), err
    assert "--exchange kraken" in captured.err, captured.err
    assert "none of its 122 frames" in captured.err, captured.err


def test_a_coinbase_recording_replayed_as_kraken_names_coinbase(tmp_path, capsys):
    path = tmp_path / "btc.jsonl"
    coinbase_recording(path)
    assert main(["replay", "--exchange", "coinbase", str(path)]) == 0  # it is one
    capsys.readouterr()
    status = main(["replay", "--exchange", "kraken", str(path)])
    err = capsys.readouterr().err
    print(f"status={status}: {err!r}")
    assert status != 0
    assert "--exchange coinbase" in err, err


def test_frames_no_venue_reads_say_no_book_without_guessing_a_venue(tmp_path, capsys):
    path = tmp_path / "noise.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": i, "raw": json.dumps({"hello": i})}) + "\n" for i in range(50)))
    status = main(["replay", "--exchange", "coinbase", str(path)])
    err = capsys.readouterr().err
    print(f"status={status}: {err!r}")
    assert status != 0
    assert "no book" in err and "none of its 50 frames" in err, err
    assert "--exchange kraken" not in err and "looks like" not in err, err  # no venue is guessed
    assert "kraken, orca can replay" in err, err  # the ones to choose from
    assert len(err.splitlines()) <= 8, err


def test_a_recording_its_venue_reads_still_replays_with_status_0(tmp_path, capsys):
    path = tmp_path / "sol.jsonl"
    write_kraken_recording(path, 20)
    assert main(["replay", "--exchange", "kraken", str(path)]) == 0
    captured = capsys.readouterr()
    assert "SOL/USDC (synced: yes)" in captured.out
    assert "warning" not in captured.err.lower(), captured.err


def test_a_backtest_on_another_venues_recording_names_the_recording_exchange_to_set(tmp_path, monkeypatch, capsys):
    from tests.backtest.backtest_kit import recorded_cex_config

    monkeypatch.chdir(tmp_path)
    config = recorded_cex_config(tmp_path)
    config.write_text(config.read_text().replace('recording_exchange = "kraken"', 'recording_exchange = "coinbase"'))
    write_kraken_recording(tmp_path / "sol.jsonl", 120)
    status = main(["backtest", "-c", str(config), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    print(f"status={status}: {err!r}")
    assert status == 2
    assert len(err.splitlines()) <= 8, err
    assert 'it looks like a kraken recording: set recording_exchange = "kraken"' in err, err
