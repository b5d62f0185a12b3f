"""What an exchange can do through this plugin, read from ccxt's ``has`` and ``features`` tables.

``python -m plugins.ccxt.features [ID ...]`` prints the Markdown table of ``docs/venues.md`` for the
installed ccxt (a test keeps the two equal). :func:`refusals` is the config check: ccxt missing,
an unknown id, or an exchange without a feature the config ``require``\\s is a clear error at load.
"""

from __future__ import annotations

import sys
from typing import Any

from .book import ARBOT_SEQUENCE, CCXT_CHECKSUM, CCXT_SEQUENCE, UNVERIFIED, integrity
from .orders import CLIENT_IDS
from .transfers import CLIENT_WITHDRAWAL_IDS, can_receive, can_withdraw

POPULAR = ("binance", "bitget", "bybit", "coinbase", "cryptocom", "gate", "gemini", "htx", "kraken", "kucoin",
           "mexc", "okx")
TICK_SIZE = 4
"""ccxt's ``precisionMode`` in which a market's precision is its tick and lot (the only one we take)."""
INSTALL_HINT = "pip install 'arbot[ccxt]'"
MEANING = {"order_book": "order book stream", "client_ids": "client ids found again after a lost answer",
           "ioc": "IOC orders", "post_only": "post-only orders", "verified_book": "a verified book"}


def load_ccxt() -> Any:
    """``ccxt.pro`` (ccxt's WebSocket module); ImportError with the fix when ccxt is not installed."""
    try:
        import ccxt.pro as ccxtpro
    except ImportError as exc:
        raise ImportError(f"ccxt is not installed: {INSTALL_HINT}") from exc
    return ccxtpro


DEAD_MAN_NATIVE = {"gate": "private_spot_post_countdown_cancel_all"}
"""Venues whose dead-man switch ccxt has no unified method for: the implicit API method taking
``{"timeout": seconds}`` (Gate: ``POST /spot/countdown_cancel_all``)."""


def dead_man_method(exchange: Any) -> str | None:
    """The ccxt method that arms this venue's dead-man switch, or None: the unified
    ``cancel_all_orders_after`` (milliseconds) where ccxt has it, else a known native endpoint (seconds)."""
    if exchange.has.get("cancelAllOrdersAfter"):
        return "cancel_all_orders_after"
    return DEAD_MAN_NATIVE.get(exchange.id)


def spot_features(exchange: Any) -> dict[str, Any]:
    """One ccxt exchange instance -> what this plugin can do with it (spot)."""
    has = exchange.has
    spot = (exchange.features or {}).get("spot") or {}
    create = spot.get("createOrder") or {}
    tif = create.get("timeInForce") or {}
    kind, _how = integrity(exchange.id)
    rule = CLIENT_IDS.get(exchange.id)
    lookup = rule is not None and bool((rule.fetch_by_id and has.get("fetchOrder"))
                                       or (has.get("fetchOpenOrders") and has.get("fetchClosedOrders")))
    return {
        "order_book": bool(has.get("watchOrderBook")),
        "verified_book": kind != UNVERIFIED,
        "integrity": kind,
        "client_ids": rule is not None and bool(has.get("createOrder")) and lookup,
        "sends_client_ids": rule is not None and bool(has.get("createOrder")),
        "ioc": bool(tif.get("IOC")),
        "post_only": bool(tif.get("PO") or has.get("createPostOnlyOrder")),
        "lookup": lookup,
        "fills": bool(has.get("fetchMyTrades") or has.get("fetchOrderTrades")),
        "tick_size": exchange.precisionMode == TICK_SIZE,
        "dead_man": dead_man_method(exchange) is not None,
        "withdraw": can_withdraw(has),
        "deposits": can_receive(has),
        "withdrawal_ids": can_withdraw(has) and exchange.id in CLIENT_WITHDRAWAL_IDS,
    }


