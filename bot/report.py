"""`arbot report` and `/report`: the ledger's figures per strategy, the latest balances, risk events.

A report is one bot's (the store's own, or the ``bot`` named); ``arbot report --all`` shows each bot
of a shared database in turn, then :func:`fleet_reply`: each bot's totals and the fleet's, computed
by the same ledger code, so the fleet total is the sum of the bots' reports.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from .api import Reply
from .domain import ZERO, Transfer
from .ledger import EXACT_DIGITS, Ledger, Marks, StrategyFigures, net_after_transfer_costs, totals
from .units import counted, exact, exact_money, money, moneys, signed_money

if TYPE_CHECKING:
    from .markouts import MarkoutFigures
    from .store import Store


def fees_text(fig: StrategyFigures) -> str:
    """The fees column: in the quote asset, then any fee paid in another asset, in that asset."""
    text = moneys(fig.fees, fig.quotes)
    return text + "".join(f" + {money(v, a)}" for a, v in sorted(fig.other_fees.items()))


def fee_sums_text(paid: Mapping[str, Decimal], other: Mapping[str, Decimal]) -> str:
    """Summed fees (a fleet total's: every fee ``paid``, and the ``other`` part of it paid in an asset that is not
    a quote) as :func:`fees_text` shows a strategy's: those in a quote asset, then each other one in its asset."""
    with localcontext(prec=EXACT_DIGITS):
        in_quote = {asset: value - other.get(asset, ZERO) for asset, value in paid.items()}
    quoted = {asset: value for asset, value in in_quote.items() if value or asset not in other}
    return " + ".join(([moneys(quoted)] if quoted else []) + [money(v, a) for a, v in sorted(other.items())]) or "0"


def fills_text(fig: StrategyFigures) -> str:
    """The fills column: the ledger's trades, then its fee-only entries apart (a swap that landed failed paid its
    network fee: a cost in the fees column, not a fill)."""
    return fills_count_text(fig.fills, fig.fee_only)


def fills_count_text(fills: int, fee_only: int) -> str:
    """:func:`fills_text` of counts (the backtest report's, which keeps them apart from the ledger's figures)."""
    return str(fills) + (f" (+{fee_only} fee only)" if fee_only else "")


FIGURE_COLUMNS = ("orders", "filled", "fills", "round trips", "realized PnL", "fees", "net PnL")


def figure_cells(fig: StrategyFigures, marks: Marks | None = None) -> tuple[str, ...]:
    """One report row's figures (:data:`FIGURE_COLUMNS`, then unrealized PnL with ``marks``)."""
    return (str(sum(fig.orders.values())), str(fig.orders.get("filled", 0)), fills_text(fig), str(fig.round_trips),
            moneys(fig.realized, fig.quotes), fees_text(fig), moneys(fig.net, fig.quotes)) + (
        (moneys(fig.unrealized, fig.quotes),) if marks else ())


def report_reply(store: Store, marks: Marks | None = None, *, bot: str | None = None) -> Reply:
    """The `arbot report` table of ``bot`` (the store's own when None): one row per strategy (unrealized PnL
    when ``marks`` gives current mids)."""
    ledger = Ledger(store, marks, bot=bot)
    store = ledger.store
    figures = ledger.report()
    rows: list[tuple[str, ...]] = [("strategy", *FIGURE_COLUMNS) + (("unrealized",) if marks else ())]
    for name in sorted(figures):
        rows.append((name, *figure_cells(figures[name], marks)))
    sections = [text for text in (transfer_costs_text(ledger, figures), "\n".join(markout_text(ledger.markouts())),
                                  "\n".join(balance_lines(store)),
                                  "\n".join(transfer_lines(store, time.time_ns())), "\n".join(risk_lines(store)))
                if text]
    more = "\n\n".join(sections)
    who = f"bot {store.bot}" if store.bot else ""
    if len(rows) == 1:
        return Reply("No orders stored yet.", text=f"store: {store.url}" + (f", {who}" if who else "")
                     + (f"\n\n{more}" if more else ""))
    method = ("Realized PnL, before fees: a closing order that names its lot is matched to it, anything else FIFO "
              "per strategy and market; net = realized - fees.")
    return Reply("arbot report" + (f": {who}" if who else ""), rows=rows, header=True,
                 text=f"{method}\n\n{more}" if more else method)


def transfer_costs_text(ledger: Ledger, figures: Mapping[str, StrategyFigures]) -> str:
    """The report's transfer costs line (empty without any): what moving funds cost the bot, and the strategies' net
    with it taken off (:func:`bot.ledger.net_after_transfer_costs`)."""
    costs = ledger.transfer_costs()
    if not costs:
        return ""
    after = net_after_transfer_costs(totals(figures.values()).net, costs)
    return (f"Transfer costs (the bot's, no strategy's): {moneys(costs)}; bot net after transfer costs: "
            f"{moneys(after)}")


