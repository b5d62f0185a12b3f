"""``benchmarks/arb.py``'s tick -> decision section reports the counts its strategy really made."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as when it runs as a script: its sibling `calibration`
    spec = importlib.util.spec_from_file_location("arb_benchmark", BENCHMARKS / "arb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_tick_section_counts_the_opportunities_published_and_the_executions(monkeypatch):
    bench = load_benchmark(monkeypatch)

    _, facts = await bench.through_strategy(bench.generate(3_000, 5), 20, 1)

    # what it prints as "opportunities published N, executions M" and in its RESULT line
    assert isinstance(facts["opportunities"], int) and facts["opportunities"] > 0, facts
    assert facts["opportunities"] == int(facts["opportunities this run"])  # the strategy's own count agrees
    assert isinstance(facts["executed"], int) and facts["executed"] > 0, facts
    assert facts["executed"] == int(facts["executed this run"])
