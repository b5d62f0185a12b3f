"""Value types shared by the host and every plugin.

Money is exact: every price, size, fee and PnL is a :class:`decimal.Decimal`.
Timestamps are integer nanoseconds since the epoch (``time.time_ns()``).
These types carry facts only; formatting for people happens at the edges.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import TYPE_CHECKING, Any

from .exact import PrecisionError, from_units, to_units

if TYPE_CHECKING:
    from .bookview import BookUpdate as BookUpdate

ZERO = Decimal(0)
BPS = Decimal(10_000)
"""Basis points in one: ``x * bps / BPS``."""

_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])
"""A fill's quantity less its base fee, never rounded."""


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    """Good till cancelled: the remainder rests on the book."""
    IOC = "ioc"
    """Immediate or cancel: whatever does not fill at once is cancelled."""


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    """Persisted by the executor; not (yet) acknowledged by the exchange."""
    OPEN = "open"
    """Resting on the exchange; ``filled_qty`` may already be above zero."""
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    """The exchange (or the risk gate) refused it; nothing was or will be filled."""
    FAILED = "failed"
    """Never reached the exchange (retries exhausted, or found missing after a restart)."""
    UNKNOWN = "unknown"
    """The outcome could not be established; reconciliation keeps asking."""
    OBSERVED = "observed"
    """Observe mode: recorded as what would have been sent, and not sent."""

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED, OrderStatus.OBSERVED}
)


class Liquidity(enum.StrEnum):
    MAKER = "maker"
    TAKER = "taker"


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTC/USD"`` -> ``("BTC", "USD")``."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f'symbol {symbol!r} is not of the form "BASE/QUOTE"')
    return base, quote


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """Trading rules of one symbol on one exchange."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    """Smallest price increment."""
    lot_size: Decimal
    """Smallest size increment (base units)."""
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    maker_fee_bps: Decimal | None = None
    """Fee on fills of resting orders, basis points of the notional, when the venue says (None: unknown)."""
    taker_fee_bps: Decimal | None = None
    """Fee on fills that take liquidity, basis points, when known."""

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a price to the tick grid, never in the trader's disfavour (buys down, sells up)."""
        steps = price / self.tick_size
        steps = steps.to_integral_value(rounding="ROUND_FLOOR" if side is Side.BUY else "ROUND_CEILING")
        return (steps * self.tick_size).quantize(self.tick_size)

    def round_qty(self, qty: Decimal) -> Decimal:
        """Round a size down to the lot grid."""
        return ((qty / self.lot_size).to_integral_value(rounding="ROUND_FLOOR") * self.lot_size).quantize(
            self.lot_size
        )


# --- market data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade on the venue (not necessarily ours)."""

    exchange: str
    symbol: str
    price: Decimal
    qty: Decimal
    taker_side: Side
    ts_ns: int


class FeedState(enum.StrEnum):
    LIVE = "live"
    STALE = "stale"
    RESYNCING = "resyncing"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A market data feed changed state; strategies must not trust a book that is not LIVE."""

    exchange: str
    symbol: str
    state: FeedState
    ts_ns: int
    reason: str = ""
    verified: bool = True
    """False when the venue's book cannot be checked (no checksum, no update ids): LIVE, but unverified."""


@dataclass(frozen=True, slots=True)
class PoolUpdate:
    """A DEX pool's state changed: ``pool`` quotes any size exactly (see :class:`Pool`)."""

    exchange: str
    symbol: str
    pool: Pool
    ts_ns: int
    """When the venue's state was observed (receive time of the account update)."""
    slot: int = 0
    """The chain's slot of the state, where the venue has one (0 when unknown)."""

    @property
    def mid(self) -> Decimal:
        return self.pool.mid()


if TYPE_CHECKING:
    MarketEvent = BookUpdate | Trade | FeedStatus | PoolUpdate