def fleet_reply(store: Store) -> Reply:
    """Every bot of the store's database: its totals (each bot's report summed over its strategies) and
    the fleet's (the sum of those)."""
    per_bot = {bot: totals(Ledger(store, bot=bot).report().values()) for bot in store.bots()}
    rows: list[tuple[str, ...]] = [("bot", *FIGURE_COLUMNS)]
    rows += [(bot or "(unnamed)", *figure_cells(fig)) for bot, fig in per_bot.items()]
    fleet = totals(per_bot.values())
    rows.append(("fleet total", *figure_cells(fleet)))
    costs = {bot: Ledger(store, bot=bot).transfer_costs() for bot in per_bot}
    fleet_costs: dict[str, Decimal] = {}
    with localcontext(prec=EXACT_DIGITS):
        for paid in costs.values():
            for asset, value in paid.items():
                fleet_costs[asset] = fleet_costs.get(asset, ZERO) + value
    lines = [f"{bot or '(unnamed)'}: {costs_and_net_text(per_bot[bot].net, paid)}"
             for bot, paid in costs.items() if paid]
    if fleet_costs:
        lines.append(f"fleet total: {costs_and_net_text(fleet.net, fleet_costs)}")
    return Reply(f"arbot report --all: {len(per_bot)} bot(s)", rows=rows, header=True,
                 text="\n".join([f"store: {store.url}", *lines]))


def costs_and_net_text(net: Mapping[str, Decimal], costs: Mapping[str, Decimal]) -> str:
    """Transfer costs and the net after them, as ``arbot report --all`` shows each bot's and the fleet's."""
    after = net_after_transfer_costs(net, costs)
    return f"transfer costs {moneys(dict(costs))}; net after transfer costs {moneys(after)}"


def markout_text(figures: Sequence[MarkoutFigures]) -> list[str]:
    """The report's markout section: per strategy, the markout summed and its mean in bps at each horizon."""
    if not figures:
        return []
    lines = ["Markouts (the fill's market mid after each fill vs its price; positive: it moved our way):"]
    by_row: dict[tuple[str, str], list[MarkoutFigures]] = {}
    for f in figures:
        by_row.setdefault((f.strategy, f.quote), []).append(f)
    for (strategy, quote), row in sorted(by_row.items()):
        cells = [f"+{f.horizon_s} s " + (f"{signed_money(f.total, quote)} ({f.mean_bps:+.1f} bps, "
                                         f"{counted(f.fills, 'fill')})" if f.mean_bps is not None else "no sample")
                 for f in row]
        lines.append(f"  {strategy:<12} " + "; ".join(cells))
    return lines


def balance_lines(store: Store) -> list[str]:
    """The report's inventory section: each venue's latest balance snapshot (free / total per asset)."""
    rows = store.latest_balances()
    if not rows:
        return []
    lines = ["Balances (latest snapshot per venue):"]
    for row in rows:
        when = dt.datetime.fromtimestamp(row.ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  {row.exchange:<12} {row.asset:<6} free {money(row.free, row.asset):<24} "
                     f"total {money(row.total, row.asset)}  ({when})")
    return lines


def transfer_text(transfer: Transfer, now_ns: int) -> str:
    """One transfer as every surface shows it (``/status``, ``arbot report``, ``/rebalance``): where it stands, what
    moves where, its fees and its age; amounts and fees exactly (:func:`bot.units.exact_money`), never rounded."""
    t = transfer
    fees = f"fee {exact_money(t.fee, t.asset)}" + (f", network fee {network_fee_text(t)}" if t.network_fee else "")
    ref = f", ref {t.venue_ref}" if t.venue_ref else ""
    return (f"{t.status.value} {exact_money(t.amount, t.asset)} {t.source} -> {t.destination} ({fees}{ref}), "
            f"{age_text(now_ns - t.created_ns)} old")


def network_fee_text(transfer: Transfer) -> str:
    """A transfer's network fee with its unit, or saying the unit is not known (a row stored before 0.2)."""
    if transfer.network_fee_asset is None:
        return f"{exact(transfer.network_fee)} (unit unknown)"
    return exact_money(transfer.network_fee, transfer.network_fee_asset)


def age_text(ns: int) -> str:
    """A duration for a trader: seconds below 2 minutes, minutes below 2 hours, then hours."""
    seconds = ns / 1e9
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def transfer_lines(store: Store, now_ns: int) -> list[str]:
    """The report's transfers section: every transfer on its way (funds that left one venue, not credited yet)."""
    moving = store.transfers_in_flight()
    if not moving:
        return []
    return ["Transfers on their way (not credited yet):", *(f"  {t.transfer_id}  {transfer_text(t, now_ns)}"
                                                            for t in moving)]


def risk_lines(store: Store, recent: int = 5) -> list[str]:
    """The report's risk section: events per check and action, then the latest trips with their figures."""
    counts = store.risk_event_counts()
    if not counts:
        return []
    lines = ["Risk events: " + ", ".join(f"{check} {action} {n}" for (check, action), n in sorted(counts.items()))]
    trips = store.risk_events(recent, trips_only=True)
    if trips:
        lines.append("Latest trips:")
    for row in trips:
        when = dt.datetime.fromtimestamp(row.ts_ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        where = " ".join(x for x in (row.strategy, row.exchange, row.symbol) if x)
        figures = ", ".join(f"{k} {v}" for k, v in json.loads(row.details or "{}").items())
        lines.append(f"  {when} UTC  {row.check_name}  {row.action}  {row.reason}"
                     + (f"  [{where}]" if where else "") + (f"  ({figures})" if figures else ""))
    return lines
