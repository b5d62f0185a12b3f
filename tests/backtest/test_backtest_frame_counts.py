"""Messages that count a recording's frames say "1 frame", not "1 frames": ``arbot replay``'s "no book" (none of its
frames built one), and a backtest's recording whose playback stopped early (the frames after the break)."""

from __future__ import annotations

import json

import pytest

from bot.backtest.driver import BacktestInputError, run_backtest
from bot.cli import main
from tests.backtest.backtest_kit import recorded_cex_config, write_kraken_recording


@pytest.mark.parametrize(("frames", "said"), [(1, "none of its 1 frame built"), (50, "none of its 50 frames built")])
def test_replay_of_frames_that_build_no_book_counts_them_in_agreement(tmp_path, capsys, frames, said):
    path = tmp_path / "noise.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": i, "raw": json.dumps({"hello": i})}) + "\n" for i in range(frames)))
    assert main(["replay", "--exchange", "coinbase", str(path)]) != 0
    err = capsys.readouterr().err
    assert said in err, err


@pytest.mark.parametrize(("after", "said"), [(1, "(no market in the 1 frame after it)"),
                                              (3, "(no market in the 3 frames after it)")])
def test_a_recording_that_stops_early_counts_the_frames_after_the_break_in_agreement(tmp_path, monkeypatch, after,
                                                                                     said):
    write_kraken_recording(tmp_path / "sol.jsonl", 60)
    lines = (tmp_path / "sol.jsonl").read_text().splitlines(keepends=True)
    cut = len(lines) - after - 2  # the line after the cut breaks the book's checksum; `after` frames follow it
    lines[cut] = lines[cut][: len(lines[cut]) // 2] + "\n"
    (tmp_path / "sol.jsonl").write_text("".join(lines))
    monkeypatch.chdir(tmp_path)  # the config names sol.jsonl relative to the working directory
    with pytest.raises(BacktestInputError) as caught:
        run_backtest(recorded_cex_config(tmp_path), tmp_path / "o", chart=False)
    assert said in str(caught.value), str(caught.value)
    assert not (tmp_path / "o").exists()