def refusals(exchange_id: str, require: list[str], dead_man_s: int = 0, withdraws: bool = False,
             credentials: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Config problems of ``[exchanges.X] type = "ccxt"``: (key, message) pairs, empty when fine. ``credentials``:
    the keys given (``api_key``, ``password``); with an ``api_key``, every credential ccxt requires of the
    exchange (its ``requiredCredentials``) must be there."""
    try:
        ccxtpro = load_ccxt()
    except ImportError as exc:
        return [("id", str(exc))]
    if exchange_id not in ccxtpro.exchanges:
        import difflib

        close = difflib.get_close_matches(exchange_id, ccxtpro.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see ccxt.pro.exchanges for the list"
        return [("id", f"ccxt has no WebSocket exchange {exchange_id!r}{hint}")]
    exchange = getattr(ccxtpro, exchange_id)()
    features = spot_features(exchange)
    problems = []
    if "api_key" in credentials:
        needed = [c for c, required in (exchange.requiredCredentials or {}).items()
                  if required and c not in ("apiKey", "secret")]
        if "password" in needed and "password" not in credentials:
            problems.append(("password", f"{exchange_id} signs requests with an API passphrase too: give "
                                         'password = "env:NAME" (or "file:PATH"), or drop the keys (market data only)'))
        others = [c for c in needed if c != "password"]
        if others:
            problems.append(("id", f"{exchange_id} through ccxt needs credentials this plugin cannot pass "
                                   f"({', '.join(others)}): not supported with keys"))
    if not features["tick_size"]:
        problems.append(("id", f"{exchange_id} gives precisions as significant digits, not tick sizes: "
                               "prices cannot be checked exactly; not supported"))
    if dead_man_s and not features["dead_man"]:
        problems.append(("dead_man_s", f"{exchange_id} through ccxt has no dead-man switch (cancel-all-after); "
                                       "set dead_man_s = 0"))
    if withdraws and not features["withdraw"]:
        problems.append(("withdraw_to", f"{exchange_id} through ccxt cannot withdraw (ccxt has no withdraw and "
                                        "fetchWithdrawals for it): rebalancing cannot move funds out of it; drop "
                                        "withdraw_to and move them by hand"))
    missing = [r for r in require if r in features and not features[r]]
    if "client_ids" in missing and features["sends_client_ids"]:
        missing.remove("client_ids")  # ids go out, but nothing finds an order by one once it left the book (Gemini)
        problems.append(("require", f"{exchange_id} through ccxt sends our client ids but cannot find an order by one "
                                    f"once it has left the book: ccxt's {exchange_id} fetch_order takes the venue's "
                                    "order id only, and ccxt has no list of finished orders (fetchClosedOrders, "
                                    "fetchOrders) for it, so an order that filled or was cancelled while its answer "
                                    "was lost is never found again: its look-up cannot tell, and the order stays "
                                    "unknown (never sent again) until you check it on the venue. "
                                    "What you can do: run the strategies that need client_ids on another venue; or, "
                                    'if none on this one does, drop "client_ids" from require'))
    if missing:
        what = ", ".join(f"{r} ({MEANING[r]})" for r in missing)
        problems.append(("require", f"{exchange_id} through ccxt lacks {what}: the strategies that need it "
                                    "cannot run there (drop it from require only if none does)"))
    return problems


def table(ids: tuple[str, ...] = POPULAR) -> str:
    """The Markdown feature table for ``ids`` with the installed ccxt."""
    ccxtpro = load_ccxt()
    yes = {True: "yes", False: "no"}
    checked = {CCXT_CHECKSUM: "checksum, by ccxt", CCXT_SEQUENCE: "sequence, by ccxt",
               ARBOT_SEQUENCE: "update ids, by arbot", UNVERIFIED: "unverified"}
    rows = ["| id | book stream | book integrity | client ids | look-up by client id | IOC | post-only | fills "
            "| dead-man switch | withdrawals | client withdrawal id | deposits |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for exchange_id in ids:
        f = spot_features(getattr(ccxtpro, exchange_id)())
        book = yes[f["order_book"]] if f["tick_size"] else "refused (significant digits)"
        rows.append(f"| {exchange_id} | {book} | {checked[f['integrity']]} | {yes[f['sends_client_ids']]} "
                    f"| {yes[f['lookup']]} | {yes[f['ioc']]} | {yes[f['post_only']]} | {yes[f['fills']]} "
                    f"| {yes[f['dead_man']]} | {yes[f['withdraw']]} | {yes[f['withdrawal_ids']]} "
                    f"| {yes[f['deposits']]} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - a documentation helper
    sys.stdout.write(table(tuple(sys.argv[1:]) or POPULAR))
