"""DEX quote benchmark: constant-product quotes, Whirlpool quotes crossing 0, 1 and 10 ticks, and the
Whirlpool model's quotes and pool moves as the arb backtests make them, before and after the in-range
closed form.

The CLMM pool sits at tick 0 with initialized ticks every 10 ticks below and above it; each
quote is an exact-input swap sized to cross the stated number of initialized ticks (checked
before timing), with tick-array edges emulated (tick spacing 1).

The model: the paper DEX's default concentrated pool (SOL/USDC at 150, 2M tvl, 4 bps fee, tick
spacing 4: the arb backtests'), quoted as the arb pricer does (``sell_units`` and ``buy_units`` of
0.1 to 10 SOL, a fresh pool state every 10 quotes as in the arb backtest (66,921 quotes on 6,834 pool
states over 20,000 market steps), and all on one state). Before: the same
quotes through ``swap_quote`` step by step (what the model did before; it is still the reference
for every quote that leaves the current range); after: the model. Moves: ``dex_pool.move_to`` to
prices 0-3 bps away, before: the step-by-step swap. Both are checked equal before timing; times
are CPU time per quote or move, before and after alternated in rounds (best of each).

Usage: ``.venv/bin/python benchmarks/dex.py [--seconds S] [--rounds N]``. Ends with one ``RESULT dex ...`` line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random
from decimal import Decimal

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.whirlpool.math import Q64, sqrt_price_at_tick, swap_quote
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from plugins.paper import dex_pool

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


QUOTES_PER_STATE = 10
"""The arb backtest's quotes per pool state."""


def _paper_pool() -> WhirlpoolModel:
    return dex_pool.concentrated(base="SOL", quote="USDC", base_decimals=9, quote_decimals=6, price=Decimal(150),
                                 tvl=Decimal(2_000_000), fee_bps=4, tick_spacing=4,
                                 widths_bps=[50, 100, 250, 500, 1000, 2500, 5000])


def _model_work(count: int = 5000) -> tuple[list[WhirlpoolModel], list[tuple[int, bool]], list[Decimal]]:
    """Pool states a few bps apart, the pricer's sizes and sides, and the prices the pool is moved to."""
    rng = random.Random(16)
    pool = _paper_pool()
    states, moves = [], []
    for _ in range(count // QUOTES_PER_STATE):
        price = pool.mid() * (1 + Decimal(rng.randint(-30_000, 30_000)) / 10**8)  # up to 3 bps away
        moves.append(price)
        pool = dex_pool.move_to(pool, price)
        states.append(pool)
    quotes = [(rng.randint(1, 100) * 10**8, rng.random() < 0.55) for _ in range(count)]
    return states, quotes, moves


def _quote_by_steps(state: WhirlpoolModel, units: int, sell: bool) -> tuple[int, int, WhirlpoolModel]:
    q, after = state._swap(units, sell, a_to_b=sell)  # base is token A
    return (q.amount_out if sell else q.amount_in), q.fee_amount, after


def _quote(state: WhirlpoolModel, units: int, sell: bool) -> tuple[int, int, WhirlpoolModel]:
    return state.sell_units(units) if sell else state.buy_units(units)


def _move_by_steps(pool: WhirlpoolModel, price: Decimal) -> WhirlpoolModel:
    target = dex_pool._target(pool, price)
    return pool if target == pool.sqrt_price else dex_pool._swap_to(pool, target)


def _cpu_per_call(run, calls: int, rounds: int) -> float:
    """Best CPU seconds per call of ``rounds`` runs (each makes ``calls`` calls)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, (time.process_time() - start) / calls)
    return best


def _model_figures(rounds: int) -> dict[str, float]:
    states, quotes, moves = _model_work()
    start = _paper_pool()

    def fresh() -> list[WhirlpoolModel]:  # unquoted copies: per-state facts are made again, as in a backtest
        return [s.at(s.sqrt_price, s.tick, s.liquidity) for s in states]

    check = fresh()
    for i, (units, sell) in enumerate(quotes):
        state = i // QUOTES_PER_STATE
        assert _quote(check[state], units, sell) == _quote_by_steps(states[state], units, sell)
    pool = ref = start
    for price in moves:
        pool, ref = dex_pool.move_to(pool, price), _move_by_steps(ref, price)
        assert pool == ref and pool.tick == ref.tick

    def quotes_with(quote):
        def run() -> None:
            pools = fresh()
            for i, (units, sell) in enumerate(quotes):
                quote(pools[i // QUOTES_PER_STATE], units, sell)
        return run

    def quotes_on_one_state_with(quote):  # the tick path between two pool updates: the state's facts made
        def run() -> None:
            pool = states[0]
            for units, sell in quotes:
                quote(pool, units, sell)
        return run

    def moves_with(move):
        def run() -> None:
            pool = start
            for price in moves:
                pool = move(pool, price)
        return run

    copies = _cpu_per_call(fresh, len(quotes), rounds)  # the copies' share, taken off below
    figures: dict[str, float] = {}
    for _ in range(rounds):  # alternated: the machine's load falls on before and after alike
        for name, run, calls in (("model_quote_before", quotes_with(_quote_by_steps), len(quotes)),
                                 ("model_quote", quotes_with(_quote), len(quotes)),
                                 ("one_state_quote_before", quotes_on_one_state_with(_quote_by_steps), len(quotes)),
                                 ("one_state_quote", quotes_on_one_state_with(_quote), len(quotes)),
                                 ("move_before", moves_with(_move_by_steps), len(moves)),
                                 ("move", moves_with(dex_pool.move_to), len(moves))):
            seconds = _cpu_per_call(run, calls, 1) - (copies if name.startswith("model") else 0)
            figures[name] = min(figures.get(name, seconds), seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of the model figures (default 5)")
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
    model = _model_figures(args.rounds)
    for what, key in (("model quote, a new state every 10", "model_quote"),
                      ("model quote, the same state", "one_state_quote"), ("pool move (move_to)", "move")):
        before, after = model[f"{key}_before"] * 1e6, model[key] * 1e6
        print(f"{what:>34}: before {before:6.2f} us  after {after:6.2f} us  x{before / after:.2f}  (CPU, same results)")
    print("RESULT dex " + " ".join(f"{name}_per_s={rate:.0f}" for name, rate in results.items()) + " "
          + " ".join(f"{name}_us={seconds * 1e6:.2f}" for name, seconds in model.items()))


if __name__ == "__main__":
    main()
