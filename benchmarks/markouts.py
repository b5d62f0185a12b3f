"""The cost of a book or pool update to the host's keeper of market updates, as the bot wires it.

The portfolio keeps each market's latest update, and a bounded history of them for markouts (bot/markouts.py: a
fill the bot learns of after its horizon is marked at the mid in force then). This times the portfolio's
``on_book`` (a paper venue's ladder event, which the portfolio keeps) and ``on_pool`` per update, with the
markout sampler subscribed as in the bot and nothing waiting on the market (the usual tick), then the history's
size in steady state.

    python benchmarks/markouts.py [--updates 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.bus import Bus  # noqa: E402
from bot.domain import BookUpdate, PoolUpdate  # noqa: E402
from bot.markouts import MarkoutSampler  # noqa: E402
from bot.portfolio import Portfolio  # noqa: E402

NS = 1_000_000_000


class Pool:
    def mid(self) -> Decimal:
        return Decimal("150.25")


def run(on_event: Callable[[Any], None], events: list[Any]) -> None:
    for event in events:
        on_event(event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.updates
    books = [BookUpdate.of_ladder("cex", "SOL/USDC", 15_000 + i % 7, 15_002 + i % 7, 1, (5, 5, 5), (5, 5, 5), 2, 3,
                                  i * NS // 10) for i in range(n)]  # 10 updates a second
    pool = Pool()
    pools = [PoolUpdate("dex", "SOL/USDC", pool, i * NS // 10) for i in range(n)]  # type: ignore[arg-type]
    for label, events, method in (("book update", books, "on_book"), ("pool update", pools, "on_pool")):
        best = float("inf")
        for _ in range(args.repeat):
            portfolio = Portfolio(lambda: [])
            MarkoutSampler(lambda rows: None, lambda flush: flush()).subscribe(Bus(lambda *a: None), portfolio)
            best = min(best, timeit.timeit(partial(run, getattr(portfolio, method), events), number=1))
        history = getattr(portfolio, "_history", {})
        kept = max((len(h) for h in history.values()), default=0)
        print(f"{label}: {best / n * 1e9:6.0f} ns each (best of {args.repeat} x {n:,}); history kept: {kept:,} "
              f"updates ({kept / 10:,.0f} s at 10 updates/s)")


if __name__ == "__main__":
    main()
