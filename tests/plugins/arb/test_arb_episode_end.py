"""An episode ends on the touch alone: when the episode's direction has no edge and the other has none either
(``Pricer.alone`` answers NO_EDGE), the strategy ends it without asking ``Pricer.edges``, which would say the same
(no edge either way). The pinned backtests take that shortcut, and deciding those ticks in full gives the same
fills, report and rows."""

from __future__ import annotations

import pytest

from plugins.arb.pricing import Pricer, Touch
from tests.backtest.backtest_kit import write_config, write_kraken_recording
from tests.backtest.test_backtest_pinned import RECORDED, check, outcome


@pytest.mark.parametrize("scenario", ["arb_synthetic", "arb_recorded"])
def test_an_episode_ended_on_the_touch_alone_decides_as_the_full_decision(tmp_path, monkeypatch, scenario):
    if scenario == "arb_recorded":
        write_kraken_recording(tmp_path / "sol.jsonl", 1500)
        config = tmp_path / "recorded.toml"
        config.write_text(RECORDED.format(recording=tmp_path / "sol.jsonl"))
        steps = None
    else:
        config, steps = write_config(tmp_path), 1500
    alone = Pricer.alone
    ended = []
    asked = []

    def counted(self, book, direction):
        answer = alone(self, book, direction)
        if answer is Touch.NO_EDGE:
            ended.append(direction)
        return answer

    def asking(self, *args):
        asked.append(args)
        return edges(self, *args)

    edges = Pricer.edges
    monkeypatch.setattr(Pricer, "alone", counted)
    monkeypatch.setattr(Pricer, "edges", asking)
    check(scenario, outcome(tmp_path / "shortcut", config, steps))
    assert ended, "no episode ended on the touch alone: the shortcut was not exercised"
    shortcut_edges = len(asked)

    # the full decision: the episode's direction answered as having an edge elsewhere (None), so every such tick
    # goes on to Pricer.edges, as before the shortcut
    asked.clear()
    monkeypatch.setattr(Pricer, "alone", lambda self, book, direction: (
        None if (answer := alone(self, book, direction)) is Touch.NO_EDGE else answer))
    check(scenario, outcome(tmp_path / "full", config, steps))
    assert len(asked) == shortcut_edges + len(ended)  # each tick the shortcut ended asked edges in full
