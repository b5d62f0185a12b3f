"""The one rule "say the first, then a count per interval" (:class:`bot.api.kit.Folding`), on a test clock."""

from __future__ import annotations

import pytest

from bot.api.kit import Fold, Folding, ManualClock


def folding(interval_s: float | None = 60.0, **kwargs) -> tuple[Folding[str], ManualClock]:
    clock = ManualClock()
    return Folding(interval_s, monotonic=clock.monotonic, **kwargs), clock


def test_the_first_is_said_and_the_rest_counted():
    fold, _ = folding()
    assert fold.first("db down") is True
    assert [fold.first("db down") for _ in range(49)] == [False] * 49
    window = fold.get("db down")
    assert window is not None and (window.said, window.count, window.total) == (1, 49, 50)
    assert fold.first("stopping") is True  # each key its own window
    assert list(fold) == ["db down", "stopping"] and len(fold) == 2 and "db down" in fold


def test_the_count_is_said_once_the_interval_is_over():
    fold, clock = folding()
    fold.first("a", note="GET /orders")
    for _ in range(3):
        fold.first("a")
    clock.advance(59.9)
    assert fold.due() == [] and fold.due_in() == pytest.approx(0.1)
    clock.advance(0.1)
    assert fold.due_in() == 0.0
    [summary] = fold.due()
    assert (summary.key, summary.count, summary.total, summary.note) == ("a", 3, 4, "GET /orders")
    assert (summary.since, summary.started) == (0.0, 0.0)
    assert "a" not in fold and fold.due_in() is None
    assert fold.first("a") is True  # forgotten: the next is a first again


def test_a_window_that_counted_none_ends_silently():
    fold, clock = folding()
    fold.first("once")
    clock.advance(60)
    assert fold.due() == [] and "once" not in fold


def test_windows_are_over_oldest_first_and_only_those():
    fold, clock = folding()
    for key in ("a", "b", "c"):
        fold.first(key)
        fold.first(key)
        clock.advance(10)
    clock.advance(35)  # a began 65 s ago, b 55 s, c 45 s
    assert [w.key for w in fold.due()] == ["a"]
    assert list(fold) == ["b", "c"] and fold.due_in() == pytest.approx(5)
    assert [w.key for w in fold.due(force=True)] == ["b", "c"] and len(fold) == 0


def test_renew_goes_on_counting_after_the_summary_until_an_interval_with_none():
    """A steady repeat: the first said, then a count per interval, never a first again while it lasts."""
    fold, clock = folding(renew=True)
    said = []
    for _ in range(150):  # one a second for two and a half minutes
        said.extend(f"{w.count} more since {w.started:g} s, {w.total} since {w.since:g} s" for w in fold.due())
        if fold.first("db down"):
            said.append("first")
        clock.advance(1)
    assert said == ["first", "59 more since 0 s, 60 since 0 s", "60 more since 60 s, 120 since 0 s"]
    clock.advance(60)
    assert [w.count for w in fold.due()] == [30]  # the last 30, said when their interval is over
    clock.advance(60)
    assert fold.due() == [] and "db down" not in fold  # an interval with none: over
    assert fold.first("db down") is True


def test_due_of_one_key_for_an_owner_without_a_timer():
    """Asked at each occurrence (no timer): the count is said by the first occurrence after the interval."""
    fold, clock = folding(3600, renew=True)
    assert fold.first("order-1", note="timeout")
    fold.first("order-2")
    for _ in range(119):  # every 30 s for an hour
        clock.advance(30)
        assert fold.first("order-1") is False
        assert fold.due_of("order-1") is None
    clock.advance(30)
    fold.first("order-1")
    summary = fold.due_of("order-1")
    assert summary is not None and (summary.count, summary.total, summary.started) == (120, 121, 0.0)
    window = fold.get("order-1")
    assert window is not None and (window.count, window.started, window.since) == (0, 3600.0, 0.0)
    assert "order-2" in fold  # another key's window is its own
    ended = fold.forget("order-1")
    assert ended is not None and ended.total == 121 and fold.forget("order-1") is None


def test_shown_says_the_first_few_of_a_run():
    fold, _ = folding(None, shown=3)
    assert [fold.first("warning") for _ in range(5)] == [True, True, True, False, False]
    assert fold.due() == [] and fold.due_in() is None  # no interval: windows end only when forced
    [summary] = fold.due(force=True)
    assert (summary.said, summary.count, summary.total) == (3, 2, 5)


def test_shown_zero_counts_every_one():
    fold, _ = folding(None, shown=0)
    assert not any(fold.first("warning") for _ in range(4))
    assert [w.count for w in fold.due(force=True)] == [4]


def test_keys_past_the_cap_count_in_the_others_window():
    """Keys a stranger chooses (addresses): at most ``keys`` windows of their own, every other key in one."""
    fold, clock = folding(keys=100, others="other addresses")
    said = sum(fold.first(f"2001:db8:{n:x}::1") for n in range(1000) for _ in range(2))
    assert said == 101 and len(fold) == 101  # 100 addresses and the others' window
    clock.advance(60)
    windows = fold.due()
    assert len(windows) == 101 and windows[-1].key == "other addresses"
    assert windows[-1].count == 2 * 900 - 1 and all(w.count == 1 for w in windows[:-1])
    with pytest.raises(ValueError, match="keys needs others"):
        Folding(60, keys=10)


def test_an_interval_read_at_every_use():
    """Given as a function (a setting that may change), the interval is read at every use: the open windows follow."""
    setting = {"interval_s": 60.0}
    clock = ManualClock()
    fold = Folding(lambda: setting["interval_s"], monotonic=clock.monotonic)
    fold.first("a")
    fold.first("a")
    clock.advance(1)
    assert fold.due() == [] and fold.interval_s == 60.0
    setting["interval_s"] = 1.0
    assert fold.due_in() == 0.0 and [w.count for w in fold.due()] == [1]


def test_now_given_instead_of_the_clock():
    fold = Folding(60.0, monotonic=lambda: pytest.fail("the clock is not read when now is given"))
    assert fold.first("a", now=5.0) and not fold.first("a", now=6.0)
    assert fold.due(now=64.0) == [] and fold.due_in(now=64.0) == pytest.approx(1.0)
    [window] = fold.due(now=65.0)
    assert isinstance(window, Fold) and window.count == 1
