"""Our orders in ccxt's terms and back: client ids, states, fills, and ccxt's errors as arbot's.

**Client ids.** Each venue has its own rule for the client order id ccxt passes on (Gate: ``text``,
``t-`` then at most 28 of ``[0-9A-Za-z_.-]``; Binance: ``newClientOrderId``; OKX: ``clOrdId``,
alphanumeric, at most 32), and ccxt's unified ``clientOrderId`` reaches the venue's field on all
but Crypto.com, where ccxt drops it: there the venue's own ``client_oid`` is sent
(:attr:`ClientIdRule.param`). :data:`CLIENT_IDS` holds each known rule; an id that fits is sent as
it is, a longer one as a digest of it (deterministic, so the same order is found again by the
same id after a restart). An exchange not in the table is treated as having no client ids.

**Errors.** ccxt's classes say who answered. A rate limit is ``RateLimited``; the venue's refusal
(``ExchangeError`` and its kinds: ``InvalidOrder``, ``InsufficientFunds``, ...) is permanent;
everything under ccxt's ``OperationFailed`` (timeouts, resets, an unavailable venue, and an answer
ccxt could not use: Binance's -1006 "execution status unknown" is a plain ``OperationFailed``) and an
``ExchangeError`` ccxt made of a transport failure (a body cut short) is an ``UnknownOutcome`` for a
request that was sent, a ``TransientError`` for one that was not (:func:`translate`). So is a venue's
"this client id exists already" answer to an order (Binance -2010 "Duplicate order sent.", OKX 51016,
Bybit 170141/110072, which ccxt raises as ``InvalidOrder``): the order with that id is on the venue.
A venue's "no such order" answer to a look-up or a cancel that ccxt does not class as ``OrderNotFound``
(MEXC's -2013 and -2011: :data:`NOT_FOUND_ANSWERS`) is ``OrderNotFound`` all the same.

**Numbers.** ccxt is configured with ``number = str``: prices, amounts, fees and balances arrive as
the exchange's text and become Decimals here, never floats.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.api import (
    ExchangeError,
    Fill,
    InsufficientFunds,
    Liquidity,
    OrderNotFound,
    OrderState,
    OrderStatus,
    PermanentError,
    PostOnlyWouldCross,
    RateLimited,
    Side,
    TransientError,
    UnknownOutcome,
)


@dataclass(frozen=True)
class ClientIdRule:
    """How one venue takes a client order id (through ccxt's ``clientOrderId`` parameter)."""

    max_len: int
    allowed: str = r"[A-Za-z0-9]"
    prefix: str = ""
    param: str = "clientOrderId"
    """The ``create_order`` parameter that carries it: ccxt's unified ``clientOrderId`` where ccxt maps it to the
    venue's field, else the venue's own field name (ccxt passes unknown parameters on as they are)."""
    duplicate: tuple[str, ...] = ()
    """Patterns of the venue's answer (as ccxt's error text quotes it) to an order whose client id it already has:
    ccxt raises them as ``InvalidOrder``, but the order with that id is on the venue (:func:`translate`)."""
    fetch_by_id: bool = True
    """ccxt's ``fetch_order`` finds an order by ``clientOrderId`` on this venue (else the open and
    closed order lists are searched)."""

    def venue_id(self, client_order_id: str) -> str:
        """The id the venue gets for ``client_order_id``: itself if it fits, else a hex digest (same every time).
        A digest already (an id :meth:`our_id` could not read back, listed as it is) is sent as it is."""
        if self.is_digest(client_order_id):
            return client_order_id
        if re.fullmatch(f"{self.allowed}{{1,{self.max_len}}}", client_order_id):
            body = client_order_id
        else:
            body = hashlib.sha256(client_order_id.encode()).hexdigest()[: self.max_len]
        return self.prefix + body

    def is_digest(self, venue_id: str) -> bool:
        """Whether ``venue_id`` has the shape of a digest :meth:`venue_id` makes (the prefix, then ``max_len``
        lowercase hex digits): one-way, so possibly any long id of ours."""
        return re.fullmatch(f"{re.escape(self.prefix)}[0-9a-f]{{{self.max_len}}}", venue_id) is not None

    def our_id(self, venue_id: str) -> str | None:
        """The client order id ``venue_id`` was made from when it was sent as it is; None for a digest (one-way:
        the executor finds such orders by its own ids through :meth:`venue_id`)."""
        if self.is_digest(venue_id):
            return None
        body = venue_id[len(self.prefix):] if venue_id.startswith(self.prefix) else None
        return body if body is not None and self.venue_id(body) == venue_id else None


CLIENT_IDS: dict[str, ClientIdRule] = {
    # Gate takes 28 characters after its "t-", but ccxt's gate refuses a clientOrderId longer than 28 with it
    "gate": ClientIdRule(26, r"[A-Za-z0-9_.-]", prefix="t-"),
    "binance": ClientIdRule(36, r"[A-Za-z0-9_-]", duplicate=(r"Duplicate order sent",)),  # -2010
    "okx": ClientIdRule(32, duplicate=(r'"sCode":\s*"51016"',)),  # Duplicated clOrdId
    "bybit": ClientIdRule(36, r"[A-Za-z0-9_-]", fetch_by_id=False,
                          duplicate=(r'"retCode":\s*(170141|110072)\b',)),  # Duplicate clientOrderId / orderLinkId
    "bitget": ClientIdRule(40, r"[A-Za-z0-9_-]"),
    "kucoin": ClientIdRule(40, r"[A-Za-z0-9_-]"),
    "mexc": ClientIdRule(32, r"[A-Za-z0-9_-]"),
    "htx": ClientIdRule(32, r"[A-Za-z0-9_-]"),
    "gemini": ClientIdRule(32, r"[A-Za-z0-9_-]", fetch_by_id=False),
    # ccxt's cryptocom drops a clientOrderId from create_order (it omits the key and sets no client_oid): the
    # venue's own client_oid goes through as it is
    "cryptocom": ClientIdRule(36, r"[A-Za-z0-9_-]", fetch_by_id=False, param="client_oid"),
}

NOT_FOUND_ANSWERS: dict[str, tuple[str, ...]] = {
    # MEXC's -2013 "Order does not exist." (a look-up; ccxt: a plain ExchangeError) and -2011 "Unknown order sent."
    # ("could not be found or is no longer valid for this operation ... already been filled or canceled", a cancel;
    # ccxt: BadRequest), as ccxt's error text quotes the venue's body
    "mexc": (r'"code"\s*:\s*-2013\b', r'"code"\s*:\s*-2011\b'),
}
"""Patterns of a venue's answer that the order asked for (by a look-up or a cancel) is not on it, per ccxt id of a venue
whose answers ccxt does not raise as ``OrderNotFound`` (:func:`translate`)."""

_STATUS = {"open": OrderStatus.OPEN, "closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED,
           "cancelled": OrderStatus.CANCELLED, "expired": OrderStatus.CANCELLED, "rejected": OrderStatus.REJECTED}


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """ccxt's text number -> Decimal (None stays None). A float here would be a configuration bug."""
    if value is None or value == "":
        return default
    if isinstance(value, float):
        raise TypeError(f"ccxt returned a float ({value!r}): number = str is not in effect")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise PermanentError(f"not a number from ccxt: {value!r}") from exc


def order_state(client_order_id: str, order: dict[str, Any], fills: tuple[Fill, ...] = ()) -> OrderState:
    """A ccxt order structure -> our OrderState (a closed order filled in part counts as cancelled)."""
    raw = order.get("status")
    status = _STATUS.get(str(raw), OrderStatus.UNKNOWN) if raw is not None else OrderStatus.OPEN
    filled = dec(order.get("filled"), Decimal(0)) or Decimal(0)
    amount = dec(order.get("amount"))
    if status is OrderStatus.FILLED and amount is not None and filled < amount:
        status = OrderStatus.CANCELLED  # finished without filling in full (IOC remainder, cancelled)
    if status is OrderStatus.CANCELLED and amount is not None and filled >= amount > 0:
        status = OrderStatus.FILLED
    average = dec(order.get("average")) if filled else None
    return OrderState(client_order_id, status, exchange_order_id=str(order["id"]) if order.get("id") else None,
                      filled_qty=filled, avg_fill_price=average, fills=fills)


def fill_from_trade(exchange: str, symbol: str, client_order_id: str, trade: dict[str, Any],
                    quote: str) -> Fill:
    """A ccxt trade structure (one of our executions) -> Fill; every figure from ccxt's text."""
    fee_cost, fee_currency = trade_fee(trade, quote)
    role = trade.get("takerOrMaker")
    return Fill(exchange, symbol, client_order_id, str(trade["id"]),
                Side.BUY if trade.get("side") == "buy" else Side.SELL,
                dec(trade["price"]) or Decimal(0), dec(trade["amount"]) or Decimal(0), fee_cost,
                fee_currency, Liquidity.MAKER if role == "maker" else Liquidity.TAKER,
                int(trade.get("timestamp") or 0) * 1_000_000)


def trade_fee(trade: dict[str, Any], quote: str) -> tuple[Decimal, str]:
    """(fee, currency) of a ccxt trade. ccxt gives one ``fee`` where the venue charged in one currency, else only
    the list ``fees`` (Gate with GT deduction or points: ``fee`` 0 in the traded currency, ``gt_fee`` in GT): the
    one charged is the one not 0. A trade charged in two currencies at once fits no Fill: PermanentError."""
    entries = [f for f in (trade.get("fees") or []) if f] or [trade.get("fee") or {}]
    charged = [(dec(f.get("cost")), f.get("currency")) for f in entries]
    nonzero = [(cost, currency) for cost, currency in charged if cost]
    if len(nonzero) > 1:
        raise PermanentError(f"trade {trade.get('id')} was charged fees in several currencies "
                             f"({', '.join(f'{c} {a}' for c, a in nonzero)}): a fill carries one")
    cost, currency = (nonzero or charged)[0]
    return cost or Decimal(0), str(currency or quote)


def translate(exc: Exception, what: str, *, sent: bool, pause_s: float,
              duplicate: tuple[str, ...] = (), not_found: tuple[str, ...] = ()) -> ExchangeError:
    """A ccxt exception -> the executor's error class. ``sent``: the request may have reached the venue;
    ``duplicate``: for an order, the venue's "this client id exists already" answers
    (:attr:`ClientIdRule.duplicate`); ``not_found``: for a look-up or a cancel, the venue's "no such order" answers
    ccxt does not class as ``OrderNotFound`` (:data:`NOT_FOUND_ANSWERS`)."""
    import ccxt  # the plugin is only loaded with ccxt installed

    text = f"{what}: {type(exc).__name__}: {exc}"
    if isinstance(exc, ExchangeError):
        return exc
    if sent and isinstance(exc, ccxt.BaseError) and any(re.search(p, str(exc)) for p in duplicate):
        return UnknownOutcome(f"{text} (the venue has an order with this client id: it is looked up)")
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return RateLimited(text, retry_after_s=pause_s)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(text)
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return PostOnlyWouldCross(text)
    if isinstance(exc, ccxt.OrderNotFound) or (
            isinstance(exc, ccxt.ExchangeError) and any(re.search(p, str(exc)) for p in not_found)):
        return OrderNotFound(text)
    if isinstance(exc, ccxt.OperationFailed) or broken_answer(exc):
        # timeouts, resets, unavailable, an answer cut short or unreadable: whether a request sent was done is unknown
        cause = exc.__cause__
        if broken_answer(exc) and cause is not None:
            text = f"{text} ({type(cause).__name__}: {cause})"
        return UnknownOutcome(text) if sent else TransientError(text)
    if isinstance(exc, ccxt.BaseError):  # the venue answered with an error: nothing was done
        return PermanentError(text)
    return UnknownOutcome(text) if sent else TransientError(text)


def ccxt_fault(error: ExchangeError) -> bool:
    """``error`` came of an exception in ccxt's own code, neither ccxt's error nor a transport failure: the venue
    answered and ccxt failed on the answer (its bitget ``fetch_order`` by client id joins the order id it was not
    given into its OrderNotFound message for an order the venue does not have: a TypeError)."""
    import ccxt

    cause = error.__cause__
    if cause is None or isinstance(cause, (ccxt.BaseError, ExchangeError, OSError, TimeoutError)):
        return False
    return type(cause).__module__.split(".")[0] != "aiohttp"  # (a transport error ccxt let through)


def broken_answer(exc: BaseException) -> bool:
    """ccxt's plain ``ExchangeError`` for a transport failure it does not class as a network one (its ``fetch``
    wraps any ``aiohttp.ClientError`` other than a connection error so, e.g. a body cut short: ClientPayloadError).
    That is no answer from the venue, let alone a refusal."""
    import aiohttp  # ccxt's own HTTP client

    return isinstance(exc.__cause__, (aiohttp.ClientError, OSError, TimeoutError))
