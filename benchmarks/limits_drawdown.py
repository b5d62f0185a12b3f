"""The ``limits`` check's drawdown on a tick: the cost of a book update that moves one mark.

With ``max_drawdown`` set, every book whose touch moved re-marks equity in that market's quote. This
builds the check alone (a stand-in context, no bot), opens ``N`` positions in one quote (one lot each,
in ``N`` markets), then publishes books of one of those markets whose touch alternates between two
prices, so that every call moves the mark and checks the drawdown. Prints microseconds per update
for ``N`` positions next to the baseline of the same run, 1 position (the drawdown is kept per position, so
``N`` should cost about what 1 does), and ends with one ``RESULT limits_drawdown ...`` line.

    python benchmarks/limits_drawdown.py [--positions 21] [--updates 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock  # noqa: E402
from bot.domain import BookUpdate, Fill, Liquidity, Side  # noqa: E402
from bot.settings import ConfigIssue, parse_settings  # noqa: E402
from plugins.limits.check import Limits  # noqa: E402
from plugins.limits.settings import LimitsSettings  # noqa: E402

D = Decimal


def make_limits() -> Limits:
    issues: list[ConfigIssue] = []
    settings = parse_settings(LimitsSettings, {"max_drawdown": D("1000000")}, "risk.limits", issues)
    assert not issues, issues
    ctx = SimpleNamespace(clock=ManualClock(), operator=SimpleNamespace(timezone="UTC"),
                          pause=lambda names, reason: [], record_trip=lambda *a, **k: None,
                          kill=lambda reason: None, order=lambda cid: None)
    return Limits("limits", settings, ctx)


def book(symbol: str, mid: Decimal) -> BookUpdate:
    return BookUpdate("cex", symbol, ((mid - D("0.01"), D(10)),), ((mid + D("0.01"), D(10)),), 0)


def per_update_us(positions: int, updates: int, repeat: int) -> float:
    limits = make_limits()
    for i in range(positions):
        symbol = f"T{i}/USD"
        limits.on_fill("s", Fill("cex", symbol, f"o{i}", f"t{i}", Side.BUY, D("100.37"), D("1.234"), D("0.01"),
                                 "USD", Liquidity.TAKER, i))
        limits._on_book(book(symbol, D("100.00")))
    moves = [book("T0/USD", D("101.00")), book("T0/USD", D("99.50"))]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for n in range(updates):
            limits._on_book(moves[n & 1])
        best = min(best, (time.perf_counter_ns() - start) / updates / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=21)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = {}
    for n in sorted({1, args.positions}):
        figures[n] = us = per_update_us(n, args.updates, args.repeat)
        print(f"{n:3d} positions in one quote: {us:6.2f} us per book update that moves a mark "
              f"(best of {args.repeat})")
    one, many = figures[1], figures[args.positions]
    print(f"RESULT limits_drawdown positions={args.positions} us_per_update={many:.2f} "
          f"baseline_us_per_update={one:.2f} ratio={many / one:.2f}")


if __name__ == "__main__":
    main()
