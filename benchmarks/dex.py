"""DEX quote benchmark: constant-product quotes, and Whirlpool quotes crossing 0, 1 and 10 ticks.

The CLMM pool sits at tick 0 with initialized ticks every 10 ticks below and above it; each
quote is an exact-input swap sized to cross the stated number of initialized ticks (checked
before timing), with tick-array edges emulated (tick spacing 1).

Usage: ``.venv/bin/python benchmarks/dex.py [--seconds S]``. Ends with one ``RESULT dex ...`` line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.whirlpool.math import Q64, sqrt_price_at_tick, swap_quote

LIQUIDITY_STEP = 10**12
TICKS = [(-10 * k, LIQUIDITY_STEP) for k in range(30, 0, -1)] + [(10 * k, -LIQUIDITY_STEP) for k in range(1, 31)]
POOL = {"sqrt_price": Q64, "tick": 0, "liquidity": 31 * LIQUIDITY_STEP, "fee_rate": 3000, "ticks": TICKS,
        "tick_spacing": 1}


def _rate(call, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            call()
        count += 100
    return count / elapsed


def _amount_crossing(crossings: int) -> int:
    limit = sqrt_price_at_tick(-10 * crossings - 5)
    probe = swap_quote(amount=2**63, amount_specified_is_input=True, a_to_b=True, sqrt_price_limit=limit, **POOL)
    return probe.amount_in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    cp = ConstantProductPool(reserve_a=10**15, reserve_b=2 * 10**18, fee_bps=25)
    results = {"cp": _rate(lambda: cp.quote_exact_in(10**9, True), args.seconds)}
    for crossings in (0, 1, 10):
        amount = _amount_crossing(crossings)
        quote = swap_quote(amount=amount, amount_specified_is_input=True, a_to_b=True, **POOL)
        assert quote.ticks_crossed == crossings, (crossings, quote)
        results[f"clmm_{crossings}"] = _rate(
            lambda amount=amount: swap_quote(amount=amount, amount_specified_is_input=True, a_to_b=True, **POOL),
            args.seconds,
        )
    for name, rate in results.items():
        print(f"{name:>8}: {rate:12,.0f} quotes/s")
    print("RESULT dex " + " ".join(f"{name}_per_s={rate:.0f}" for name, rate in results.items()))


if __name__ == "__main__":
    main()
