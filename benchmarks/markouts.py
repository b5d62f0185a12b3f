"""The cost of a book or pool update to the host's keeper of market updates, as the bot wires it.

The portfolio keeps each market's latest update, and a bounded history of them for markouts (bot/markouts.py: a
fill the bot learns of after its horizon is marked at the mid in force then). This times the portfolio's
``on_book`` (a paper venue's ladder event, which the portfolio keeps) and ``on_pool`` per update, with the
markout sampler subscribed as in the bot and nothing waiting on the market (the usual tick), then the history's
size in steady state. Baseline in the same run, alternated: the portfolio alone (no sampler, so no history kept),
what each update cost before the history. Ends with one ``RESULT markouts ...`` line.

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
    result = []
    for key, label, events, method in (("book", "book update", books, "on_book"),
                                       ("pool", "pool update", pools, "on_pool")):
        best = {True: float("inf"), False: float("inf")}
        kept = 0
        for _ in range(args.repeat):
            for sampled in (False, True):  # alternated: the machine's load falls on both alike
                portfolio = Portfolio(lambda: [])
                if sampled:
                    MarkoutSampler(lambda rows: None, lambda flush: flush()).subscribe(Bus(lambda *a: None), portfolio)
                took = timeit.timeit(partial(run, getattr(portfolio, method), events), number=1)
                best[sampled] = min(best[sampled], took)
                if sampled:
                    kept = max(len(portfolio.history(k)) for k in (("cex", "SOL/USDC"), ("dex", "SOL/USDC")))
        with_ns, alone_ns = best[True] / n * 1e9, best[False] / n * 1e9
        print(f"{label}: {with_ns:6.0f} ns each with the markout history, {alone_ns:6.0f} ns without (best of "
              f"{args.repeat} x {n:,}); history kept: {kept:,} updates ({kept / 10:,.0f} s at 10 updates/s)")
        result.append(f"{key}_ns={with_ns:.0f} {key}_baseline_ns={alone_ns:.0f}")
    print("RESULT markouts " + " ".join(result))


if __name__ == "__main__":
    main()
