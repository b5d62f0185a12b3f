"""Helpers of the arb pricing tests: a constant-product SOL/USDC pool, small books, and a naive
reference that prices every ladder size from scratch with the pool's integer formulas.

Every figure the tests expect is written as integer arithmetic on the pool's reserves and the
book's levels, the way one would do it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from bot.domain import BookUpdate, MarketInfo
from plugins.arb.pricing import Direction, Inventory, Pricer
from plugins.arb.settings import ArbSettings

D = Decimal
SOL_UNITS = 10**9   # SOL has 9 decimals
USDC_UNITS = 10**6  # USDC has 6
MARKET = MarketInfo("SOL/USDC", "SOL", "USDC", tick_size=D("0.01"), lot_size=D("0.01"))
RICH = Inventory(cex_base=D(10_000), cex_quote=D(10_000_000), dex_base=D(10_000), dex_quote=D(10_000_000))


def adds_up(e) -> bool:
    """gross - sum(costs) == net, exactly: summed at 90 digits, where nothing here rounds."""
    with localcontext() as ctx:
        ctx.prec = 90
        return e.gross_pnl - sum((amount for _, amount in e.costs), D(0)) == e.net_pnl


def pool(sol: int, usdc: int, fee_bps: int = 30) -> ConstantProductModel:
    """``sol`` SOL against ``usdc`` USDC (whole tokens): mid = usdc / sol."""
    return ConstantProductModel(ConstantProductPool(sol * SOL_UNITS, usdc * USDC_UNITS, fee_bps), "SOL", "USDC", 9, 6)


def settings(**overrides) -> ArbSettings:
    values = {"cex": "cex", "dex": "dex", "symbol": "SOL/USDC", "max_notional": D(100_000), "size_step": D(1),
              "min_size": D(1),
                  "min_edge_bps": D(10), "cex_taker_fee_bps": D(10), "latency_haircut_bps": D(2),
                  "max_cex_slippage_bps": D(20), "max_dex_impact_bps": D(30), "signature_fee_lamports": 5_000,
                  "compute_units": 200_000, "compute_unit_price_micro_lamports": 10_000, "dex_slippage_bps": D(10)}
    values.update(overrides)
    return ArbSettings(**values)


def book(bids=(), asks=()) -> BookUpdate:
    return BookUpdate("cex", "SOL/USDC", tuple((D(p), D(q)) for p, q in bids),
                      tuple((D(p), D(q)) for p, q in asks), 0)


def pricer(the_pool, **overrides) -> Pricer:
    p = Pricer(settings(**overrides), MARKET, "SOL", "USDC")
    p.set_pool(the_pool)
    return p


def sell_out_units(reserve_sol: int, reserve_usdc: int, fee_bps: int, sol_units: int) -> int:
    """x*y=k, fee on the input: out = floor(in*(1-fee) * R_usdc / (R_sol + in*(1-fee)))."""
    in_after_fee = sol_units * (10_000 - fee_bps)
    return in_after_fee * reserve_usdc // (reserve_sol * 10_000 + in_after_fee)


def buy_in_units(reserve_sol: int, reserve_usdc: int, fee_bps: int, sol_units: int) -> int:
    """x*y=k, exact out: in = ceil(R_usdc * out / ((R_sol - out) * (1 - fee)))."""
    return -(-reserve_usdc * sol_units * 10_000 // ((reserve_sol - sol_units) * (10_000 - fee_bps)))


def walk(levels, qty: Decimal) -> tuple[Decimal, Decimal] | None:
    """(sum of price x qty over the levels taken, worst price), or None when the levels are too thin."""
    cost, left = D(0), qty
    for price, available in levels:
        take = min(left, available)
        cost += take * price
        left -= take
        if left == 0:
            return cost, price
    return None


@dataclass
class Candidate:
    size: Decimal
    net: Decimal
    notional: Decimal
    qualifies: bool


def reference(the_pool: ConstantProductModel, s: ArbSettings, levels, direction: Direction, inv: Inventory,
              sol_price: Decimal) -> list[Candidate]:
    """Every ladder size inside the caps, priced naively from scratch (the caps end the ladder at their
    first violation, as the pricer documents), each with its net PnL and whether it clears min_edge_bps."""
    cp = the_pool.pool
    r_sol, r_usdc, fee = cp.reserve_a, cp.reserve_b, cp.fee_bps
    with localcontext() as ctx:
        ctx.prec = 28
        mid = +the_pool.mid()  # the pricer's mid: 28 significant digits
        ctx.prec = 90
        touch = levels[0][0]
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        ref = touch if buy_cex else mid
        f = s.cex_taker_fee_bps / 10_000
        fees_sol = (D(s.signature_fee_lamports)
                    + D(-(-s.compute_unit_price_micro_lamports * s.compute_units // 10**6))) / SOL_UNITS
        fixed = fees_sol * sol_price
        bound = touch * (1 + s.max_cex_slippage_bps / 10_000) if buy_cex \
            else touch * (1 - s.max_cex_slippage_bps / 10_000)
        allowed = [(p, q) for p, q in levels if (p <= bound if buy_cex else p >= bound)]
        allowed = allowed[:next((i for i, (p, _) in enumerate(levels) if (p > bound if buy_cex else p < bound)),
                                len(levels))]
        out = []
        k = max(1, int((s.min_size / s.size_step).to_integral_value("ROUND_CEILING")))
        while True:
            q = s.size_step * k
            units = int(q * SOL_UNITS)
            notional = q * ref
            if notional > s.max_notional:
                break
            walked = walk(allowed, q)
            if walked is None:
                break
            cex_value, limit = walked
            try:
                if buy_cex:
                    amount = D(sell_out_units(r_sol, r_usdc, fee, units)) / USDC_UNITS
                    fee_q = D(-(-units * fee // 10_000)) / SOL_UNITS * mid
                    impact = q * mid - amount - fee_q
                else:
                    if units >= r_sol:
                        break
                    amount = D(buy_in_units(r_sol, r_usdc, fee, units)) / USDC_UNITS
                    fee_q = D(-(-int(amount * USDC_UNITS) * fee // 10_000)) / USDC_UNITS
                    impact = amount - fee_q - q * mid
            except ZeroDivisionError:
                break
            if impact * 10_000 > s.max_dex_impact_bps * q * mid:
                break
            if buy_cex:
                # the venue holds an IOC buy's limit (the worst level walked) x size with the fee, not what it costs
                if q + fees_sol > inv.dex_base or q * limit * (1 + f) > inv.cex_quote:
                    break
                net = amount - cex_value * (1 + f) - fixed - s.latency_haircut_bps / 10_000 * notional
            else:
                if q > inv.cex_base or amount > inv.dex_quote or fees_sol > inv.dex_base:
                    break
                net = cex_value * (1 - f) - amount - fixed - s.latency_haircut_bps / 10_000 * notional
            out.append(Candidate(q, net, notional, net * 10_000 > s.min_edge_bps * notional))
            k += 1
        return out
