"""The paper venue: markets (simulated, recorded or mirrored), a matching engine and the venue's own state
file, as an Exchange."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from bot.api import (
    AlertLevel,
    Balance,
    BookUpdate,
    Context,
    Exchange,
    ExchangeError,
    FeedState,
    FeedStatus,
    MarketInfo,
    Order,
    OrderNotFound,
    OrderState,
    OrderStatus,
    Trade,
    split_symbol,
)
from bot.api.backtest import BacktestPlan, Steppable
from bot.api.kit import Topic

from .book_market import BookMarket, Market
from .engine import MatchingEngine
from .events import new_order_report
from .feeds import BookFeed, PlaysRecording, RecordingPlayer
from .market import MarketParams, SimulatedMarket
from .orders import Changes, PaperOrder
from .settings import BACKTEST_TICK_MS, PaperSettings
from .state import PaperState
from .transfers import PaperTransfers

SAVE_MARKETS_EVERY = 1000
"""Steps between two saves of where the markets stand (also saved on stop); markets kept in memory (a backtest's
venue) are never saved: nothing would read them (see ``PaperState.in_memory``)."""
_NEVER = 1 << 62
"""Steps between two saves of markets that are never saved (a step only counts them)."""


class PaperExchange(PlaysRecording, Exchange, Steppable, PaperTransfers):
    """A simulated venue; no real money. Its books are simulated, recorded or mirrored (``market``).

    **Market data, ``market = "simulated"``** (the default). Each symbol is a
    :class:`~plugins.paper.market.SimulatedMarket` (seeded random walk). Every step publishes a
    ``BookUpdate`` (``depth_levels`` per side, best first) and usually a public ``Trade``, each made only
    if someone subscribed to it (a strategy hears trades unless its ``market_events`` leave them out).
    :meth:`start` publishes ``FeedStatus(LIVE)`` and a first book per symbol, then steps every
    ``tick_interval_ms`` in a background task; with ``tick_interval_ms = 0`` only :meth:`step`
    moves the markets (benchmarks, backtests).

    **``market = "recording"``.** The books of a file made by ``arbot record``, decoded by the
    recorded venue's own book code (``recording_exchange``'s ``recorder.market_events``, checksums
    and sequence checks included). Each recorded book change is one step: it becomes the book of
    the mapped symbol (``symbol_map``), is published under this venue's name and our orders match
    against it. The pace is the recorded one divided by ``playback_speed``; with ``playback_speed =
    0`` only :meth:`step` plays (one event per call, as fast as it is called: backtests, with
    :meth:`next_event_ns` to drive a manual clock). At the end the books go STALE and step()
    returns False (``recording_end = "stop"``), or the file plays again (``"loop"``).

    **``market = "mirror"``.** The live ``BookUpdate``s of the configured exchange named ``source``
    are republished under this venue's name and matched against, as they arrive; its
    ``FeedStatus`` follows too (a source that is not LIVE empties this venue's book until its next
    book). A strategy in ``mode = "paper"`` can so trade on a real venue's live data.

    Recorded and mirrored levels are put on this venue's grid: a price off the ``tick_size`` grid
    drops its level, a size is rounded down to whole ``lot_size`` lots (see
    :mod:`plugins.paper.book_market`). Public trades are neither recorded nor mirrored: resting
    orders fill from the book alone there.

    **Matching** (details in :mod:`plugins.paper.engine`): orders that cross on arrival take the
    published levels as taker, walking them up to the limit price; post-only orders that would
    cross raise ``PostOnlyWouldCross``; the rest of a GTC order rests and fills as maker, at its own
    price, when a later step's book moves through it (up to the size of the levels through it) or
    a public trade prints at or through it (up to the trade's size). IOC and market orders cancel
    what does not fill at once. Fees are in the quote asset, rounded half up to ``fee_decimals`` per
    fill; an order's fees never exceed its exact fees rounded up. A limit buy reserves its value plus
    its fee: the taker fee for an IOC order (it can only take), the higher of maker and taker for one
    that may rest.

    **Fills on the bus.** Whenever one of our orders fills — resting in a later step *or*
    immediately on arrival — each ``Fill`` (trade id ``paper-<n>``, unique for the life of the
    state file) is published, then one ``OrderReport`` with the order's state. Immediate fills are
    therefore both published and returned in ``OrderState.fills`` by :meth:`place_order`; the
    executor dedupes fills by trade id. Cancels and rejections publish nothing: the answer is the
    return value (or the raised error).

    **Idempotency and persistence.** The venue keeps its own SQLite file (``state_file``): balances,
    every order by client order id with its fills, and a row per submission attempt. A second
    :meth:`place_order` with a client order id the venue already knows creates nothing: the
    attempt is logged and the existing order's state is returned, whatever its status (as
    Coinbase does). Refused orders are kept as REJECTED (with the reason), so :meth:`fetch_order`
    can tell "refused" from "never arrived" (None). Each request is one transaction, committed
    before the answer leaves; the market position is saved every ``SAVE_MARKETS_EVERY`` steps and on
    stop, and a restarted venue carries on from there (initial balances apply only to a new file). A
    resting order whose limit is off the grid of a ``tick_size`` changed since rests at the nearest
    tick that does not pass its limit (a buy's below, a sell's above; logged): it never fills beyond it.

    **Transfers** (:mod:`plugins.paper.transfers`): withdrawals with ``withdrawal_fees`` and deposits
    credited ``transfer_delay_s`` after they were sent, for inventory rebalancing in a paper run.

    **Latency.** With ``latency_ms > 0`` an order request (place, cancel, batch) waits half the
    latency, then the venue receives it (logs, acts, commits), then waits the other half before the
    answer returns: a crash in the second half leaves an order the bot never heard about.
    """

    Settings = PaperSettings

    @classmethod
    def markets_of(cls, settings: PaperSettings) -> list[str]:
        """The symbols it simulates, plays back or mirrors, under our names."""
        return settings.symbols
    simulated = True
    supports_batch = True
    exchange_settings: ClassVar[tuple[str, ...]] = ("source",)
    """``source`` names another configured exchange (``market = "mirror"``)."""

    def __init__(self, name: str, settings: PaperSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.settings: PaperSettings = settings
        self._rules: dict[str, MarketInfo] = {}
        self.markets: dict[str, Market] = {}
        """The market of each symbol (read-only for callers): a SimulatedMarket or a BookMarket."""
        self._simulated: dict[str, SimulatedMarket] = {}
        self._book_markets: dict[str, BookMarket] = {}
        self._random_walk = settings.market == "simulated"
        for symbol in settings.symbols:
            base, quote = split_symbol(symbol)
            tick_size, lot_size = settings.shape_of(symbol, "tick_size"), settings.shape_of(symbol, "lot_size")
            self._rules[symbol] = MarketInfo(
                symbol=symbol, base=base, quote=quote, tick_size=tick_size, lot_size=lot_size,
                min_qty=settings.shape_of(symbol, "min_qty"), min_notional=settings.min_notional,
                maker_fee_bps=settings.maker_fee_bps, taker_fee_bps=settings.taker_fee_bps,
            )  # fmt: skip
            if not self._random_walk:
                self.markets[symbol] = self._book_markets[symbol] = BookMarket(
                    name, symbol, tick_size, lot_size, settings.depth_levels)
                continue
            params = MarketParams(
                tick_size=tick_size, lot_size=lot_size, start_price=settings.start_price_of(symbol),
                spread_ticks=settings.spread_ticks, level_step_ticks=settings.level_step_ticks,
                depth_levels=settings.depth_levels, level_qty=settings.shape_of(symbol, "level_qty"),
                volatility_bps=settings.volatility_bps, seed=settings.seed,
            )  # fmt: skip
            self.markets[symbol] = self._simulated[symbol] = SimulatedMarket(name, symbol, params)
        self._market_list = tuple(self._simulated.values())
        self._topics: tuple[tuple[SimulatedMarket, Topic, Topic], ...] = ()
        """Each simulated market with the bus topics of its books and trades (made on start)."""
        self._half_latency_s = settings.latency_ms / 2000
        self._state: PaperState | None = None
        self._engine: MatchingEngine | None = None
        self._running = False
        self._steps_unsaved = 0
        self._save_every = SAVE_MARKETS_EVERY
        """Steps between two saves of the markets (:data:`SAVE_MARKETS_EVERY`; never for a state kept in memory)."""
        self._feed: BookFeed | None = None
        self._player: RecordingPlayer | None = None
        self._unsubscribe: list = []

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def state_path(self) -> str:
        """Where the venue's state lives (``":memory:"`` when ``state_file`` is empty)."""
        if not self.settings.state_file:
            return ":memory:"
        path = Path(self.settings.state_file).expanduser()
        return str(path if path.is_absolute() else self.ctx.data_dir / path)

    async def start(self) -> None:
        """Load (or create) the account, then start the market: publish a first simulated book per
        symbol and start its clock, or open the recording, or follow the source."""
        if not self._random_walk:
            self._feed = self._book_feed()  # before the state file opens: a bad source leaves nothing open
        path = self.state_path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        state = self._state = PaperState(path, self.name)
        self._save_every = _NEVER if state.in_memory else SAVE_MARKETS_EVERY
        state.initialize({asset: Decimal(text) for asset, text in self.settings.initial_balances.items()})
        positions = state.market_positions() if self._random_walk else {}
        for symbol, market in self._simulated.items():
            if symbol in positions:
                step_count, best_bid = positions[symbol]
                market.resume(step_count, int((best_bid / market.tick_size).to_integral_value()))
        last_order_seq, last_trade_seq = state.last_seqs()
        open_orders = state.open_orders()
        self._engine = MatchingEngine(
            self.name, self.markets, self._rules, maker_fee_bps=self.settings.maker_fee_bps,
            taker_fee_bps=self.settings.taker_fee_bps, fee_decimals=self.settings.fee_decimals,
            balances=state.balances(), open_orders=open_orders, last_order_seq=last_order_seq,
            last_trade_seq=last_trade_seq, now_ns=self.ctx.clock.time_ns(),
        )  # fmt: skip
        self.ctx.log.info("paper account %s: %d resting orders", path, len(open_orders))
        for order in open_orders:
            rules = self._rules.get(order.symbol)
            if rules is None or order.price is None:
                continue
            if order.status is OrderStatus.CANCELLED:  # what is left is below a lot size changed since
                self.ctx.log.warning("paper %s: order %s cancelled: %s", self.name, order.client_order_id,
                                     order.reason)
                continue
            if order.price % rules.tick_size:
                self.ctx.log.warning("paper %s: order %s's limit %s is off the tick size %s (changed since it was "
                                     "placed); it rests at %s", self.name, order.client_order_id, order.price,
                                     rules.tick_size, order.price_ticks * rules.tick_size)
            if order.remaining_qty % rules.lot_size:
                self.ctx.log.warning("paper %s: order %s's rest %s is off the lot size %s (changed since it was "
                                     "placed); %s of it can fill, the rest is cancelled then", self.name,
                                     order.client_order_id, order.remaining_qty, rules.lot_size,
                                     order.qty_lots * rules.lot_size)
        self._publish = self.ctx.bus.publish
        if self._engine.changed:  # orders cancelled on the way back: in the state file before anyone asks
            self._commit(self.ctx.clock.time_ns())
        self._time_ns = self.ctx.clock.time_ns
        bus = self.ctx.bus
        self._topics = tuple((market, bus.topic(BookUpdate, self.name, market.symbol),
                              bus.topic(Trade, self.name, market.symbol)) for market in self._market_list)
        if self.settings.market == "recording":
            self._start_recording()
        elif self.settings.market == "mirror":
            self._start_mirror()
        else:
            now = self._time_ns()
            for market in self._market_list:
                self._publish(FeedStatus(self.name, market.symbol, FeedState.LIVE, now))
                self._publish(market.book(now))
            if self.settings.tick_interval_ms > 0:
                self._running = True
                self.ctx.create_task(self._run(), "market")

    async def stop(self) -> None:
        """Stop the market clock or the source, save where simulated markets stand, close the state file."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._state is not None:
            if self._random_walk and not self._state.in_memory:
                with self._state.transaction():
                    self._save_markets()
            self._state.close()
            self._state = None

    async def _run(self) -> None:
        """Step every ``tick_interval_ms``; a step that fails (the state file cannot be written: a full
        disk, a lock) is alerted once and retried, with what it changed kept for the next commit."""
        interval_s = self.settings.tick_interval_ms / 1000
        failures = 0
        while self._running:
            await asyncio.sleep(interval_s if not failures else min(5.0, interval_s * 2 ** min(failures, 10)))
            if not self._running:
                break
            try:
                self.step()
            except Exception as exc:
                if not failures:
                    self.ctx.log.error("paper %s: a market step failed", self.name, exc_info=exc)
                    self.ctx.alert(AlertLevel.ERROR, "exchange", f"paper {self.name}: the market stalls "
                                   f"({type(exc).__name__}: {exc}); retrying by itself")
                failures += 1
                continue
            if failures:
                self.ctx.alert(AlertLevel.WARNING, "exchange", f"paper {self.name}: the market moves again")
                failures = 0

    # --- market -------------------------------------------------------------------------------

    def step(self) -> bool:
        """Move the market once and publish what changed, then the fills of our orders it caused.

        Simulated: every market steps. Recording: the next recorded event plays (a book change or
        a feed state of one symbol). Mirror: nothing (the source moves it). Returns False once the
        market will not move again (the recording ended), True otherwise.
        """
        if not self._random_walk:
            return self._play_one() if self._player is not None else True
        engine = self._engine
        if engine is None or self._state is None:
            engine = self._engine_ready()  # raises: not started (or stopped)
        now = self._time_ns()
        resting = engine.open_by_id
        for market, books, trades in self._topics:  # each event made only if someone subscribed to it
            printed = market.move()
            if books.route:
                books.publish(market.book(now))
            if printed and trades.route:
                trades.publish(market.trade(now))
            if resting:  # nothing rests (most steps): nothing to match, no call
                engine.match(market, now)
            if engine.pending.orders:  # engine.changed, inline: fills, or a change set a failed commit put back
                self._commit(now)
        self._steps_unsaved += 1
        if self._steps_unsaved >= self._save_every:
            with self._state_ready().transaction():
                self._save_markets()
        return True

    @classmethod
    def prepare_for_backtest(cls, settings: PaperSettings) -> BacktestPlan:
        """The backtest's venue: no market clock of its own (the backtest steps a simulated market at
        ``tick_interval_ms``, 100 ms when that is 0, and a recording at its recorded times), the account in
        memory; a mirror moves with its source."""
        plan_settings = dataclasses.replace(settings, tick_interval_ms=0, playback_speed=Decimal(0), state_file="")
        if settings.market == "recording":
            return BacktestPlan(plan_settings, f"recording {Path(settings.recording).name} "
                                               f"({settings.recording_exchange})", recorded=True,
                                recorder=("recording_exchange", settings.recording_exchange))
        if settings.market == "mirror":
            return BacktestPlan(plan_settings, f"mirror of {settings.source}")
        pace_ms = settings.tick_interval_ms or BACKTEST_TICK_MS
        return BacktestPlan(plan_settings, f"synthetic paper seed {settings.seed}", pace_ns=pace_ms * 1_000_000)

    def market(self, symbol: str) -> MarketInfo:
        """Trading rules of ``symbol``; KeyError if this venue does not simulate it."""
        return self._rules[symbol]

    # --- recorded and mirrored markets --------------------------------------------------------

    def _book_feed(self) -> BookFeed:
        """Check the source settings that need the running bot, and build the feed of outside books."""
        s = self.settings
        if s.market == "recording":
            try:  # the bot's own registry: what [plugins] disabled leaves out is not there
                recorder = self.ctx.recorder(s.recording_exchange)
            except ValueError as exc:  # names the types that can record
                raise ValueError(f"recording_exchange: {exc}") from None
            if not hasattr(recorder, "market_events"):
                raise ValueError(f'recording_exchange: the "{s.recording_exchange}" recorder cannot play a '
                                 "recording back as market events")
            path = s.recording_path()
            if not path.is_file():
                raise ValueError(f"recording: no such file: {path}")
            symbol_of = s.source_symbols()
            self._player = RecordingPlayer(path, recorder, sorted(symbol_of), s.depth_levels,
                                           loop=s.recording_end == "loop",
                                           report=lambda summary: self.ctx.log.warning("paper %s: %s", self.name,
                                                                                      summary),
                                           failed=self._playback_failed)
            describe = f"recording {path.name}"
        else:
            if s.source == self.name:
                raise ValueError(f'source: exchange "{self.name}" cannot mirror itself; name another configured '
                                 "exchange")
            try:
                self.ctx.exchange(s.source)
            except KeyError:
                raise ValueError(f'source: no exchange named "{s.source}" is configured (or it failed to '
                                 "build); add it under [exchanges] or fix the name") from None
            symbol_of = s.source_symbols()
            describe = s.source
        bus = self.ctx.bus
        return BookFeed(self.name, self._book_markets, symbol_of, describe=describe, publish=bus.publish,
                        time_ns=self.ctx.clock.time_ns, on_book=self._match_book,
                        book_topic=lambda symbol: bus.topic(BookUpdate, self.name, symbol).publish)  # fmt: skip

    def _start_recording(self) -> None:
        self.ctx.log.info("paper %s plays %s (%s) at speed %s", self.name, self.settings.recording,
                          self.settings.recording_exchange, self.settings.playback_speed)
        if self.settings.playback_speed > 0:
            self._running = True
            self.ctx.create_task(self._play(), "recording playback")

    def _start_mirror(self) -> None:
        feed = self._feed
        if feed is None:  # start() builds it first
            raise RuntimeError(f"paper exchange {self.name}: no book feed to mirror with")
        source = self.settings.source
        bus = self.ctx.bus
        owner = f"{self.name} (mirror of {source})"
        self._unsubscribe = [
            bus.subscribe(BookUpdate, feed.on_book, owner=owner, exchange=source),
            bus.subscribe(FeedStatus, feed.on_status, owner=owner, exchange=source),
        ]
        self.ctx.log.info("paper %s mirrors the books of %s", self.name, source)

    async def _play(self) -> None:
        """Play the recording at ``playback_speed`` times the recorded pace."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        seconds_per_ns = 1e-9 / float(self.settings.playback_speed)
        try:
            while self._running:
                offset_ns = self.next_event_ns()
                if offset_ns is not None:
                    # sleep(0) when behind: other tasks still run between two events
                    await asyncio.sleep(max(0.0, started + offset_ns * seconds_per_ns - loop.time()))
                    if not self._running:
                        break
                if not self.step():
                    break
        except Exception as exc:  # never a frozen LIVE book: the task's failure is reported by the host
            if self._feed is not None:
                self._feed.stale_all(f"recording playback failed: {type(exc).__name__}")
            raise

    def _play_one(self) -> bool:
        player, feed = self._player, self._feed
        if player is None or feed is None:  # start() builds both for a recording
            return False
        item = player.next()
        if item is None and player.error is not None:  # logged as met (_playback_failed)
            feed.stale_all(f"recording {player.path.name} cannot be played: {type(player.error).__name__}")
            return False
        if item is None:  # published once: a state is published only when it changes
            feed.stale_all(f"recording {player.path.name} ended")
            return False
        event = item[1]
        if type(event) is BookUpdate:  # what feed.on_event does, without its call for the most common event
            feed.on_book(event)
        else:
            feed.on_event(event)
        return True

    def _playback_failed(self, exc: Exception) -> None:
        player = self._player
        where = f"{player.path.name} stopped at line {player.stats.lines}" if player is not None else "stopped"
        self.ctx.log.error("paper %s: playback of %s: %s: %s: nothing after it is played",
                           self.name, where, type(exc).__name__, exc)

    def _match_book(self, market: BookMarket, now: int) -> None:
        engine = self._engine
        if engine is None or self._state is None:  # what _engine_ready checks, inline: once per recorded book
            engine = self._engine_ready()  # raises
        if engine.open_by_id:  # nothing rests (most books): nothing to match, no call
            engine.match(market, now)
        if engine.pending.orders:  # engine.changed, inline
            self._commit(now)

    # --- orders -------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderState:
        """Submit one order (see the class docstring for what happens to it)."""
        await self._latency()
        try:
            return self._receive(order)
        finally:  # the answer travels back whether the venue accepted or refused the order
            await self._latency()

    async def place_orders(self, orders: list[Order]) -> list[OrderState | ExchangeError]:
        """Submit several orders in one request; one state or error per order, in order."""
        await self._latency()
        results: list[OrderState | ExchangeError] = []
        try:
            for order in orders:
                try:
                    results.append(self._receive(order))
                except ExchangeError as exc:
                    results.append(exc)
        finally:
            await self._latency()
        return results

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel a resting order and return its final state; an order already final is returned
        unchanged. Raises OrderNotFound for a client order id the venue never saw."""
        await self._latency()
        try:
            return self._cancel(client_order_id)
        finally:
            await self._latency()

    async def cancel_orders(self, symbol: str, client_order_ids: list[str]) -> list[OrderState | ExchangeError]:
        """Cancel several orders in one request; one state or error per order, in order."""
        await self._latency()
        results: list[OrderState | ExchangeError] = []
        try:
            for cid in client_order_ids:
                try:
                    results.append(self._cancel(cid))
                except ExchangeError as exc:
                    results.append(exc)
        finally:
            await self._latency()
        return results

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """An order by client order id (venue-wide), with all its fills; None if never seen."""
        order = self._find(client_order_id)
        return None if order is None else order.state()

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Every resting order, oldest first (optionally of one symbol)."""
        return [o.state() for o in self._engine_ready().open_orders(symbol)]

    async def balances(self) -> dict[str, Balance]:
        """Total and free (total less what resting orders reserve) by asset."""
        return self._engine_ready().balances()

    def submissions(self, client_order_id: str | None = None) -> list[tuple[int, str, int, dict]]:
        """Every submission attempt the venue received, oldest first: (seq, client order id, ts_ns, payload)."""
        return self._state_ready().submissions(client_order_id)

    # --- internals ----------------------------------------------------------------------------

    async def _latency(self) -> None:
        if self._half_latency_s > 0:
            await asyncio.sleep(self._half_latency_s)

    def _receive(self, order: Order) -> OrderState:
        """The venue receives one order: log the attempt, then act on it, in one transaction."""
        engine, state = self._engine_ready(), self._state_ready()
        now = self._time_ns()
        existing = self._find(order.client_order_id)
        if existing is not None:
            with state.transaction():
                state.record_submission(order, now)
            return existing.state()
        try:
            placed = engine.place(order, now)
        finally:  # a refused order is kept (REJECTED) along with its submission
            reported = self._commit(now, submission=order)
        # the state its fills' report carried, if it filled (the order has not changed since): not made twice
        return reported.get(placed.client_order_id) or placed.state()

    def _cancel(self, client_order_id: str) -> OrderState:
        engine = self._engine_ready()
        order = engine.open_order(client_order_id)
        if order is None:
            final = self._state_ready().order(client_order_id)
            if final is None:
                raise OrderNotFound(f'{self.name} has no order with client order id "{client_order_id}"')
            return final.state()
        engine.cancel(order, self._time_ns())
        self._commit(self._time_ns())
        return order.state()

    def _find(self, client_order_id: str) -> PaperOrder | None:
        order = self._engine_ready().open_order(client_order_id)
        return order if order is not None else self._state_ready().order(client_order_id)

    def _commit(self, now: int, submission: Order | None = None) -> dict[str, OrderState]:
        """Write what changed in one transaction, then publish the fills and order reports; returns the
        reported states by client order id."""
        engine, state = self._engine_ready(), self._state_ready()
        changes = engine.take_changes()
        try:
            with state.transaction():
                if submission is not None:
                    state.record_submission(submission, now)
                state.save(changes)
        except Exception:
            engine.put_back(changes)  # written (and published) by the next commit that succeeds
            raise
        return self._publish_fills(changes, now)

    def _publish_fills(self, changes: Changes, now: int) -> dict[str, OrderState]:
        """Publish each new fill, then the state of its order; returns those states by client order id."""
        reported = {}
        for cid, fills in changes.fills.items():
            for fill in fills:
                self._publish(fill)
            order = changes.orders[cid]
            state = reported[cid] = order.state()
            self._publish(new_order_report(self.name, order.symbol, state, now))
        return reported

    def _save_markets(self) -> None:  # simulated markets only
        self._state_ready().save_market_positions(
            {m.symbol: (m.step_count, m.price(m.bid_ticks)) for m in self._market_list}
        )
        self._steps_unsaved = 0

    # --- transfers (PaperTransfers) ------------------------------------------------------------

    def _transfer_file(self) -> PaperState:
        return self._state_ready()

    def _free(self, asset: str) -> Decimal:
        balance = self._engine_ready().balances().get(asset)
        return balance.free if balance is not None else Decimal(0)

    def _move_funds(self, deltas: dict[str, Decimal]) -> dict[str, Decimal]:
        return self._engine_ready().adjusted_totals(deltas)

    def _funds_moved(self, totals: dict[str, Decimal]) -> None:
        self._engine_ready().set_totals(totals)

    def _now_ns(self) -> int:
        return self.ctx.clock.time_ns()

    def _engine_ready(self) -> MatchingEngine:
        if self._engine is None or self._state is None:
            raise RuntimeError(f"paper exchange {self.name} is not started")
        return self._engine

    def _state_ready(self) -> PaperState:
        if self._state is None:
            raise RuntimeError(f"paper exchange {self.name} is not started")
        return self._state
