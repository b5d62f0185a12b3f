"""The arb pricer's size search in Decimal: the reference the integer search must decide exactly as.

:class:`DecimalPricer` is the production :class:`~plugins.arb.pricing.Pricer` with its direction
pricing (``_direction_uncached`` and the size search) done the way it was before the search moved
to integers: every amount an exact Decimal (90 digits, nothing rounds), the book's Decimal levels
walked. The integer pricer must hand back the same evaluation (size, limit prices, every cost, net
PnL, tradable, what limited the size, the reason) on every input (``test_arb_pricing_units``,
``test_arb_pricing_property``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal

from bot.api import BPS, Side
from plugins.arb.pricing import (
    _DISPLAY,
    ROUNDING_SLACK_UNITS,
    ZERO,
    Direction,
    Evaluation,
    Inventory,
    Pricer,
    _bps,
    _NoQuote,
    _show,
    _show_bps,
)
from plugins.arb.settings import SOL


class DecimalPricer(Pricer):
    """The pricer with its pre-integer Decimal search (see the module documentation)."""

    def decimal_direction(self, direction: Direction, levels, inv: Inventory, fees: tuple[Decimal, Decimal, Decimal],
                          span: list, hopeless: bool) -> Evaluation:
        """Price a direction with an edge at the touch on Decimal levels (call in the exact context)."""
        return self._decimal_uncached(direction, levels, inv, fees, span, hopeless)

    def _decimal_uncached(self, direction: Direction, levels, inv: Inventory, fees: tuple[Decimal, Decimal, Decimal],
                            span: list, hopeless: bool) -> Evaluation:
        """Price a direction that has an edge at the touch (Decimal levels of the side walked).

        ``hopeless``: the marginal check at the touch failed (decided on integers by :meth:`_gates`): the
        first base unit's PnL bounds every size's PnL per unit (a pool pays out at most mid x (1 - fee)
        and charges at least mid x (1 + fee); a book walk only gets worse), so no size can clear
        min_edge_bps and only the smallest is priced, to show why.
        """
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        if not levels:
            span[1] = True
            return self._nothing(direction, f"the {self.settings.cex} book has no {'asks' if buy_cex else 'bids'}")
        touch = levels[0][0]
        mid = self._priced_mid
        if buy_cex:
            edge, ref = mid - touch, touch
        else:
            edge, ref = touch - mid, mid
        gross_bps = _DISPLAY.divide(edge * BPS, ref)

        settings = self.settings
        step = self._step
        kmin = self._kmin
        if self.market.min_notional > 0:  # selling on the CEX: at the lowest limit its walk may reach
            lowest = touch if buy_cex else touch * (1 - settings.max_cex_slippage_bps / 10_000)
            if lowest > 0:
                kmin = max(kmin, int((self.market.min_notional / (lowest * step)).to_integral_value(ROUND_CEILING)))
        kmax = int(settings.max_notional // (ref * step))  # divide-integer: exact
        static_cap = "max notional"
        fees_sol = self._cost[direction].fees_sol
        sol_in_base, sol_in_quote = self.base == SOL, self.quote == SOL
        sol_have = None  # SOL on the DEX wallet when it falls short of the swap's fees
        if buy_cex:  # the DEX wallet sells the base
            k_inv = max(0, int((inv.dex_base - (fees_sol if sol_in_base else 0)) // step))
            if sol_in_quote and inv.dex_quote < fees_sol:
                sol_have = inv.dex_quote
        else:  # the CEX account sells the base
            k_inv = int(inv.cex_base // step)
            if sol_in_base and inv.dex_base < fees_sol:
                sol_have = inv.dex_base
        if not (sol_in_base or sol_in_quote) and inv.dex_sol is not None and inv.dex_sol < fees_sol:
            sol_have = inv.dex_sol
        if sol_have is not None:
            return self._nothing(direction, f"gross edge {_show_bps(gross_bps)} bps, but the DEX wallet has "
                                            f"{sol_have} SOL free; the network and priority fees"
                                            f"{' and the account rent' if fees[2] else ''} need "
                                            f"{_show(fees_sol)}", gross_bps, "inventory")
        if k_inv < kmax:
            kmax, static_cap = k_inv, "inventory"
        if kmax < kmin:
            q = step * kmin
            if static_cap == "max notional":
                why = (f"max_notional {settings.max_notional} {self.quote} buys less than the smallest size "
                       f"{q} {self.base} at {_show(ref)}")
            elif buy_cex:
                why = f"the DEX wallet has {inv.dex_base} {self.base} free; the smallest size is {q}" + (
                    f" plus {_show(fees_sol)} SOL of fees" if sol_in_base else "")
            else:
                why = f"the CEX account has {inv.cex_base} {self.base} free; the smallest size is {q}"
            return self._nothing(direction, f"gross edge {_show_bps(gross_bps)} bps, but {why}", gross_bps,
                                 static_cap)

        return self._decimal_search(direction, levels, inv, touch, ref, fees, gross_bps, kmin, kmax, static_cap,
                                    hopeless, span)

    def _decimal_search(self, direction: Direction, levels, inv: Inventory, touch: Decimal, ref: Decimal,
                fees: tuple[Decimal, Decimal, Decimal], gross_bps: Decimal, kmin: int, kmax: int, static_cap: str,
                hopeless: bool, span: list) -> Evaluation:
        """The size netting the most among those clearing min_edge_bps, inside the caps.

        Net PnL is a concave function plus pool rounding of at most ``slack``, so a step gaining
        ``slack`` or more (``net(m) - net(m-1) >= slack``) proves every smaller size worse than
        ``m``, and one losing ``slack`` or more proves every size from ``m`` up worse than ``m - 1``:
        a bisection on the slope finds the best size with O(log n) pool quotes. Where neither holds
        (a flat top), the sizes around are priced one by one until the slope is clear on both
        sides. When that size does not clear min_edge_bps, the best one that does is searched below
        it the same way. ``hopeless`` (or a bound from the book alone showing that no size can
        clear): only the smallest size is priced, to show why.
        """
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        walk_once = hopeless  # no marginal edge: only the smallest size is walked (the bound below is not run)
        settings = self.settings
        step = self._step
        mid = self._priced_mid
        # the CEX levels within the slippage cap, with running sums for pricing any size; summed as
        # far as a size needs (a hopeless tick needs only the smallest)
        limit = touch * (1 + self._slippage) if buy_cex else touch * (1 - self._slippage)
        cum_qty, cum_value, prices = [], [], []
        total_qty = total_value = ZERO
        n_levels, next_level = len(levels), 0

        def extend(q: Decimal) -> None:
            nonlocal total_qty, total_value, next_level
            while total_qty < q and next_level < n_levels:
                price, qty = levels[next_level]
                if (price > limit) if buy_cex else (price < limit):
                    span[0] = next_level + 1
                    next_level = n_levels
                    return
                next_level += 1
                span[0] = next_level
                if next_level == n_levels:
                    span[1] = True  # whatever comes next depends on there being no more levels
                total_qty += qty
                total_value += qty * price
                cum_qty.append(total_qty)
                cum_value.append(total_value)
                prices.append(price)

        if buy_cex:
            cache, dex_side, quote_have, rate = self._sell, Side.SELL, inv.cex_quote, self._one_plus_fee
        else:
            sol_fees = self._cost[direction].fees_sol if self.quote == SOL else ZERO
            cache, dex_side, quote_have, rate = self._buy, Side.BUY, inv.dex_quote - sol_fees, self._one_minus_fee
        hc_ref = self._haircut * ref
        fixed = fees[0] + fees[1] + fees[2]
        if not hopeless:
            # An upper bound without the pool: it pays out at most mid x (1 - fee) per base unit
            # (charges at least mid x (1 + fee)), so net(q) - min edge <= a concave, piecewise-linear
            # function of the book walk, largest at a level's end or the ladder's end. At or below
            # the SOL fees: no size can clear.
            q_lo, q_hi = step * kmin, step * kmax
            extend(q_hi)
            q_hi = min(q_hi, total_qty)
            if buy_cex:
                per_unit = mid * (1 - self._pool_fee) - hc_ref - self._min_edge_rate * ref
            else:
                per_unit = mid * (1 + self._pool_fee) + hc_ref + self._min_edge_rate * ref
            bound = None
            for q in () if q_lo > q_hi else (q_lo, *(c for c in cum_qty if q_lo < c < q_hi), q_hi):
                i = bisect_left(cum_qty, q)
                value = (cum_value[i - 1] + (q - cum_qty[i - 1]) * prices[i]) if i else q * prices[0]
                at_q = (q * per_unit - value * rate) if buy_cex else (value * rate - q * per_unit)
                if bound is not None and at_q <= bound:
                    break  # concave: it only falls from here
                bound = at_q
            if bound is not None and bound <= fixed:
                hopeless = True
        nets: dict[int, Decimal | None] = {}
        found: dict[int, tuple] = {}
        failures: dict[int, tuple[str, Callable[[], str]]] = {}  # size -> (the cap, why)

        def net_of(k: int) -> Decimal | None:
            """Net PnL of size k, or None when a cap rules it out (caps hold for a prefix of the ladder)."""
            if k in nets:
                return nets[k]
            q = step * k
            if total_qty < q:
                extend(q)
            i = bisect_left(cum_qty, q)
            net = None
            if i == len(prices):
                failures[k] = ("cex depth", lambda: (
                    f"the CEX book has only {_show(total_qty)} {self.base} within {settings.max_cex_slippage_bps} bps "
                    f"of the touch, less than {q}"))
            else:
                value = (cum_value[i - 1] + (q - cum_qty[i - 1]) * prices[i]) if i else q * prices[0]
                quote = cache.get(k)
                if quote is None:
                    quote = cache[k] = self._quote_size(dex_side, k)
                if isinstance(quote, _NoQuote):
                    failures[k] = ("dex liquidity", lambda: f"the pool cannot fill {q} {self.base}: {quote.why}")
                elif quote.over_cap:
                    failures[k] = ("dex impact", lambda: (
                        f"the pool's price impact for {q} {self.base} is {_show_bps(_bps(quote.impact, q * mid))} "
                        f"bps > max_dex_impact_bps {settings.max_dex_impact_bps}"))
                elif buy_cex:
                    spend = q * prices[i] * rate  # the venue holds the limit x size with the fee
                    if spend > quote_have:
                        failures[k] = ("inventory", lambda: (
                            f"the CEX account has {inv.cex_quote} {self.quote} free; buying {q} {self.base} "
                            f"needs {_show(spend)}"))
                    else:
                        net = quote.amount - value * rate - hc_ref * q - fixed
                elif quote.amount > quote_have:
                    failures[k] = ("inventory", lambda: (
                        f"the DEX wallet has {inv.dex_quote} {self.quote} free; buying {q} {self.base} needs "
                        f"{quote.amount}" + (f" plus {_show(self._cost[direction].fees_sol)} SOL of fees"
                                              if self.quote == SOL
                                              else "")))
                else:
                    net = value * rate - quote.amount - hc_ref * q - fixed
                if net is not None:
                    found[k] = (k, value, prices[i], quote)
            nets[k] = net
            return net

        kmin_net = net_of(kmin)
        if walk_once and not span[1] and total_qty >= step * kmin:
            # the walk stopped in the last level read, which matters only by holding what the size takes
            span[2] = step * kmin - (cum_qty[-2] if len(cum_qty) > 1 else ZERO)
        if kmin_net is None:
            cap, why = failures[kmin]
            return self._nothing(direction, f"gross edge {_show_bps(gross_bps)} bps, but {why()}", gross_bps, cap)
        if hopeless:
            return self._breakdown(direction, found[kmin], touch, ref, fees, gross_bps, False, "")
        slack = Decimal(ROUNDING_SLACK_UNITS).scaleb(-self._quote_decimals)

        def argmax(value, lo: int, hi: int, hint: int | None = None) -> int:
            """The smallest size in [lo, hi] with the largest ``value`` (None: ruled out by a cap).

            ``hint`` (the last tick's best size): gallop from it, 1, 2, 4... sizes at a time, while
            the slope keeps pointing the same way, then bisect what is left.
            """
            if hint is not None and lo < hint <= hi:
                m, stride, heading = hint, 1, 0
                while lo < m <= hi:
                    at_m = value(m)
                    before = value(m - 1) if at_m is not None else None
                    if at_m is None or before is None or abs(at_m - before) < slack:
                        break  # a cap or a flat top: the bisection below deals with it
                    up = at_m - before > 0
                    if heading and up != (heading > 0):
                        if up:
                            lo = m
                        else:
                            hi = m - 1
                        break
                    heading = 1 if up else -1
                    if up:
                        lo = m
                    else:
                        hi = m - 1
                    m += stride * heading
                    stride *= 2
            while lo < hi:
                m = (lo + hi + 1) // 2
                at_m = value(m)
                if at_m is None:
                    hi = m - 1
                    continue
                before = value(m - 1)
                if before is None:  # m - 1 > lo, as lo is priced
                    hi = m - 2
                    continue
                if at_m - before >= slack:
                    lo = m
                elif at_m - before <= -slack:
                    hi = m - 1
                else:  # a flat top around m: price outwards until the slope is clear
                    j = m - 1
                    while j > lo and value(j) - value(j - 1) < slack:
                        j -= 1
                    lo = j
                    j = m + 1
                    while j <= hi:
                        at_j = value(j)
                        if at_j is None or at_j - value(j - 1) <= -slack:
                            break
                        j += 1
                    hi = j - 1
                    break
            best, best_value = lo, value(lo)
            for k in range(lo + 1, hi + 1):
                if value(k) > best_value:
                    best, best_value = k, value(k)
            return best

        def priced(k: int) -> Decimal:
            """Net PnL of a size from kmin to ``top``: every cap holds there (caps hold for a prefix)."""
            net = net_of(k)
            if net is None:
                raise AssertionError(f"size {k} <= {top} was ruled out by a cap")
            return net

        top = argmax(net_of, kmin, kmax, self._last_top.get(direction))
        self._last_top[direction] = top
        top_net = priced(top)
        floor_unit = self._min_edge_rate * ref * step  # clearing min_edge_bps: net(k) > floor_unit x k
        limited_by = ""
        if top == kmax:
            limited_by = static_cap
        elif net_of(top + 1) is None:
            limited_by = failures[top + 1][0]
        if top_net > floor_unit * top or top_net <= 0:
            # the best size clears min_edge_bps; or nets nothing, and then no smaller size clears it
            return self._breakdown(direction, found[top], touch, ref, fees, gross_bps, top_net > floor_unit * top,
                                   limited_by)

        # min_edge_bps binds: the best size that clears it is below ``top`` (a larger one netting
        # more than floor_unit x k would net more than ``top``). g(k) = net(k) - floor_unit x k is
        # concave too: find its top, then the last size where it is still positive
        def margin(k: int) -> Decimal:  # only asked for sizes from kmin to top
            return priced(k) - floor_unit * k

        lo = argmax(margin, kmin, top)
        if margin(lo) <= 0:  # nothing clears: report the size netting the most
            return self._breakdown(direction, found[top], touch, ref, fees, gross_bps, False, limited_by)
        hi = top  # margin(lo) > 0 >= margin(hi)
        while hi - lo > 1:
            m = (lo + hi) // 2
            if margin(m) > 0:
                lo = m
            else:
                hi = m
        clearing = [lo]
        # upwards: rounding may let a size past the crossing clear; stop where margin is <= 0 and falls
        # by slack or more (every larger size then has a margin below it)
        j = lo + 1
        while j < top and not (margin(j) <= 0 and margin(j + 1) - margin(j) <= -slack):
            j += 1
            if margin(j) > 0:
                clearing.append(j)
        # downwards: net still rising by slack or more at j proves every smaller size nets less than j
        j = lo
        while j > kmin and not (priced(j) - priced(j - 1) >= slack and margin(j) > 0):
            j -= 1
            if margin(j) > 0:
                clearing.append(j)
        best = min(clearing, key=lambda k: (-priced(k), k))
        return self._breakdown(direction, found[best], touch, ref, fees, gross_bps, True, "min edge")

