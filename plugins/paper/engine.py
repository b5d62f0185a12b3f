"""The paper venue's matching engine: order checks, balances and reservations, taker and maker fills.

Rules (the venue's "exchange rules", also in the :class:`~plugins.paper.exchange.PaperExchange`
docstring):

* **Arrival.** A limit order that crosses the book on arrival (buy at or above the best ask, sell
  at or below the best bid) takes liquidity at once: it walks the published levels best first,
  up to its limit price, each level filling at most its size (a partial fill per level, taker
  fee). Post-only orders that would cross are refused (:class:`PostOnlyWouldCross`). What is left
  rests (GTC) or is cancelled (IOC). Market orders walk the book the same way with no limit; what
  the visible book cannot fill is cancelled.
* **Resting.** After each market step a resting buy at ``P`` fills, at ``P`` and as maker, when
  (a) the best ask moved to ``P`` or below: up to the size of the ask levels priced at or below
  ``P``; and (b) a public trade printed with a selling taker at ``P`` or below: up to the trade's
  size. Sells mirror this. The two sources are independent (one step may fill from both); orders
  share each one best price first, then oldest first. Queue position is ignored: at an equal
  price we are first in the queue.
* **No market impact.** Our fills never change the simulated market. A recorded or mirrored book
  (:class:`~plugins.paper.book_market.BookMarket`) remembers what we took from each level while
  its source keeps the level unchanged (:meth:`Market.consume`), so one level cannot fill us twice.
* **Money.** Fees are charged in the quote asset: ``price * qty * fee_bps / 10000`` rounded half
  up to ``fee_decimals`` decimals, one fee per fill, except that an order never pays more than its
  exact fees (those of its fills before rounding) rounded up: a fill that would take it past them
  pays what is left (maybe nothing), so the roundings of many small fills cannot add up. A limit
  buy that may rest (GTC) reserves ``price * qty`` plus the larger of the two fees (rounded up): it
  may take on arrival and fill as maker later. An IOC buy, which can only take, reserves the taker
  fee: ``price * qty * (1 + taker fee)``, what the arbitrage pricer holds for it, is enough even
  when the maker fee is the higher. A post-only buy, which can only make, reserves the maker fee.
  A sell reserves its base size. Reservations shrink with each
  fill (a buy keeps the value of what is left at its price, plus its exact fees so far and its fee
  rate on that value, rounded up, less the fees it paid: never less than its fills may still cost,
  so no balance goes below zero) and vanish when the order ends. A market buy needs the quote its
  walk will cost, checked before anything fills.
* **Restart.** Resting orders come back from the state file. One whose limit is off the grid of a
  ``tick_size`` changed since rests at the nearest tick on its own side of the limit (a buy's
  below, a sell's above): it never fills beyond its limit. Sizes are kept as stored, exact: under a
  ``lot_size`` changed since, what is left of an order fills in whole lots of the new size, never
  beyond the order's own size; a rest below one lot (at once, or once the whole lots have filled) is
  cancelled, the reason naming the rest and the lot size.
* **Checks.** Unknown symbol, size not above zero, not a multiple of ``lot_size`` or below
  ``min_qty``, limit price missing or off the tick grid, limit value below ``min_notional``, and
  post-only market orders are refused with :class:`PermanentError`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from bot.api import (
    BPS,
    ZERO,
    Balance,
    InsufficientFunds,
    Liquidity,
    MarketInfo,
    Order,
    OrderStatus,
    OrderType,
    PermanentError,
    PostOnlyWouldCross,
    Side,
    TimeInForce,
)

from .book_market import Market
from .events import new_fill
from .orders import Changes, PaperOrder, RestingOrders, order_kinds


class MatchingEngine:
    """Orders, balances and fills of one paper account, in memory. Persistence is the caller's job:
    it takes every change with :meth:`take_changes` after each operation."""

    def __init__(self, exchange: str, markets: dict[str, Market], rules: dict[str, MarketInfo], *,
                 maker_fee_bps: Decimal, taker_fee_bps: Decimal, fee_decimals: int,
                 balances: dict[str, Decimal], open_orders: list[PaperOrder], last_order_seq: int,
                 last_trade_seq: int, now_ns: int = 0):  # fmt: skip
        self.exchange = exchange
        self._markets = markets
        self._rules = rules
        self._maker_rate = maker_fee_bps / BPS
        self._taker_rate = taker_fee_bps / BPS
        self._reserve_rate = max(self._maker_rate, self._taker_rate)
        """What a buy that may rest reserves for fees: it may fill as taker on arrival, then as maker."""
        self._fee_quantum = Decimal(1).scaleb(-fee_decimals)
        self._totals: dict[str, Decimal] = dict(balances)
        self._reserved: dict[str, Decimal] = {}
        self.open_by_id: dict[str, PaperOrder] = {}
        """The open (resting) orders by client order id (read-only for callers: the venue's market step reads whether
        it is empty, and then matches nothing)."""
        self._resting: dict[str, RestingOrders] = {symbol: RestingOrders() for symbol in markets}
        self.order_seq = last_order_seq
        self.trade_seq = last_trade_seq
        self.pending = Changes({}, {}, {})
        """What changed since the last :meth:`take_changes` (read-only for callers: :attr:`changed` without a call,
        the venue's market step reads it)."""
        for order in open_orders:  # now_ns: when one that can no longer rest is cancelled (0: its stored time)
            self._adopt(order, now_ns)

    # --- queries ----------------------------------------------------------------------------

    def open_order(self, client_order_id: str) -> PaperOrder | None:
        """A resting order by client order id."""
        return self.open_by_id.get(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[PaperOrder]:
        """Resting orders, oldest first."""
        orders = sorted(self.open_by_id.values(), key=lambda o: o.seq)
        return [o for o in orders if symbol is None or o.symbol == symbol]

    def balances(self) -> dict[str, Balance]:
        """Total and free (total less reservations) by asset."""
        assets = sorted(set(self._totals) | set(self._reserved))
        return {
            a: Balance(a, self._totals.get(a, ZERO) - self._reserved.get(a, ZERO), self._totals.get(a, ZERO))
            for a in assets
        }

    def adjusted_totals(self, deltas: dict[str, Decimal]) -> dict[str, Decimal]:
        """The totals of the assets in ``deltas`` after adding them (a transfer in or out; not applied)."""
        return {asset: self._totals.get(asset, ZERO) + delta for asset, delta in deltas.items()}

    def set_totals(self, totals: dict[str, Decimal]) -> None:
        """Take new totals for some assets (a transfer the caller has committed)."""
        self._totals.update(totals)

    def take_changes(self) -> Changes:
        """Every order, fill and balance changed since the last call; starts a new change set."""
        changes, self.pending = self.pending, Changes({}, {}, {})
        return changes

    def put_back(self, changes: Changes) -> None:
        """Return a change set whose write failed: it goes out with the next one (newer states win)."""
        mine = self.pending
        self.pending = Changes(
            {**changes.orders, **mine.orders},
            {cid: changes.fills.get(cid, []) + mine.fills.get(cid, []) for cid in {*changes.fills, *mine.fills}},
            {**changes.assets, **mine.assets},
        )

    @property
    def changed(self) -> bool:
        """True when something awaits :meth:`take_changes` (every change touches an order)."""
        return bool(self.pending.orders)

    # --- order requests ---------------------------------------------------------------------

    def place(self, order: Order, now_ns: int) -> PaperOrder:
        """Accept ``order`` and execute what crosses. Raises PermanentError (and records the order
        as REJECTED) when the venue refuses it."""
        # Enum fields may arrive as plain strings (an Order rebuilt from a database row).
        try:
            side, order_type, tif = order_kinds(order)
        except ValueError as exc:
            raise PermanentError(f"invalid order: {exc}") from None
        self.order_seq += 1
        record = PaperOrder(
            client_order_id=order.client_order_id, exchange_order_id=f"paper-o-{self.order_seq}",
            seq=self.order_seq, symbol=order.symbol, side=side, order_type=order_type,
            tif=tif, post_only=bool(order.post_only), qty=order.qty,
            price=order.price if order_type is OrderType.LIMIT else None,
            status=OrderStatus.OPEN, created_ns=now_ns, updated_ns=now_ns,
        )  # fmt: skip
        try:
            self._check(record)
            if record.order_type is OrderType.MARKET:
                self._execute_market(record, now_ns)
            else:
                self._execute_limit(record, now_ns)
        except PermanentError as exc:
            record.status = OrderStatus.REJECTED
            record.reason = str(exc)
            self._changed(record)
            raise
        return record

    def cancel(self, order: PaperOrder, now_ns: int) -> None:
        """Cancel a resting order and release what it reserved."""
        order.status = OrderStatus.CANCELLED
        order.reason = "cancelled by request"
        order.updated_ns = now_ns
        self._end(order)

    # --- market steps -----------------------------------------------------------------------

    def match(self, market: Market, now_ns: int) -> None:
        """Fill resting orders of ``market.symbol`` that its last step traded through."""
        book = self._resting[market.symbol]
        if not book.buys and not book.sells:  # nothing rests (most steps): the market's fields are not read
            return
        best_buy = book.best_buy
        if best_buy >= market.ask_ticks or (
            market.trade_lots and not market.trade_taker_buy and market.trade_ticks <= best_buy
        ):
            self._match_side(book.buys, market, market.ask_lots, now_ns, buy=True)
        best_sell = book.best_sell
        if best_sell <= market.bid_ticks or (
            market.trade_lots and market.trade_taker_buy and market.trade_ticks >= best_sell
        ):
            self._match_side(book.sells, market, market.bid_lots, now_ns, buy=False)

    def _match_side(self, orders: list[PaperOrder], market: Market, level_lots: tuple[int, ...], now_ns: int, *,
                    buy: bool) -> None:  # fmt: skip
        # (a) The opposite touch moved through our price: the levels at or through it are the liquidity.
        level = market.ask_level if buy else market.bid_level
        cumulative: list[int] = []
        total = 0
        for lots in level_lots:
            total += lots
            cumulative.append(total)
        consumed = 0
        through = len(cumulative)  # levels at or through the current order's price; orders go best first
        for order in tuple(orders) if cumulative else ():
            price = order.price_ticks
            while through and (level(through - 1) > price if buy else level(through - 1) < price):
                through -= 1
            if not through:
                break
            available = cumulative[through - 1] - consumed
            if available <= 0:
                break
            take = min(available, order.qty_lots - order.filled_lots)
            consumed += take
            self._fill(order, price, take, Liquidity.MAKER, now_ns)
        if consumed:
            market.consume(buy, consumed)
        # (b) A public trade by a taker on the other side printed at or through our price.
        if market.trade_lots and market.trade_taker_buy is not buy:
            left = market.trade_lots
            printed = market.trade_ticks
            for order in tuple(orders):
                if left <= 0 or (order.price_ticks < printed if buy else order.price_ticks > printed):
                    break
                take = min(left, order.qty_lots - order.filled_lots)
                left -= take
                self._fill(order, order.price_ticks, take, Liquidity.MAKER, now_ns)

    # --- internals --------------------------------------------------------------------------

    def _check(self, order: PaperOrder) -> None:
        rules = self._rules.get(order.symbol)
        if rules is None:
            raise PermanentError(f'unknown symbol "{order.symbol}"; this venue trades {sorted(self._rules)}')
        qty = order.qty
        if not qty.is_finite() or qty <= 0:
            raise PermanentError(f"quantity {qty} must be above zero")
        lots = qty / rules.lot_size
        if lots != lots.to_integral_value():
            raise PermanentError(f"quantity {qty} is not a multiple of the lot size {rules.lot_size}")
        if qty < rules.min_qty:
            raise PermanentError(f"quantity {qty} is below the minimum {rules.min_qty} {rules.base}")
        order.qty_lots = int(lots)
        if order.order_type is OrderType.MARKET:
            if order.post_only:
                raise PermanentError("a market order cannot be post-only")
            return
        price = order.price
        if price is None or not price.is_finite() or price <= 0:
            raise PermanentError(f"a limit order needs a price above zero, got {price}")
        ticks = price / rules.tick_size
        if ticks != ticks.to_integral_value():
            raise PermanentError(f"price {price} is not a multiple of the tick size {rules.tick_size}")
        if price * qty < rules.min_notional:
            raise PermanentError(f"order value {price * qty} is below the minimum {rules.min_notional} {rules.quote}")
        order.price_ticks = int(ticks)

    def _execute_limit(self, order: PaperOrder, now_ns: int) -> None:
        market = self._markets[order.symbol]
        buy = order.side is Side.BUY
        crosses = order.price_ticks >= market.ask_ticks if buy else order.price_ticks <= market.bid_ticks
        if crosses and order.post_only:
            touch = market.price(market.ask_ticks if buy else market.bid_ticks)
            raise PostOnlyWouldCross(
                f"post-only {order.side} at {order.price} would cross the best {'ask' if buy else 'bid'} {touch}"
            )
        self._hold(order, self._reserve_for(order))
        self._changed(order)
        if crosses:
            taken = 0
            for ticks, lots in self._walk(order, market):
                self._fill(order, ticks, lots, Liquidity.TAKER, now_ns)
                taken += lots
            market.consume(buy, taken)
        if order.status is OrderStatus.FILLED:
            return
        if order.tif is TimeInForce.IOC:
            order.status = OrderStatus.CANCELLED
            order.reason = "immediate-or-cancel: the rest found no liquidity at the limit price"
            self._end(order)
            return
        self.open_by_id[order.client_order_id] = order
        self._resting[order.symbol].add(order)

    def _execute_market(self, order: PaperOrder, now_ns: int) -> None:
        market = self._markets[order.symbol]
        plan = list(self._walk(order, market))
        rules = self._rules[order.symbol]
        if order.side is Side.BUY:
            cost = ZERO
            for ticks, lots in plan:
                notional = market.price(ticks) * market.qty(lots)
                cost += notional + self._fee(notional, self._taker_rate)
            self._require(rules.quote, cost)
        else:
            self._require(rules.base, order.qty)
        self._changed(order)
        for ticks, lots in plan:
            self._fill(order, ticks, lots, Liquidity.TAKER, now_ns)
        market.consume(order.side is Side.BUY, sum(lots for _, lots in plan))
        if order.status is not OrderStatus.FILLED:
            order.status = OrderStatus.CANCELLED
            order.reason = "market order: the rest found no liquidity in the visible book"
            self._end(order)

    def _walk(self, order: PaperOrder, market: Market) -> list[tuple[int, int]]:
        """(ticks, lots) taken from the opposite levels, best first, up to the limit price if any."""
        buy = order.side is Side.BUY
        levels = market.ask_lots if buy else market.bid_lots
        level = market.ask_level if buy else market.bid_level
        left = order.qty_lots - order.filled_lots
        limited = order.order_type is OrderType.LIMIT
        plan = []
        for i, lots in enumerate(levels):
            ticks = level(i)
            if left <= 0 or (limited and (ticks > order.price_ticks if buy else ticks < order.price_ticks)):
                break
            take = min(lots, left)
            plan.append((ticks, take))
            left -= take
        return plan

    def _fill(self, order: PaperOrder, ticks: int, lots: int, liquidity: Liquidity, now_ns: int) -> None:
        market = self._markets[order.symbol]
        rules = self._rules[order.symbol]
        price = market.price(ticks)
        qty = market.qty(lots)
        notional = price * qty
        rate = self._rate(liquidity)
        order.exact_fee += notional * rate
        # Half-up rounding of each fill could add up past what the order reserved for its fees.
        fee = min(self._fee(notional, rate), self._round_up(order.exact_fee) - order.fee)
        self.trade_seq += 1
        fill = new_fill(self.exchange, order.symbol, order.client_order_id, f"paper-{self.trade_seq}", order.side,
                        price, qty, fee, rules.quote, liquidity, now_ns)
        order.fills.append(fill)
        order.filled_lots += lots
        order.filled_qty += qty
        order.notional += notional
        order.fee += fee
        order.updated_ns = now_ns
        if order.side is Side.BUY:
            self._credit(rules.quote, -(notional + fee))
            self._credit(rules.base, qty)
        else:
            self._credit(rules.base, -qty)
            self._credit(rules.quote, notional - fee)
        self.pending.fills.setdefault(order.client_order_id, []).append(fill)
        if order.filled_lots >= order.qty_lots:
            if order.filled_qty == order.qty:
                order.status = OrderStatus.FILLED
            else:  # restored under a coarser lot size: what is left cannot fill in whole lots
                order.status = OrderStatus.CANCELLED
                order.reason = self._below_lot(order)
            self._end(order)
        else:
            self._hold(order, self._reserve_for(order))
            self._changed(order)

    def _rate(self, liquidity: Liquidity) -> Decimal:
        return self._maker_rate if liquidity is Liquidity.MAKER else self._taker_rate

    def _fee(self, notional: Decimal, rate: Decimal) -> Decimal:
        return (notional * rate).quantize(self._fee_quantum, rounding=ROUND_HALF_UP)

    def _round_up(self, fee: Decimal) -> Decimal:
        return fee.quantize(self._fee_quantum, rounding=ROUND_CEILING)

    def _reserve_for(self, order: PaperOrder) -> Decimal:
        """What ``order`` must hold for the rest of it: a sell its base size; a buy the value of the
        rest at its price and, for fees, at most what it may still pay (see "Money" above)."""
        if order.order_type is OrderType.MARKET or order.price is None:
            return ZERO  # executes at once; what it needs was checked up front
        qty = order.remaining_qty
        if order.side is Side.SELL:
            return qty
        value = order.price * qty
        if order.tif is TimeInForce.IOC:  # only ever takes
            rate = self._taker_rate
        elif order.post_only:  # only ever makes: one that would take is refused
            rate = self._maker_rate
        else:
            rate = self._reserve_rate
        return value + self._round_up(order.exact_fee + value * rate) - order.fee

    def _asset_reserved(self, order: PaperOrder) -> str:
        rules = self._rules.get(order.symbol)
        base, quote = (rules.base, rules.quote) if rules else order.symbol.split("/", 1)
        return base if order.side is Side.SELL else quote

    def _hold(self, order: PaperOrder, amount: Decimal) -> None:
        """Set what ``order`` reserves to ``amount``; raises InsufficientFunds if it grows past free."""
        asset = self._asset_reserved(order)
        delta = amount - order.reserved
        if delta > 0:
            self._require(asset, delta)
        self._reserved[asset] = self._reserved.get(asset, ZERO) + delta
        order.reserved = amount

    def _require(self, asset: str, amount: Decimal) -> None:
        free = self._totals.get(asset, ZERO) - self._reserved.get(asset, ZERO)
        if amount > free:
            raise InsufficientFunds(f"insufficient {asset}: the order needs {amount}, {free} is free")

    def _credit(self, asset: str, amount: Decimal) -> None:
        total = self._totals[asset] = self._totals.get(asset, ZERO) + amount
        self.pending.assets[asset] = total

    def _end(self, order: PaperOrder) -> None:
        """The order reached a final state: stop matching it and release its reservation."""
        self._hold(order, ZERO)
        self.open_by_id.pop(order.client_order_id, None)
        resting = self._resting.get(order.symbol)
        if resting is not None:
            resting.remove(order)
        self._changed(order)

    def _changed(self, order: PaperOrder) -> None:
        self.pending.orders[order.client_order_id] = order

    def _below_lot(self, order: PaperOrder) -> str:
        return (f"the rest, {order.remaining_qty}, is below the lot size {self._rules[order.symbol].lot_size} "
                "(changed since it was placed)")

    def _adopt(self, order: PaperOrder, now_ns: int) -> None:
        """Take back a resting order loaded from the state file."""
        rules = self._rules.get(order.symbol)
        if rules is not None and order.price is not None:
            # Off the grid of a tick size changed since it was placed, the limit moves onto it, never
            # beyond it (a buy's down, a sell's up): the order never fills at a worse price than it asked.
            rounding = ROUND_FLOOR if order.side is Side.BUY else ROUND_CEILING
            order.price_ticks = int((order.price / rules.tick_size).to_integral_value(rounding))
            # The stored size and fills stay exact; the lots count what is left, in whole lots of today's size
            # (a lot size coarser since it was placed may leave a rest no lot can fill: never filled beyond the
            # order's size, and cancelled once nothing but that rest is left).
            order.filled_lots = 0
            order.qty_lots = int(order.remaining_qty / rules.lot_size)
            if order.qty_lots <= 0:
                order.status = OrderStatus.CANCELLED
                order.reason = self._below_lot(order)
                order.updated_ns = now_ns or order.updated_ns
                self._changed(order)
                return
            self._resting[order.symbol].add(order)
        self.open_by_id[order.client_order_id] = order
        # Reservations are not stored: they follow from the open orders (may exceed free after a
        # settings change; the account then simply has less free balance). So do the exact fees, at
        # today's rates; rates lowered since may put them, rounded up, below what the order paid: then
        # they count as what it paid (it pays no more fees until its fills catch up).
        exact_fee = sum((f.price * f.qty * self._rate(f.liquidity) for f in order.fills), ZERO)
        order.exact_fee = exact_fee if self._round_up(exact_fee) >= order.fee else order.fee
        asset = self._asset_reserved(order)
        order.reserved = self._reserve_for(order)
        self._reserved[asset] = self._reserved.get(asset, ZERO) + order.reserved
