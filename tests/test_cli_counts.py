"""Counts in replies read right for one: ``1 strategy``, ``3 strategies`` (:func:`bot.units.counted`)."""

from __future__ import annotations

import pytest

from bot.units import counted


@pytest.mark.parametrize(("n", "noun", "expected"), [
    (1, "strategy", "1 strategy"), (3, "strategy", "3 strategies"), (0, "strategy", "0 strategies"),
    (1, "fill", "1 fill"), (2, "fill", "2 fills"), (2, "day", "2 days"), (1, "bot", "1 bot"), (5, "bot", "5 bots"),
    (2, "entry", "2 entries"), (2, "process", "2 processes", ), (1, "process", "1 process"),
])
def test_a_count_agrees_with_its_noun(n, noun, expected):
    plural = "processes" if noun == "process" else None
    assert counted(n, noun, plural) == expected


def test_the_kill_switch_question_and_answer_for_one_strategy():
    from types import SimpleNamespace

    from bot.builtins import confirm_kill

    one = SimpleNamespace(strategies={"s": object()}, open_orders=lambda: [object()])
    assert confirm_kill(one, []) == "Kill switch: pause 1 strategy and cancel 1 resting order?"
    three = SimpleNamespace(strategies={"a": 1, "b": 2, "c": 3}, open_orders=lambda: [])
    assert confirm_kill(three, []) == "Kill switch: pause all 3 strategies and cancel 0 resting orders?"
