"""Chat commands of the arb plugin: ``/inventory`` and ``/arb``.

Both answer from the running strategies' public methods and the plugin's own tables; the reply is
data (rows of text), rendered by each transport.
"""

from __future__ import annotations

from decimal import Decimal

from bot.api import Caller, Operator, Reply
from bot.api.ledger import StrategyFigures, amount, money, signed_money

from .records import CAPTURED, ArbExecutionRow, executions
from .strategy import ArbStrategy


def _arb_strategies(op: Operator, args: list[str]) -> dict[str, ArbStrategy] | Reply:
    found = {name: s for name, s in op.strategies.items() if isinstance(s, ArbStrategy)}
    if not found:
        return Reply("No arb strategy is running.", ok=False)
    if args:
        unknown = [a for a in args if a not in found]
        if unknown:
            return Reply(f"No arb strategy named {', '.join(unknown)}. Arb strategies: {', '.join(found)}.", ok=False)
        found = {name: found[name] for name in args}
    return found


async def inventory(op: Operator, caller: Caller, args: list[str]) -> Reply:
    """``/inventory [STRATEGY...]``: free and total balances per venue, and the sides too low to trade."""
    found = _arb_strategies(op, args)
    if isinstance(found, Reply):
        return found
    rows: list[tuple[str, ...]] = [("strategy", "venue", "asset", "free", "total")]
    notes = []
    for name, strategy in found.items():
        for venue, asset, free, total in strategy.inventory_rows():
            rows.append((name, venue, asset, free, total))
        for low in strategy.low_inventory:
            notes.append(f"{name} {low.direction}: {low.venue} has {low.have} {low.asset}, needs {low.need}")
    text = "\n".join(["Too low to trade min_size:", *notes]) if notes else ""
    return Reply("Inventory", rows=rows, header=True, text=text)


def _read(op: Operator, names: list[str]) -> dict[str, tuple[list[ArbExecutionRow], list[Decimal], StrategyFigures]]:
    """What ``/arb`` shows of each strategy's store: its latest 10 executions, every finished one's realized PnL and
    the ledger's figures. Store reads, run on a worker thread (a slow database holds the command, not the bot)."""
    ledger = op.ledger()
    read = {}
    for name in names:
        finished = [r.realized_pnl for r in executions(op.store, name, limit=1_000_000) if r.realized_pnl is not None]
        read[name] = (executions(op.store, name, limit=10), finished, ledger.strategy(name))
    return read


async def arb(op: Operator, caller: Caller, args: list[str]) -> Reply:
    """``/arb [STRATEGY...]``: the latest executions with predicted and realized PnL, and each strategy's total.

    The total is the ledger's (FIFO lots, as ``/pnl`` and ``arbot report``; a fee paid in another asset than the
    quote apart, in that asset, as their fees column shows it); next to it what the executions captured (every
    finished execution's own PnL summed, :data:`~plugins.arb.records.CAPTURED`), and the difference when there is
    one, with what makes it.
    """
    found = _arb_strategies(op, args)
    if isinstance(found, Reply):
        return found
    rows: list[tuple[str, ...]] = [("id", "direction", "size", "predicted", "realized", "state")]
    lines = []
    differs = False
    read = await op.store.read_off_loop(_read, op, list(found))  # store reads: the store's threads
    for name, strategy in found.items():
        quote = strategy.quote
        latest, finished, fig = read[name]
        for row in latest:
            realized = "" if row.realized_pnl is None else amount(row.realized_pnl, quote)
            rows.append((row.opportunity_id[:10], row.direction, str(row.size), amount(row.predicted_pnl, quote),
                         realized, row.state))
        by_executions = sum(finished, Decimal(0))
        net = fig.net.get(quote, Decimal(0))
        other = "".join(f", + {money(v, a)}" for a, v in sorted(fig.other_fees.items()))  # /pnl's fees column's
        line = (f"{name} total: realized {money(fig.realized.get(quote, Decimal(0)), quote)} - fees "
                f"{money(fig.fees.get(quote, Decimal(0)), quote)} = {signed_money(net, quote)} after fees"
                + (f"{other} of fees in other assets (not in net; FIFO, as /pnl)" if other else " (FIFO, as /pnl)")
                + f"; {len(finished)} executions captured {signed_money(by_executions, quote)}")
        if amount(by_executions - net, quote) not in ("0", "0.00", "-0.00"):
            line += f" (captured - net {signed_money(by_executions - net, quote)})"
            differs = True
        lines.append(line)
    facts = "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in s.status().items()) for name, s in found.items())
    return Reply("Arbitrage", rows=rows, header=True, text="\n".join(lines + [facts] + ([CAPTURED] if differs else [])))
