"""The host's own commands and jobs, registered through the same hooks as any plugin.

They see what a plugin sees: the :class:`~bot.api.Operator`, never the bot itself.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from . import hookimpl
from .api import Caller, Command, Component, Job, Operator, Reply
from .domain import ZERO, AlertLevel, MarketInfo, Transfer, split_symbol
from .logs import escape_controls
from .units import amount, counted, money, moneys, price, qty

if TYPE_CHECKING:
    from .ledger import StrategyFigures

T = TypeVar("T")

# The ledger, the report and the opportunity figures are imported by the commands that use them: every `arbot`
# command loads this module (the host registers its commands like a plugin), and `arbot --help` needs none of them.


async def _off_loop(op: Operator, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a read of the store, on one of the store's read threads (``Store.read_off_loop``): a
    database that is slow to answer, or does not answer (a PostgreSQL server stopped), holds the command or job that
    asked, never the event loop (every other command, timer and feed goes on) nor its default executor; the same read
    asked again meanwhile is the same query, and one that cannot get a thread is refused at once. The figures are the
    same functions' as on the loop (the ledger's)."""
    return await op.store.read_off_loop(fn, *args, **kwargs)


def _day_reads(op: Operator, day: int) -> tuple[list[Transfer] | Exception, dict[str, StrategyFigures],
                                                 dict[str, Decimal]]:
    """What ``/status`` reads of the store (on a worker thread: :func:`_off_loop`): the transfers on their way (or
    why they could not be read), the strategies' figures of the day, and what moving funds cost the bot that day."""
    try:
        moving: list[Transfer] | Exception = op.transfers_in_flight()
    except Exception as exc:  # the store down: /status still answers, saying what it could not read
        moving = exc
    return moving, op.pnl(since_ns=day), op.ledger().transfer_costs(since_ns=day)


def _period_reads(op: Operator, since: int) -> tuple[dict[str, StrategyFigures], dict[str, Decimal]]:
    """What ``/pnl`` reads of the store (on a worker thread): the strategies' figures and the transfer costs."""
    return op.pnl(since_ns=since), op.ledger().transfer_costs(since_ns=since)


def _age(ns: int) -> str:
    from .report import age_text
    return age_text(ns)