else:
    def __getattr__(name: str) -> Any:
        """``BookUpdate`` (and ``MarketEvent``, which names it) from :mod:`bot.bookview`, imported when first read:
        what only lists commands (``arbot --help``) never loads the book view a strategy receives."""
        if name not in ("BookUpdate", "MarketEvent"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from .bookview import BookUpdate

        globals()["BookUpdate"] = BookUpdate  # once: later look-ups are plain attribute reads
        globals()["MarketEvent"] = BookUpdate | Trade | FeedStatus | PoolUpdate
        return globals()[name]


# --- orders -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants: the executor turns it into an :class:`Order` (or refuses it)."""

    strategy: str
    exchange: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal | None = None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    client_order_id: str | None = None
    """Idempotency key. Give a deterministic one when a restart could re-decide the same order."""
    closes: str | None = None
    """The client order id of the order whose lot this one closes (a grid slot's sell names its buy): the
    ledger matches this order's fills to that order's lot first, then FIFO. None: FIFO."""
    reduce_only: bool = False
    """A hedge or a close: meant only to bring the exposure nearer to zero. Such an order of a strategy a risk
    check paused may still go, if it does only that (the host checks: the net position in its symbol across
    venues nearer to zero and not past it, whichever orders in flight fill) and the check that paused the strategy
    admits it (:meth:`bot.api.RiskCheck.admits_while_paused`; ``staleness`` admits one on a venue whose data is
    fresh). Otherwise the same as any order."""

    def notional(self, reference_price: Decimal | None = None) -> Decimal | None:
        price = self.price if self.price is not None else reference_price
        return None if price is None else price * self.qty


@dataclass(slots=True)
class Order:
    """An order the executor owns, as persisted before it is sent."""

    client_order_id: str
    strategy: str
    exchange: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal | None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    status: OrderStatus = OrderStatus.PENDING
    exchange_order_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fee: Decimal = ZERO
    """Its fills' fees in the quote asset, as the ledger counts them (a fee in the base asset at its fill's price:
    :func:`bot.ledger.fee_in_quote`); a fee in any other asset is in :attr:`other_fees`."""
    reason: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    closes: str | None = None
    """The client order id of the order whose lot this one closes (:attr:`OrderIntent.closes`)."""
    other_fees: Mapping[str, Decimal] = field(default_factory=dict)
    """Its fills' fees paid in neither its base nor its quote asset (a JUP/USDC swap's network fee in SOL), per
    asset, in that asset: the ledger's ``other_fees``. Replaced, never changed in place (copies of an order share
    it)."""

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def fees(self) -> dict[str, Decimal]:
        """Every fee its fills paid, per asset, never summed across assets: :attr:`fee` in the quote asset first,
        then :attr:`other_fees` by asset."""
        return {split_symbol(self.symbol)[1]: self.fee, **dict(sorted(self.other_fees.items()))}


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders."""

    exchange: str
    symbol: str
    client_order_id: str
    trade_id: str
    """Unique per exchange; makes storing a fill idempotent."""
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    ts_ns: int

    @property
    def base_fee(self) -> Decimal:
        """The fee when it is charged in the base asset (a DEX's network fee in SOL on SOL/USDC, some CEXes' buy
        fees), else 0."""
        return self.fee if self.fee and self.fee_asset == split_symbol(self.symbol)[0] else ZERO

    @property
    def base_change(self) -> Decimal:
        """What this fill did to the account's base asset: ``qty`` for a buy, ``-qty`` for a sell, less
        :attr:`base_fee` (a buy receives that much less, a sell gives that much more).

        The one definition of a fill's position change: the ledger's lots, the portfolio's positions and the
        risk checks' all count this, so a venue that charges fees in the base asset leaves no position the
        account does not hold.
        """
        signed = self.qty if self.side is Side.BUY else -self.qty
        fee = self.base_fee
        return _EXACT.subtract(signed, fee) if fee else signed


@dataclass(frozen=True, slots=True)
class FillApplied:
    """Published by the executor once per fill of our orders, after it is applied (a venue may report
    a ``Fill`` twice, or only in an answer): count fills from this event, not from ``Fill``."""

    strategy: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderState:
    """The exchange's view of one order: answer to place, cancel and look-up calls."""

    client_order_id: str
    status: OrderStatus
    exchange_order_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    fills: tuple[Fill, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderReport:
    """Published by an exchange when one of our orders changes on the venue by itself."""

    exchange: str
    symbol: str
    state: OrderState
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order changed state (published on the bus by the executor)."""

    exchange: str
    symbol: str
    client_order_id: str
    strategy: str
    status: OrderStatus
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    ts_ns: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A price difference a strategy found between two venues (published whether or not it trades)."""

    strategy: str
    symbol: str
    buy_exchange: str
    sell_exchange: str
    buy_price: Decimal
    sell_price: Decimal
    qty: Decimal
    edge_bps: Decimal
    """Net of every cost, in basis points of the buy price."""
    ts_ns: int
    acted: bool = False
    opportunity_id: str = ""
    """The strategy's id for it (an idempotency key when it is executed)."""
    costs: tuple[tuple[str, Decimal], ...] = ()
    """Each cost charged against the gross edge, by name, in quote units (fees, impact, network fee, ...)."""
    net_pnl: Decimal | None = None
    """Predicted PnL on ``qty`` after every cost, in quote units."""
    reason: str = ""
    """Why it was not acted on ("" when it was, or none was given)."""

    def net_profit(self) -> Decimal:
        """The predicted PnL every surface shows (``/opportunities``, the console): :attr:`net_pnl` when the strategy
        gave it, else the net edge on ``qty`` (``edge_bps`` of ``buy_price`` times ``qty``), in quote units."""
        return self.net_pnl if self.net_pnl is not None else self.edge_bps / BPS * self.buy_price * self.qty


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """A strategy finished executing one opportunity: what it expected to earn, and what it earned.

    Published on the bus by the strategy (``ctx.bus.publish(...)``) once every leg is final, so
    that risk checks can compare prediction with reality (the ``prediction`` risk check pauses a
    strategy whose realized PnL strays too far from its predictions). PnLs are in ``quote``, net of
    fees, positive for a profit. A fill that comes after that and changes the figure is told with a
    correction (:attr:`corrects`): what counts executions counts that one once, at its last figure.

    ``predicted_pnl`` is for ``size``; ``filled`` is how much of it was executed (same unit, e.g. base quantity).
    Give both for an execution that may fill in part: the check compares the realized PnL with the prediction
    scaled to what filled (``predicted_pnl * filled / size``), not a full-size prediction with a partial
    result. Without them the prediction is taken as being for what was executed.
    """

    strategy: str
    predicted_pnl: Decimal
    realized_pnl: Decimal
    quote: str
    ts_ns: int
    opportunity_id: str = ""
    """The strategy's id for the opportunity (e.g. the client order id of its first leg)."""
    size: Decimal | None = None
    """The size ``predicted_pnl`` is for (None: not given, see above)."""
    filled: Decimal | None = None
    """How much of ``size`` was executed (None: not given)."""
    corrects: bool = False
    """This result replaces the one published before for the same strategy and ``opportunity_id``: a late fill
    changed its realized PnL (the strategy's own record of it, e.g. the arb's execution row, says the same)."""


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    total: Decimal


# --- alerts --------------------------------------------------------------------------------


class TransferStatus(enum.StrEnum):
    """Where a transfer of funds between two venues stands (see :class:`Transfer`)."""

    PLANNED = "planned"
    """Its intent is stored; the withdrawal may or may not have reached the source venue."""
    SENT = "sent"
    """The source venue accepted the withdrawal; the funds are on their way."""
    CREDITED = "credited"
    """The destination credited the funds: done."""
    FAILED = "failed"
    """Refused, or lost: nothing more happens to it."""

    @property
    def final(self) -> bool:
        return self in (TransferStatus.CREDITED, TransferStatus.FAILED)


@dataclass(frozen=True, slots=True)
class SwapFee:
    """What one swap on a DEX venue costs the wallet in lamports, beyond the swap's own amounts (the venue's own
    figures: :meth:`bot.api.Exchange.swap_fee_lamports`)."""

    signature_lamports: int
    """The base fee: 5,000 lamports per signature."""
    priority_lamports: int
    """The priority fee: compute-unit price x compute-unit limit / 10**6, rounded up as the chain does."""
    account_rent_lamports: int = 0
    """The rent-exempt deposit of the output token account the swap creates (2,039,280 lamports for an SPL token
    account), kept in that account: 0 when the wallet has the account already, or when the output is native SOL
    (its wrapped-SOL account is opened and closed in the same transaction, the deposit refunded)."""

    @property
    def total_lamports(self) -> int:
        """Everything the swap costs in lamports: the network fee and any account rent."""
        return self.signature_lamports + self.priority_lamports + self.account_rent_lamports


@dataclass(frozen=True, slots=True)
class TransferTerms:
    """What moving ``asset`` out of one venue costs and takes (the source venue's figures)."""

    asset: str
    fee: Decimal
    """The venue's withdrawal fee, in ``asset`` (0 for a wallet)."""
    minimum: Decimal
    """The smallest amount the venue withdraws."""
    network_fee: Decimal
    """The chain's fee, in ``network_fee_asset`` (a wallet pays it; a CEX includes it in ``fee``)."""
    network_fee_asset: str
    expected_s: float
    """Typical time until the destination credits the funds."""
    step: Decimal = Decimal(0)
    """Amounts this venue sends are whole multiples of it (a currency's precision); 0: any amount."""
    maximum: Decimal | None = None
    """The most one withdrawal may deliver now (a CEX's withdrawal limit, net of ``fee``); None: no limit known."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Funds moved from one venue to another: its intent is stored before anything is sent.

    ``transfer_id`` is ours and unique: venues that take an idempotency key get it, so asking twice
    never sends twice; the others are asked for a withdrawal matching it before anything is resent.
    """

    transfer_id: str
    asset: str
    amount: Decimal
    """What reaches the destination's deposit address: the source pays its own fees on top, the destination keeps
    its deposit fee out of it (:meth:`bot.api.TransferVenue.withdraw`)."""
    source: str
    destination: str
    address: str
    """The destination's deposit address (or the source venue's name for it: a withdrawal key)."""
    fee: Decimal
    """The transfer's fees in ``asset``: the source venue's withdrawal fee and the destination's deposit fee
    (:meth:`bot.api.TransferVenue.deposit_fee`). Stored PLANNED with the quoted withdrawal fee
    (:attr:`TransferTerms.fee`); from SENT on (when it counts as a cost) with the fee the source charged
    (:meth:`bot.api.TransferVenue.withdrawal_fee`), or the quote where the source does not say; once CREDITED with the
    deposit fee the destination kept (:meth:`bot.api.TransferVenue.deposit_fee_charged`) where it says."""
    network_fee: Decimal
    """The chain's fee the source pays on top, in ``network_fee_asset`` (a wallet's; 0 for a CEX): quoted, then what
    the landed transaction paid (:meth:`bot.api.TransferVenue.network_fee_paid`) once the source says."""
    status: TransferStatus
    created_ns: int
    updated_ns: int
    venue_ref: str = ""
    """The source venue's reference (refid, transaction signature) once sent."""
    reason: str = ""
    network_fee_asset: str | None = None
    """What ``network_fee`` is paid in (:attr:`TransferTerms.network_fee_asset`, SOL for a Solana wallet); None:
    not known (a transfer stored before 0.2 without a network fee)."""
    expected_s: float | None = None
    """How long after its intent the destination should have credited it (the source's
    :attr:`TransferTerms.expected_s` when it was sent): past it the transfer is overdue. None: not known (a
    transfer stored before store revision 0012)."""


class AlertLevel(enum.IntEnum):
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a trader should hear about. ``message`` is one plain sentence; ``fields`` the figures."""

    level: AlertLevel
    kind: str
    """A stable category: ``fill``, ``risk``, ``plugin_error``, ``feed``, ``summary``, ``order``, ``bot``,
    ``watchdog`` (dead-man alerts: loop stalled, market data silent)."""
    source: str
    """Who raised it: a plugin, strategy, exchange or ``host``."""
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    ts_ns: int = 0
    bot: str = ""
    """The bot it is about (``[bot] name``): the host fills it in when it queues an alert left without one, so
    a notifier or a fleet relay can say which bot of a fleet speaks."""


# --- pools: what a DEX venue publishes in a PoolUpdate ----------------------------------------
# Liquidity pools as strategies see them: exact quotes for a size, in the market's units.
#
# A DEX exchange plugin publishes a :class:`~bot.domain.PoolUpdate` carrying a :class:`Pool` each
# time a pool's state changes. A strategy asks the pool what selling or buying a base size would
# give, without any I/O: implementations quote with the venue's own integer maths (constant
# product, concentrated liquidity, ...) and convert to :class:`~decimal.Decimal` only at this edge.
#
# Sides are *ours*: ``sell(q)`` pays exactly ``q`` base into the pool (exact input) and receives
# quote; ``buy(q)`` receives exactly ``q`` base out of the pool (exact output) and pays quote. Every
# :class:`SwapEstimate` splits what the swap costs against the pool's mid price before it into the
# pool's **fee** and the **price impact** (the rest), both in quote units, so a cost breakdown can
# show them apart.
#
# The host knows no DEX; implementations live in libraries (``arbotlib.amm.model``,
# ``arbotlib.amm.whirlpool.model``). Write your own by subclassing :class:`Pool`.


class PoolError(ValueError):
    """A pool cannot quote the request (no liquidity for it, a size finer than the token allows, ...)."""


class PoolLiquidityError(PoolError):
    """The pool cannot pay out (or absorb) the requested size."""


@dataclass(frozen=True, slots=True)
class SwapEstimate:
    """What one swap would do, our side, in whole tokens (Decimal) and smallest units (int)."""

    side: Side
    """BUY: quote in, exactly ``base_qty`` out. SELL: exactly ``base_qty`` in, quote out."""
    base_qty: Decimal
    quote_qty: Decimal
    """Quote received (SELL) or paid (BUY), the pool's fee included."""
    fee: Decimal
    """The pool's fee, in quote units (on a SELL the pool takes it in base: valued at ``mid_before``)."""
    impact: Decimal
    """Quote lost to price impact: the distance from ``mid_before`` that is not fee (>= 0 up to rounding)."""
    mid_before: Decimal
    base_units: int
    quote_units: int
    """``quote_qty`` in the quote token's smallest units (the minimum-out / maximum-in of a swap)."""
    pool_after: Pool
    """The pool's state once the swap is done (a paper DEX applies it; a strategy may chain quotes)."""

    @property
    def price(self) -> Decimal:
        """Average price, quote per base, fee included."""
        return self.quote_qty / self.base_qty

    @property
    def notional_at_mid(self) -> Decimal:
        return self.base_qty * self.mid_before

    @property
    def fee_bps(self) -> Decimal:
        return self.fee / self.notional_at_mid * BPS

    @property
    def impact_bps(self) -> Decimal:
        return self.impact / self.notional_at_mid * BPS


class Pool(abc.ABC):
    """A snapshot of one pool, quoted for the market ``base``/``quote`` (immutable)."""

    base: str
    quote: str
    base_decimals: int
    quote_decimals: int

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"

    @abc.abstractmethod
    def mid(self) -> Decimal:
        """Marginal price, quote per base, before fees."""

    @property
    @abc.abstractmethod
    def fee_bps(self) -> Decimal:
        """The pool's fee rate, in basis points of the input."""

    @abc.abstractmethod
    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        """Exact input: ``(quote_out_units, fee_units_in_base, pool_after)``.

        Pools take their fee from the input token: base units here. Raise
        :class:`PoolLiquidityError` when the pool cannot do it.
        """

    @abc.abstractmethod
    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        """Exact output: ``(quote_in_units, fee_units_in_quote, pool_after)``; quote in includes the fee.

        Raise :class:`PoolLiquidityError` when the pool cannot pay ``base_units`` out.
        """

    # --- the Decimal edge, shared by every implementation -----------------------------------

    def base_units_of(self, base_qty: Decimal) -> int:
        try:
            units = to_units(base_qty, self.base_decimals)
        except PrecisionError as exc:
            raise PoolError(f"{base_qty} {self.base}: {exc} (the token has {self.base_decimals})") from None
        if units <= 0:
            raise PoolError(f"a swap needs a positive size, got {base_qty} {self.base}")
        return units

    def sell(self, base_qty: Decimal) -> SwapEstimate:
        """Pay exactly ``base_qty`` base into the pool; what quote comes out."""
        units = self.base_units_of(base_qty)
        mid = self.mid()
        out, fee_units, after = self.sell_units(units)
        quote_out = from_units(out, self.quote_decimals)
        fee = from_units(fee_units, self.base_decimals) * mid
        at_mid = base_qty * mid
        return SwapEstimate(Side.SELL, base_qty, quote_out, fee, at_mid - quote_out - fee, mid, units, out, after)

    def buy(self, base_qty: Decimal) -> SwapEstimate:
        """Receive exactly ``base_qty`` base from the pool; what quote goes in (fee included)."""
        units = self.base_units_of(base_qty)
        mid = self.mid()
        paid, fee_units, after = self.buy_units(units)
        quote_in = from_units(paid, self.quote_decimals)
        fee = from_units(fee_units, self.quote_decimals)
        at_mid = base_qty * mid
        return SwapEstimate(Side.BUY, base_qty, quote_in, fee, quote_in - fee - at_mid, mid, units, paid, after)

    def estimate(self, side: Side, base_qty: Decimal) -> SwapEstimate:
        """``buy`` or ``sell`` by our side."""
        return self.buy(base_qty) if side is Side.BUY else self.sell(base_qty)


ORDER_FEATURES: dict[str, str] = {
    "ioc": "immediate-or-cancel orders",
    "post_only": "post-only (maker-only) orders",
    "client_ids": "our client order ids, sent with each order and found again after a lost answer",
    "withdraw": "withdrawals, which inventory rebalancing needs to move funds out of the venue",
}
"""What a strategy may need of a venue (``Strategy.needs``) and a venue may lack (``Exchange.lacks``)."""
