"""The paper DEX's pool: a realistic concentrated pool, moves to a price, anchor following, dislocations, mirroring."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from arbotlib.amm.whirlpool.math import amount_delta_a, amount_delta_b, sqrt_price_at_tick
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.transfer_fee import TransferFee
from bot.api import Context, PermanentError
from bot.domain import (
    BookUpdate,
    FeedState,
    FeedStatus,
    Order,
    OrderType,
    PoolUpdate,
    Side,
    TimeInForce,
)
from plugins.paper import dex_pool
from plugins.paper.dex import PaperDexExchange
from plugins.paper.dex_settings import PaperDexSettings

D = Decimal
SHAPE = dict(base="SOL", quote="USDC", base_decimals=9, quote_decimals=6)
WIDTHS = [50, 100, 250, 500, 1000, 2500, 5000]


def whirlpool(price="150", tvl="2000000", fee_bps=4, tick_spacing=4, widths=WIDTHS) -> WhirlpoolModel:
    return dex_pool.concentrated(**SHAPE, price=D(price), tvl=D(tvl), fee_bps=fee_bps, tick_spacing=tick_spacing,
                                 widths_bps=widths)


def bps_apart(a: Decimal, b: Decimal) -> Decimal:
    return abs(a - b) / b * 10_000


# --- building and moving pools ----------------------------------------------------------------------


def test_concentrated_pool_has_positions_around_the_price_worth_the_tvl():
    pool = whirlpool()
    assert bps_apart(pool.mid(), D(150)) < D("0.000001")
    assert pool.fee_rate == 400 and pool.fee_bps == D(4)
    assert len(pool.ticks) == 2 * len(WIDTHS)  # each position initializes its two ticks
    assert all(t % 4 == 0 for t, _ in pool.ticks) and sum(n for _, n in pool.ticks) == 0
    lowers = [(t, n) for t, n in pool.ticks if n > 0]
    assert all(t <= pool.tick for t, _ in lowers) and pool.liquidity == sum(n for _, n in lowers)
    # Value of every position at the start price (token amounts from the Whirlpool maths) adds up to the tvl.
    uppers = sorted(((t, -n) for t, n in pool.ticks if n < 0), key=lambda x: x[1])
    value = D(0)
    for (lower, liquidity), (upper, same) in zip(sorted(lowers, key=lambda x: x[1]), uppers, strict=True):
        assert liquidity == same and lower < pool.tick < upper
        a = amount_delta_a(pool.sqrt_price, sqrt_price_at_tick(upper), liquidity, False)
        b = amount_delta_b(sqrt_price_at_tick(lower), pool.sqrt_price, liquidity, False)
        value += D(a).scaleb(-9) * pool.mid() + D(b).scaleb(-6)
    assert bps_apart(value, D(2_000_000)) < D("0.01")
    # narrow positions hold most of the liquidity: depth near the price, a long tail far from it
    assert lowers[-1][1] > 10 * lowers[0][1]


def test_a_big_swap_crosses_initialized_ticks_and_stops_where_liquidity_ends():
    pool = whirlpool()
    small, big = pool.sell(D(1)), pool.sell(D(2000))
    assert small.impact_bps < D("0.1") < big.impact_bps
    assert big.pool_after.liquidity < pool.liquidity  # it left the narrowest position's range
    edge = dex_pool.move_to(pool, D(1))  # far below every position
    assert edge.sqrt_price == sqrt_price_at_tick(pool.ticks[0][0]) and edge.liquidity == 0


@pytest.mark.parametrize("target", ["151.5", "148.5", "150.07", "120"])
def test_move_to_lands_on_the_target(target):
    cp = dex_pool.constant_product(**SHAPE, price=D(150), tvl=D(2_000_000), fee_bps=25)
    for pool in (cp, whirlpool()):
        moved = dex_pool.move_to(pool, D(target))
        assert bps_apart(moved.mid(), D(target)) < D("0.01"), (type(pool).__name__, moved.mid())
    moved = dex_pool.move_to(cp, D("130"))
    assert moved.pool.reserve_a * moved.pool.reserve_b >= cp.pool.reserve_a * cp.pool.reserve_b  # fees stay in


def test_saved_pools_round_trip_exactly():
    for pool in (whirlpool(), dex_pool.constant_product(**SHAPE, price=D(150), tvl=D(10_000), fee_bps=30)):
        moved = dex_pool.move_to(pool, D("151.23"))
        assert dex_pool.load(dex_pool.dump(moved), pool) == moved


def test_a_saved_mirrored_whirlpool_keeps_the_ticks_it_knows():
    """A pool mirrored from the orca venue knows the ticks of its loaded arrays only: restored after a restart, it
    must still refuse to quote past them."""
    mirrored = dataclasses.replace(whirlpool(), known_ticks=(-40_000, -10_000))
    restored = dex_pool.load(dex_pool.dump(mirrored), mirrored)
    assert restored == mirrored and restored.known_ticks == (-40_000, -10_000)


def test_a_saved_mirrored_whirlpool_keeps_what_a_swap_on_it_costs():
    """Mirrored from the orca venue, a pool pays its mints' transfer fees and crosses at most three tick arrays per
    swap (and may have its base as token B): restored after a restart, it must quote the same."""
    fee, other = TransferFee(0, 10**12, 50), TransferFee(900, 5_000, 120)
    mirrored = dataclasses.replace(whirlpool(), known_ticks=(-40_000, -10_000), base_transfer_fees=(fee,),
                                   quote_transfer_fees=(fee, other), arrays_per_swap=3, base_is_a=False)
    restored = dex_pool.load(dex_pool.dump(mirrored), whirlpool())
    assert restored == mirrored
    assert restored.sell_units(10**9)[0] == mirrored.sell_units(10**9)[0]


# --- the pool moves ---------------------------------------------------------------------------------


def make(bot, **overrides) -> PaperDexExchange:
    bot.exchanges = {"cex": object(), "orca": object()}
    base = dict(tick_interval_ms=0, state_file="", start_price=D(150))
    settings = dataclasses.replace(PaperDexSettings(), **{**base, **overrides})
    assert settings.validate() == []
    return PaperDexExchange("dex", settings, Context(bot, "exchange", "dex"))


def anchor_book(bot, mid: str) -> None:
    m = D(mid)
    bot.bus.publish(BookUpdate("cex", "SOL/USDC", ((m - D("0.01"), D(5)),), ((m + D("0.01"), D(5)),), 1))


async def test_other_traders_close_part_of_the_gap_to_the_anchor_each_step(bot):
    dex = make(bot, anchor="cex", reversion=D("0.3"), volatility_bps=D(0), dislocation_probability=D(0))
    await dex.start()
    updates = []
    bot.bus.subscribe(PoolUpdate, updates.append, owner="test", exchange="dex")
    anchor_book(bot, "151.5")  # a 100 bps gap
    assert dex.anchor_mid == D("151.5")
    gap = bps_apart(dex.pool.mid(), D("151.5"))
    ratios = []
    for _ in range(30):
        dex.step()
        new_gap = bps_apart(dex.pool.mid(), D("151.5"))
        ratios.append(new_gap / gap)
        gap = new_gap
    assert all(D("0.54") <= r <= D("0.86") for r in ratios[:10]), ratios[:10]  # closes 15%..45% per step
    assert gap < D("0.1") and len(updates) == 30 and [u.slot for u in updates] == list(range(1, 31))
    await dex.stop()


async def test_an_anchor_that_stops_quoting_is_not_followed(bot):
    dex = make(bot, anchor="cex", volatility_bps=D(0), dislocation_probability=D(0))
    await dex.start()
    anchor_book(bot, "160")
    bot.bus.publish(FeedStatus("cex", "SOL/USDC", FeedState.STALE, 2, "silent"))
    mid = dex.pool.mid()
    dex.step()
    assert dex.anchor_mid is None and dex.pool.mid() == mid
    await dex.stop()


async def run_steps(bot, steps: int, **overrides) -> tuple[PaperDexExchange, list[Decimal]]:
    dex = make(bot, **overrides)
    await dex.start()
    if overrides.get("anchor"):
        anchor_book(bot, "150")
    mids = []
    for _ in range(steps):
        dex.step()
        mids.append(dex.pool.mid())
    await dex.stop()
    return dex, mids


async def test_dislocations_open_gaps_beyond_the_fees_that_decay(bot):
    settings = dict(anchor="cex", reversion=D("0.3"), volatility_bps=D("0.5"), dislocation_probability=D("0.05"),
                    dislocation_min_bps=D(20), dislocation_max_bps=D(80), seed=11)
    dex, mids = await run_steps(bot, 3000, **settings)
    gaps = [bps_apart(m, D(150)) for m in mids]
    # whales: 5% of 3000 steps = 150 expected (binomial sd ~12)
    assert 110 <= dex.dislocations <= 190, dex.dislocations
    wide = sum(g > 15 for g in gaps)  # beyond both venues' fees
    assert dex.dislocations <= wide <= 4 * dex.dislocations, wide
    assert max(gaps) < 80 + 30 and statistics.median(gaps) < 3  # they decay: most of the time the pool is close
    # a large gap halves within three steps, unless another whale hits meanwhile (5% a step)
    large = [i for i, g in enumerate(gaps[:-3]) if g > 40]
    halved = [i for i in large if min(gaps[i + 1:i + 4]) < gaps[i] / 2]
    assert len(large) >= 20 and len(halved) >= 0.75 * len(large), (len(large), len(halved))
    # seeded: the same seed replays the same pool, another seed does not
    _, again = await run_steps(bot, 3000, **settings)
    assert again == mids
    _, other = await run_steps(bot, 300, **{**settings, "seed": 12})
    assert other != mids[:300]


async def test_without_an_anchor_the_pool_walks_at_its_volatility(bot):
    dex, mids = await run_steps(bot, 2000, volatility_bps=D(2), dislocation_probability=D(0), pool="constant-product",
                                fee_bps=0)
    moves = [float((b - a) / a * 10_000) for a, b in itertools.pairwise(mids)]
    assert 1.7 < statistics.pstdev(moves) < 2.3 and dex.anchor_mid is None
    assert abs(statistics.mean(moves)) < 0.2


async def test_whale_sizes_stay_in_the_configured_range(bot):
    _, mids = await run_steps(bot, 200, volatility_bps=D(0), dislocation_probability=D(1), dislocation_min_bps=D(30),
                              dislocation_max_bps=D(40), pool="constant-product")
    moves = [bps_apart(b, a) for a, b in itertools.pairwise([D(150), *mids])]
    assert all(D("29.9") < m < D("40.1") for m in moves), (min(moves), max(moves))
    ups = sum(b > a for a, b in itertools.pairwise([D(150), *mids]))
    assert 70 < ups < 130  # either way


# --- mirroring another exchange's pool --------------------------------------------------------------


def cp_pool(sol: int, usdc: int) -> ConstantProductModel:
    return ConstantProductModel(ConstantProductPool(sol * 10**9, usdc * 10**6, 30), "SOL", "USDC", 9, 6)


async def test_mirror_swaps_against_the_latest_source_pool(bot):
    dex = make(bot, market="mirror", source="orca")
    await dex.start()
    seen = []
    for t in (PoolUpdate, FeedStatus):
        bot.bus.subscribe(t, seen.append, owner="test", exchange="dex")
    order = Order(client_order_id="m1", strategy="t", exchange="dex", symbol="SOL/USDC", side=Side.SELL, qty=D(10),
                  price=D(90), order_type=OrderType.LIMIT, tif=TimeInForce.IOC)
    with pytest.raises(PermanentError, match="no live pool from orca"):
        await dex.place_order(order)
    source = cp_pool(10_000, 1_000_000)
    bot.bus.publish(PoolUpdate("orca", "SOL/USDC", source, 5, slot=777))
    assert [type(e) for e in seen] == [FeedStatus, PoolUpdate] and seen[1].pool is source and seen[1].slot == 777
    state = await dex.place_order(dataclasses.replace(order, client_order_id="m2"))
    assert state.fills[0].price == D("99.6006981")  # the source pool's exact quote
    assert dex.pool == source.sell(D(10)).pool_after  # our swap moves our view until the source's next update
    bot.bus.publish(PoolUpdate("orca", "SOL/USDC", cp_pool(10_000, 1_010_000), 6, slot=778))
    assert dex.pool.mid() == D(101)
    dex.step()  # a mirrored pool does not move by itself
    assert dex.pool.mid() == D(101)
    bot.bus.publish(FeedStatus("orca", "SOL/USDC", FeedState.STALE, 7, "no account update"))
    assert seen[-1].state is FeedState.STALE and dex.pool is None
    with pytest.raises(PermanentError, match="no live pool from orca"):
        await dex.place_order(dataclasses.replace(order, client_order_id="m3"))
    assert await dex.fetch_order("SOL/USDC", "m3") is None and len(dex.swaps()) == 1
    await dex.stop()


async def test_a_pool_far_from_its_anchor_is_reported_once(bot, caplog):
    anchor_book(bot, "30000")  # e.g. a BTC/USD book by mistake: arrives before the DEX starts
    dex = make(bot, anchor="cex")
    anchor_book(bot, "30000")
    await dex.start()
    anchor_book(bot, "30001")
    warnings = [r.getMessage() for r in caplog.records if "far from the anchor" in r.getMessage()]
    assert len(warnings) == 1 and "set start_price near" in warnings[0]
    await dex.stop()


async def test_a_saved_pool_of_another_shape_is_rebuilt_from_the_settings(bot, caplog):
    path = str(bot.data_dir / "shape.db")
    dex = make(bot, state_file=path, pool="constant-product")
    await dex.start()
    dex.step()
    await dex.stop()
    again = make(bot, state_file=path, pool="concentrated")
    await again.start()
    assert isinstance(again.pool, WhirlpoolModel) and again.step_count == 0
    assert any("is not a concentrated pool" in r.getMessage() for r in caplog.records)
    await again.stop()


def test_the_sqrt_price_of_a_price_is_exact_as_the_decimal_reference_says():
    """Integer maths (isqrt of the price as a fraction) gives floor(sqrt(price) * 2**64) exactly, as the
    60-digit Decimal square root did (it is the same number wherever that one is not a hair off)."""
    import random
    from decimal import localcontext

    rng = random.Random(16)
    prices = [Decimal(rng.randint(1, 10**12)).scaleb(-rng.randint(0, 12)) for _ in range(3000)]
    prices += [Decimal("150"), Decimal("0.25"), Decimal("1"), Decimal("150.123456789")]
    for price in prices:
        for base, quote in ((9, 6), (6, 6), (5, 9)):
            with localcontext() as ctx:
                ctx.prec = 60
                reference = int(price.scaleb(quote - base).sqrt() * (1 << 64))
            got = dex_pool._sqrt_price_x64(price, base, quote)
            assert got == reference, (price, base, quote)
            num, den = price.scaleb(quote - base).as_integer_ratio()
            assert got * got * den <= num << 128 < (got + 1) * (got + 1) * den  # the floor, exactly


def test_a_moved_whirlpool_keeps_its_ticks_and_reads_as_a_new_one_would():
    pool = dex_pool.concentrated(base="SOL", quote="USDC", base_decimals=9, quote_decimals=6, price=Decimal(150),
                                 tvl=Decimal(2_000_000), fee_bps=4, tick_spacing=64, widths_bps=[50, 200, 1000])
    moved = dex_pool.move_to(pool, Decimal("151.3"))
    assert moved == dataclasses.replace(pool, sqrt_price=moved.sqrt_price, tick=moved.tick, liquidity=moved.liquidity)
    assert moved.tick_indexes == pool.tick_indexes and moved.sqrt_price != pool.sqrt_price


# --- the step's draws, made cheaply, are the Decimal reference's ----------------------------------------


_REVERSIONS = ["0.3", "0.35", "1", "0.999999", "0.5000", "0.000001", "0.123456789012345678",
               "0.1234567890123456789012345", "1E-30"]  # the last two: more digits than the settings take
_VOLATILITIES = ["1", "2.5", "0.0001", "300", "7.000", "1E+2", "1E-18", "0.000000000000000001",
                 "1.234567890123456789012345678", "0.000" + "9" * 28, "1E-30"]


@pytest.mark.parametrize("reversion", _REVERSIONS)
async def test_the_steps_target_is_the_decimal_reference_arithmetics_to_the_digit(bot, monkeypatch, reversion):
    """The step makes the reversion and the noise on whole numbers where that is exact: the target each step moves
    the pool to must be the Decimal reference's, digit for digit and exponent too (its text), for any reversion and
    volatility (some with more digits than a setting takes: the step then takes the Decimal way), with and
    without an anchor."""
    import random

    from plugins.paper import dex as dex_module

    targets: list[Decimal] = []
    for name in ("move_to", "move_whirlpool"):
        moved = getattr(dex_pool, name)
        monkeypatch.setattr(dex_pool, name,
                            lambda pool, price, moved=moved: targets.append(price) or moved(pool, price))
    for volatility, anchor in itertools.product(_VOLATILITIES, [None, "151.5", "149.00000001", "150"]):
        base = PaperDexSettings()
        settings_ = dataclasses.replace(base, tick_interval_ms=0, state_file="", start_price=D(150),
                                        reversion=D(reversion), volatility_bps=D(volatility),
                                        dislocation_probability=D(0), seed=len(targets))
        bot.exchanges = {"cex": object()}
        dex = PaperDexExchange("dex", settings_, Context(bot, "exchange", "dex"))
        await dex.start()
        for _ in range(25):
            dex._anchor_touch, dex._anchor_mid = None, None if anchor is None else D(anchor)
            reference = random.Random()
            reference.setstate(dex._rng.getstate())
            mid = target = dex.pool.mid()
            if anchor is not None:  # the step's arithmetic before it took whole numbers
                fraction = settings_.reversion * dex_module._reversion_draw(reference)
                target = mid + (D(anchor) - mid) * min(fraction, D(1))
            target *= 1 + dex_module._noise(reference, settings_.volatility_bps)
            made = len(targets)
            dex.step()
            assert targets[made:] == ([target] if target != mid else []), (volatility, anchor)
            assert [str(t) for t in targets[made:]] == ([str(target)] if target != mid else [])
            assert dex._rng.getstate() == reference.getstate()
        await dex.stop()
    assert len(targets) > 1000


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), volatility=st.one_of(
    st.decimals(min_value=D("0.0001"), max_value=D(1000), places=4),
    st.builds(lambda digits, exponent: Decimal(digits).scaleb(exponent), st.integers(1, 10**28 - 1),
              st.integers(-30, 5))))
def test_the_steps_draws_are_the_reference_arithmetic(seed, volatility):
    """The reversion draw is a uniform draw of millionths in [0.5, 1.5] (randrange's) and the noise is
    volatility_bps * draw / BPS in the default context, for any volatility_bps (of up to 28 digits: the
    product rounds)."""
    import random

    from plugins.paper import dex as dex_module

    got, reference = random.Random(seed), random.Random(seed)
    for _ in range(20):
        assert dex_module._reversion_draw(got) == D("0.5") + D(1) * reference.randrange(1_000_001) / D(1_000_000)
        assert dex_module._draw(got) == reference.randrange(1_000_001)  # the generator's own draw
        draw = D(round(reference.gauss(0.0, 1.0) * 1_000_000)) / 1_000_000
        assert dex_module._noise(got, volatility) == volatility * draw / 10_000
    assert got.getstate() == reference.getstate()


@settings(max_examples=300, deadline=None)
@given(bid=st.one_of(st.integers(0, 10**12), st.integers(0, 10**30)),
       ask=st.one_of(st.integers(0, 10**12), st.integers(0, 10**30)), decimals=st.integers(0, 18))
def test_the_anchor_mid_is_the_mid_of_the_touch_in_the_default_context(bid, ask, decimals):
    dex = PaperDexExchange.__new__(PaperDexExchange)
    dex._anchor_touch, dex._anchor_mid = (bid, ask, decimals), None
    reference = (Decimal(bid).scaleb(-decimals) + Decimal(ask).scaleb(-decimals)) / 2
    assert dex.anchor_mid == reference and str(dex.anchor_mid) == str(reference) and dex._anchor_touch is None
