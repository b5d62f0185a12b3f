"""The paper DEX (exchange type ``paper-dex``): one simulated liquidity pool with a paper wallet.

Offline and seeded, so CEX/DEX arbitrage runs end to end without a chain: the pool moves the way
real pools do, swaps are priced by the same exact integer maths a strategy quotes with, and the
network fee is charged in SOL as on Solana.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from decimal import ROUND_CEILING, Decimal, localcontext
from pathlib import Path
from typing import NamedTuple, NoReturn

from arbotlib.amm.whirlpool.model import WhirlpoolModel
from bot.api import (
    BPS,
    ZERO,
    Balance,
    BookUpdate,
    Context,
    Exchange,
    FeedState,
    FeedStatus,
    InsufficientFunds,
    MarketInfo,
    Order,
    OrderNotFound,
    OrderState,
    OrderStatus,
    OrderType,
    PermanentError,
    PoolUpdate,
    Side,
    SwapFee,
    TimeInForce,
    TransientError,
    split_symbol,
)
from bot.api.backtest import BacktestPlan, Steppable
from bot.api.kit import Pool, PoolError, Topic, from_units
from bot.api.ledger import price as display_price
from bot.api.ledger import qty as display_qty

from . import dex_pool
from .dex_settings import PaperDexSettings
from .dex_state import PaperDexState, SwapRecord
from .events import new_pool_update
from .feeds import PlaysRecording, RecordingPlayer
from .orders import order_kinds
from .settings import BACKTEST_TICK_MS
from .transfers import PaperTransfers

SAVE_POOL_EVERY = 1000
"""Steps between two saves of the pool when nothing else changed it (also saved on stop and by each swap); a pool
kept in memory (a backtest's) is never saved after its start: nothing would read it (``PaperDexState.in_memory``)."""
_NEVER = 1 << 62
"""Steps between two saves of a pool that is never saved (a step only counts them)."""
FEE_ASSET = "SOL"
LAMPORTS_PER_SOL = 9
"""Decimals of SOL: network fees are lamports."""
_MILLIONTHS = Decimal(1_000_000)
_DRAWS = 1_000_001
"""A uniform draw picks one of these millionths of its span (both ends included)."""
_ONE = Decimal(1)
_HALF_EXACT = 5 * 10**27
"""Two prices in units below this add up to 28 digits at most: their Decimal sum is exact."""
_MILLIONTH, _TEN_BILLIONTH = Decimal("1E-6"), Decimal("1E-10")
_E28 = 10**28
"""Whole numbers below this (in magnitude) have at most 28 digits: a Decimal of the default context holds them
exactly."""


class _Units(dict[int, Decimal]):
    def __missing__(self, decimals: int) -> Decimal:
        value = self[decimals] = Decimal(1).scaleb(-decimals)
        return value


_UNIT = _Units()
"""``1E-decimals`` by ``decimals``: units times it are the price, with the exponent ``from_units`` gives it."""
_FAR = Decimal("0.1")
"""A pool this far (relative) from its anchor's first mid is probably misconfigured: warn."""


class SlippageExceeded(PermanentError):
    """The swap would pay out less than the minimum out (SELL) or cost more than the maximum in (BUY)."""


class PaperDexExchange(PlaysRecording, Exchange, Steppable, PaperTransfers):
    """A simulated pool venue; no chain, no real money.

    **The pool** (:mod:`plugins.paper.dex_pool`): constant product or concentrated liquidity (an
    Orca Whirlpool with several positions around the start price), exact integer maths. Every
    change publishes ``PoolUpdate(name, symbol, pool, ts_ns, slot)`` (``slot`` counts changes);
    :meth:`start` publishes ``FeedStatus(LIVE)`` and the first pool.

    **How it moves** (:meth:`step`, every ``tick_interval_ms``, or only when called with 0): with an
    ``anchor`` exchange, other traders arbitrage the pool back toward the anchor's latest mid (one
    swap closing a seeded fraction around ``reversion`` of the gap); a noise swap of
    ``volatility_bps``; and now and then (``dislocation_probability`` per step) a whale swap moving
    it by ``dislocation_min_bps``..``dislocation_max_bps`` either way. Gaps bigger than the fees
    therefore appear and decay, as on a real pool. Without an anchor, only noise and whales: a
    seeded random walk. With ``market = "mirror"`` the pool is the latest one ``source`` published.

    **Swaps.** An order is one swap, executed whole or not at all: SELL ``qty`` base is an
    exact-input swap, BUY ``qty`` base an exact-output swap. MARKET orders take what the pool gives;
    a LIMIT IOC order's price is the worst acceptable *average* price (SELL: minimum out =
    price x qty, BUY: maximum in), and a worse swap is REJECTED with :class:`SlippageExceeded`
    ("slippage exceeded") leaving pool and wallet untouched. The swap executes ``latency_ms`` after
    the request, against the pool as it is *then*. It moves the pool, changes the wallet exactly
    (token units) and costs the network fee (``signature_fee_lamports`` + priority fee) and, when the
    wallet has no account for the token it pays out (not in its balances; SOL is native),
    ``token_account_rent_lamports`` for the account it creates, together the fill's fee in SOL; the
    pool's fee is inside the fill price. Not enough of the input token
    or of SOL: :class:`~bot.api.InsufficientFunds`. Nothing rests: :meth:`open_orders` is empty and
    :meth:`cancel_order` returns a finished swap as it is or raises ``OrderNotFound``.

    **Idempotency and persistence** (:mod:`plugins.paper.dex_state`): wallet, pool and every swap by
    client order id live in ``state_file``, each swap committed with its effects in one transaction.
    A client order id seen before returns that swap's result and never swaps again (after a restart
    too); a duplicate arriving while the first waits out its latency gets the first's result.
    """

    Settings = PaperDexSettings

    @classmethod
    def markets_of(cls, settings: PaperDexSettings) -> list[str]:
        """The pool's one market."""
        return [settings.symbol]
    simulated = True
    venue_kind = "pool"
    exchange_settings = ("anchor", "source", "wallet")

    def __init__(self, name: str, settings: PaperDexSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.settings: PaperDexSettings = settings
        self.symbol = settings.symbol
        self.base, self.quote = split_symbol(settings.symbol)
        self._info = MarketInfo(
            symbol=self.symbol, base=self.base, quote=self.quote, tick_size=Decimal(1).scaleb(-settings.quote_decimals),
            lot_size=Decimal(1).scaleb(-settings.base_decimals), min_qty=Decimal(1).scaleb(-settings.base_decimals),
        )  # fmt: skip
        self.pool: Pool | None = None
        """The pool as it stands (read-only for callers; None until a mirrored source publishes one)."""
        self._anchor_mid: Decimal | None = None
        self._anchor_touch: tuple[int, int, int] | None = None
        """The anchor's latest two-sided touch (bid units, ask units, price decimals) whose mid is not made yet."""
        self.step_count = 0
        self.slot = 0
        self.dislocations = 0
        """Whale swaps so far in this run."""
        self._rng = random.Random(settings.seed)
        with localcontext() as exact:  # a probability of any length, times 10**6, exactly
            exact.prec = 28 + len(settings.dislocation_probability.as_tuple().digits)
            # a whole draw k is below p * 10**6 exactly when it is below that number rounded up
            self._dislocation_millionths = int((settings.dislocation_probability * _MILLIONTHS).to_integral_value(
                ROUND_CEILING))
        self._terms = _StepTerms.of(settings)
        self._terms_of = settings
        """The settings ``_terms`` were made for (the step makes them again for other settings)."""
        self._state: PaperDexState | None = None
        self._balances: dict[str, Decimal] = {}
        self._wallet_of: PaperDexExchange | None = None
        """The venue whose wallet this one swaps from (``wallet``, found at start); None: our own."""
        self._in_flight: dict[str, asyncio.Future[OrderState]] = {}
        self._running = False
        self._steps_unsaved = 0
        self._save_every = SAVE_POOL_EVERY
        """Steps between two saves of the pool (:data:`SAVE_POOL_EVERY`; never for a state kept in memory)."""
        self._network_fee = from_units(settings.network_fee_lamports(), LAMPORTS_PER_SOL)
        self._feed_state: FeedState | None = None
        self._far_checked = False
        self._unsubscribe: list = []
        self._player: RecordingPlayer | None = None
        self._pools: Topic | None = None
        """The bus's subscribers of this pool's updates (made on start)."""
        bus = ctx.bus  # subscribed now, not at start: the first book of an exchange started before us counts
        if settings.market == "simulated" and settings.anchor:
            for event_type, on_event in ((BookUpdate, self._on_anchor_book), (FeedStatus, self._on_anchor_status)):
                self._unsubscribe.append(bus.subscribe(event_type, on_event, owner=name,
                                                       exchange=settings.anchor, symbol=settings.anchor_market))
        if settings.market == "mirror":
            for source_type in (PoolUpdate, FeedStatus):
                self._unsubscribe.append(bus.subscribe(source_type, self._on_source, owner=name,
                                                       exchange=settings.source, symbol=self.symbol))

    @property
    def anchor_mid(self) -> Decimal | None:
        """The anchor's latest mid price (None: no anchor, or its feed is not live): the book's ``mid``, made
        when the pool steps (books come more often than the pool moves)."""
        return self._anchor_mid_now()

    def _anchor_mid_now(self) -> Decimal | None:
        """:attr:`anchor_mid` (the step calls it as a method: a property's call costs more)."""
        touch = self._anchor_touch
        if touch is not None:
            bid, ask, decimals = touch
            if 0 <= bid < _HALF_EXACT and 0 <= ask < _HALF_EXACT:  # the sum of the prices is exact: made once
                total = bid + ask
                # (total * 10**-decimals) / 2, the half made whole: an even total halves in units, an odd one is
                # 5 * total tenths of a unit (up to 29 digits: rounded to 28 as the division rounds its .5)
                self._anchor_mid = (Decimal(total >> 1) * _UNIT[decimals] if not total & 1
                                    else Decimal(5 * total) * _UNIT[decimals + 1])
            else:
                self._anchor_mid = (from_units(bid, decimals) + from_units(ask, decimals)) / 2
            self._anchor_touch = None
        return self._anchor_mid

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def account(self) -> str:
        """The wallet's owner's account (``wallet``): the pools swapping from one wallet are one account."""
        owner = self._wallet_of
        return owner.account if owner is not None else self.settings.wallet or self.name

    @property
    def state_path(self) -> str:
        """Where the venue's state lives (``":memory:"`` when ``state_file`` is empty)."""
        if not self.settings.state_file:
            return ":memory:"
        path = Path(self.settings.state_file).expanduser()
        return str(path if path.is_absolute() else self.ctx.data_dir / path)

    async def start(self) -> None:
        """Open the wallet, restore (or build) the pool, publish LIVE and the pool, start the clock."""
        s = self.settings
        for key, other in (("anchor", s.anchor), ("source", s.source)):
            if other:
                try:
                    exchange = self.ctx.exchange(other)
                except KeyError:
                    raise ValueError(f'{key} = "{other}": no exchange of that name is running; configure it as '
                                     f"[exchanges.{other}] (a paper exchange for the demo)") from None
                symbol = s.anchor_market if key == "anchor" else self.symbol
                try:
                    exchange.market(symbol)
                except Exception:  # unknown symbol, or a venue that learns its markets only once started
                    self.ctx.log.warning('paper dex %s: %s "%s" does not list %s (yet); until it publishes %s, '
                                         "the pool %s", self.name, key, other, symbol, symbol,
                                         "walks on its own" if key == "anchor" else "has no state")
        owner = self._wallet_of = self._wallet_owner()
        path = self.state_path if owner is None else owner.state_path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        state = self._state = PaperDexState(path)
        self._save_every = _NEVER if state.in_memory else SAVE_POOL_EVERY
        if owner is None:
            state.initialize({asset: Decimal(text) for asset, text in s.initial_balances.items()})
            self._balances = state.balances()
        else:  # one wallet: the very same balances (and, with a state file, the same file holds them)
            self._balances = owner._balances
        self._publish = self.ctx.bus.publish
        self._pools = self.ctx.bus.topic(PoolUpdate, self.name, self.symbol)
        self._time_ns = self.ctx.clock.time_ns
        if s.market == "mirror":
            return  # LIVE and the first pool come with the source's first PoolUpdate
        if s.market == "recording":
            self._player = self._recording_player()
            self.ctx.log.info("paper dex %s: %s pool %s from recording %s", self.name, s.recording_exchange,
                              self.symbol, s.recording_path().name)
            if s.playback_speed > 0:
                self._running = True
                self.ctx.create_task(self._play(), "recording")
            return  # LIVE and the first pool come with the recording's first events
        fresh = self._build_pool()
        saved = state.pool(self.symbol)
        restored = None if saved is None else dex_pool.load(saved[0], fresh)
        if saved is not None and restored is not None and type(restored) is type(fresh):
            self.pool = restored
            _, self.step_count, self.slot = saved
            self._rng = random.Random(f"{s.seed}/{self.step_count}")  # carries on, deterministically
        else:
            if restored is not None:
                self.ctx.log.warning("paper dex %s: the saved pool in %s is not a %s pool; building a new one",
                                     self.name, path, s.pool)
            self.pool = fresh
            with state.transaction():
                self._save_pool(state, fresh)
        self._check_far()
        now = self._time_ns()
        self._set_feed(FeedState.LIVE, "simulated pool", now)
        self._publish(PoolUpdate(self.name, self.symbol, self.pool, now, self.slot))
        self.ctx.log.info("paper dex %s: %s pool %s at %s, wallet %s", self.name, s.pool, self.symbol,
                          _shown(self.pool.mid()), path)
        if s.tick_interval_ms > 0:
            self._running = True
            self.ctx.create_task(self._run(), "pool")

    async def stop(self) -> None:
        """Stop the clock, save the pool and close the state file."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._state is not None:
            if self.pool is not None and self.settings.market == "simulated" and not self._state.in_memory:
                with self._state.transaction():
                    self._save_pool(self._state, self.pool)
            self._state.close()
            self._state = None

    async def _run(self) -> None:
        interval_s = self.settings.tick_interval_ms / 1000
        while self._running:
            await asyncio.sleep(interval_s)
            if not self._running:
                break
            self.step()

    def _wallet_owner(self) -> PaperDexExchange | None:
        """The paper-dex venue whose wallet this one uses (``wallet``), started already; None: our own."""
        name = self.settings.wallet
        if not name:
            return None
        if name == self.name:
            raise ValueError(f'wallet = "{name}": a venue cannot share its own wallet; name another paper-dex')
        try:
            owner = self.ctx.exchange(name)
        except KeyError:
            raise ValueError(f'wallet = "{name}": no exchange of that name is running; configure it as '
                             f'[exchanges.{name}] (type = "paper-dex")') from None
        if not isinstance(owner, PaperDexExchange) or owner._state is None:
            raise ValueError(f'wallet = "{name}": expected a paper-dex exchange configured before this one '
                             f"(it starts first and owns the wallet)")
        return owner

    def _recording_player(self) -> RecordingPlayer:
        s = self.settings
        try:  # the bot's own registry: what [plugins] disabled leaves out is not there
            recorder = self.ctx.recorder(s.recording_exchange)
        except ValueError as exc:
            raise ValueError(f"recording_exchange: {exc}") from None
        if not hasattr(recorder, "market_events"):
            raise ValueError(f'recording_exchange: the "{s.recording_exchange}" recorder cannot play a recording '
                             "back as market events")
        path = s.recording_path()
        if not path.is_file():
            raise ValueError(f"recording: no such file: {path}")
        return RecordingPlayer(path, recorder, [s.recording_symbol or self.symbol], 0, loop=False,
                               report=lambda summary: self.ctx.log.warning("paper dex %s: %s", self.name, summary),
                               failed=self._playback_failed)

    def _playback_failed(self, exc: Exception) -> None:
        player = self._player
        where = f"{player.path.name} stopped at line {player.stats.lines}" if player is not None else "stopped"
        self.ctx.log.error("paper dex %s: playback of %s: %s: %s: nothing after it is played",
                           self.name, where, type(exc).__name__, exc)

    async def _play(self) -> None:
        """Play the recording at ``playback_speed`` times the recorded pace."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seconds_per_ns = 1e-9 / float(self.settings.playback_speed)
        while self._running:
            offset_ns = self.next_event_ns()
            if offset_ns is not None:
                await asyncio.sleep(max(0.0, started + offset_ns * seconds_per_ns - loop.time()))
                if not self._running:
                    break
            if not self.step():
                break

    def _play_one(self) -> bool:
        """The recording's next event: a pool state (traded against from now on) or a feed state."""
        player = self._player
        if player is None:
            return False
        item = player.next()
        now = self._time_ns()
        if item is None and player.error is not None:  # logged as met (_playback_failed), as the paper CEX does
            self.pool = None
            self._set_feed(FeedState.STALE, f"recording {player.path.name} cannot be played: "
                           f"{type(player.error).__name__}", now)
            return False
        if item is None:
            self.pool = None
            self._set_feed(FeedState.STALE, f"recording {player.path.name} ended", now)
            return False
        event = item[1]
        if isinstance(event, PoolUpdate):
            self._take_pool(event.pool, event.slot, f"recording {player.path.name}", now)
        elif isinstance(event, FeedStatus) and event.state is not FeedState.LIVE:
            self.pool = None
            self._set_feed(event.state, f"recorded: {event.reason}", now)
        return True

    def _build_pool(self) -> Pool:
        s = self.settings
        if s.pool == "constant-product":
            return dex_pool.constant_product(base=self.base, quote=self.quote, base_decimals=s.base_decimals,
                                             quote_decimals=s.quote_decimals, price=s.start_price, tvl=s.tvl,
                                             fee_bps=s.fee_bps)
        return dex_pool.concentrated(base=self.base, quote=self.quote, base_decimals=s.base_decimals,
                                     quote_decimals=s.quote_decimals, price=s.start_price, tvl=s.tvl,
                                     fee_bps=s.fee_bps, tick_spacing=s.tick_spacing,
                                     widths_bps=list(s.position_widths_bps))

    # --- the pool moves -----------------------------------------------------------------------

    def step(self) -> bool:
        """Other traders swap once: toward the anchor, noise, maybe a whale. Publishes the pool (one slot).

        Always True: a simulated pool never ends (a mirrored one moves with its source, not here)."""
        s = self.settings
        pool = self.pool
        if s.market != "simulated" or pool is None:
            return self._play_one() if s.market == "recording" else True
        rng = self._rng
        terms = self._terms if self._terms_of is s else self._step_terms(s)
        mid = pool.mid()
        target = mid
        anchor = self._anchor_mid_now() if self._anchor_touch is not None else self._anchor_mid
        if anchor is not None and s.reversion:
            # s.reversion * _reversion_draw(rng), the draw inline; by whole numbers when exact (see _StepTerms)
            drawn = 500_000 + _draw(rng)
            if terms.reversion is None:
                fraction = s.reversion * (Decimal(drawn) * _MILLIONTH)
                if _ONE < fraction:  # min(fraction, 1)
                    fraction = _ONE
                target = mid + (anchor - mid) * fraction
            elif (fraction_units := terms.reversion * drawn) < terms.reversion_whole:
                target = mid + (anchor - mid) * fraction_units * terms.reversion_unit
            else:
                target = mid + (anchor - mid) * _ONE
        if s.volatility_bps:
            # target * (1 + _noise(rng, s.volatility_bps)), the draw inline; by whole numbers when exact
            millionths = round(rng.gauss(0.0, 1.0) * 1_000_000)
            if terms.noise is not None and -_E28 < (moved := terms.noise * millionths) < _E28 and (
                    -_E28 < (factor_units := terms.noise_whole + moved) < _E28):
                target = target * factor_units * terms.noise_unit
            else:
                target *= 1 + s.volatility_bps * millionths * _TEN_BILLIONTH
        if target != mid:
            pool = (dex_pool.move_whirlpool(pool, target) if type(pool) is WhirlpoolModel
                    else dex_pool.move_to(pool, target))
        # a uniform draw in [0, 1] to the millionth below the probability: k / 10**6 < p, i.e. k < p * 10**6
        if s.dislocation_probability and _draw(rng) < self._dislocation_millionths:
            move_bps = _uniform_millionths(rng, s.dislocation_min_bps, s.dislocation_max_bps)
            sign = 1 if rng.random() < 0.5 else -1
            pool = dex_pool.move_to(pool, pool.mid() * (1 + sign * move_bps / BPS))
            self.dislocations += 1
        self.step_count += 1
        self._steps_unsaved += 1
        # Every step is a slot: the pool's state as observed now, moved or not, so that a subscriber
        # that came late gets it and a quiet pool is not mistaken for a stale one.
        self.pool = pool
        self.slot += 1
        pools = self._pools
        if pools is not None and pools.route:  # made only if someone subscribed to it
            pools.publish(new_pool_update(self.name, self.symbol, pool, self._time_ns(), self.slot))
        if self._steps_unsaved >= self._save_every:
            state = self._ready()
            with state.transaction():
                self._save_pool(state, pool)
        return True

    @classmethod
    def prepare_for_backtest(cls, settings: PaperDexSettings) -> BacktestPlan:
        """The backtest's pool: no pool clock of its own (the backtest steps it at ``tick_interval_ms``,
        100 ms when that is 0), wallet and pool in memory; a mirror moves with its source."""
        plan_settings = dataclasses.replace(settings, tick_interval_ms=0, state_file="", playback_speed=Decimal(0))
        if settings.market == "mirror":
            return BacktestPlan(plan_settings, f"mirror of {settings.source}")
        if settings.market == "recording":
            return BacktestPlan(plan_settings, f"recording {Path(settings.recording).name} "
                                               f"({settings.recording_exchange})", recorded=True,
                                recorder=("recording_exchange", settings.recording_exchange))
        pace_ms = settings.tick_interval_ms or BACKTEST_TICK_MS
        return BacktestPlan(plan_settings, f"synthetic paper-dex seed {settings.seed}", pace_ns=pace_ms * 1_000_000)

    def _step_terms(self, settings: PaperDexSettings) -> _StepTerms:
        """The step's whole-number terms for ``settings`` (made once per settings object)."""
        terms = self._terms = _StepTerms.of(settings)
        self._terms_of = settings
        return terms

    def _on_anchor_book(self, event: BookUpdate) -> None:
        bid, ask, decimals = event.touch_units()
        if bid is not None and ask is not None:  # a one-sided book leaves the mid before it
            self._anchor_touch = (bid, ask, decimals)
            if not self._far_checked:
                self._check_far()

    def _on_anchor_status(self, event: FeedStatus) -> None:
        if event.state is not FeedState.LIVE:
            self._anchor_mid = self._anchor_touch = None  # nobody arbitrages toward a price nobody quotes

    def _check_far(self) -> None:
        """Warn once if the pool starts far from its anchor: other traders would drag it across its whole range."""
        if self.pool is None or self.anchor_mid is None:
            return
        self._far_checked = True
        if abs(self.pool.mid() / self.anchor_mid - 1) > _FAR:
            self.ctx.log.warning("paper dex %s: the pool is at %s, far from the anchor %s %s at %s; set start_price "
                                 "near the anchor's price", self.name, _shown(self.pool.mid()),
                                 self.settings.anchor, self.settings.anchor_market, self.anchor_mid)

    def _on_source(self, event: PoolUpdate | FeedStatus) -> None:
        if self._state is None:
            return
        now = self._time_ns()
        if isinstance(event, FeedStatus):
            if event.state is not FeedState.LIVE:
                self.pool = None
                self._set_feed(event.state, f"{self.settings.source}: {event.reason}", now)
            return
        self._take_pool(event.pool, event.slot, f"pool of {self.settings.source}", now)

    def _take_pool(self, pool: Pool, slot: int, source: str, now: int) -> None:
        """Trade against ``pool`` from now on (a mirrored or recorded one) and publish it as ours."""
        if (pool.base, pool.quote) != (self.base, self.quote) or (pool.base_decimals, pool.quote_decimals) != (
                self.settings.base_decimals, self.settings.quote_decimals):
            self.ctx.log.error("paper dex %s: %s has %s (decimals %d/%d), not %s (%d/%d); ignored", self.name,
                               source, pool.symbol, pool.base_decimals, pool.quote_decimals,
                               self.symbol, self.settings.base_decimals, self.settings.quote_decimals)
            return
        self.pool = pool
        self.slot = slot or self.slot + 1
        self._set_feed(FeedState.LIVE, source, now)
        self._publish(new_pool_update(self.name, self.symbol, pool, now, self.slot))

    def _set_feed(self, state: FeedState, reason: str, now: int) -> None:
        if self._feed_state is not state:
            self._feed_state = state
            self._publish(FeedStatus(self.name, self.symbol, state, now, reason))

    def _save_pool(self, state: PaperDexState, pool: Pool) -> None:
        state.save_pool(self.symbol, dex_pool.dump(pool), self.step_count, self.slot)
        self._steps_unsaved = 0

    # --- Exchange -----------------------------------------------------------------------------

    def market(self, symbol: str) -> MarketInfo:
        """Trading rules: sizes in the base token's smallest unit, prices in the quote token's."""
        if symbol != self.symbol:
            raise KeyError(symbol)
        return self._info

    async def place_order(self, order: Order) -> OrderState:
        """One swap (see the class docstring); a known client order id returns what became of it."""
        state = self._ready()
        cid = order.client_order_id
        now = self._time_ns()
        state.record_submission(order, now)  # one statement: committed on its own (the file is in autocommit mode)
        pending = self._in_flight.get(cid)
        if pending is not None:
            return await asyncio.shield(pending)
        known = state.swap(cid)
        if known is not None:
            return known.state(self.name)
        side, limit, base_units = self._check(order)  # a malformed request is refused at once (nothing remembered)
        pending = self._in_flight[cid] = asyncio.get_running_loop().create_future()
        try:
            if self.settings.latency_ms:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            result = self._execute(order, side, limit, base_units)
        except BaseException as exc:
            if not isinstance(exc, Exception):  # cancelled while travelling: the swap never executed
                exc_for_duplicates: Exception = TransientError(
                    f'the first request for "{cid}" was abandoned before the swap executed; nothing happened, '
                    "send it again")
            else:
                exc_for_duplicates = exc
            pending.set_exception(exc_for_duplicates)
            pending.exception()  # retrieved: a duplicate may never ask for it
            raise
        else:
            pending.set_result(result)
            return result
        finally:
            del self._in_flight[cid]

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Nothing rests on a pool: a swap already done (or refused) is returned as it is; any other id
        raises OrderNotFound (one still in flight cannot be stopped: it lands or not on its own)."""
        record = self._ready().swap(client_order_id)
        if record is None:
            raise OrderNotFound(f'{self.name} has no swap with client order id "{client_order_id}" (swaps never '
                                "rest, so there is nothing to cancel)")
        return record.state(self.name)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """A swap by client order id: FILLED or REJECTED; None if it never executed (or is still in flight)."""
        record = self._ready().swap(client_order_id)
        return None if record is None else record.state(self.name)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Always empty: nothing rests on a pool."""
        return []

    async def swap_fee_lamports(self, symbol: str, side: Side | None = None) -> SwapFee | None:
        """What a swap on ``side`` is charged now (what :meth:`place_order` would charge): the network fee
        (``signature_fee_lamports`` + the priority fee on ``compute_units``) and, when the wallet has no account
        for the token it pays out, ``token_account_rent_lamports``. ``side`` None: the dearer side (a bound for
        either)."""
        fee = self.settings.swap_fee()
        rent = max(self._rent_lamports(s) for s in Side) if side is None else self._rent_lamports(side)
        return dataclasses.replace(fee, account_rent_lamports=rent) if rent else fee

    def _rent_lamports(self, side: Side) -> int:
        """The rent a swap on ``side`` pays for its output token account: none when the wallet has one (a token in
        its balances, at zero too, as a real token account stays open at zero) or the output is SOL (native: the
        wrapped-SOL account a real swap opens is closed in its own transaction, the deposit refunded)."""
        asset = self.quote if side is Side.SELL else self.base
        if asset == FEE_ASSET or asset in self._balances:
            return 0
        return self.settings.token_account_rent_lamports

    async def balances(self) -> dict[str, Balance]:
        """The paper wallet, by asset (everything is free: nothing is reserved)."""
        self._ready()
        return {asset: Balance(asset, total, total) for asset, total in self._balances.items()}

    def submissions(self, client_order_id: str | None = None) -> list[tuple[int, str, int, dict]]:
        """Every swap request received, oldest first: (seq, client order id, ts_ns, payload)."""
        return self._ready().submissions(client_order_id)

    def swaps(self) -> list[SwapRecord]:
        """Every swap executed or refused, oldest first."""
        return self._ready().swaps()

    # --- swaps --------------------------------------------------------------------------------

    def _check(self, order: Order) -> tuple[Side, Decimal | None, int]:
        """Refuse a malformed request (PermanentError); else its side, its limit price (None: a market swap) and
        its size in base units."""
        try:
            side, order_type, tif = order_kinds(order)
        except ValueError as exc:
            raise PermanentError(f"invalid order: {exc}") from None
        if order.symbol != self.symbol:
            raise PermanentError(f'unknown symbol "{order.symbol}"; this pool is {self.symbol}')
        if order_type is OrderType.LIMIT:
            if tif is not TimeInForce.IOC:
                raise PermanentError("a swap cannot rest on a pool: send LIMIT orders with tif = ioc (the price is "
                                     "the worst acceptable average price) or MARKET orders")
            if order.price is None or order.price <= 0:
                raise PermanentError(f"a limit swap needs a price above zero, got {order.price}")
        if order.post_only:
            raise PermanentError("a swap always takes liquidity: post_only is not possible")
        if order.qty <= 0:
            raise PermanentError(f"quantity {order.qty} must be above zero")
        try:
            base_units = self._base_units(order.qty)
        except PoolError as exc:
            raise PermanentError(str(exc)) from None
        return side, order.price if order_type is OrderType.LIMIT else None, base_units

    def _base_units(self, qty: Decimal) -> int:
        pool = self.pool
        if pool is None:
            raise PoolError(f"{self.name} has no live pool from {self.settings.source} (it is not started, or its "
                            "source has not published one or went quiet)")
        return pool.base_units_of(qty)

    def _execute(self, order: Order, side: Side, limit: Decimal | None, base_units: int) -> OrderState:
        """The swap lands now, against the pool as it is: done with all its effects, or refused. ``side``, ``limit``
        and ``base_units`` are what :meth:`_check` made of the request on arrival (the size in base units stays
        right whatever pool the venue has now: a pool of other decimals is never taken)."""
        state = self._ready()
        now = self._time_ns()

        def refuse(error: PermanentError) -> NoReturn:
            with state.transaction():
                state.add_swap(order.client_order_id, self.symbol, side, order.qty, limit, OrderStatus.REJECTED, 0, 0,
                               None, ZERO, FEE_ASSET, f"{type(error).__name__}: {error}", now)
            raise error

        try:
            pool = self.pool
            if pool is None:
                raise PoolError(f"{self.name} has no pool state (its source is not live)")
            # the pool's integer swap (what Pool.estimate prices, without the mid and fee it adds for people)
            quote_units, _, pool_after = pool.buy_units(base_units) if side is Side.BUY else pool.sell_units(base_units)
        except PoolError as exc:
            refuse(PermanentError(f"the pool cannot do it: {exc}"))
        qd = self.settings.quote_decimals
        if limit is not None:
            bound = limit * order.qty
            if side is Side.SELL:
                min_out = _units(bound, qd, up=True)
                if quote_units < min_out:
                    refuse(SlippageExceeded(f"slippage exceeded: the swap pays {from_units(quote_units, qd)} "
                                            f"{self.quote}, below the minimum out {from_units(min_out, qd)} "
                                            f"(limit {display_price(limit)} x {display_qty(order.qty)})"))
            else:
                max_in = _units(bound, qd, up=False)
                if quote_units > max_in:
                    refuse(SlippageExceeded(f"slippage exceeded: the swap costs {from_units(quote_units, qd)} "
                                            f"{self.quote}, above the maximum in {from_units(max_in, qd)} "
                                            f"(limit {display_price(limit)} x {display_qty(order.qty)})"))
        base_amount = order.qty
        quote_amount = from_units(quote_units, qd)
        changes = {self.base: -base_amount, self.quote: quote_amount} if side is Side.SELL else {
            self.base: base_amount, self.quote: -quote_amount}
        rent_lamports = self._rent_lamports(side)
        rent = from_units(rent_lamports, LAMPORTS_PER_SOL)
        fee = self._network_fee + rent if rent_lamports else self._network_fee
        changes[FEE_ASSET] = changes.get(FEE_ASSET, ZERO) - fee
        after = {asset: self._balances.get(asset, ZERO) + delta for asset, delta in changes.items()}
        for asset, total in after.items():
            if total < 0:
                fee_note = f" ({self._network_fee} of it network fee" + (
                    f", {rent} rent of the {self.quote if side is Side.SELL else self.base} token account it creates"
                    if rent_lamports else "") + ")" if asset == FEE_ASSET else ""
                refuse(InsufficientFunds(f"insufficient {asset}: the swap needs {-changes[asset]} {asset}"
                                         f"{fee_note}, the wallet holds {self._balances.get(asset, ZERO)}"))
        with localcontext() as ctx:
            ctx.prec = 50  # exact whenever quote / base terminates within 50 digits (token amounts: almost always)
            price = quote_amount / base_amount
        with state.transaction():
            record = state.add_swap(order.client_order_id, self.symbol, side, order.qty, limit, OrderStatus.FILLED,
                                    base_units, quote_units, price, fee, FEE_ASSET, "", now)
            # the wallet and the pool as the swap left them, for a restart to resume from; a venue kept in memory (a
            # backtest's) is never opened again, so nothing would read them (the pool's JSON is most of a swap's
            # write; the wallet is read once, at start)
            if not state.in_memory:
                state.save_balances(after)
                state.save_pool(self.symbol, dex_pool.dump(pool_after), self.step_count, self.slot + 1)
        self._balances.update(after)  # memory follows what was committed
        self.pool = pool_after
        self.slot += 1
        self._steps_unsaved = 0
        pools = self._pools
        if pools is not None and pools.route:  # made only if someone subscribed to it
            pools.publish(new_pool_update(self.name, self.symbol, self.pool, now, self.slot))
        return record.state(self.name)

    # --- transfers (PaperTransfers: the wallet sends and receives tokens) ----------------------

    def _transfer_file(self) -> PaperDexState:
        return self._ready()

    def _free(self, asset: str) -> Decimal:
        return self._balances.get(asset, ZERO)

    def _move_funds(self, deltas: dict[str, Decimal]) -> dict[str, Decimal]:
        return {asset: self._balances.get(asset, ZERO) + delta for asset, delta in deltas.items()}

    def _funds_moved(self, totals: dict[str, Decimal]) -> None:
        self._balances.update(totals)

    def _now_ns(self) -> int:
        return self.ctx.clock.time_ns()

    def _ready(self) -> PaperDexState:
        if self._state is None:
            raise RuntimeError(f"paper dex {self.name} is not started")
        return self._state


def _units(amount: Decimal, decimals: int, *, up: bool) -> int:
    """``amount`` in smallest units, rounded up (a minimum) or down (a maximum)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return int(amount.scaleb(decimals).to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR"))


_DRAW_BITS = _DRAWS.bit_length()


def _draw(rng: random.Random) -> int:
    """``rng.randrange(_DRAWS)``, the same number and the same use of the generator, as CPython makes it
    (``getrandbits`` of the bound's bit length until one is below it), without its two Python-level calls."""
    k = rng.getrandbits(_DRAW_BITS)
    while k >= _DRAWS:
        k = rng.getrandbits(_DRAW_BITS)
    return k


def _uniform_millionths(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    """A seeded uniform draw in [low, high], exact to a millionth of the span (no float reaches a price)."""
    return low + (high - low) * _draw(rng) / _MILLIONTHS


def _reversion_draw(rng: random.Random) -> Decimal:
    """``_uniform_millionths(rng, 0.5, 1.5)``, in two operations: ``(500_000 + k) * 10**-6`` (the step makes
    it inline)."""
    return Decimal(500_000 + _draw(rng)) * _MILLIONTH


class _StepTerms(NamedTuple):
    """The step's Decimal arithmetic on whole numbers, where it is exact (the default context's 28 digits), the
    same numbers with one operation or two fewer.

    The reversion fraction ``reversion * ((500_000 + k) * 10**-6)`` is exact when ``reversion``'s coefficient times
    1,500,000 has at most 28 digits: the whole number ``reversion * (500_000 + k)`` (``reversion`` its coefficient)
    times ``10**(exponent - 6)``, above 1 when that number is at least ``reversion_whole``. The noise factor
    ``1 + volatility * m * 10**-10`` (``m`` the millionths of the normal draw) is, when the product and the sum have at
    most 28 digits, the whole number ``noise_whole + noise * m`` times ``10**(exponent - 10)`` (a volatility of
    at most 10,000 has an exponent of at most 4: the sum's exponent is the noise's). A product ``x * (n * 10**e)``
    rounds to the same 28 digits, at the same exponent, as ``(x * n) * 10**e``: multiplying by a power of ten only
    moves the exponent. None: not exact, the step takes the Decimal way."""

    reversion: int | None
    reversion_whole: int
    reversion_unit: Decimal
    noise: int | None
    noise_whole: int
    noise_unit: Decimal

    @classmethod
    def of(cls, settings: PaperDexSettings) -> _StepTerms:
        """The terms of ``settings``' reversion and volatility."""
        reversion, reversion_exponent = _whole(settings.reversion)
        if reversion is not None and (reversion * 1_500_000 >= _E28 or reversion_exponent > 0):
            reversion = None
        noise, noise_exponent = _whole(settings.volatility_bps)
        if noise is not None and (noise >= _E28 or noise_exponent > 4):
            noise = None
        return cls(reversion, 10 ** (6 - reversion_exponent) + 1 if reversion is not None else 0,
                   _ONE.scaleb(reversion_exponent - 6), noise, 10 ** (10 - noise_exponent) if noise is not None else 0,
                   _ONE.scaleb(noise_exponent - 10))


def _whole(value: Decimal) -> tuple[int | None, int]:
    """``(coefficient, exponent)`` of a finite positive Decimal; ``(None, 0)`` for any other."""
    sign, digits, exponent = value.as_tuple()
    if sign or not isinstance(exponent, int) or not value:
        return None, 0
    return int("".join(map(str, digits))), exponent


def _noise(rng: random.Random, volatility_bps: Decimal) -> Decimal:
    """A seeded standard normal draw, rounded to a millionth, times ``volatility_bps``, in basis points:
    ``volatility_bps * (draw / 10**6) / BPS``, made as ``(volatility_bps * millionths) * 10**-10``. The same
    number: both round the same exact product to 28 digits once (the draw's millionths and the powers of ten
    are exact), and a power of ten only moves the exponent."""
    return volatility_bps * round(rng.gauss(0.0, 1.0) * 1_000_000) * _TEN_BILLIONTH


def _shown(price: Decimal) -> Decimal:
    """A price for people (logs): ten significant digits."""
    with localcontext() as ctx:
        ctx.prec = 10
        return +price
