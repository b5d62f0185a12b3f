"""Arb pricing benchmark: ``Pricer.evaluate`` latency on CEX ticks against a concentrated-liquidity pool.

A seeded SOL/USDC scene: a CEX book (10 levels a side, 0.01 ticks, 8-decimal sizes) whose mid
random-walks and now and then jumps 30-90 bps; an Orca-style Whirlpool (``WhirlpoolModel``,
positions 0.5 %, 2 %, 10 % and 50 % wide around 150 USDC, 10 M USDC of TVL, 4 bps fee, tick
spacing 64) that follows the CEX mid with a lag: a new pool state every ``--pool-every`` ticks,
as account updates would arrive. Ladder: 0.1 SOL steps up to 5,000 USDC (333 sizes).

Measured, per tick (both directions priced, the decision taken), in wall time and in the
thread's CPU time (which leaves out the time slices other processes take on a shared machine):

* **pricer**: ``Pricer.evaluate``, both directions (the strategy calls ``Pricer.edges``: the same decision
  without an evaluation for a direction with no edge; pool quotes cached per pool state and ladder
  size; a marginal check at the touch; the ladder walk stops where net PnL turns down);
* **uncached**: the same with the pool cache dropped before every tick (the price of the first
  tick after a pool update; the last best size, where the search starts, is kept); "no new pool
  quote" is the ticks that needed none (the usual case between two pool updates);
* **figures**: reading an evaluation's figures (size, costs, net PnL, limits, reason: what a
  published opportunity reads) the first time, on a fresh pricer over the same ticks, for every
  direction with an edge whose figures were not made yet (made when read, see ``Pricer``), split
  into tradable ones (the size search runs then) and the rest (the smallest size priced, to show why);
* **opportunity id**: ``opportunity_id`` of each of those evaluations once its figures are made (the id a
  published opportunity and an execution's legs carry: its decision as text, hashed);
* **naive** baseline: a fresh ``pool.sell``/``pool.buy`` quote and a fresh book walk for every
  ladder size inside the caps, the best size picked from all of them (on the first ``--naive``
  ticks: it is slow).

The naive baseline also checks the pricer: on every tick both must take the same decision
(tradable or not, and then the same size and net PnL, exactly).

    python benchmarks/arb_pricing.py [--ticks 20000] [--pool-every 20] [--naive 300]

Ends with one ``RESULT arb_pricing key=value ...`` line.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from decimal import Decimal, localcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration import DESKTOP, calibration_us

from arbotlib.amm.whirlpool.math import Q64, sqrt_price_at_tick, tick_at_sqrt_price
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from bot.domain import BookUpdate, MarketInfo
from bot.pool import PoolError
from plugins.arb.execution import opportunity_id
from plugins.arb.pricing import Inventory, Pricer
from plugins.arb.settings import ArbSettings

D = Decimal
BASE_DECIMALS, QUOTE_DECIMALS = 9, 6
START = D(150)
TICK_SPACING = 64
FEE_RATE = 400  # hundredths of a bp: 4 bps
TVL = D(10_000_000)
WIDTHS_BPS = (50, 200, 1_000, 5_000)
MARKET = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.00000001"))
SETTINGS = ArbSettings(cex="kraken", dex="paper-dex", symbol="SOL/USDC", min_edge_bps=D(5),
                       cex_taker_fee_bps=D(10), max_cex_slippage_bps=D(20), max_dex_impact_bps=D(30),
                       max_notional=D(5_000), size_step=D("0.1"), min_size=D("0.1"), latency_haircut_bps=D(2))
INVENTORY = Inventory(cex_base=D(500), cex_quote=D(100_000), dex_base=D(500), dex_quote=D(100_000))


def sqrt_price_x64(price: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 60
        return int(price.scaleb(QUOTE_DECIMALS - BASE_DECIMALS).sqrt() * Q64)


def positions() -> tuple[tuple[int, int], ...]:
    """Initialized ticks ``(tick, liquidity_net)`` of one position per width, TVL split equally."""
    sp = D(sqrt_price_x64(START)) / Q64
    share = (TVL / len(WIDTHS_BPS)).scaleb(QUOTE_DECIMALS)
    net: dict[int, int] = {}
    with localcontext() as ctx:
        ctx.prec = 60
        for width in WIDTHS_BPS:
            factor = D(10_000 + width) / 10_000
            lower = tick_at_sqrt_price(sqrt_price_x64(START / factor)) // TICK_SPACING * TICK_SPACING
            upper = -(-tick_at_sqrt_price(sqrt_price_x64(START * factor)) // TICK_SPACING) * TICK_SPACING
            sa, sb = D(sqrt_price_at_tick(lower)) / Q64, D(sqrt_price_at_tick(upper)) / Q64
            liquidity = int(share / (2 * sp - sp * sp / sb - sa))
            net[lower] = net.get(lower, 0) + liquidity
            net[upper] = net.get(upper, 0) - liquidity
    return tuple(sorted(net.items()))


TICKS = positions()


def pool_at(price: Decimal) -> WhirlpoolModel:
    """The pool with its positions unchanged and its price moved to ``price``."""
    sqrt_price = sqrt_price_x64(price)
    tick = tick_at_sqrt_price(sqrt_price)
    liquidity = sum(n for t, n in TICKS if t <= tick)
    return WhirlpoolModel(sqrt_price, tick, liquidity, FEE_RATE, TICK_SPACING, TICKS, "SOL", "USDC",
                          BASE_DECIMALS, QUOTE_DECIMALS)


def scene(n: int, pool_every: int, seed: int = 7) -> list[tuple[BookUpdate, WhirlpoolModel | None]]:
    """Seeded ticks: (book, new pool state or None)."""
    rng = random.Random(seed)
    mid_cents = 15_000
    pool_price = START
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.004:
            mid_cents += rng.choice((-1, 1)) * rng.randint(45, 135)  # a 30-90 bps jump
        elif r < 0.3:
            mid_cents += rng.choice((-1, 1))
        mid_cents = max(12_000, min(18_000, mid_cents))
        spread = rng.choice((1, 1, 1, 2))
        bid, ask = mid_cents - spread // 2 - spread % 2, mid_cents + spread // 2
        # integer units, as every venue publishes them (a Kraken/Coinbase book view, a paper book, ccxt's
        # of_units): the Decimals are made only when read
        bids = tuple((bid - j, rng.randint(10**7, 5 * 10**9)) for j in range(10))
        asks = tuple((ask + j, rng.randint(10**7, 5 * 10**9)) for j in range(10))
        new_pool = None
        if i % pool_every == 0:
            # the pool follows the CEX with a lag and some noise of its own
            target = (D(bid + ask) / 200) * (1 + D(rng.randint(-8, 8)) / 10_000)
            pool_price = (pool_price + target) / 2
            new_pool = pool_at(pool_price.quantize(D("0.0001")))
        out.append((BookUpdate.of_units("kraken", "SOL/USDC", bids, asks, 2, 8, i), new_pool))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the naive baseline: every ladder size from scratch ---------------------------------------


def naive(book: BookUpdate, pool: WhirlpoolModel, inv: Inventory, s: ArbSettings):
    """Per direction: (tradable, size, net) of the best size, pricing every ladder size afresh."""
    results = []
    with localcontext() as ctx:
        ctx.prec = 90
        mid = pool.mid()
        fee = s.cex_taker_fee_bps / 10_000
        haircut = s.latency_haircut_bps / 10_000
        fees_sol = (D(s.signature_fee_lamports)
                    + D(-(-s.compute_unit_price_micro_lamports * s.compute_units // 10**6))) / 10**9
        fixed = fees_sol * book.mid
        for buy_cex, levels in ((True, book.asks), (False, book.bids)):
            touch = levels[0][0]
            ref = touch if buy_cex else mid
            bound = touch * (1 + s.max_cex_slippage_bps / 10_000) if buy_cex \
                else touch * (1 - s.max_cex_slippage_bps / 10_000)
            allowed = []
            for price, qty in levels:
                if (price > bound) if buy_cex else (price < bound):
                    break
                allowed.append((price, qty))
            best = None
            k = 1
            while True:
                q = s.size_step * k
                notional = q * ref
                if notional > s.max_notional or q > (inv.dex_base - fees_sol if buy_cex else inv.cex_base):
                    break
                value, left = D(0), q
                for price, qty in allowed:
                    take = min(left, qty)
                    value += take * price
                    left -= take
                    if not left:
                        break
                if left:
                    break  # deeper than the levels within the slippage cap
                try:
                    est = pool.sell(q) if buy_cex else pool.buy(q)
                except PoolError:
                    break
                impact = (q * mid - est.quote_qty - est.fee) if buy_cex else (est.quote_qty - est.fee - q * mid)
                if impact * 10_000 > s.max_dex_impact_bps * q * mid:
                    break
                if buy_cex:
                    if value * (1 + fee) > inv.cex_quote:
                        break
                    net = est.quote_qty - value * (1 + fee) - haircut * notional - fixed
                else:
                    if est.quote_qty > inv.dex_quote:
                        break
                    net = value * (1 - fee) - est.quote_qty - haircut * notional - fixed
                if net * 10_000 > s.min_edge_bps * notional and (best is None or net > best[1]):
                    best = (q, net)
                k += 1
            results.append((True, *best) if best else (False, None, None))
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=20_000)
    ap.add_argument("--pool-every", type=int, default=20)
    ap.add_argument("--naive", type=int, default=300, help="ticks priced by the naive baseline too")
    args = ap.parse_args()

    ticks = scene(args.ticks, args.pool_every)
    pricer = Pricer(SETTINGS, MARKET, "SOL", "USDC")
    gc.collect()
    gc.disable()
    try:
        cached, cold, kinds = [], [], {"no edge": [], "priced, not tradable": [], "tradable": []}
        after_update, warm, quotes_made, cpu = [], [], 0, []
        cpu_clock = time.thread_time_ns
        decisions = []
        perf = time.perf_counter_ns
        pool = None
        for book, new_pool in ticks:
            if new_pool is not None:
                pool = new_pool
                pricer.set_pool(new_pool)
            quoted = len(pricer._sell) + len(pricer._buy)
            c0 = cpu_clock()
            t0 = perf()
            result = pricer.evaluate(book, INVENTORY)
            dt = (perf() - t0) / 1_000
            cpu.append((cpu_clock() - c0) / 1_000)
            cached.append(dt)
            new_quotes = len(pricer._sell) + len(pricer._buy) - quoted
            quotes_made += new_quotes
            if not new_quotes:
                warm.append(dt)
            if new_pool is not None:
                after_update.append(dt)
            kind = ("tradable" if result[0].tradable or result[1].tradable
                    else "priced, not tradable" if result[0].size or result[1].size else "no edge")
            kinds[kind].append(dt)
            decisions.append((pool, result))

        # uncached: the same ticks, the pool cache dropped before each
        for book, new_pool in ticks:
            if new_pool is not None:
                pricer.set_pool(new_pool)
            pricer._sell.clear()
            pricer._buy.clear()
            t0 = perf()
            pricer.evaluate(book, INVENTORY)
            cold.append((perf() - t0) / 1_000)

        # figures: what reading an evaluation's figures costs (a fresh pricer: nothing read yet)
        figures: dict[str, list[float]] = {"figures, tradable": [], "figures, not tradable": []}
        reader = Pricer(SETTINGS, MARKET, "SOL", "USDC")
        ids: list[float] = []
        for book, new_pool in ticks:
            if new_pool is not None:
                reader.set_pool(new_pool)
            for e in reader.evaluate(book, INVENTORY):
                if e.edge and e._make is not None:
                    c0 = cpu_clock()
                    e.size, e.costs, e.net_pnl, e.cex_limit_price, e.dex_limit_price, e.reason  # noqa: B018
                    figures["figures, tradable" if e.tradable else "figures, not tradable"].append(
                        (cpu_clock() - c0) / 1_000)
                    c0 = cpu_clock()
                    opportunity_id("sol-arb", e, book.ts_ns, book.ts_ns, book.ts_ns)
                    ids.append((cpu_clock() - c0) / 1_000)

        naive_us, mismatches = [], 0
        for (book, _), (pool, result) in zip(ticks[: args.naive], decisions, strict=False):
            t0 = perf()
            expected = naive(book, pool, INVENTORY, SETTINGS)
            naive_us.append((perf() - t0) / 1_000)
            for e, (tradable, size, net) in zip(result, expected, strict=True):
                if e.tradable != tradable or (tradable and (e.size, e.net_pnl) != (size, net)):
                    mismatches += 1
                    print(f"MISMATCH on tick {book.ts_ns}: pricer {e!r}; naive {tradable} {size} {net}")
    finally:
        gc.enable()

    def line(name: str, values: list[float]) -> str:
        if not values:
            return f"{name:>22}: -"
        return (f"{name:>22}: n={len(values):>6} p50={statistics.median(values):9.1f} us "
                f"p99={percentile(values, 0.99):9.1f} us max={max(values):9.1f} us")

    print(f"scene: {args.ticks} ticks, a new pool state every {args.pool_every}; ladder 0.1 SOL steps to "
          f"{SETTINGS.max_notional} USDC; Whirlpool with {len(TICKS)} initialized ticks")
    print(line("pricer (all ticks)", cached))
    print(line("the same, thread CPU", cpu))
    for kind, values in kinds.items():
        print(line(kind, values))
    print(line("first after pool update", after_update))
    print(line("no new pool quote", warm))
    print(line("uncached", cold))
    for kind, values in figures.items():
        print(line(kind + " (CPU)", values))
    print(line("opportunity id (CPU)", ids))
    print(line(f"naive (first {len(naive_us)})", naive_us))
    print(f"pool quotes made: {quotes_made} over {len(ticks) // args.pool_every} pool states "
          f"({quotes_made / max(1, len(ticks) // args.pool_every):.1f} a state; the ladder has "
          f"{int(SETTINGS.max_notional / (START * SETTINGS.size_step))} sizes a direction)")
    calibration = calibration_us()
    print(f"calibration: sum(range(100)) takes {calibration:.2f} us here ({DESKTOP}); the machine is shared, so "
          f"p99 includes other processes' time slices")
    print(f"decisions checked against the naive baseline: {len(naive_us)} ticks x 2 directions, "
          f"{mismatches} mismatches")
    p50, p99 = statistics.median(cached), percentile(cached, 0.99)
    naive_p50 = statistics.median(naive_us)
    tradable = len(kinds["tradable"])
    print(f"RESULT arb_pricing ticks={len(cached)} p50_us={p50:.1f} p99_us={p99:.1f} "
          f"uncached_p50_us={statistics.median(cold):.1f} uncached_p99_us={percentile(cold, 0.99):.1f} "
          f"naive_p50_us={naive_p50:.1f} naive_p99_us={percentile(naive_us, 0.99):.1f} "
          f"speedup_p50={naive_p50 / p50:.0f}x warm_p50_us={statistics.median(warm):.1f} "
          f"warm_p99_us={percentile(warm, 0.99):.1f} cpu_p50_us={statistics.median(cpu):.1f} "
          f"cpu_p99_us={percentile(cpu, 0.99):.1f} tradable_ticks={tradable} mismatches={mismatches} "
          f"figures_p50_us={statistics.median(figures['figures, not tradable'] or [0]):.1f} "
          f"figures_tradable_p50_us={statistics.median(figures['figures, tradable'] or [0]):.1f} "
          f"id_p50_us={statistics.median(ids or [0]):.2f} "
          f"calibration_us={calibration:.2f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