async def status(op: Operator, caller: Caller, args: list[str]) -> Reply:
    from .ledger import net_after_transfer_costs, totals
    from .report import fees_text, transfer_text
    now = op.now_ns()
    mode = op.mode
    if op.mode != op.configured_mode:
        mode += f" (switched at run time; configured {op.configured_mode})"
    rows: list[tuple[str, ...]] = [("mode", mode), ("uptime", _age(now - op.started_ns))]
    for name, strategy in op.strategies.items():
        facts = ", ".join(f"{k} {v}" for k, v in _facts(op, strategy))
        rows.append((name, op.strategy_state(name) + (f"; {facts}" if facts else "")))
    for name in op.strategies_not_started:  # configured, not trading: never silently missing
        rows.append((name, op.strategy_state(name)))
    rows.append(("open orders", str(len(op.open_orders()))))
    unknown = op.unknown_orders()
    if unknown:  # outcome not known yet: reconciliation keeps asking the venue
        rows.append(("unknown orders", ", ".join(o.client_order_id for o in unknown[:5])
                     + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")))
        for o in unknown[:5]:  # how long each has been unknown, and where to check it
            since = op.unknown_since_ns(o.client_order_id)
            rows.append((f"unknown {o.client_order_id}", (f"for {_age(now - since)}" if since else "since a restart")
                         + f" on {o.exchange} {o.symbol}"
                         + (f", venue id {o.exchange_order_id}" if o.exchange_order_id else "")))
    if op.store_error is not None:
        rows.append(("store", f"cannot be written ({op.store_error}); new orders refused"))
    alerts_dropped = op.alerts_dropped()
    if alerts_dropped:  # lost before any chat: a trader must not read the silence as "nothing happened"
        rows.append(("alerts dropped", f"{alerts_dropped} (alert queue full, or no notifier took them)"))
    day = op.period_start_ns("day")
    moving, today, costs = await _off_loop(op, _day_reads, op, day)  # the store's part, read off the loop
    if isinstance(moving, Exception):  # the store down: /status still answers, saying what it could not read
        rows.append(("transfers", f"cannot be read ({type(moving).__name__})"))
    else:  # funds that left a venue and are not credited yet
        rows.extend((f"transfer {t.transfer_id}", transfer_text(t, now)) for t in moving)
    for (exchange, symbol), ts in sorted(op.feeds().items()):
        rows.append((f"{exchange} {symbol}", f"data {_age(now - ts)} old"))
    for name, component in [*op.exchanges.items(), *op.notifiers.items(), *op.services.items()]:
        rows.extend((f"{name} {key}", value) for key, value in _facts(op, component))
    rows.append(("PnL today", "; ".join(
        f"{name} realized {moneys(fig.realized, fig.quotes)}, fees {fees_text(fig)}, net {moneys(fig.net, fig.quotes)}"
        f", unrealized now {moneys(fig.unrealized, fig.quotes)}" for name, fig in sorted(today.items()))
        or "no fills today"))
    # the bot's net is the strategies' less what moving funds cost (no strategy's): as /pnl and `arbot report` say
    net_today = totals(today.values()).net
    bot_net_today = net_after_transfer_costs(net_today, costs)
    if costs:
        rows.append(("transfer costs today", f"{moneys(costs)}; bot net after transfer costs: {moneys(bot_net_today)}"
                                             " (transfers are the bot's, no strategy's)"))
    zone = zoneinfo.ZoneInfo(op.timezone)
    for check in op.risk():  # each limit with its use and unit; /risk has the whole picture
        if check.usage:  # a daily limit says since when it counts (its reset time need not be /pnl day's midnight)
            rows.append((f"risk {check.name}", "; ".join(
                f"{key} {amount(use.used, use.unit)} / {amount(use.limit, use.unit)} {use.unit}"
                + (f" since {dt.datetime.fromtimestamp(use.since_ns // 1_000_000_000, zone):%a %H:%M}"
                   if use.since_ns is not None else "")
                for key, use in check.usage.items())))
    running = sum(op.strategy_state(name) == "running" for name in op.strategies)
    configured = len(op.strategy_names())
    summary = {"mode": op.mode, "running": f"{running}/{configured}", "orders": str(len(op.open_orders())),
               "PnL today": moneys(bot_net_today) if today or costs else "-"}
    # a fleet front sums these (`/status all`): the strategies' net, labelled apart from the bot's
    return Reply("Status", rows=rows, data={"summary": summary, "totals": {
        "net today": exact(net_today), "transfer costs today": exact(costs),
        "net after transfer costs today": exact(bot_net_today)}})


def _facts(op: Operator, component: Component) -> list[tuple[str, str]]:
    """A component's ``status()`` facts; ``status() failed`` when it raised (the host reports it against its plugin)."""
    facts = op.ask(component, "status")
    return [("status()", "failed")] if facts is None else list(facts.items())


def exact(amounts: dict[str, Decimal]) -> dict[str, str]:
    """``{asset: amount}`` as exact decimal strings (JSON-shaped, for :attr:`Reply.data`)."""
    return {asset: str(value) for asset, value in sorted(amounts.items())}


def market_info(op: Operator, exchange: str, symbol: str) -> MarketInfo | None:
    """The market's rules (tick and lot sizes for display), when the exchange knows the symbol."""
    venue = op.exchanges.get(exchange)
    try:
        return venue.market(symbol) if venue is not None else None
    except KeyError:
        return None


def _unknown(op: Operator, args: list[str]) -> Reply | None:
    unknown = [a for a in args if a not in op.strategies]
    if unknown:
        named = escape_controls(", ".join(unknown))  # quoted as one line, nothing a terminal obeys
        return Reply(f"No strategy named {named}. Strategies: {', '.join(op.strategies) or 'none'}.", ok=False)
    return None


async def pause(op: Operator, caller: Caller, args: list[str]) -> Reply:
    refusal = _unknown(op, args)
    if refusal is not None:
        return refusal
    targets = op.pause(args, caller)
    return Reply(f"Paused: {', '.join(targets) or 'nothing'}. Resting orders stay; no new orders.")


async def resume(op: Operator, caller: Caller, args: list[str]) -> Reply:
    refusal = _unknown(op, args)
    if refusal is not None:
        return refusal
    targets = op.resume(args, caller)
    return Reply(f"Resumed: {', '.join(targets) or 'nothing'}.")


def confirm_resume(op: Operator, args: list[str]) -> str | None:
    """Resuming a strategy the kill switch stopped is confirmed first."""
    targets = args or list(op.strategies)
    killed = [name for name in targets if name in op.strategies and op.killed(name)]
    if killed:
        return f"Resume {', '.join(killed)} after the kill switch?"
    return None


def confirm_kill(op: Operator, args: list[str]) -> str:
    open_orders = len(op.open_orders())
    n = len(op.strategies)
    return f"Kill switch: pause {'all ' if n > 1 else ''}{counted(n, 'strategy')} and cancel " \
           f"{counted(open_orders, 'resting order')}?"


async def strategies(op: Operator, caller: Caller, args: list[str]) -> Reply:
    rows: list[tuple[str, ...]] = [("name", "type", "state", "markets")]
    for name, strategy in op.strategies.items():
        pairs = op.ask(strategy, "markets")
        markets = "markets() failed" if pairs is None else ", ".join(f"{e}:{s}" for e, s in pairs)
        rows.append((name, op.strategy_type(name), op.strategy_state(name), markets))
    for name in op.strategies_not_started:
        rows.append((name, op.strategy_type(name), op.strategy_state(name), "-"))
    return Reply("Strategies", rows=rows, header=True)


async def orders(op: Operator, caller: Caller, args: list[str]) -> Reply:
    open_orders = op.open_orders()
    rows: list[tuple[str, ...]] = [("strategy", "side", "qty", "price", "status")]
    for o in open_orders[:30]:
        info = market_info(op, o.exchange, o.symbol)
        rows.append((o.strategy, o.side.value, qty(o.qty, info.lot_size if info else None),
                     price(o.price, info.tick_size if info else None) if o.price is not None else "market",
                     o.status.value))
    return Reply(f"Open orders: {len(open_orders)}", rows=rows if open_orders else [], header=True)


async def balance(op: Operator, caller: Caller, args: list[str]) -> Reply:
    rows: list[tuple[str, ...]] = [("exchange", "asset", "free", "total")]
    missing: list[str] = []
    for name, balances in (await op.venue_balances()).items():
        if isinstance(balances, str):  # the venue raised or did not answer: the others are still shown
            missing.append(f"{name}: not read ({balances})")
            continue
        for asset, b in sorted(balances.items()):
            if b.total:
                rows.append((name, asset, amount(b.free, asset), amount(b.total, asset)))
    return Reply("Balances", rows=rows, header=True, text="\n".join(missing))


async def plugins(op: Operator, caller: Caller, args: list[str]) -> Reply:
    rows: list[tuple[str, ...]] = [("plugin", "kinds", "from", "status")]
    notes = []
    for info in op.plugins():
        source = f"{info.dist} {info.version}" if info.dist else "-"
        rows.append((info.name, ", ".join(sorted(info.kinds)) or "-", source,
                     "error" if info.errors else "ok"))
        label = f'plugin "{info.name}"' + (f" ({source})" if info.dist else "")
        notes += [f"{label}: {error}" for error in info.errors]  # masked when kept (PluginSet.fail)
    # the running bot's errors (a hook or a component that raised) are known only here, not to `arbot plugins`
    return Reply("Plugins", rows=rows, header=True, text="\n".join(notes))


async def help_(op: Operator, caller: Caller, args: list[str]) -> Reply:
    fleet = op.fleet is not None
    rows: list[tuple[str, ...]] = [(f"/{c.name}" + (f" {c.usage}" if c.usage else "")
                                    + (" [all | BOT:ARG]" if fleet and c.fleet else ""), c.help)
                                   for c in op.commands_for(caller)]
    text = ("fleet: all = every bot, BOT:ARG = that bot with ARG (BOT: alone, no ARG), e.g. /pause vps-1:grid"
            if fleet else "")
    return Reply("Commands", rows=rows, text=text)


async def report(op: Operator, caller: Caller, args: list[str]) -> Reply:
    from .report import report_reply
    return await _off_loop(op, report_reply, op.store, op.last_price)  # every order and fill: off the loop


async def positions(op: Operator, caller: Caller, args: list[str]) -> Reply:
    held = op.positions()
    if not held:
        return Reply("No open positions.")
    rows: list[tuple[str, ...]] = [("exchange", "symbol", "position", "last price", "notional")]
    totals_: dict[str, Decimal] = {}
    for (exchange, symbol), position in sorted(held.items()):
        base, quote = split_symbol(symbol)
        info = market_info(op, exchange, symbol)
        shown = f"{qty(position, info.lot_size if info else None)} {base}"
        last = op.last_price(exchange, symbol)
        if last is None:
            rows.append((exchange, symbol, shown, "-", "-"))
            continue
        totals_[quote] = totals_.get(quote, ZERO) + position * last
        rows.append((exchange, symbol, shown, f"{price(last, info.tick_size if info else None)} {quote}",
                     money(position * last, quote)))
    lines = ["net notional: " + moneys(totals_)] if totals_ else []
    figures = await _off_loop(op, op.pnl)  # the open lots' unrealized PnL: every fill read, off the loop
    held_by = [f"{name} {moneys(fig.unrealized, fig.quotes)}" for name, fig in sorted(figures.items())
               if any(m.position for m in fig.markets)]
    if held_by:
        lines.append("unrealized PnL (open lots marked to mid): " + "; ".join(held_by))
    return Reply(f"Positions: {len(held)}", rows=rows, header=True, text="\n".join(lines))


async def pnl(op: Operator, caller: Caller, args: list[str]) -> Reply:
    from .ledger import PERIODS, totals
    from .report import fees_text, fills_text
    period = args[0].lower() if args else "day"
    if len(args) > 1 or period not in PERIODS:
        return Reply(f"Usage: /pnl [{'|'.join(PERIODS)}]", ok=False)
    tz = op.timezone
    since = op.period_start_ns(period)
    start = dt.datetime.fromtimestamp(since // 1_000_000_000, zoneinfo.ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")
    title = f"PnL this {period} (since {start} {tz})"
    figures, costs = await _off_loop(op, _period_reads, op, since)
    if not figures:
        return Reply(title, text=f"No fills this {period}." + _transfer_costs_text({}, costs),
                     data=_pnl_data(None, costs))
    rows: list[tuple[str, ...]] = [("strategy", "fills", "realized", "fees", "net", "unrealized now")]
    for name in sorted(figures):
        fig = figures[name]
        rows.append((name, fills_text(fig), moneys(fig.realized, fig.quotes), fees_text(fig),
                     moneys(fig.net, fig.quotes), moneys(fig.unrealized, fig.quotes)))
    total = totals(figures.values())
    text = (f"total net: {moneys(total.net)}; unrealized now: {moneys(total.unrealized)}"
            f"{_transfer_costs_text(total.net, costs)}\n"
            "Realized PnL, before fees: a closing order that names its lot is matched to it, anything else FIFO "
            "per strategy and market; unrealized: open lots marked to mid.")
    return Reply(title, rows=rows, header=True, text=text, data=_pnl_data(total, costs))


def _transfer_costs_text(net: dict[str, Decimal], costs: dict[str, Decimal]) -> str:
    """/pnl's transfer costs line (empty without any): the bot's, in no strategy's net."""
    from .ledger import net_after_transfer_costs
    if not costs:
        return ""
    return (f"\ntransfer costs: {moneys(costs)}; net after transfer costs: "
            f"{moneys(net_after_transfer_costs(net, costs))} (transfers are the bot's, no strategy's)")


def _pnl_data(total: StrategyFigures | None, costs: dict[str, Decimal]) -> dict[str, Any]:
    """The bot's own ledger totals, exact, for a fleet front to add up (``/pnl all``): ``fees`` is every fee paid
    per asset (a DEX swap's SOL network fee too), ``other_fees`` the part of it paid in an asset that is not the
    market's quote (left out of ``net``), so the fleet total shows them as the bot's fees column does;
    ``transfer_costs`` what moving funds cost the bot in the period (``costs``, per asset, in no strategy's figures)
    and ``net_after_transfer_costs`` ``net`` less them."""
    from .ledger import StrategyFigures, net_after_transfer_costs
    from .report import fills_text
    fig = total or StrategyFigures("total")
    return {"summary": {"fills": fills_text(fig), "net": moneys(fig.net) if total else "-",
                        "unrealized": moneys(fig.unrealized) if total else "-"},
            "totals": {"realized": exact(fig.realized), "fees": exact(fig.fees_paid),
                       "other_fees": exact(fig.other_fees), "net": exact(fig.net), "unrealized": exact(fig.unrealized),
                       "transfer_costs": exact(costs),
                       "net_after_transfer_costs": exact(net_after_transfer_costs(fig.net, costs))}}


OPPORTUNITIES_SHOWN = 10


def _bps(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f} bps" if value else "0 bps"


async def opportunities(op: Operator, caller: Caller, args: list[str]) -> Reply:
    from .opportunities import figures as opportunity_figures
    latest = op.opportunities(OPPORTUNITIES_SHOWN)
    if not latest:
        return Reply("Opportunities: none yet.")
    several = len({o.strategy for o in latest}) > 1
    header: tuple[str, ...] = ("age", "market", "buy", "sell", "qty", "gross", "costs", "net", "net profit", "acted")
    rows: list[tuple[str, ...]] = [(("strategy",) if several else ()) + header]
    now = op.now_ns()
    for o in latest:
        fig = opportunity_figures(o)
        base, quote = split_symbol(o.symbol)
        buy, sell = market_info(op, o.buy_exchange, o.symbol), market_info(op, o.sell_exchange, o.symbol)
        rows.append(((o.strategy,) if several else ()) + (
            _age(max(0, now - o.ts_ns)), o.symbol,
            f"{o.buy_exchange} {price(o.buy_price, buy.tick_size if buy else None)} {quote}",
            f"{o.sell_exchange} {price(o.sell_price, sell.tick_size if sell else None)} {quote}",
            f"{qty(o.qty, buy.lot_size if buy else None)} {base}", _bps(fig.gross_bps),
            _bps(fig.cost_bps), _bps(fig.net_bps), money(fig.net_profit, quote), "yes" if o.acted else "no"))
    title = f"Opportunities: latest {len(latest)} of {op.opportunities_kept()} kept"
    if not several:
        title += f" (strategy {latest[0].strategy})"
    return Reply(title, rows=rows, header=True, text="gross: price difference; costs: fees and costs the "
                                                        "strategy counted; net = gross - costs")


def _observe_arg(args: list[str]) -> str | None:
    return args[0].lower() if len(args) == 1 and args[0].lower() in ("on", "off") else None


async def observe(op: Operator, caller: Caller, args: list[str]) -> Reply:
    switch = _observe_arg(args)
    if switch is None:
        return Reply(f"Usage: /observe on|off (mode is {op.mode} now).", ok=False)
    if switch == "on":
        if op.mode == "observe":
            return Reply("Already in observe mode: new orders are recorded, not sent.")
        op.set_observe(True, caller)
        return Reply("Observe mode on: new orders are recorded as observed and sent nowhere. "
                     "Resting orders stay (/kill cancels them); /observe off trades again.")
    if op.configured_mode == "observe":
        return Reply('The config says mode = "observe": there is no trading mode to return to. Change mode in '
                     "the config and restart.", ok=False)
    if op.mode != "observe":
        return Reply(f"Not in observe mode: orders are being sent ({op.mode} mode).")
    mode = op.set_observe(False, caller)
    return Reply(f"Observe mode off: new orders are sent again ({mode} mode).")


def confirm_observe(op: Operator, args: list[str]) -> str | None:
    """Leaving observe mode resumes real order flow: confirmed first."""
    if _observe_arg(args) == "off" and op.mode == "observe" and op.configured_mode != "observe":
        money_note = " with real money" if op.configured_mode == "live" else ""
        return f"Leave observe mode and send orders again ({op.configured_mode} mode{money_note})?"
    return None


async def kill(op: Operator, caller: Caller, args: list[str]) -> Reply:
    paused = op.kill(" ".join(args), caller)  # the figure the console's kill answers too
    already = len(op.strategies) - paused
    before = f" ({already} already {'was' if already == 1 else 'were'})" if already else ""
    return Reply(f"Kill switch: {counted(paused, 'strategy')} paused{before}, every resting order is being cancelled. "
                 "/resume re-arms them.")


async def reload_secrets(op: Operator, caller: Caller, args: list[str]) -> Reply:
    lines = await op.reload_secrets(caller)
    return Reply("Secrets re-read", text="\n".join(lines))


async def risk(op: Operator, caller: Caller, args: list[str]) -> Reply:
    rows: list[tuple[str, ...]] = [("check", "measure", "now (/ limit)")]
    for check in op.risk():
        rows += [(check.name, key, value) for key, value in check.facts.items()] or [(check.name, "-", "armed")]
    paused = [f"{n} ({op.strategy_state(n)})" for n, s in op.strategies.items() if s.paused]
    lines = [f"paused: {', '.join(paused)}" if paused else "paused: none", "recent trips:"]
    for row in await _off_loop(op, op.risk_trips, 8):  # a store read: off the loop
        lines.append(f"  {_age(op.now_ns() - row.ts_ns)} ago  {row.check}  {row.action}  {row.reason}"
                     + (f"  {row.strategy or row.exchange}" if row.strategy or row.exchange else ""))
    if lines[-1] == "recent trips:":
        lines[-1] = "recent trips: none"
    return Reply("Risk", rows=rows if len(rows) > 1 else [], header=True, text="\n".join(lines))


@hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    # urgent: reachable while another command hangs on a slow venue (Command.urgent); each answers from the bot's
    # own state. /resume too, so that it never overtakes a /pause sent after it. halts: only stops trading (the kill
    # switch, /pause), so a fleet bot still runs it after its sender gave up waiting; a late /resume is refused.
    register(Command("status", status, "viewer", "mode, uptime, strategies, open orders, data age, PnL today",
                     fleet=True, urgent=True))
    register(Command("pause", pause, "operator", "stop new orders (resting orders stay)", "[strategy...]", fleet=True,
                     urgent=True, halts=True))
    register(Command("resume", resume, "operator", "allow new orders again", "[strategy...]",
                     confirm=confirm_resume, fleet=True, urgent=True))
    register(Command("strategies", strategies, "viewer", "every strategy with its state", fleet=True))
    register(Command("orders", orders, "viewer", "open orders", fleet=True))
    register(Command("balance", balance, "viewer", "balances per exchange", fleet=True))
    register(Command("positions", positions, "viewer", "net position per market, last price and notional", fleet=True))
    register(Command("pnl", pnl, "viewer", "realized PnL and fees per strategy since the start of the period",
                     "[day|week|month]", fleet=True))
    register(Command("opportunities", opportunities, "viewer",
                     "latest arbitrage opportunities: net edge and what costs took"))
    register(Command("observe", observe, "admin", "observe mode: record new orders without sending them",
                     "on|off", confirm=confirm_observe))
    register(Command("plugins", plugins, "viewer", "installed plugins and their errors"))
    register(Command("report", report, "viewer", "orders, fills, fees and PnL per strategy", fleet=True))
    register(Command("risk", risk, "viewer", "risk limits, their current use, paused strategies, recent trips",
                     fleet=True))
    register(Command("kill", kill, "admin", "kill switch: pause every strategy, cancel every resting order",
                     "[reason]", confirm=confirm_kill, fleet=True, urgent=True, halts=True))
    register(Command("reload_secrets", reload_secrets, "admin", "re-read every env:/file: secret (rotated keys "
                     "and tokens) without a restart; also `arbot ctl reload-secrets` or SIGHUP"))
    register(Command("help", help_, "viewer", "this list"))


async def reconcile(op: Operator) -> None:
    await op.reconcile()


async def snapshot_balances(op: Operator) -> None:
    await op.snapshot_balances()


async def daily_summary(op: Operator) -> None:
    """The bot's last whole day (midnight to midnight in ``[scheduler] timezone``, the day ``/pnl day`` shows while
    it lasts): each strategy's realized PnL, fees and net, and the day's transfer costs with the bot's net after
    them, the figures ``/pnl day`` gave at the day's end. Sent at ``daily_summary_at`` (a catch-up at start, later
    that day, is of the same day)."""
    from .ledger import day_start_ns, net_after_transfer_costs, strategy_figures, totals, transfer_costs
    from .report import fees_text
    tz = op.timezone
    end = op.period_start_ns("day")
    start = day_start_ns(end - 1, tz)
    store = op.ledger().store
    # read off the loop: a timer held by a database that does not answer holds no other one (nor any command)
    stored, closes, moved = await _off_loop(op, lambda: (store.fills(), store.closes(),
                                                         store.transfers(since_ns=start)))
    fills = [(strategy, fill) for strategy, fill in stored if fill.ts_ns < end]  # a fill counts in its day
    figures = strategy_figures(fills, start, None, closes)
    fields = {name: f"realized {moneys(fig.realized, fig.quotes)}, fees {fees_text(fig)}, net "
                    f"{moneys(fig.net, fig.quotes)}" for name, fig in figures.items()}
    total = totals(figures.values())
    costs = transfer_costs(t for t in moved if t.created_ns < end)  # as /pnl: created then
    if costs:  # the bot's, no strategy's: the strategies' net less them, as /pnl says it
        fields["transfer costs"] = moneys(costs)
        fields["net after transfer costs"] = moneys(net_after_transfer_costs(total.net, costs))
    fee_only = (f" (and {total.fee_only} fee-only {'entry' if total.fee_only == 1 else 'entries'})"
                if total.fee_only else "")
    day = dt.datetime.fromtimestamp(start // 1_000_000_000, zoneinfo.ZoneInfo(tz))
    op.alert(AlertLevel.INFO, "summary", f"daily summary: {day:%a %Y-%m-%d} (since {day:%H:%M} {tz}): "
                                         f"{counted(total.fills, 'fill')}{fee_only}", **fields)


@hookimpl
def register_jobs(register: Callable[[Job], None], config: Any) -> None:
    s = config.scheduler
    register(Job("reconcile", reconcile, every_s=s.reconcile_every_s))
    register(Job("balance-snapshot", snapshot_balances, every_s=s.balance_snapshot_every_s))
    register(Job("daily-summary", daily_summary, at=s.daily_summary_at.strftime("%H:%M"), catch_up=True))

