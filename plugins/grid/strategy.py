"""The grid strategy: buy a step down, sell a step up, over and over, between two prices.

Slot i buys ``order_size`` at level i and sells it at level i+1:
FREE -> PENDING (buy resting) -> LOCKED (bought; sell resting one step up) -> FREE (sold).
Each sell names the slot's buy (``OrderIntent.closes``): the ledger matches it to that buy's lot. A sell offers
what its buy received (less a fee charged in the base), rounded down to the lot size; what that leaves in the
account is carried by a later sell once it adds up to a lot (``_unsold``), so it does not pile up.
The grid never bids against its own offer: while a slot holds inventory, no free slot buys at or above that slot's
sell price (slot i's sell and slot i+1's buy share a level); such a buy goes out once the sell has filled.
A post-only sell waits while the bid is at or above its price; with ``out_of_range = "shift"`` and the bid above the
range it is offered one tick above the bid instead (a maker order worth more than the step), so the slot sells and
the grid can re-centre rather than wait for the market to come back; once the bid is back inside the range, such a
sell is cancelled and the slot offers its lot at its own sell price again (post-only: once the bid is below it). A
restart tells such a sell from the slot's own resting at its price under a tick since made finer by its price: above
the range and above the slot's stored price (:meth:`GridStrategy._find_repriced`); while the slot's own sell rests at a
price its slot has moved from onto a new tick, the slot's row keeps that sell's price (``Slot.offered_at``), so the
top slot's own sell, a level rounded up above ``upper`` on the coarser tick, is never taken for one at a later restart.
Below the range the slots hold what they bought on the way down and sell it once the price comes back (re-centring
would leave those sells behind, or sell at a loss): the grid holds, and says so once. Only a shifting grid that holds
nothing there (started below its range, or its buys refused on the way down: every buy at or above the ask, it
would wait with no order at all) re-centres on the price, as above the range (:meth:`GridStrategy._outside`).
"Above the range", "below the range" and "back inside" each count once the bid has stayed there
``out_of_range_after_s`` (hysteresis in time, :meth:`GridStrategy._out_of_range`): a bid flapping across ``upper`` or
``lower`` sends no cancel, no order and no alert per crossing.
No sell goes out at or below one of the grid's own resting buys (placed before the slot below it bought): those are
cancelled first, and the sell follows their end.
A fill that comes after its sell was reported cancelled (matched before the cancel landed) sold part of the slot's
inventory: the slot offers only the rest, and a sell of the whole resting meanwhile is cancelled and offered again.
One that comes after a later sell sold the slot's whole lot sold base twice: that cannot be undone, so the grid
alerts and its next sell offers that much less (the ledger's position is what the grid holds). A fill the order's
end already counted (its answer said filled before the fill came) corrects that estimate, never counts twice.
A slot whose order is refused (rejected, failed, vetoed, cancelled by the venue) tries again after ``retry_after_s``;
REFUSED_ALERT_AFTER refusals in a row are logged once per cause (side and outcome) with the grid's fix, and an INFO
note follows once its slots go through. The host alerts a rejected, failed or vetoed order itself (once per cause:
:mod:`bot.refusals`); the grid alerts only the refusals the host does not (orders the venue cancelled).
Changed settings (bounds, levels, spacing) at start lay the grid out again: at once when every slot is free; when
slots merely have buys resting (nothing filled), once those buys, cancelled at start, have ended (a buy that filled
first is sold at its old price before); a slot holding base or a partly filled buy refuses the start naming the fix.
Every layout (at start, laid out again, re-centred) reads the venue's rules of the market as they are then: all its
prices are on the current tick and its sizes on the current lot (a venue may change them, between runs or while the
bot runs); while a layout waits for its buys to end, the slots' sell prices are on the current tick from the start.
While the grid runs it reads the rules again at each reconcile and whenever an order is rejected or fails: a tick or
lot size the venue changed with no new layout to follow moves the slots onto it at once, with one alert, rather than
every order going out on the old tick to be refused until a restart (:meth:`GridStrategy._follow_rules`).
Slots live in the ``grid_slots`` table; a slot's next client order id (``NAME-EPOCH.SLOT-SEQ``,
EPOCH being the store's id epoch, ``ctx.id_epoch``) is written there before the order is
submitted, so no id is ever used twice, across restarts and a new or restored store too. Where a store call is a
round trip (PostgreSQL) the grid never makes one on the event loop: slot writes go to the store writer's thread in
order and an order is sent once the row naming it is written (:meth:`GridStrategy._send_written`); what start, a new
layout and an order's end without all its fills read is read there too, in one call each; whether an open order the
executor no longer holds has ended, and what a finished sell closes, are taken from what the grid holds. A slot write
that fails (on a file-backed SQLite store too, written inline) is written again by the grid, alerted once, and no order
waiting for it is sent until it is (:meth:`GridStrategy._saved`).

``status()`` shows the ledger's figures under the ledger's names, as ``/pnl`` and ``arbot report`` show them for
the same fills, on every market the strategy traded (a grid laid out again on another market keeps those of the
first): "round trips" (fills that closed a lot: a sell filled in two parts is two), "realized", "fees" (in quote,
then a fee paid in any other asset in that asset). "slots completed" is the grid's own count: slot cycles
whose buy and sell both filled, however many fills each took.

Hot path: a book update stores the best bid and ask and compares them with three thresholds
kept up to date by the last scan (the lowest waiting buy price, the highest waiting post-only
sell price, the earliest retry time) and with the top of the range (which a sell offered above the range also
waits for, to return to its price). The slots are scanned only when one of those is crossed or a slot changed state.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import ClassVar, cast

from bot.api import (
    ZERO,
    AlertLevel,
    BookUpdate,
    Context,
    FeedState,
    FeedStatus,
    Fill,
    MarketEvent,
    MarketInfo,
    Order,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    Side,
    Strategy,
    split_symbol,
)
from bot.api.ledger import MarketFigures, StrategyFigures, TimeOrderedPosition, fees_text, moneys, signed_money
from bot.api.ledger import price as price_text
from bot.api.storage import is_store_error

from .accounting import Executions
from .levels import Spacing, level_prices, recentre, slot_prices
from .models import GridLayoutRow, Slot, SlotState, load_grid, save
from .settings import REFUSED_ALERT_AFTER, GridSettings

HOST_ALERTED = frozenset({"rejected", "failed", "unknown", "vetoed"})
"""Outcomes the host alerts itself, once per cause with a count and a note when orders go through again (a venue's
refusal, an order given up on, a risk check's veto; a pause is alerted when it starts): the grid logs them with its
fix and does not alert them a second time. A buy or sell the venue cancelled is the grid's to alert."""

FREE, PENDING, LOCKED = SlotState.FREE, SlotState.PENDING, SlotState.LOCKED

NOT_FOUND_GRACE_S = 60.0
"""A periodic reconcile leaves an order the executor does not know yet alone for this long after submitting it."""

WRITE_RETRY_FIRST_S = 1.0
WRITE_RETRY_MAX_S = 30.0
"""A slot write that failed off the loop (PostgreSQL: a dropped connection) is tried again on its own after
WRITE_RETRY_FIRST_S, then twice as long after each failure up to WRITE_RETRY_MAX_S, until written (a change meanwhile
writes it sooner): a slot row never waits for the grid's next fill or order end (:meth:`GridStrategy._saved`)."""

FINISHED_KEPT = 10_000
"""Finished orders whose trade ids the grid remembers (the newest), besides its open ones.

Those ids only guard against one fill delivered twice: the executor hands each fill to the strategy once, across
restarts too (a fill it has stored is never applied again), and a late fill of a finished order comes once, within
seconds of the order's end. 10,000 orders are hours of the busiest grid; a fill of an older order is still counted
(once, by the executor's guarantee), only without this second check. What the newest FINISHED_KEPT finished sells
close is kept too (:meth:`GridStrategy._closes_of`): a late fill of one is booked to its buy's lot with no read of the
order (a store read on the loop where the executor has forgotten it). A late fill of an older sell waits for its order
to be read off the loop, then is booked once to that lot; one whose order cannot be read is booked to the oldest lot,
as the ledger books it, and alerted once (:meth:`GridStrategy._book_once_read`). What an order's end estimated of
fills not arrived is not capped (:attr:`GridStrategy._estimated`: each is needed until its fill comes).
"""


class GridConfigError(Exception):
    """The grid cannot start with these settings; the message says what to change."""


class GridStrategy(Strategy[GridSettings]):
    """Grid trading on one market: see the module docstring."""

    Settings = GridSettings
    venue_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {"exchange": ("book",)}
    market_events: ClassVar[tuple[type, ...]] = (BookUpdate, FeedStatus)
    """The grid reads the touch and the feed's state, never public trades."""

    @classmethod
    def needs(cls, settings: GridSettings) -> Mapping[str, tuple[str, ...]]:
        """Client ids always (a slot's order is found again after a lost answer); post-only when asked."""
        return {"exchange": ("client_ids", "post_only") if settings.post_only else ("client_ids",)}

    @classmethod
    def symbols_at(cls, settings: GridSettings) -> Mapping[str, str]:
        """The one market, on the one exchange."""
        return {"exchange": settings.symbol}

    def __init__(self, name: str, settings: GridSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self._exchange, self._symbol = settings.exchange, settings.symbol
        self._market: MarketInfo | None = None
        self._layout: GridLayoutRow | None = None
        self._slots: list[Slot] = []
        self._by_order: dict[str, Slot] = {}
        self._executions: dict[str, Executions] = {}
        self._retry_at: dict[int, float] = {}
        self._submitted_at: dict[str, float] = {}
        self._unsaved: dict[int, Slot] = {}
        """Slots changed since they were last written: written with the next orders, or by _flush."""
        self._unsaved_layout: GridLayoutRow | None = None
        """The layout, when its last write failed: written again with the slots by the next _flush."""
        self._write_failures = 0
        """Slot writes failed in a row (off the loop): alerted at the first, noted once written again."""
        self._rewrite: asyncio.Task[None] | None = None
        """The write tried again after a failure (WRITE_RETRY_FIRST_S, doubling to WRITE_RETRY_MAX_S)."""
        self._counts = {FREE: 0, PENDING: 0, LOCKED: 0}
        self._order_qty = ZERO
        self._slots_completed = 0
        """Slot cycles done (a slot's buy and its sell both filled, in however many fills): the grid's own count,
        shown as "slots completed", not the ledger's round trips (fills that closed a lot)."""
        self._positions: dict[str, TimeOrderedPosition] = {}
        """The strategy's open lots per symbol, as the ledger keeps them (bot.ledger): fills matched in the time they
        were made, however late one arrives, so its realized PnL is the ledger's. A grid laid out again on another
        market keeps the lots of the one it left."""
        self._positions[settings.symbol] = TimeOrderedPosition()
        self._book = self._positions[settings.symbol].position
        """The open lots of the market the grid trades."""
        self._figures = MarketFigures(name, settings.symbol, split_symbol(settings.symbol)[1])
        """The ledger's figures of this strategy's fills on the market it trades (round trips, realized, fees),
        counted as `/pnl` counts them (:meth:`bot.ledger.MarketFigures.add` of each fill's step, in the fills' time
        order: :meth:`bot.ledger.TimeOrderedPosition.book_steps`)."""
        self._all_figures = StrategyFigures(name, [self._figures])
        """The same on every market the strategy traded (a market it left, read from its stored fills at start, too):
        what :meth:`status` shows, as `arbot report` shows it for the strategy."""
        self._counted: dict[str, set[str]] = {}
        """Trade ids already in ``_book``, per order: the slots' open orders (moved to ``_finished`` by ``_finish``)."""
        self._finished: dict[str, set[str]] = {}
        """The same for the last FINISHED_KEPT finished orders (and fills of orders no slot holds), oldest first."""
        self._ended_sells: dict[str, Slot] = {}
        """Sells that ended unfilled or partly filled while their slot still holds inventory -> the slot: a fill of
        one that comes later sold part of it (:meth:`_late_fill`). Dropped when the slot is sold out."""
        self._closes: dict[str, str | None] = {}
        """Client order id of a slot's open order -> what it closes (a sell: its buy's id, the lot the ledger matches
        it to; a buy: None). Moved by ``_finish`` to ``_finished_closes`` (a sell's)."""
        self._finished_closes: dict[str, str | None] = {}
        """What the newest FINISHED_KEPT finished sells close (their buys' ids), oldest first: a late fill of one is
        booked to its buy's lot without reading the order (:meth:`_closes_of`). None: a sell whose order could not be
        read (:meth:`_book_once_read`)."""
        self._closes_wanted: dict[str, list[Fill]] = {}
        """Late fills of finished sells older than those in ``_finished_closes`` (the executor has forgotten their
        orders too), by order, while what the sell closes is read off the loop (:meth:`_book_once_read`); booked then,
        each trade once."""
        self._reading_closes: set[asyncio.Task[None]] = set()
        # hot-path state
        self._started = False
        self._bid: Decimal | None = None
        self._ask: Decimal | None = None
        self._live = True
        self._dirty = True
        self._in_scan = False
        self._wake_ask: Decimal | None = None
        self._wake_bid: Decimal | None = None
        self._wake_at = math.inf
        self._upper = ZERO
        self._shift_mode = settings.out_of_range == "shift"
        self._beyond = False
        """Whether the grid counts the bid above the range: it has stayed above ``upper`` ``out_of_range_after_s``
        (and not back at or below it as long since). What the grid does above the range follows this, not each
        book: a bid flapping across ``upper`` moves no order (:meth:`_out_of_range`)."""
        self._crossed_at: float | None = None
        """Monotonic time the bid last crossed ``upper`` against :attr:`_beyond` and stayed there; None: it has not."""
        self._lower = ZERO
        self._under = False
        """Whether the grid counts the bid below the range (below ``lower``), with the same hysteresis in time as
        :attr:`_beyond` (:meth:`_out_of_range`)."""
        self._under_since: float | None = None
        """Monotonic time the bid last crossed ``lower`` against :attr:`_under` and stayed there; None: it has not."""
        self._excursion = False
        self._excursion_noted = False
        self._shifting = False
        self._shift_failed = False
        self._relayout: str | None = None
        """The settings changes (``lower 100 -> 90``) a grid is laid out again for once the buys it cancelled at start
        have ended (:meth:`_continue_relayout`); None: no such wait."""
        self._relayout_held = False
        """A buy cancelled for the new layout filled: the wait for its slot to sell was alerted."""
        self._relayout_refused = False
        """The new layout does not fit the venue's rules of the moment (changed since the start): alerted once."""
        self._relayout_retry_at: float | None = None
        self._relayout_reading = False
        """The stored slots and orders the new layout needs are being read off the loop (PostgreSQL)."""
        """Monotonic time the refused new layout is tried again (``retry_after_s`` after the last try)."""
        self._rules_unfit: str | None = None
        """Why the grid's levels or order size do not fit the venue's rules read while it runs (:meth:`_follow_rules`):
        no new buy while set. None: they fit."""
        self._warned_fee_assets: set[str] = set()
        self._yielding: set[str] = set()
        """Buys cancelled because a slot sells at or below their price (:meth:`_clear_way`): their end frees the
        way for that sell, and their slot waits behind it (no ``retry_after_s``)."""
        self._repriced: set[str] = set()
        """Resting sells offered above their slot's sell price (a tick above a bid above a range that shifts): once
        the bid is back inside the range, each is cancelled (:meth:`_due`) and moved to ``_returning``."""
        self._returning: set[str] = set()
        """Repriced sells cancelled because the bid came back inside the range: their end offers the slot's lot at
        its own sell price again (no ``retry_after_s``); reconcile asks again for the cancel."""
        self._refusals: dict[int, int] = {}
        """Slot index -> its orders refused in a row; dropped when one goes through (:meth:`_went_through`)."""
        self._refused_causes: dict[str, set[int]] = {}
        """Cause alerted (side and outcome: "buy rejected") -> the slots it holds back past REFUSED_ALERT_AFTER: no
        other alert for it until every one of them has gone through (then one INFO note)."""
        self._read_orders: dict[str, Order | None] = {}
        """The slots' orders the executor does not hold, read off the loop (:meth:`_read_slot_orders`) while
        :meth:`start` or :meth:`reconcile` settles the slots: what :meth:`_order` answers for them meanwhile."""
        self._start_orders: list[Order] | None = None
        """The stored orders :meth:`start` (or a new layout) read off the loop (PostgreSQL), while it runs: what
        :meth:`_stored_orders` answers meanwhile. None: read as needed."""
        self._unsent: dict[str, bool] = {}
        """Orders given to their slots whose slot rows are being written off the loop (PostgreSQL), not sent yet ->
        whether the grid has cancelled them meanwhile (then never sent: :meth:`_send_written`)."""
        self._finishing: set[str] = set()
        """Ended orders whose stored fills are being read off the loop before their slot moves on
        (:meth:`_finish_once_read`)."""
        self._read_fills: dict[str, list[Fill]] = {}
        """Stored fills of the slots' ended orders read off the loop (PostgreSQL), while the slot that held the order
        moves on: what :meth:`_executions_of` takes instead of a read on the loop."""
        self._estimated: dict[str, tuple[Side, Decimal, Decimal]] = {}
        """Finished orders counted with fills that had not arrived -> (side, base quantity so counted, at price): the
        fill, when it comes, corrects the estimate rather than counting again (:meth:`_late_fill`), and until then
        :meth:`_unsold` counts it (the slot did, the ledger has not). Not capped at FINISHED_KEPT as ``_finished`` is:
        each is needed until its fill comes, however many orders end meanwhile; there are only as many as the
        finished orders whose fills are missing, which the start finds in the stored orders it reads anyway
        (:meth:`_find_estimates`)."""
        self._late_said: dict[str, tuple[int, Decimal]] = {}
        """Orders whose late fills the slots could not hold (:meth:`_late_alert`) -> (those fills, their base in all):
        alerted at the first, logged with these counts after. The newest FINISHED_KEPT, oldest first."""

    @property
    def _rules(self) -> MarketInfo:
        """The traded market's rules, read by :meth:`start`."""
        if self._market is None:
            raise RuntimeError(f'strategy "{self.name}" used before start()')
        return self._market

    # --- lifecycle ----------------------------------------------------------------------------

    def markets(self) -> list[tuple[str, str]]:
        return [(self.settings.exchange, self.settings.symbol)]

    async def start(self) -> None:
        """Load this strategy's slots (or lay them out), then settle each against the executor's records."""
        market = self._read_rules()
        if self.ctx.store.records_inline:  # microseconds each, on the loop
            layout, rows = load_grid(self.ctx.store, self.name)
            closes = self.ctx.store.closes(strategy=self.name)
            fills = self.ctx.stored_fills()
        else:  # each a round trip: all in one call on the store writer's thread, so a stalled server holds the grid
            layout, rows, closes, fills, orders = await self.ctx.read_later(self._read_start)
            self._start_orders = orders
        self._slots_completed = sum(r.round_trips for r in rows)
        # the fills of the slots' orders so far: a buy partly filled, or filled while the bot was down, holds base
        # that no other slot may sell (:meth:`_unsold`), also while start settles the slots one by one
        working = {row.order_id for row in rows if row.order_id is not None}
        if self._start_orders is not None:  # the slots' orders the executor does not hold, from what was just read
            by_id = {order.client_order_id: order for order in self._start_orders}
            self._read_orders.update({cid: by_id.get(cid) for cid in working if self.ctx.held_order(cid) is None})
            self._read_fills.update({cid: [] for cid in working})  # every stored fill is counted in _start
        try:
            self._start(market, layout, rows, closes, fills, working)
        finally:
            self._read_orders.clear()
            self._read_fills.clear()
            self._start_orders = None

    def _read_start(self) -> tuple[GridLayoutRow | None, list[Slot], dict[str, str], list[Fill], list[Order]]:
        """What start reads from the store, in one call (on the store writer's thread where a read is a round trip):
        the layout and slots, what the orders close, the stored fills and the stored orders."""
        layout, rows = load_grid(self.ctx.store, self.name)
        return (layout, rows, self.ctx.store.closes(strategy=self.name), self.ctx.stored_fills(),
                self.ctx.stored_orders())

    def _start(self, market: MarketInfo, layout: GridLayoutRow | None, rows: list[Slot], closes: Mapping[str, str],
               fills: list[Fill], working: set[str]) -> None:
        s = self.settings
        stored_qty: dict[str, Decimal] = {}
        for fill in fills:
            self._count(fill, closes.get(fill.client_order_id))
            stored_qty[fill.client_order_id] = stored_qty.get(fill.client_order_id, ZERO) + fill.qty
            if fill.client_order_id in working:
                self._executions.setdefault(fill.client_order_id, Executions()).add(fill, market.base, market.quote)
        self._find_estimates(stored_qty, working)
        stored_sells = {row.index: row.sell_price for row in rows}  # as stored, before the tick of now moves them
        if layout is None:
            layout, slots = self._lay_out(None, rows)
        else:
            slots = [r for r in rows if r.index < layout.levels - 1]
            self._adopt(layout, slots)
            moved = (layout.exchange, layout.symbol) != (s.exchange, s.symbol)
            if not moved:  # a grid moved to another market is not settled against this market's rules
                for slot in slots:
                    self._settle(slot, grace=False)
                self._flush()
            changes = self._layout_changes(layout)
            resting: list[Slot] = []
            if changes:
                resting = self._resting_only(slots, changes, moved)
                if resting:  # checked before any is cancelled: a new grid that cannot be laid out is refused first
                    self._check_order_size(self._new_prices())
                else:
                    self.ctx.log.info("grid settings changed (%s) and every slot is free: laying the grid out again",
                                      "; ".join(changes))
                    layout, slots = self._lay_out(layout, rows)
            elif not moved:
                self._onto_tick(layout, slots)
            if resting:
                self._onto_tick_each(slots)  # a buy filled before its cancel sells on the venue's tick of now
                self._cancel_for_relayout(resting, changes)
        self._adopt(layout, slots)
        self._keep_open(closes)
        self._find_buys(slots, working)
        for order_id in self._ended_sells:  # the sells whose fill may still come (:meth:`_late_fill`)
            if closes.get(order_id) is not None:
                self._keep_closes(order_id, closes[order_id])
        self._find_repriced(slots, stored_sells)
        if self._relayout is None:
            self._check_order_size([(slot.buy_price, slot.sell_price) for slot in slots])
        self._started = True
        self._dirty = True
        self.ctx.log.info("grid %s %s: %d slots from %s to %s (%s)", s.exchange, s.symbol, len(slots),
                          slots[0].buy_price, slots[-1].sell_price, self.status()["slots"])

    def _onto_tick(self, layout: GridLayoutRow, slots: list[Slot]) -> None:
        """At start: the stored prices, put on the market's tick size as it is now (a venue may change it between
        two runs: an order off it is refused every time). The stored layout's levels (:meth:`_layout_prices`).
        Unchanged when the tick is; a tick now too coarse for the grid is refused naming the fix."""
        try:
            prices = self._layout_prices(layout, self._rules)
        except ValueError as exc:
            raise GridConfigError(f'strategy "{self.name}": {exc}') from None
        now = self.ctx.clock.time_ns()
        moved = 0
        for slot in slots:
            buy, sell = prices[slot.index]
            if (slot.buy_price, slot.sell_price) != (buy, sell):
                moved += 1
                self._keep_offered(slot, sell)
                slot.buy_price, slot.sell_price, slot.updated_ns = buy, sell, now
                self._unsaved[slot.index] = slot
        if moved:
            self.ctx.log.warning("the market's tick size is %s now: %d slots' prices moved onto it",
                                 self._rules.tick_size, moved)
            self._flush()

    @staticmethod
    def _layout_prices(layout: GridLayoutRow, market: MarketInfo) -> list[tuple[Decimal, Decimal]]:
        """(buy, sell) of each slot of the stored ``layout`` on ``market``'s tick: its range, levels and spacing as
        laid out, not the settings' (which differ from them while the grid waits to be laid out again)."""
        spacing = cast(Spacing, layout.spacing)  # written from a GridSettings; level_prices refuses anything else
        return slot_prices(level_prices(layout.lower, layout.upper, layout.levels, spacing), market)

    def _keep_offered(self, slot: Slot, sell: Decimal) -> None:
        """The slot's sell price moves onto a new tick (to ``sell``) while its own sell may rest at the price it moves
        from: that price is kept as :attr:`Slot.offered_at` (its row says it) until the sell ends, so a restart, which
        lays the slot out on the tick of then, still knows that sell for the slot's own and lets it rest, rather than
        taking it for one offered above the range (the top slot's lies above ``upper``: a level rounded up on the
        coarser tick) and cancelling it (:meth:`_find_repriced`). A sell offered above the range is not the slot's
        own: the row keeps the slot's price."""
        order_id = slot.order_id
        if slot.state is not LOCKED or order_id is None or slot.offered_at is not None or sell == slot.sell_price:
            return
        if self._started:  # the grid knows which of its sells it offered above the range
            own = order_id not in self._repriced and order_id not in self._returning
        else:  # at start (before :meth:`_find_repriced`): the sell placed at the slot's price as stored is its own
            order = self._order_held(order_id)  # held or read off the loop (:meth:`start`)
            own = order is not None and order.price == slot.sell_price
        if own:
            slot.offered_at = slot.sell_price

    def _follow_rules(self) -> None:
        """While running (each reconcile, and whenever an order is refused): the market's rules read again. A tick or
        lot size the venue changed moves the slots onto them at once (prices from the layout's levels, as at start),
        with one alert (a changed min_qty or min_notional too: buys stop while the order size misses them, and start
        again once it fits); new orders use them (a sell offers its lot rounded down to the new lot size: a later sell
        carries the rest, :meth:`_unsold`); orders resting stay as they are. A tick too coarse for the grid's levels
        puts each price on it alone (buys down, sells up) and places no new buy until the rules fit again or the grid
        is laid out anew; a grid waiting to be laid out again moves only its sell prices (as :meth:`_onto_tick_each`
        at start: its new layout reads the rules itself)."""
        if not self._started or self._layout is None:
            return
        old = self._market
        try:
            market = self.ctx.exchange(self._exchange).market(self._symbol)
        except KeyError:  # none now: the rules read last stand
            return
        self._market = market
        if old is None or _followed(old) == _followed(market):
            return
        self._order_qty = market.round_qty(self.settings.order_size)
        prices: list[tuple[Decimal, Decimal]] | None = None
        unfit: str | None = None
        if self._relayout is None:
            try:
                prices = self._layout_prices(self._layout, market)
                lowest = prices[0][0]
                if self._order_qty <= 0 or self._order_qty < market.min_qty:
                    unfit = (f"order_size {self.settings.order_size} rounds to {self._order_qty} at lot size "
                             f"{market.lot_size}, below the market's minimum of "
                             f"{max(market.min_qty, market.lot_size)} {market.base}")
                elif self._order_qty * lowest < market.min_notional:
                    unfit = (f"order_size {self._order_qty} {market.base} at the lowest level {lowest} is worth "
                             f"{self._order_qty * lowest} {market.quote}, below the market's minimum order of "
                             f"{market.min_notional} {market.quote}")
            except ValueError as exc:
                unfit = str(exc)
        now, moved = self.ctx.clock.time_ns(), 0
        for slot in self._slots:
            if prices is not None:
                buy, sell = prices[slot.index]
            elif self._relayout is None:
                buy, sell = market.round_price(slot.buy_price, Side.BUY), market.round_price(slot.sell_price, Side.SELL)
            else:  # a buy price stays the resting buy's own until the new layout: no slot buys before it
                buy, sell = slot.buy_price, market.round_price(slot.sell_price, Side.SELL)
            if (slot.buy_price, slot.sell_price) != (buy, sell):
                moved += 1
                self._keep_offered(slot, sell)
                slot.buy_price, slot.sell_price, slot.updated_ns = buy, sell, now
                self._unsaved[slot.index] = slot
            if (slot.state is LOCKED and slot.order_id is None
                    and not self._sellable(market.round_qty(slot.qty), slot.sell_price)):
                self.ctx.log.warning("slot %d: %s %s left unsold: below the market minimum at the new lot size %s",
                                     slot.index, slot.qty, market.base, market.lot_size)
                self._complete(slot)  # else its sell would be refused every retry_after_s
                slot.updated_ns = now
                self._unsaved[slot.index] = slot
        self._rules_unfit = unfit
        self._retry_at.clear()  # an order refused for the old rules goes out again at once, on the new ones
        self._wake_at = math.inf
        self._dirty = True
        self._flush()
        changed = "; ".join(f"{what} {before} -> {after}" for what, before, after in (
            ("tick size", old.tick_size, market.tick_size), ("lot size", old.lot_size, market.lot_size),
            ("min qty", old.min_qty, market.min_qty), ("min notional", old.min_notional, market.min_notional))
            if before != after)
        message = (f"the venue's rules of {self._symbol} changed ({changed}) while the grid runs: {moved} slots' "
                   f"prices moved onto them; new buys of {self._order_qty} {market.base}")
        if unfit is not None:
            alone = "Each slot's price is put on the new tick alone and the grid" if prices is None else "The grid"
            message = (f"the venue's rules of {self._symbol} changed ({changed}) while the grid runs and the grid "
                       f"does not fit them: {unfit}. {alone} places no new buys (slots holding base still sell) "
                       f"until the rules fit again; restart it with settings that fit")
        self.ctx.log.warning(message)
        self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name, tick_size=market.tick_size,
                       lot_size=market.lot_size, min_qty=market.min_qty, min_notional=market.min_notional)

    def _onto_tick_each(self, slots: list[Slot]) -> None:
        """At start, the grid waiting to be laid out again: each stored sell price put on the market's tick as it is
        now (up, in the trader's favour), so a slot that trades before the new layout (a buy cancelled for it that
        filled first) never sells off it. Each price on its own: the old grid's levels may not all fit the new tick,
        and only the new grid has to. A buy price stays the resting buy's own until the new layout: no slot buys
        before it."""
        market, now = self._rules, self.ctx.clock.time_ns()
        moved = 0
        for slot in slots:
            sell = market.round_price(slot.sell_price, Side.SELL)
            if sell != slot.sell_price:
                moved += 1
                self._keep_offered(slot, sell)
                slot.sell_price, slot.updated_ns = sell, now
                self._unsaved[slot.index] = slot
        if moved:
            self.ctx.log.warning("the market's tick size is %s now: %d slots' sell prices moved onto it until the "
                                 "grid is laid out again", market.tick_size, moved)
            self._flush()

    def _read_rules(self) -> MarketInfo:
        """The market's rules as the venue states them now, kept for the grid (and the order size rounded to its lot):
        read at start and again whenever the grid lays itself out (laid out again, re-centred), as a venue may change
        its tick or lot size while the bot runs (between layouts: :meth:`_follow_rules`). The rules read last when the
        venue has none now (KeyError)."""
        s = self.settings
        try:
            market = self.ctx.exchange(s.exchange).market(s.symbol)
        except KeyError:
            if self._market is None:
                raise
            return self._market
        old = self._market
        if old is not None and (old.tick_size, old.lot_size) != (market.tick_size, market.lot_size):
            self.ctx.log.warning("the market's tick size is %s (was %s) and its lot size %s (was %s): the new "
                                 "layout uses them", market.tick_size, old.tick_size, market.lot_size, old.lot_size)
        self._market = market
        self._order_qty = market.round_qty(s.order_size)
        return market

    def _resting_only(self, slots: list[Slot], changes: list[str], moved: bool) -> list[Slot]:
        """At start, the settings changed: the slots busy with nothing but a buy resting (nothing filled), to be
        cancelled before the grid is laid out again. A slot holding base or a partly filled buy (money at stake), or
        any busy slot of a grid moved to another market, refuses the start naming the fix."""
        busy = [slot for slot in slots if slot.state is not FREE]
        at_stake = [slot.index for slot in busy if moved or slot.state is LOCKED or slot.order_id is None
                    or self._has_filled(slot.order_id)]
        if at_stake:
            raise GridConfigError(
                f'strategy "{self.name}": the grid settings changed ({"; ".join(changes)}) while '
                f"{'slot' if len(at_stake) == 1 else 'slots'} {', '.join(map(str, at_stake))} "
                f"{'holds' if len(at_stake) == 1 else 'hold'} inventory or a partly filled buy"
                f"{' on the market the grid left' if moved else ''} (buys merely resting are cancelled for you). "
                f"Restore the previous settings and let those slots sell, or run the new grid under a new strategy "
                f"name once you have cancelled this grid's orders and dealt with its inventory."
            )
        return busy

    def _has_filled(self, order_id: str) -> bool:
        """Whether any of ``order_id`` filled: its fills so far, or the executor's record of it."""
        if order_id in self._unsent:  # not sent yet
            return False
        executions = self._executions.get(order_id)
        if executions is not None and executions.qty > 0:
            return True
        order = self._order_held(order_id)  # at start: every slot's order is held or read (:meth:`start`)
        return order is not None and order.filled_qty > 0

    def _new_prices(self) -> list[tuple[Decimal, Decimal]]:
        """(buy, sell) of each slot of the configured grid, on the market's tick (refused naming the fix)."""
        s = self.settings
        try:
            return slot_prices(level_prices(s.lower, s.upper, s.levels, s.spacing), self._rules)
        except ValueError as exc:
            raise GridConfigError(f'strategy "{self.name}": {exc}') from None

    def _cancel_for_relayout(self, resting: list[Slot], changes: list[str]) -> None:
        """Cancel the buys resting under the old settings; the grid is laid out again once they have ended."""
        self._relayout = "; ".join(changes)
        message = (f"grid settings changed ({self._relayout}) while slots {', '.join(str(s.index) for s in resting)} "
                   f"had buys resting (nothing filled): cancelling them; the grid is laid out again once they have "
                   f"ended")
        self.ctx.log.warning(message)
        self.ctx.alert(AlertLevel.INFO, "strategy", message, strategy=self.name)
        for slot in resting:
            if slot.order_id is not None:
                self._cancel(slot.order_id)

    def _continue_relayout(self, read: tuple[list[Slot], list[Order]] | None = None) -> None:
        """Lay the grid out again once the buys cancelled for the new settings have ended; a buy that filled first is
        sold at its old price before (alerted once). ``read``: the stored slots and orders, read off the loop."""
        if self._counts[PENDING]:
            return
        if self._counts[LOCKED]:
            if not self._relayout_held:
                self._relayout_held = True
                held = ", ".join(f"slot {slot.index}'s buy filled before its cancel, it sells at {slot.sell_price}"
                                 for slot in self._slots if slot.state is LOCKED)
                message = f"laying the grid out again ({self._relayout}) waits: {held}"
                self.ctx.log.warning(message)
                self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name)
            return
        changes, now = self._relayout, self.ctx.clock.monotonic()
        if self._relayout_retry_at is not None and now < self._relayout_retry_at:
            return
        if read is None and not self.ctx.store.records_inline:  # each a round trip: one call off the loop first
            if self._relayout_reading:
                return
            self._flush()
            reading = self.ctx.read_later(self._read_relayout)  # after the slots' writes handed over before
            if not reading.done():
                self._relayout_reading = True
                self.ctx.create_task(self._relayout_once_read(reading), "read the slots to lay the grid out again")
                return
            read = reading.result()
        self._flush()
        self._unsaved.clear()
        if read is None:
            _, rows = load_grid(self.ctx.store, self.name)
        else:
            rows, self._start_orders = read
            in_memory = {slot.index: slot for slot in self._slots}
            for row in rows:  # a slot that placed an order since the read (a late fill sold meanwhile): its ids
                if row.index in in_memory:
                    row.seq = max(row.seq, in_memory[row.index].seq)
        self._read_rules()
        try:
            layout, slots = self._lay_out(self._layout, rows)
        except GridConfigError as exc:  # checked at start: the venue's rules changed since; tried again later
            self._relayout_retry_at = now + self.settings.retry_after_s
            if not self._relayout_refused:
                self._relayout_refused = True
                message = (f"laying the grid out again ({changes}) waits: {exc}; trying again every "
                           f"{self.settings.retry_after_s:g}s")
                self.ctx.log.warning(message)
                self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name)
            return
        finally:
            self._start_orders = None
        self._relayout, self._relayout_held = None, False
        self._relayout_refused, self._relayout_retry_at = False, None
        self._adopt(layout, slots)
        self._retry_at.clear()
        self._dirty = True
        tick = self._rules.tick_size
        message = (f"grid laid out again ({changes}): {len(slots)} slots from {_short(slots[0].buy_price, tick)} to "
                   f"{_short(slots[-1].sell_price, tick)}")
        self.ctx.log.info(message)
        self.ctx.alert(AlertLevel.INFO, "strategy", message, strategy=self.name)

    def _read_relayout(self) -> tuple[list[Slot], list[Order]]:
        """The stored slots and orders a new layout is made from, in one call (on the store writer's thread)."""
        return load_grid(self.ctx.store, self.name)[1], self.ctx.stored_orders()

    async def _relayout_once_read(self, reading: asyncio.Future[tuple[list[Slot], list[Order]]]) -> None:
        try:
            read = await reading
        finally:
            self._relayout_reading = False
        if self._relayout is not None:
            self._continue_relayout(read)
            self._scan()

    def _layout_changes(self, layout: GridLayoutRow) -> list[str]:
        s = self.settings
        pairs = [("exchange", layout.exchange, s.exchange), ("symbol", layout.symbol, s.symbol),
                 ("lower", layout.config_lower, s.lower), ("upper", layout.config_upper, s.upper),
                 ("levels", layout.levels, s.levels), ("spacing", layout.spacing, s.spacing)]
        return [f"{key} {old} -> {new}" for key, old, new in pairs if old != new]

    def _lay_out(self, layout: GridLayoutRow | None, rows: list[Slot]) -> tuple[GridLayoutRow, list[Slot]]:
        """Slots (and the layout row) for the configured range, reusing stored slots and their sequence numbers.

        Stored slots beyond the new slot count are kept (never deleted, so their sequence numbers
        survive) but left out of the grid.
        """
        s, market = self.settings, self._rules
        try:
            prices = slot_prices(level_prices(s.lower, s.upper, s.levels, s.spacing), market)
        except ValueError as exc:
            raise GridConfigError(f'strategy "{self.name}": {exc}') from None
        now = self.ctx.clock.time_ns()
        layout = layout or GridLayoutRow(strategy=self.name, exchange=s.exchange, symbol=s.symbol, spacing=s.spacing,
                                         levels=s.levels)
        layout.exchange, layout.symbol, layout.spacing, layout.levels = s.exchange, s.symbol, s.spacing, s.levels
        layout.config_lower = layout.lower = s.lower
        layout.config_upper = layout.upper = s.upper
        layout.updated_ns = now
        stored = {slot.index: slot for slot in rows}
        used = self._used_seqs()
        slots = []
        for i, (buy, sell) in enumerate(prices):
            slot = stored.get(i) or Slot(index=i, buy_price=buy, sell_price=sell)
            slot.seq = max(slot.seq, used.get(i, 0))
            slot.buy_price, slot.sell_price, slot.updated_ns = buy, sell, now
            slots.append(slot)
        self._save(slots, layout)
        return layout, slots

    def _used_seqs(self) -> dict[int, int]:
        """Highest sequence number per slot among the executor's orders of this strategy.

        Only read when slots are laid out, so a grid whose rows were deleted by hand does not
        reuse a client order id.
        """
        used: dict[int, int] = {}
        for slot, seq, _ in self._stored_orders():
            used[slot] = max(used.get(slot, 0), seq)
        return used

    def _stored_orders(self) -> Iterator[tuple[int, int, Order]]:
        """(slot index, sequence number, order) of each stored order of this strategy with a slot's id."""
        pattern = self._id_pattern()
        stored = self._start_orders if self._start_orders is not None else self.ctx.stored_orders()
        for order in stored:
            m = pattern.fullmatch(order.client_order_id)
            if m:
                yield int(m[1]), int(m[2]), order

    def _find_buys(self, slots: list[Slot], working: set[str]) -> None:
        """Each locked slot's buy (its newest filled buy among the stored orders): what its sells close; the sells of
        it cancelled since, whose fill may still come (:meth:`_late_fill`); and what its earlier sells sold, for
        the round trip's log line. Not the slots' orders as stored (``working``): the sell that ended while the bot was
        down was counted by its end at start (:meth:`_settle`), the one resting is at its end."""
        locked = {slot.index: slot for slot in slots if slot.state is LOCKED and slot.opened_by is None}
        if not locked:
            return
        newest: dict[int, int] = {}
        cancelled: list[tuple[int, int, str]] = []
        sells: list[tuple[int, int, Order]] = []
        for index, seq, order in self._stored_orders():
            slot = locked.get(index)
            if slot is None:
                continue
            if order.side is Side.BUY and order.filled_qty > 0 and seq > newest.get(index, 0):
                newest[index] = seq
                slot.opened_by = order.client_order_id
                slot.bought_at = order.avg_fill_price or order.price
            elif order.side is Side.SELL:
                if order.status is OrderStatus.CANCELLED:
                    cancelled.append((index, seq, order.client_order_id))
                if order.filled_qty > 0 and order.client_order_id not in working:
                    sells.append((index, seq, order))
        for index, seq, order_id in cancelled:
            if seq > newest.get(index, 0):
                self._ended_sells[order_id] = locked[index]
        for index, seq, order in sells:  # what the held inventory sold for so far (the round trip's log line)
            price = order.avg_fill_price or order.price
            if seq > newest.get(index, 0) and price is not None:
                locked[index].sold_qty += order.filled_qty
                locked[index].sold_value += order.filled_qty * price

    def _find_repriced(self, slots: list[Slot], stored_sells: Mapping[int, Decimal]) -> None:
        """At start: the locked slots' resting sells offered above their sell price (:attr:`_repriced`), from the
        executor's record of each (a sell repriced before a crash still rests). Such a sell was offered a tick above a
        bid above the range: above ``upper`` and above the slot's price as stored. A sell at or below either is the
        slot's own at its price under the tick it was placed on (a tick since made finer moves the slot's price, at
        start or while running, not the sell resting): it keeps resting. Only the top slot's own sell can lie above
        ``upper`` (a level rounded up), and at its stored price that is no reason to cancel it either: the row keeps
        the price of the slot's own sell resting after its slot moved onto a new tick (:meth:`_keep_offered`), at a
        second restart too."""
        for slot in slots:
            if slot.state is LOCKED and slot.order_id is not None:
                order = self._order_held(slot.order_id)  # held or read at start (:meth:`start`)
                if (order is not None and order.price is not None and order.price > slot.sell_price
                        and order.price > self._upper and order.price > stored_sells.get(slot.index, slot.sell_price)):
                    self._repriced.add(slot.order_id)

    def _find_estimates(self, stored_qty: Mapping[str, Decimal], working: set[str]) -> None:
        """The slots' finished orders (not ``working``: the slots' current ones, settled apart) that filled more than
        their stored fills: counted without those fills (at the order's average price), whose fill may still come
        (:attr:`_estimated`). All of them, oldest first: the slots' rows counted each (no cap, as while running)."""
        found: list[tuple[int, str, tuple[Side, Decimal, Decimal]]] = []
        for _, _, order in self._stored_orders():
            cid = order.client_order_id
            if (not order.status.terminal or order.status is OrderStatus.OBSERVED or cid in working
                    or order.symbol != self._symbol):
                continue
            missing = order.filled_qty - stored_qty.get(cid, ZERO)
            price = order.avg_fill_price or order.price
            if missing > 0 and price is not None:
                found.append((order.updated_ns, cid, (order.side, missing, price)))
        found.sort(key=lambda item: item[0])
        for _, cid, estimate in found:
            self._estimated.setdefault(cid, estimate)

    def _id_pattern(self) -> re.Pattern[str]:
        """A slot's client order id: groups 1 and 2 are the slot index and sequence number."""
        return re.compile(re.escape(self._id_prefix()) + r"(\d+)-(\d+)")

    def _id_prefix(self) -> str:
        """``NAME-EPOCH.``: the store's id epoch keeps ids unique across a new or restored store."""
        epoch = self.ctx.id_epoch
        return f"{self.name}-{epoch}." if epoch else f"{self.name}-"

    def _adopt(self, layout: GridLayoutRow, slots: list[Slot]) -> None:
        self._layout, self._slots, self._upper, self._lower = layout, slots, layout.upper, layout.lower
        self._beyond, self._crossed_at = False, None  # a new range: the bid is measured against it afresh
        self._under, self._under_since = False, None
        self._rules_unfit = None  # laid out on the rules of the moment
        self._counts = {FREE: 0, PENDING: 0, LOCKED: 0}
        self._by_order.clear()
        for slot in slots:
            self._counts[slot.state] += 1
            if slot.order_id is not None:
                self._by_order[slot.order_id] = slot

    def _keep_open(self, closes: Mapping[str, str]) -> None:
        """At start: what the slots' open orders close and the trade ids counted for them are kept; of the other
        orders (the stored history just counted) only the newest FINISHED_KEPT."""
        self._closes = {order_id: closes.get(order_id) for order_id in self._by_order}
        for order_id in self._by_order:
            seen = self._finished.pop(order_id, None)
            if seen is not None:
                self._counted[order_id] = seen
        for order_id in list(self._finished)[:max(0, len(self._finished) - FINISHED_KEPT)]:
            del self._finished[order_id]

    def _check_order_size(self, prices: list[tuple[Decimal, Decimal]]) -> None:
        """The order size against the market's minimums at the lowest of ``prices`` (each slot's buy and sell), and the
        narrowest step against two maker fees."""
        market, s = self._rules, self.settings
        lowest = prices[0][0]
        if self._order_qty <= 0 or self._order_qty < market.min_qty:
            raise GridConfigError(
                f'strategy "{self.name}": order_size {s.order_size} rounds to {self._order_qty} at lot size '
                f"{market.lot_size}, below the market's minimum of {max(market.min_qty, market.lot_size)} "
                f"{market.base}")
        if self._order_qty * lowest < market.min_notional:
            raise GridConfigError(
                f'strategy "{self.name}": order_size {self._order_qty} {market.base} at the lowest level {lowest} is '
                f"worth {self._order_qty * lowest} {market.quote}, below the market's minimum order of "
                f"{market.min_notional} {market.quote}")
        if market.maker_fee_bps is not None:
            # the narrowest step of the grid (the lowest slot, geometric or not) against two maker fees
            buy, sell = min(prices, key=lambda pair: (pair[1] - pair[0]) / pair[0])
            step_bps = (sell - buy) / buy * 10_000
            if step_bps <= 2 * market.maker_fee_bps:
                self.ctx.alert(AlertLevel.WARNING, "strategy",
                               f"grid step {sell - buy} {market.quote} ({step_bps:.1f} bps) "
                               f"does not cover the two maker fees of a round trip ({2 * market.maker_fee_bps} bps): "
                               f"every round trip loses money; widen the grid or use fewer levels",
                               strategy=self.name, buy=buy, sell=sell)

    # --- events -------------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> None:
        if type(event) is BookUpdate:
            if event.symbol != self._symbol or event.exchange != self._exchange:
                return
            bid = self._bid = event.best_bid
            ask = self._ask = event.best_ask
            if not self._live:  # no decision on a book the feed says is stale; LIVE triggers a scan
                return
            above = self._beyond
            if bid is not None and ((bid > self._upper) is not above or self._crossed_at is not None):
                above = self._out_of_range(bid > self._upper)
            if bid is not None and ((bid < self._lower) is not self._under or self._under_since is not None):
                self._under, self._under_since = self._hysteresis(bid < self._lower, self._under, self._under_since)
            if (self._dirty
                    or (ask is not None and self._wake_ask is not None and ask > self._wake_ask)
                    or (bid is not None and self._wake_bid is not None
                        and (bid < self._wake_bid or (self._shift_mode and above)))
                    or (self._repriced and not above)
                    or (self._wake_at != math.inf and self.ctx.clock.monotonic() >= self._wake_at)):
                self._scan()
            if bid is not None and self._beyond and bid > self._upper:  # (a scan may have re-centred the grid)
                self._outside(bid, above=True)
            elif bid is not None and self._under and bid < self._lower:
                self._outside(bid, above=False)
            elif self._excursion and not self._beyond and not self._under:
                self._excursion = self._shift_failed = False
                self.ctx.log.info("bid %s is back inside the grid (%s-%s)", bid, self._lower, self._upper)
        elif type(event) is FeedStatus:
            if event.symbol != self._symbol or event.exchange != self._exchange:
                return
            self._live = event.state is FeedState.LIVE
            if not self._live:  # what the bid does while the feed is stale is unknown: its time counts for no side
                self._crossed_at = self._under_since = None
            self._dirty = True

    def _out_of_range(self, bid_above: bool) -> bool:
        """Whether the grid counts the bid above the range, now that it is (``bid_above``) or is not above ``upper``:
        a crossing counts once the bid has stayed on its new side ``out_of_range_after_s`` (hysteresis in time, so a
        bid flapping across ``upper`` sends no cancel and no new order per crossing)."""
        self._beyond, self._crossed_at = self._hysteresis(bid_above, self._beyond, self._crossed_at)
        return self._beyond

    def _hysteresis(self, beyond: bool, counted: bool, since: float | None) -> tuple[bool, float | None]:
        """The hysteresis of :meth:`_out_of_range` (above ``upper``, and the same below ``lower``): whether the bid
        counts beyond the bound now that it is (``beyond``) or is not, given whether it ``counted`` so and ``since``
        when it has stayed on the other side; and that time, None once the crossing counts or is undone."""
        if beyond is counted:
            return counted, None
        now = self.ctx.clock.monotonic()
        if since is None:
            since = now
        if now - since >= self.settings.out_of_range_after_s:
            return beyond, None
        return counted, since

    def on_fill(self, fill: Fill) -> None:
        known, closes = self._closes_of(fill)
        if not known:  # a late fill of a sell older than those the grid remembers: its order is read off the loop
            self._read_closes(fill)
            return
        self._apply_fill(fill, closes)

    def _apply_fill(self, fill: Fill, closes: str | None) -> None:
        """Book ``fill`` (``closes``: what its order closes) to the ledger's lots once, and to its slot."""
        new = self._count(fill, closes)
        slot = self._by_order.get(fill.client_order_id)
        if slot is not None:
            market = self._rules
            executions = self._executions.setdefault(fill.client_order_id, Executions())
            executions.add(fill, market.base, market.quote)
            self._went_through(slot)
        elif new and fill.symbol == self._symbol:
            self._late_fill(fill)

    def _late_fill(self, fill: Fill) -> None:
        """A fill of a slot's order that ended (cancelled, expired) before it came. What the order's end counted
        without its fills (:attr:`_estimated`) is corrected to the fill's price and fees; the rest is new.

        A sell's new part sold some of what the slot holds: the slot offers only the rest from now on (a sell of it
        resting already offers too much and is cancelled; its end offers the rest again, after ``retry_after_s``).
        Once the slot no longer holds that lot (a later sell sold it all), the base was sold twice and cannot be
        bought back: the grid alerts, books the proceeds to the slot, and the next sell offers that much less
        (:meth:`_unsold`, which reads the ledger's position). A buy's new part is base the grid holds that no slot
        sells: a later sell carries it. Either way the slot's quote figures stay exact. An order of no slot the grid
        has now (laid out again on fewer levels, or under another id epoch): the ledger counts its fill, and the grid
        alerts what its slots do not hold (or hold more of) than they say. Each alert once per order, at its first
        such fill; the later ones are logged (:meth:`_late_alert`)."""
        order_id = fill.client_order_id
        slot = self._ended_sells.get(order_id) or self._slot_of(order_id)
        if slot is None:
            self._slotless_fill(fill)
            return
        market = self._rules
        done = Executions()
        done.add(fill, market.base, market.quote)
        counted_qty = counted_value = ZERO
        estimate = self._estimated.pop(order_id, None)
        if estimate is not None:
            side, left, price = estimate
            counted_qty = min(fill.qty, left)
            counted_value = counted_qty * price
            if left > counted_qty:
                self._estimated[order_id] = (side, left - counted_qty, price)
        extra = fill.qty - counted_qty
        base = market.base
        slot.updated_ns = self.ctx.clock.time_ns()
        self._unsaved[slot.index] = slot
        if fill.side is Side.SELL:
            quote = done.sell_proceeds - counted_value
            if slot.state is LOCKED and self._ended_sells.get(order_id) is slot:
                slot.qty -= extra
                slot.proceeds += quote
                slot.sold_qty += extra
                slot.sold_value += extra * fill.price
                if extra:
                    self.ctx.log.warning("slot %d: sell %s filled %s %s after it ended; %s %s left to sell",
                                         slot.index, order_id, extra, base, max(slot.qty, ZERO), base)
                    if slot.order_id is not None:
                        self._cancel(slot.order_id)
                    elif slot.qty <= 0 or not self._sellable(slot.qty, slot.sell_price):
                        self._complete(slot)
                        self._scan()
            else:
                slot.profit += quote
                if extra:
                    self._late_alert(order_id, extra, f"slot {slot.index}: sell {order_id} filled {extra} {base} after "
                                     f"the slot's inventory was sold: the grid sold {extra} {base} more than it "
                                     f"bought; its next sell offers that much less", slot=slot.index)
        else:
            cost = done.buy_cost - counted_value
            if slot.state is LOCKED and slot.opened_by == order_id:
                slot.cost += cost
            else:
                slot.profit -= cost
            if extra:
                self._late_alert(order_id, extra, f"slot {slot.index}: buy {order_id} filled {extra} {base} after it "
                                 f"ended: the grid holds {done.base_received - counted_qty} {base} no slot sells; a "
                                 f"later sell carries it", slot=slot.index)
        self._flush()

    def _slotless_fill(self, fill: Fill) -> None:
        """A late fill of an order of no slot the grid has now: what the order's end estimated of it is corrected (no
        alert); the rest is base the slots do not count, alerted (:meth:`_late_fill`)."""
        order_id, base = fill.client_order_id, self._rules.base
        extra = fill.qty
        estimate = self._estimated.pop(order_id, None)
        if estimate is not None:
            side, left, price = estimate
            extra = max(fill.qty - left, ZERO)
            if left > fill.qty:
                self._estimated[order_id] = (side, left - fill.qty, price)
        if not extra:
            return
        if fill.side is Side.SELL:
            message = (f"sell {order_id} filled {extra} {base} after it ended, and no slot of the grid holds what it "
                       f"sold (laid out again since): the grid sold {extra} {base} more than its slots hold; its next "
                       f"sell offers that much less")
        else:
            message = (f"buy {order_id} filled {extra} {base} after it ended, and no slot of the grid holds it (laid "
                       f"out again since): the grid holds {extra} {base} no slot sells; a later sell carries it")
        self._late_alert(order_id, extra, message)

    def _late_alert(self, order_id: str, qty: Decimal, message: str, **fields: object) -> None:
        """A late fill of ``order_id`` (``qty`` base) the slots cannot hold, said in ``message``: alerted at the first
        of the order's such fills only (a sell the venue reports 30 partial fills of after its end is one alert, not
        30); each later one is logged with the order's count and base in all so far."""
        fills, total = self._late_said.pop(order_id, (0, ZERO))
        fills, total = fills + 1, total + qty
        self._late_said[order_id] = (fills, total)
        if len(self._late_said) > FINISHED_KEPT:  # an order's late fills come within seconds of its end
            del self._late_said[next(iter(self._late_said))]
        if fills > 1:
            self.ctx.log.warning("%s (late fill %d of %s the slots cannot hold, %s %s in all; alerted at the first)",
                                 message, fills, order_id, total, self._rules.base)
            return
        self.ctx.log.warning(message)
        self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name, order=order_id, qty=qty, **fields)

    def _diverged(self, message: str, slot: Slot, qty: Decimal) -> None:
        """The grid's holding differs from its slots' (the ledger's position is the truth): say so."""
        self.ctx.log.warning(message)
        self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name, slot=slot.index, qty=qty)

    def _slot_of(self, order_id: str) -> Slot | None:
        """The slot whose client order id ``order_id`` is (None: not one of this grid's slots)."""
        m = self._id_pattern().fullmatch(order_id)
        if m is None:
            return None
        index = int(m[1])
        return self._slots[index] if index < len(self._slots) else None

    def _count(self, fill: Fill, closes: str | None) -> bool:
        """Book a fill of this strategy into its ledger lots, once per trade (False: counted already); ``closes``:
        what its order names."""
        order_id = fill.client_order_id
        seen = self._counted.get(order_id)
        if seen is None:
            seen = self._finished.get(order_id)
            if seen is None:
                seen = set()
                if order_id in self._by_order:
                    self._counted[order_id] = seen
                else:
                    self._remember_finished(order_id, seen)
        if fill.trade_id in seen:
            return False
        seen.add(fill.trade_id)
        ordered = self._positions.get(fill.symbol)
        if ordered is None:  # a fill of a market the grid left (read from the store at start)
            ordered = self._positions[fill.symbol] = TimeOrderedPosition()
        figures = next((m for m in self._all_figures.markets if m.symbol == fill.symbol), None)
        if figures is None:
            figures = MarketFigures(self.name, fill.symbol, split_symbol(fill.symbol)[1])
            self._all_figures.markets.append(figures)
        for before, now in ordered.book_steps(fill, closes):  # a late fill matches the later ones again
            if before is not None:
                figures.remove(before)
            figures.add(now)
        return True

    def _closes_of(self, fill: Fill) -> tuple[bool, str | None]:
        """Whether what the order of ``fill`` closes (:attr:`OrderIntent.closes`, as the ledger reads it from the
        order's row) is known without a store read on the loop, and what it is.

        From what the grid holds: a slot's open order's, a finished sell's (the newest FINISHED_KEPT), and a buy
        closes nothing. Else the executor's record as it holds it in memory (it holds the order of a fill it hands
        out, unless the host held the fill for the grid meanwhile), or the store where a read takes microseconds
        (file-backed SQLite; None when it has no record: the ledger then matches the sell to the oldest lot). Not
        known (False) where a store read is a round trip (PostgreSQL: a stopped server would hold the bot): the
        caller reads it off the loop (:meth:`_read_closes`)."""
        order_id = fill.client_order_id
        if order_id in self._closes:
            return True, self._closes[order_id]
        if order_id in self._finished_closes or fill.side is Side.BUY:
            return True, self._finished_closes.get(order_id)
        order = self._order_held(order_id)
        if order is not None:
            return True, order.closes
        return self.ctx.store.records_inline, None

    def _read_closes(self, fill: Fill) -> None:
        """A late fill of a finished sell the grid no longer remembers (older than the newest FINISHED_KEPT), the
        executor having forgotten the order too: booked once its order is read off the loop (:meth:`_book_once_read`);
        its other fills meanwhile wait with it (each trade is booked once: :meth:`_count`)."""
        waiting = self._closes_wanted.get(fill.client_order_id)
        if waiting is not None:
            waiting.append(fill)
            return
        self._closes_wanted[fill.client_order_id] = [fill]
        task = self.ctx.create_task(self._book_once_read(fill.client_order_id),
                                    f"read what sell {fill.client_order_id} closes, for its late fill")
        self._reading_closes.add(task)
        task.add_done_callback(self._reading_closes.discard)

    async def _book_once_read(self, order_id: str) -> None:
        """Read sell ``order_id`` off the loop (a store that fails is read again after WRITE_RETRY_FIRST_S, doubling
        to WRITE_RETRY_MAX_S), then book its late fills that waited, once each, to the lot its order closes, and to its
        slot (:meth:`_late_fill`). No record of it (or one that cannot be read for another cause): booked to the
        oldest lot, as the ledger books a sell whose order names none, and alerted once; its later fills too, with
        no second read or alert (what it closes is kept as not known)."""
        order: Order | None = None
        why = "no record of the order"
        delay = WRITE_RETRY_FIRST_S
        try:
            while True:
                try:
                    order = await self.ctx.look_up_order(order_id)
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"  # no SQL
                    if not is_store_error(exc):
                        why = f"its record could not be read: {error}"
                        break
                    log = self.ctx.log.warning if delay == WRITE_RETRY_FIRST_S else self.ctx.log.debug
                    log("sell %s: its record could not be read for its late fill (%s); trying again in %gs",
                        order_id, error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, WRITE_RETRY_MAX_S)
        finally:
            fills = self._closes_wanted.pop(order_id, [])  # stopped meanwhile: a restart books them from the store
        closes = order.closes if order is not None else None
        self._keep_closes(order_id, closes)
        if order is None:
            base = self._rules.base
            sold = sum({fill.trade_id: fill.qty for fill in fills}.values(), ZERO)  # (a trade delivered twice: once)
            message = (f"sell {order_id} filled {sold} {base} after it ended, and what it closes cannot be read "
                       f"({why}): booked once against the grid's oldest lot, as the ledger books it")
            self.ctx.log.warning(message)
            self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name, order=order_id)
        for fill in fills:
            self._apply_fill(fill, closes)

    def _keep_closes(self, order_id: str, closes: str | None) -> None:
        """Remember what finished sell ``order_id`` closes (the newest FINISHED_KEPT)."""
        self._finished_closes[order_id] = closes
        if len(self._finished_closes) > FINISHED_KEPT:
            del self._finished_closes[next(iter(self._finished_closes))]

    def _remember_finished(self, order_id: str, seen: set[str]) -> None:
        """Keep a finished order's trade ids; beyond FINISHED_KEPT orders the oldest are forgotten (while starting,
        :meth:`_keep_open` trims once the open orders are known)."""
        self._finished[order_id] = seen
        if self._started and len(self._finished) > FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]

    def on_order_update(self, update: OrderUpdate) -> None:
        slot = self._by_order.get(update.client_order_id)
        if slot is None:
            return
        if update.status is OrderStatus.OPEN and slot.order_id == update.client_order_id:
            self._went_through(slot)
        if not update.status.terminal or update.status is OrderStatus.OBSERVED:
            return
        cid = update.client_order_id
        if cid in self._finishing:
            return
        if not self.ctx.store.records_inline and self._fills_missing(cid, update.filled_qty):
            read = self.ctx.read_later(self._stored_fills_of, [cid])
            if not read.done():
                self._finishing.add(cid)
                self.ctx.create_task(self._finish_once_read(update, read), f"read the stored fills of {cid}")
                return
            self._read_fills.update(read.result())  # read inline (simulated time)
            try:
                self._ended(slot, update)
            finally:
                self._read_fills.pop(cid, None)
            return
        self._ended(slot, update)

    def _ended(self, slot: Slot, update: OrderUpdate) -> None:
        self._finish(slot, update.client_order_id, update.status, update.filled_qty, update.avg_fill_price,
                     update.reason)
        if update.status in (OrderStatus.REJECTED, OrderStatus.FAILED):  # perhaps for rules the venue changed
            self._follow_rules()
        self._scan()

    def _fills_missing(self, order_id: str, filled_qty: Decimal) -> bool:
        """Whether the fills delivered of ``order_id`` do not add up to ``filled_qty`` (its stored ones are read)."""
        executions = self._executions.get(order_id)
        return (executions.qty if executions is not None else ZERO) != filled_qty and order_id not in self._read_fills

    async def _finish_once_read(self, update: OrderUpdate, read: asyncio.Future[dict[str, list[Fill]]]) -> None:
        """An ended order whose delivered fills do not add up, where a store read is a round trip (PostgreSQL): its
        stored fills are read on the store writer's thread (after the writes handed to it before), then its slot
        moves on; a server that stops answering holds that slot, never the loop."""
        cid = update.client_order_id
        try:
            self._read_fills.update(await read)
        finally:
            self._finishing.discard(cid)
        try:
            slot = self._by_order.get(cid)
            if slot is not None and slot.order_id == cid:  # not settled meanwhile
                self._ended(slot, update)
        finally:
            self._read_fills.pop(cid, None)

    def _stored_fills_of(self, order_ids: list[str]) -> dict[str, list[Fill]]:
        """The stored fills of each order (for the store writer's thread)."""
        return {cid: self.ctx.stored_fills(client_order_id=cid) for cid in order_ids}

    async def reconcile(self) -> None:
        """Settle every slot that has an order against the executor's record: catches missed updates."""
        if not self._started:
            return
        await self._read_slot_orders({slot.order_id for slot in self._slots if slot.order_id is not None})
        try:
            if not self.ctx.store.records_inline:  # the ended orders' stored fills, off the loop (_executions_of)
                ended = [cid for cid in self._by_order if cid not in self._finishing and cid not in self._unsent
                         and (order := self._order(cid)) is not None and order.status.terminal
                         and order.status is not OrderStatus.OBSERVED and self._fills_missing(cid, order.filled_qty)]
                if ended:
                    self._read_fills.update(await self.ctx.read_later(self._stored_fills_of, ended))
            self._reconcile()
        finally:
            self._read_orders.clear()
            self._read_fills.clear()

    def _reconcile(self) -> None:
        self._follow_rules()
        changed = False
        for slot in list(self._slots):
            changed |= self._settle(slot, grace=True)
        for slot in self._slots:  # a cancel can miss an order still on its way to the venue: ask again
            if (slot.state is PENDING and slot.order_id is not None
                    and (self._shifting or self._relayout is not None or slot.order_id in self._yielding)
                    and not self._known_ended(slot, slot.order_id)):
                self._cancel(slot.order_id)
            elif slot.state is LOCKED and slot.order_id in self._returning:
                self._cancel(slot.order_id)
        if changed:
            self._scan()
        self._flush()

    async def _read_slot_orders(self, order_ids: set[str]) -> None:
        """Read the slots' orders the executor does not hold (:attr:`_read_orders`) where a store read is a round trip
        (PostgreSQL), each with ``ctx.look_up_order`` (at start :meth:`start` takes them from the stored orders it read
        off the loop), so a server that stops answering delays the grid, never the loop. A file-backed SQLite store is
        read as needed (microseconds, on the loop)."""
        if self.ctx.store.records_inline:
            return
        wanted = sorted(cid for cid in order_ids if self.ctx.held_order(cid) is None)
        if not wanted:
            return
        for cid in wanted:
            self._read_orders[cid] = await self.ctx.look_up_order(cid)  # in memory when this run wrote it final

    def _order(self, order_id: str) -> Order | None:
        """The executor's record of ``order_id``: held (the newest), else as :meth:`_read_slot_orders` read it off the
        loop, else ``ctx.order`` (in memory for the orders of this run)."""
        held = self.ctx.held_order(order_id)
        if held is not None:
            return held
        if order_id in self._read_orders:
            return self._read_orders[order_id]
        return self.ctx.order(order_id)

    def _order_held(self, order_id: str) -> Order | None:
        """The executor's record of ``order_id`` without a store read on the loop: as it holds it in memory, else as
        read off the loop (:attr:`_read_orders`); where a store read takes microseconds (file-backed SQLite)
        ``ctx.order``. None where it is known only to the store (PostgreSQL: a round trip, and a stopped server would
        hold the whole bot): the caller answers from what the grid holds."""
        held = self.ctx.held_order(order_id)
        if held is not None:
            return held
        if order_id in self._read_orders:
            return self._read_orders[order_id]
        return self.ctx.order(order_id) if self.ctx.store.records_inline else None

    def _settle(self, slot: Slot, *, grace: bool) -> bool:
        """Bring one slot in line with the executor's record of its order; True if the slot changed."""
        order_id = slot.order_id
        if order_id is None or order_id in self._unsent or order_id in self._finishing:
            return False  # not sent yet (its slot row is being written); its stored fills being read
        self._by_order[order_id] = slot
        order = self._order(order_id)
        if order is None:
            submitted = self._submitted_at.get(order_id)
            if grace and submitted is not None and self.ctx.clock.monotonic() - submitted < NOT_FOUND_GRACE_S:
                return False
            self.ctx.log.warning("slot %d: the executor has no order %s; treating it as never sent",
                                 slot.index, order_id)
            # At start that is a crash between writing the id and submitting: nothing to wait for.
            self._finish(slot, order_id, OrderStatus.FAILED, ZERO, None, "unknown to the executor", retry=grace)
            return True
        if not order.status.terminal or order.status is OrderStatus.OBSERVED:
            return False
        # At start (no grace) nothing to wait for: the order ended before this run (the last stop cancels what rests)
        self._finish(slot, order_id, order.status, order.filled_qty, order.avg_fill_price, order.reason, retry=grace)
        return True

    # --- the slot state machine ----------------------------------------------------------------

    def _finish(self, slot: Slot, order_id: str, status: OrderStatus, filled_qty: Decimal,
                avg_price: Decimal | None, reason: str, retry: bool = True) -> None:
        """The slot's current order ``order_id`` reached ``status`` having filled ``filled_qty``: move the slot on."""
        self._by_order.pop(order_id, None)
        self._submitted_at.pop(order_id, None)
        closes = self._closes.pop(order_id, None)
        if closes is not None:
            self._keep_closes(order_id, closes)
        seen = self._counted.pop(order_id, None)
        if seen is not None:
            self._remember_finished(order_id, seen)
        side, limit_price = (Side.BUY, slot.buy_price) if slot.state is PENDING else (Side.SELL, slot.sell_price)
        executions = self._executions_of(order_id, side, filled_qty, avg_price or limit_price)
        slot.order_id = slot.offered_at = None
        yielded = order_id in self._yielding
        self._yielding.discard(order_id)
        returned = order_id in self._returning
        self._returning.discard(order_id)
        self._repriced.discard(order_id)
        if slot.state is PENDING:
            if executions.qty > 0:  # its fills, as for a sell below
                slot.opened_by = order_id
                self._lock(slot, executions)
            else:
                self._set_state(slot, FREE)
                slot.qty = ZERO
                # the re-centred grid places its buys at once; one cancelled for a sell waits behind that offer
                if retry and not self._shifting and self._relayout is None and not yielded:
                    self._retry_later(slot, Side.BUY, order_id, status.value, reason)
        elif slot.state is LOCKED:
            # what its fills sold (never less than filled_qty: the rest is estimated), not filled_qty alone: an answer
            # made before the venue's last fill may say less than the fills delivered
            slot.qty -= executions.qty
            slot.proceeds += executions.sell_proceeds
            slot.sold_qty += executions.qty
            slot.sold_value += executions.notional
            if slot.qty < 0:  # a late fill of an earlier sell had sold part of the lot already
                base = self._rules.base
                self._diverged(f"slot {slot.index}: sell {order_id} and a late fill of an earlier one sold {-slot.qty} "
                               f"{base} more than the slot held; its next sell offers that much less", slot, -slot.qty)
            if status is OrderStatus.FILLED or slot.qty <= 0:
                self._complete(slot)
            elif not self._sellable(self._rules.round_qty(slot.qty), slot.sell_price):  # (in lots: :meth:`_place`)
                self.ctx.log.warning("slot %d: %s %s left unsold after a partial sell: below the market minimum",
                                     slot.index, slot.qty, self._rules.base)
                self._complete(slot)
            elif retry and not returned:  # a sell cancelled to return to its price is offered there at once
                self._retry_later(slot, Side.SELL, order_id, status.value, reason)
            if slot.state is LOCKED and status is OrderStatus.CANCELLED:
                # a fill of it may still come (matched before the cancel landed; a refused order never fills)
                self._ended_sells[order_id] = slot
        slot.updated_ns = self.ctx.clock.time_ns()
        # Written with the orders this change leads to (one transaction), else by _flush. A crash
        # before that loses nothing: the slot still names the finished order, settled again at start.
        self._unsaved[slot.index] = slot
        if self._shifting:
            self._continue_shift()

    def _lock(self, slot: Slot, executions: Executions) -> None:
        """The buy filled (wholly or partly): hold what it bought and sell that one step up, with what earlier round
        trips left unsold once it adds up to a lot (:meth:`_unsold`)."""
        received = executions.base_received
        unsold = self._unsold(slot, received)
        qty = self._rules.round_qty(received + unsold)
        if unsold < 0:
            self.ctx.log.warning("slot %d: sells %s of the %s %s bought: the grid sold %s %s more than it bought "
                                 "before (a late fill)", slot.index, max(qty, ZERO), received, self._rules.base,
                                 -unsold, self._rules.base)
        if not self._sellable(qty, slot.sell_price):
            self.ctx.log.warning("slot %d: bought %s %s, too little to sell (market minimum); left in the account",
                                 slot.index, executions.base_received, self._rules.base)
            self._set_state(slot, FREE)
            slot.qty = ZERO
            slot.profit -= executions.buy_cost  # paid; a later sell carrying this base books what it brings
            return
        self._set_state(slot, LOCKED)
        slot.qty, slot.cost, slot.proceeds = qty, executions.buy_cost, ZERO
        slot.bought_at = executions.notional / executions.qty if executions.qty else None
        slot.sold_qty = slot.sold_value = ZERO
        self._retry_at.pop(slot.index, None)

    def _unsold(self, slot: Slot, received: Decimal) -> Decimal:
        """Base the grid holds that no slot sells: what its fills left below the market's lot size (a buy's fee in
        the base takes a part of a lot from what it received; a partial sell below the minimum leaves the rest). A
        sell that rounds it up to a lot carries it, so it does not pile up in the account round trip after round
        trip. Counted from the grid's own fills (the ledger's position, with the fills the slots counted before they
        arrived), less what the locked slots still sell, the open buys received so far and ``received`` (this slot's
        buy): never more than the grid's fills left it. Below zero when the grid sold more than it bought (a late fill
        of a sell whose lot a later sell had sold): the next sell offers that much less."""
        unsold = self._book.qty - received
        for side, qty, _ in self._estimated.values():  # counted by the slots, not yet by the ledger
            unsold += qty if side is Side.BUY else -qty
        for other in self._slots:
            if other is slot:
                continue
            if other.state is LOCKED:
                unsold -= other.qty
                if other.order_id is not None:  # its resting sell's fills so far left the ledger's position already
                    sold = self._executions.get(other.order_id)
                    if sold is not None:
                        unsold += sold.qty
            elif other.state is PENDING and other.order_id is not None:
                bought = self._executions.get(other.order_id)
                if bought is not None:
                    unsold -= bought.base_received
        return unsold

    def _complete(self, slot: Slot) -> None:
        """The inventory is sold: book the slot's round trip and free the slot.

        The slot keeps what its own buy and sell came to (``profit``: proceeds - cost, fees included); the
        log line and :meth:`status` give the strategy's realized PnL from the ledger's lots, as ``/pnl``: each
        sell names its slot's buy (``closes``), so a round trip realizes its step whatever else the grid holds.
        The log line gives the prices traded (the fills' average, to a price's significant digits: the slot's prices
        may have moved onto a new tick since); the slot's own where a side is not known (a buy of a grid restarted
        with no stored order of it).
        """
        profit = slot.proceeds - slot.cost
        slot.round_trips += 1
        slot.profit += profit
        self._slots_completed += 1
        quote = self._rules.quote
        bought = slot.bought_at if slot.bought_at is not None else slot.buy_price
        sold = slot.sold_value / slot.sold_qty if slot.sold_qty > 0 else slot.sell_price
        self.ctx.log.info("slot %d: round trip %s -> %s done (%s after this slot's fees); %s realized %s, fees %s "
                          "(the ledger's, as /pnl)", slot.index, price_text(bought), price_text(sold),
                          signed_money(profit, quote), self.name, self._realized_text(),
                          self._fees_text())
        self._set_state(slot, FREE)
        slot.qty = slot.cost = slot.proceeds = slot.sold_qty = slot.sold_value = ZERO
        slot.opened_by = slot.bought_at = None
        for order_id in [o for o, s in self._ended_sells.items() if s is slot]:
            del self._ended_sells[order_id]
        self._retry_at.pop(slot.index, None)

    def _sellable(self, qty: Decimal, price: Decimal) -> bool:
        market = self._rules
        return qty > 0 and qty >= market.min_qty and qty * price >= market.min_notional

    def _retry_later(self, slot: Slot, side: Side, order_id: str, outcome: str, reason: str) -> None:
        at = self.ctx.clock.monotonic() + self.settings.retry_after_s
        self._retry_at[slot.index] = at
        self._wake_at = min(self._wake_at, at)
        self.ctx.log.info("slot %d: %s %s %s%s; trying again in %gs", slot.index, side.value, order_id, outcome,
                          f" ({reason})" if reason else "", self.settings.retry_after_s)
        self._note_refusal(slot, side, slot.buy_price if side is Side.BUY else slot.sell_price, outcome, reason)

    def _note_refusal(self, slot: Slot, side: Side, price: Decimal, outcome: str, reason: str) -> None:
        """Count a refusal of the slot's order; at REFUSED_ALERT_AFTER in a row, log (WARNING) once per cause (side
        and outcome, whatever the slot) with the grid's fix: a grid short of balance has every slot refused, and says
        so once. Alerted too when the host does not alert it (:data:`HOST_ALERTED`: one owner per alert)."""
        count = self._refusals[slot.index] = self._refusals.get(slot.index, 0) + 1
        if count < REFUSED_ALERT_AFTER:
            return
        cause = f"{side.value} {outcome}"
        held = self._refused_causes.get(cause)
        if held is not None:
            held.add(slot.index)
            return
        self._refused_causes[cause] = {slot.index}
        market, retry_s = self._rules, self.settings.retry_after_s
        qty = self._order_qty if side is Side.BUY else slot.qty
        asset = market.quote if side is Side.BUY else market.base
        message = (f"slot {slot.index}: {side.value} of {qty} {market.base} at {price} refused {count} times in a row "
                   f"({outcome}{': ' + reason if reason else ''}); the slot tries again every {retry_s:g}s. Fix what "
                   f"the venue or risk check says: e.g. add {asset} to the account or lower order_size; or pause the "
                   f"strategy, or raise retry_after_s. No other alert for {side.value}s {outcome} until they go "
                   f"through")
        self.ctx.log.warning(message)
        if outcome not in HOST_ALERTED:
            self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name, slot=slot.index,
                           side=side.value, price=price, reason=reason or outcome)

    def _went_through(self, slot: Slot) -> None:
        """The slot's order rests on the venue or filled: its refusals are over; once a cause's slots have all gone
        through, one INFO note says so."""
        if self._refusals.pop(slot.index, None) is None:
            return
        for cause, held in list(self._refused_causes.items()):
            if slot.index in held:
                held.discard(slot.index)
                if not held:
                    del self._refused_causes[cause]
                    message = (f"{cause} orders going through again: slot {slot.index}'s order "
                               f"{slot.order_id or ''} was accepted")
                    self.ctx.log.info(message)
                    if cause.split(" ", 1)[1] not in HOST_ALERTED:
                        self.ctx.alert(AlertLevel.INFO, "strategy", message, strategy=self.name, slot=slot.index)

    def _set_state(self, slot: Slot, state: SlotState) -> None:
        self._counts[slot.state] -= 1
        self._counts[state] += 1
        slot.state = state

    def _executions_of(self, order_id: str, side: Side, filled_qty: Decimal, fallback_price: Decimal) -> Executions:
        """The fills of a finished order (the slot's ``side``: a pending slot's buy, a locked slot's sell): as
        delivered, with those the host stored (each trade once: a restart delivers only the fills after it, and the
        store holds a fill ~50 ms after it is applied), the rest estimated. No store read on the loop: the stored fills
        were read off it where a read is a round trip, and the estimate's side is the slot's, not the order's record
        (which the executor may have forgotten: a read of the store)."""
        executions = self._executions.pop(order_id, None) or Executions()
        if executions.qty != filled_qty:
            market = self._rules
            stored = self._read_fills.get(order_id)  # read off the loop (PostgreSQL), else here (microseconds)
            for fill in stored if stored is not None else self.ctx.stored_fills(client_order_id=order_id):
                executions.add(fill, market.base, market.quote)
        if executions.qty < filled_qty:
            missing = filled_qty - executions.qty
            self.ctx.log.warning("order %s: fills for %s of %s filled never arrived; counting them at %s without fees",
                                 order_id, missing, filled_qty, fallback_price)
            executions.add_unseen(missing, fallback_price)
            # its fill, when it comes, corrects this estimate (:meth:`_late_fill`); kept until then, never capped: the
            # slot counted it and the ledger has not, so one dropped while its fill may come counts that fill twice,
            # and :meth:`_unsold` is off by it meanwhile (see :attr:`_estimated`)
            self._estimated[order_id] = (side, missing, fallback_price)
        new_assets = executions.unvalued_fee_assets - self._warned_fee_assets
        if new_assets:
            self._warned_fee_assets |= new_assets
            self.ctx.log.warning("fees paid in %s are left out of the grid's profit (neither base nor quote)",
                                 ", ".join(sorted(new_assets)))
        return executions

    # --- placing orders ------------------------------------------------------------------------

    def _scan(self) -> None:
        """Place every order the slots are waiting for, and recompute the thresholds for the next scan."""
        if self._in_scan:  # an update delivered from inside ctx.submit: the running scan goes round again
            self._dirty = True
            return
        if self._relayout is not None:
            self._continue_relayout()
        if not self._started or self.paused or not self._live or self._bid is None or self._ask is None:
            self._dirty = True
        else:
            self._in_scan = True
            try:
                for _ in range(len(self._slots) + 1):
                    self._dirty = False
                    self._place(self._due())
                    if not self._dirty:
                        break
            finally:
                self._in_scan = False
        if self._relayout_retry_at is not None:  # the next book update after it tries the new layout again
            self._wake_at = min(self._wake_at, self._relayout_retry_at)
        self._flush()

    def _flush(self) -> asyncio.Future[None] | None:
        """Write the slots changed since the last write, and the layout if its last write failed: :meth:`_save`."""
        if not self._unsaved and self._unsaved_layout is None:
            return None
        slots, layout = list(self._unsaved.values()), self._unsaved_layout
        self._unsaved.clear()
        self._unsaved_layout = None
        return self._save(slots, layout)

    def _save(self, slots: list[Slot], layout: GridLayoutRow | None = None) -> asyncio.Future[None] | None:
        """Write ``slots`` (and ``layout``) in one transaction: inline where a write takes microseconds (file-backed
        SQLite, backtests: None once written); else on the store writer's thread, after the writes handed to it
        before (a server that stops answering holds the write, never the loop): the future of that write. What is
        written off the loop is a copy of each as it is now. A write that fails (the database locked, gone, its disk
        full), inline or not, is written again by the grid (:meth:`_saved`): inline, the failed future is returned
        at once, so the orders that wait for it are not sent (:meth:`_place`)."""
        if self.ctx.store.records_inline:
            ids = [slot.row_id for slot in slots]
            layout_id = None if layout is None else layout.id
            try:
                save(self.ctx.store, self.name, slots, layout)
            except Exception as exc:
                if not is_store_error(exc):
                    raise
                try:
                    failed = asyncio.get_running_loop().create_future()
                except RuntimeError:  # no loop to write it again from: the caller's to handle
                    raise exc from None
                for slot, row_id in zip(slots, ids, strict=True):  # rolled back: no row id of a row not there
                    slot.row_id = row_id
                if layout is not None:
                    layout.id = layout_id
                failed.set_exception(exc)
                self._saved(slots, slots, layout, layout, failed)
                return failed
            if self._write_failures:  # written again: noted once (:meth:`_saved`)
                done = asyncio.get_running_loop().create_future()
                done.set_result(None)
                self._saved(slots, slots, layout, layout, done)
            return None
        copies = [replace(slot) for slot in slots]
        layout_copy = None if layout is None else GridLayoutRow(**layout.model_dump())
        written = self.ctx.write_later(save, self.ctx.store, self.name, copies, layout_copy)
        written.add_done_callback(partial(self._saved, slots, copies, layout, layout_copy))
        return written

    def _saved(self, slots: list[Slot], copies: list[Slot], layout: GridLayoutRow | None,
               layout_copy: GridLayoutRow | None, written: asyncio.Future[None]) -> None:
        """A write of :meth:`_save` ended: new rows' ids are kept; a failed write's slots (and layout) are written
        again, with the next change or on their own after a backoff (:data:`WRITE_RETRY_FIRST_S`), whichever comes
        first. The first failure in a row is logged and alerted, the row written again noted: once each."""
        if written.cancelled() or written.exception() is not None:
            error = "cancelled" if written.cancelled() else written.exception()
            for slot in slots:
                self._unsaved.setdefault(slot.index, slot)
            if layout is not None:
                self._unsaved_layout = layout
            self._write_failures += 1
            delay = min(WRITE_RETRY_FIRST_S * 2 ** (self._write_failures - 1), WRITE_RETRY_MAX_S)
            what = " and ".join(part for part in (
                f"grid slots {', '.join(str(slot.index) for slot in slots)}" if slots else "",
                "grid layout" if layout is not None else "") if part)
            if self._write_failures == 1:
                message = (f"{what} not written ({error}): the grid writes them again in {delay:g}s, then up to "
                           f"every {WRITE_RETRY_MAX_S:g}s until written (their orders wait: a slot's order is sent "
                           f"once its row is written)")
                self.ctx.log.error(message)
                self.ctx.alert(AlertLevel.WARNING, "strategy", message, strategy=self.name)
            else:
                self.ctx.log.debug("%s not written again (%s, %d failures in a row): trying again in %gs", what,
                                   error, self._write_failures, delay)
            if self._rewrite is None or self._rewrite.done():
                self._rewrite = self.ctx.create_task(self._write_again(delay), "write the grid's slots again")
            return
        if self._write_failures:
            message = f"grid slots written again after {self._write_failures} failed writes"
            self._write_failures = 0
            self.ctx.log.info(message)
            self.ctx.alert(AlertLevel.INFO, "strategy", message, strategy=self.name)
        for slot, copy in zip(slots, copies, strict=True):
            if slot.row_id is None:
                slot.row_id = copy.row_id
        if layout is not None and layout_copy is not None and layout.id is None:
            layout.id = layout_copy.id

    async def _write_again(self, delay: float) -> None:
        """After a failed slot write: write what is still unwritten (a change meanwhile may have written it)."""
        await asyncio.sleep(delay)
        self._rewrite = None
        self._flush()

    async def stop(self) -> None:
        """A write waiting to be tried again is not, nor a read of a sell's record for its late fill: the host's stop
        settles what the store holds (a restart books every stored fill)."""
        if self._rewrite is not None:
            self._rewrite.cancel()
            self._rewrite = None
        for task in list(self._reading_closes):
            task.cancel()

    def _due(self) -> list[tuple[Slot, Side, Decimal]]:
        """The orders to place now: (slot, side, limit price)."""
        bid, ask, post_only = self._bid, self._ask, self.settings.post_only
        due: list[tuple[Slot, Side, Decimal]] = []
        if bid is None or ask is None:  # _scan checked both; a book emptied during the scan leaves nothing due
            return due
        now = self.ctx.clock.monotonic()
        wake_ask: Decimal | None = None
        wake_bid: Decimal | None = None
        wake_at = math.inf
        # The lowest price at which a slot offers what it holds: a buy there or above would bid against our own
        # sell (refused as post-only, else a trade with ourselves). The slot's sell finishing scans again.
        offered = min((s.sell_price for s in self._slots if s.state is LOCKED), default=None) \
            if self._counts[LOCKED] else None
        # The grid's own buys resting (placed before a slot below them bought): a sell at or below one of them waits
        # until it is cancelled (:meth:`_clear_way`); the buy's end scans again.
        bids = [s for s in self._slots if s.state is PENDING and s.order_id is not None] \
            if self._counts[PENDING] and offered is not None else []
        top_bid = max((s.buy_price for s in bids), default=None)
        above = self._shift_mode and self._beyond
        for slot in self._slots:
            if slot.state is FREE:
                if (self._shifting or self._relayout is not None or self._rules_unfit is not None
                        or (offered is not None and slot.buy_price >= offered)):
                    continue
                if slot.buy_price >= ask:  # a buy here would cross: wait for the ask to rise above it
                    if wake_ask is None or slot.buy_price < wake_ask:
                        wake_ask = slot.buy_price
                    continue
                side, price = Side.BUY, slot.buy_price
            elif slot.state is LOCKED and slot.order_id is not None:
                if slot.order_id in self._repriced and not above:
                    # offered above the grid's price only so the grid could follow a bid above the range: back inside
                    # it, the slot sells at its own price again (waiting, post-only, for the bid to fall below it)
                    self._repriced.discard(slot.order_id)
                    self._returning.add(slot.order_id)
                    self.ctx.log.info("slot %d: bid %s is back inside the grid; cancelling sell %s to offer it at %s",
                                      slot.index, bid, slot.order_id, slot.sell_price)
                    self._cancel(slot.order_id)
                continue
            elif slot.state is LOCKED:
                price = slot.sell_price
                if post_only and price <= bid:
                    if not above:
                        if wake_bid is None or price > wake_bid:
                            wake_bid = price
                        continue
                    # above a range that shifts: waiting for the bid to come back would stop the grid following
                    # the market, so the slot offers one tick above the bid (more than its step, still a maker)
                    price = bid + self._rules.tick_size
                if top_bid is not None and price <= top_bid and self._clear_way(slot, price, bids):
                    continue
                side = Side.SELL
            else:
                continue
            retry_at = self._retry_at.get(slot.index)
            if retry_at is not None:
                if retry_at > now:
                    wake_at = min(wake_at, retry_at)
                    continue
                del self._retry_at[slot.index]
            due.append((slot, side, price))
        self._wake_ask, self._wake_bid, self._wake_at = wake_ask, wake_bid, wake_at
        return due

    def _clear_way(self, slot: Slot, price: Decimal, bids: list[Slot]) -> bool:
        """Whether the grid's own buys rest at or above ``price``, where ``slot`` would sell: those are cancelled
        (once each; reconcile asks again) and the sell waits for their end, so the grid never quotes against itself
        (a post-only order refused, or a trade with ourselves). A buy filled in part locks its slot as usual. A buy
        known to have ended (wholly filled: a gap down whose fills come lowest first) is not cancelled: the sell waits
        only for its end, which is on its way."""
        in_way = [other for other in bids if other.buy_price >= price and other.order_id is not None
                  and other.state is PENDING]
        for other in in_way:
            order_id = other.order_id
            if order_id is not None and order_id not in self._yielding and not self._known_ended(other, order_id):
                self._yielding.add(order_id)
                self.ctx.log.info("slot %d: cancelling buy %s at %s so slot %d can sell at %s", other.index,
                                  order_id, other.buy_price, slot.index, price)
                self._cancel(order_id)
        return bool(in_way)

    def _known_ended(self, slot: Slot, order_id: str) -> bool:
        """Whether the slot's open order ``order_id`` is known to be over before its end reached the slot: its end
        came (its stored fills being read), its fills so far add up to the slot's quantity, or the executor's record
        of it, as held in memory, is final (its update is on its way). Not known (an order the executor no longer
        holds, read only from the store): False, so the caller asks for a cancel, which does nothing to an order
        that has ended, and waits for its end (a reconcile reads it off the loop)."""
        if order_id in self._unsent:  # not sent yet
            return False
        if order_id in self._finishing:
            return True
        executions = self._executions.get(order_id)
        if executions is not None and executions.qty >= slot.qty:
            return True
        order = self._order_held(order_id)
        return order is not None and (order.status.terminal or order.filled_qty >= order.qty)

    def _place(self, due: list[tuple[Slot, Side, Decimal]]) -> None:
        """Give each slot its next client order id, write them all, then submit the orders."""
        if not due:
            return
        ts = self.ctx.clock.time_ns()
        placing: list[tuple[Slot, Side, Decimal, str]] = []
        for slot, side, price in due:
            slot.seq += 1
            slot.order_id = order_id = f"{self._id_prefix()}{slot.index}-{slot.seq}"
            if side is Side.BUY:
                self._set_state(slot, PENDING)
                slot.qty = self._order_qty
            slot.updated_ns = ts
            self._by_order[order_id] = slot
            placing.append((slot, side, price, order_id))
        for slot, _, _ in due:
            self._unsaved[slot.index] = slot
        written = self._flush()  # every new client order id is on disk before the first submit
        if written is not None and not written.done():  # written off the loop (PostgreSQL): sent once it is
            for _, _, _, order_id in placing:
                self._unsent[order_id] = False
                self._submitted_at[order_id] = self.ctx.clock.monotonic()
            self.ctx.create_task(self._send_written(written, placing), "send the grid's orders once their slots are "
                                                                       "written")
            return
        if written is not None and (written.cancelled() or written.exception() is not None):
            self._not_written(placing)
            return
        self._submit(placing, len(due))

    async def _send_written(self, written: asyncio.Future[None],
                            placing: list[tuple[Slot, Side, Decimal, str]]) -> None:
        """Send the orders of :meth:`_place` once their slots' rows are written (off the loop): a slot never holds an
        order its stored row does not name, so a restart never gives it a second one. An order the grid cancelled
        meanwhile is not sent, and ends as cancelled; a slot that moved on meanwhile sends nothing."""
        try:
            await asyncio.wait([written])
        finally:
            cancelled = {order_id for _, _, _, order_id in placing if self._unsent.pop(order_id, False)}
        if written.cancelled() or written.exception() is not None:
            self._not_written(placing)
            self._scan()
            return
        sending = []
        for slot, side, price, order_id in placing:
            if slot.order_id != order_id:
                continue
            if order_id in cancelled:
                self._submitted_at.pop(order_id, None)
                self._finish(slot, order_id, OrderStatus.CANCELLED, ZERO, None, "cancelled before it was sent")
                self._unsaved[slot.index] = slot
            else:
                sending.append((slot, side, price, order_id))
        self._in_scan = True  # an update delivered from inside ctx.submit waits for the scan below
        try:
            self._submit(sending, len(placing))
        finally:
            self._in_scan = False
        self._scan()

    def _not_written(self, placing: list[tuple[Slot, Side, Decimal, str]]) -> None:
        """The slot rows naming these orders could not be written: none is sent, the slots try again later."""
        now = self.ctx.clock.monotonic()
        for slot, side, _, order_id in placing:
            self._submitted_at.pop(order_id, None)
            if slot.order_id == order_id:
                self._withdraw(slot, side, order_id, now)
        self.ctx.log.error("%d orders not sent: their slots could not be written; those slots try again in %gs",
                           len(placing), self.settings.retry_after_s)

    def _withdraw(self, slot: Slot, side: Side, order_id: str, now: float) -> None:
        """The slot's order ``order_id`` was never sent: the id is spent, the slot waits ``retry_after_s``."""
        self._by_order.pop(order_id, None)
        self._closes.pop(order_id, None)
        slot.order_id = slot.offered_at = None
        if side is Side.BUY:
            self._set_state(slot, FREE)
            slot.qty = ZERO
        self._retry_at[slot.index] = now + self.settings.retry_after_s
        self._wake_at = min(self._wake_at, now + self.settings.retry_after_s)
        self._unsaved[slot.index] = slot

    def _cancel(self, order_id: str) -> None:
        """Cancel one of the slots' orders; one not sent yet (:attr:`_unsent`) is never sent."""
        if order_id in self._unsent:
            self._unsent[order_id] = True
            return
        self.ctx.cancel(order_id)

    def _submit(self, placing: list[tuple[Slot, Side, Decimal, str]], due: int) -> None:
        """Submit the orders of :meth:`_place`, their slots' rows written."""
        s = self.settings
        refused = []
        now = self.ctx.clock.monotonic()
        lot = self._rules.lot_size
        for slot, side, price, order_id in placing:
            closes = slot.opened_by if side is Side.SELL else None  # the ledger matches the sell to its buy's lot
            qty = slot.qty
            if side is Side.SELL and qty % lot:  # bought on a lot size the venue changed since: a later sell carries
                qty = self._rules.round_qty(qty)  # the rest (:meth:`_unsold`)
            intent = OrderIntent(
                strategy=self.name, exchange=s.exchange, symbol=s.symbol, side=side, qty=qty, price=price,
                post_only=s.post_only, client_order_id=order_id, closes=closes,
            )
            self._closes[order_id] = closes
            if self.ctx.submit(intent) is not None:
                if slot.order_id == order_id:
                    self._submitted_at[order_id] = now
                    if side is Side.SELL and price != slot.sell_price:
                        self._repriced.add(order_id)
            elif slot.order_id == order_id:  # paused or vetoed: the id is spent, the slot waits
                self._withdraw(slot, side, order_id, now)
                refused.append(slot)
                self._note_refusal(slot, side, price, "vetoed", "not accepted: paused or vetoed by a risk check")
        if refused:
            self.ctx.log.info("%d of %d orders not accepted (paused or vetoed); those slots try again in %gs",
                              len(refused), due, s.retry_after_s)

    # --- out of range ---------------------------------------------------------------------------

    def _outside(self, bid: Decimal, above: bool) -> None:
        """The bid counts above ``upper`` (``above``) or below ``lower``. A shifting grid that holds nothing re-centres
        on the price (below the range: one started there, or whose buys were refused or vetoed on the way down, has
        every buy at or above the ask and would wait with no order at all). Otherwise it holds, said once per
        excursion: below the range, the slots that bought on the way down hold that inventory and sell it once the
        price comes back (a re-centred grid would leave their sells behind, or sell at a loss)."""
        if not self._excursion:
            self._excursion, self._excursion_noted = True, False
        if self._shifting:
            return
        where = (f"above the grid's upper price {self._upper}" if above
                 else f"below the grid's lower price {self._lower}")
        can_shift = (self._started and self._live and not self.paused and not self._shift_failed
                     and self._relayout is None)
        if self._shift_mode and can_shift and self._counts[LOCKED] == 0:
            self._start_shift(bid, where)
            return
        if not self._excursion_noted:
            self._excursion_noted = True
            if not self._shift_mode:
                why = 'out_of_range = "hold"'
            elif self._counts[LOCKED]:
                why = f"{self._counts[LOCKED]} slots hold inventory" + (
                    "" if above else ", sold once the price comes back; a grid holding none re-centres")
            else:
                why = "not re-centring while paused, stale, laying the grid out again or after a failed attempt"
            message = f"bid {bid} is {where}; holding ({why})"
            self.ctx.log.info(message)
            edge = {"upper": self._upper} if above else {"lower": self._lower}
            self.ctx.alert(AlertLevel.INFO, "strategy", message, bid=bid, **edge)

    def _start_shift(self, bid: Decimal, where: str) -> None:
        """Cancel the resting buys; the grid is re-centred once every slot is free."""
        self._shifting = True
        pending = [slot for slot in self._slots if slot.state is PENDING]
        self.ctx.log.info("bid %s is %s: cancelling %d buys to re-centre the grid",
                          bid, where, len(pending))
        for slot in pending:  # one known filled ends on its own: its end locks the slot and abandons the shift
            if slot.order_id is not None and not self._known_ended(slot, slot.order_id):
                self._cancel(slot.order_id)
        self._continue_shift()

    def _continue_shift(self) -> None:
        if self._counts[LOCKED]:
            self._shifting = False  # a cancelled buy had filled: hold until that inventory is sold
            self.ctx.log.info("re-centring abandoned: %d slots hold inventory", self._counts[LOCKED])
        elif not self._counts[PENDING]:
            self._recentre()

    def _recentre(self) -> None:
        layout, s = self._layout, self.settings
        bid, ask = self._bid, self._ask
        price = (bid + ask) / 2 if bid is not None and ask is not None else bid
        self._shifting = False
        if layout is None or price is None:  # no price left to centre on: the next bid out of the range tries again
            return
        market = self._read_rules()  # the new prices and sizes on the venue's tick and lot of the moment
        try:
            if self._order_qty <= 0 or self._order_qty < market.min_qty:
                raise ValueError(f"order_size {s.order_size} rounds to {self._order_qty} at lot size "
                                 f"{market.lot_size}, below the market's minimum of "
                                 f"{max(market.min_qty, market.lot_size)} {market.base}")
            lower, upper = recentre(layout.lower, layout.upper, s.spacing, price)
            prices = slot_prices(level_prices(lower, upper, s.levels, s.spacing), market)
        except ValueError as exc:
            message = f"cannot re-centre the grid on {price}: {exc}; holding"
            self.ctx.log.warning(message)
            self.ctx.alert(AlertLevel.WARNING, "strategy", message)
            self._excursion_noted = self._shift_failed = True  # not again until the price comes back
            return
        old = (layout.lower, layout.upper)
        now = self.ctx.clock.time_ns()
        layout.lower, layout.upper, layout.shifts, layout.updated_ns = lower, upper, layout.shifts + 1, now
        for slot, (buy, sell) in zip(self._slots, prices, strict=True):
            slot.buy_price, slot.sell_price, slot.updated_ns = buy, sell, now
        self._unsaved.clear()
        self._save(self._slots, layout)
        self._upper, self._lower = upper, lower
        self._rules_unfit = None
        self._excursion = self._beyond = self._under = False
        self._crossed_at = self._under_since = None
        self._retry_at.clear()
        self._dirty = True
        tick = self._rules.tick_size
        message = (f"grid re-centred on {price.quantize(tick)}: {_short(lower, tick)}-{_short(upper, tick)} "
                   f"(was {_short(old[0], tick)}-{_short(old[1], tick)})")
        self.ctx.log.info(message)
        self.ctx.alert(AlertLevel.INFO, "strategy", message, lower=lower, upper=upper, price=price)
        self._scan()

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> dict[str, str]:
        if self._layout is None:
            return {"state": "not started"}
        c, market = self._counts, self._rules
        out = {
            "slots": f"{c[FREE]} free / {c[PENDING]} pending / {c[LOCKED]} locked",
            "range": f"{_short(self._layout.lower, market.tick_size)}-{_short(self._upper, market.tick_size)} "
                     f"{market.quote}",
            "slots completed": str(self._slots_completed),
            "round trips": str(self._all_figures.round_trips),
            "realized": self._realized_text(),
            "fees": self._fees_text(),
        }
        if self._relayout is not None:
            out["state"] = "laying out again"
        elif self._shifting:
            out["state"] = "re-centring"
        elif self._excursion:
            out["state"] = "below range, holding" if self._under else "above range, holding"
        return out

    def _fees_text(self) -> str:
        """The fees as ``/pnl`` and ``arbot report`` show them: in quote, then any other asset's apart."""
        return fees_text(self._all_figures)

    def _realized_text(self) -> str:
        """The realized PnL as ``arbot report`` shows it: per quote asset, on every market the strategy traded."""
        figures = self._all_figures
        return moneys(figures.realized, figures.quotes)

    def chart_levels(self, symbol: str) -> list[Decimal]:
        """The grid's price levels on ``/chart price``: every slot's buy price and the top sell price."""
        if symbol != self._symbol or not self._slots:
            return []
        return [slot.buy_price for slot in self._slots] + [self._slots[-1].sell_price]


def _followed(market: MarketInfo) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The rules of a market the running grid follows (:meth:`GridStrategy._follow_rules`)."""
    return market.tick_size, market.lot_size, market.min_qty, market.min_notional


def _short(price: Decimal, tick: Decimal) -> str:
    return _plain(price.quantize(tick))


def _plain(amount: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 12.340 -> 12.34, 1E+2 -> 100."""
    text = format(amount.normalize(), "f")
    return "0" if text == "-0" else text
