"""What reading a recording found, as ``arbot replay`` and ``arbot backtest`` print it (bot/recording_stats.py): each
count agrees with its noun, for one and for many ("1 line", "2 lines")."""

from __future__ import annotations

from pathlib import Path

from bot.recording_stats import ReadStats


def stats(count: int) -> ReadStats:
    """``count`` lines, frames, malformed lines, receive times that went back; playback stopped early."""
    read = ReadStats(Path("r.jsonl"), lines=count, frames=count)
    for number in range(1, count + 1):
        read.skip(number, "not JSON")
        read.step_back(number, 1_000_000_000)
    read.stop(count, "a broken book")
    return read


def test_the_summary_counts_one_line_frame_and_malformed_line_in_the_singular():
    assert stats(1).summary() == (
        "r.jsonl: 1 line, 1 frame, 1 malformed line skipped (not JSON: 1; first at line 1); receive time went back "
        "1 time (at most 1.0 s, 1.0 s in all; first at line 1): read in file order as no time passing; playback "
        "stopped early at line 1: a broken book")


def test_the_summary_counts_many_in_the_plural():
    assert stats(2).summary() == (
        "r.jsonl: 2 lines, 2 frames, 2 malformed lines skipped (not JSON: 2; first at line 1, 2); receive time went "
        "back 2 times (at most 1.0 s, 2.0 s in all; first at line 1): read in file order as no time passing; "
        "playback stopped early at line 2: a broken book")


def test_why_playback_stopped_counts_its_malformed_lines_agreeing():
    assert "(1 malformed line skipped, first at line 1)" in stats(1).stopped_early()
    assert "(2 malformed lines skipped, first at line 1, 2)" in stats(2).stopped_early()


def test_why_nothing_was_played_counts_its_lines_and_frames_agreeing():
    for count, lines, frames in ((1, "1 line", "1 frame"), (3, "3 lines", "3 frames")):
        no_frame = ReadStats(Path("r.jsonl"), lines=count)
        no_frame.skip(1, "not JSON")
        assert no_frame.nothing_played().startswith(f"none of its {lines} is a recording frame"), count
        no_market = ReadStats(Path("r.jsonl"), lines=count, frames=count, symbols=("SOL/USDC",))
        assert no_market.nothing_played().startswith(f"none of its {frames} is a market event of SOL/USDC"), count
