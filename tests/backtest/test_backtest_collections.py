"""The market steps run with fewer passes of the cyclic collector; the process's thresholds come back after."""

from __future__ import annotations

import gc

import pytest

from bot.backtest.driver import YOUNG_OBJECTS_PER_COLLECTION, fewer_collections


def test_the_young_pass_is_rarer_while_the_markets_are_stepped_and_the_thresholds_come_back() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 7, 9)
        with pytest.raises(RuntimeError), fewer_collections():
            assert gc.get_threshold() == (YOUNG_OBJECTS_PER_COLLECTION, 7, 9)
            raise RuntimeError("a step failed")
        assert gc.get_threshold() == (700, 7, 9)
        rarer = YOUNG_OBJECTS_PER_COLLECTION * 2  # a process that already collects less often keeps its own
        gc.set_threshold(rarer, 10, 10)
        with fewer_collections():
            assert gc.get_threshold() == (rarer, 10, 10)
    finally:
        gc.set_threshold(*before)
