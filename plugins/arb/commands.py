"""Chat commands of the arb plugin: ``/inventory`` and ``/arb``.

Both answer from the running strategies' public methods and the plugin's own tables; the reply is
data (rows of text), rendered by each transport.
"""

from __future__ import annotations

from bot.api import Caller, Command, Operator, Reply

from .records import executions
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


async def arb(op: Operator, caller: Caller, args: list[str]) -> Reply:
    """``/arb [STRATEGY...]``: the latest executions with predicted and realized PnL."""
    found = _arb_strategies(op, args)
    if isinstance(found, Reply):
        return found
    rows: list[tuple[str, ...]] = [("id", "direction", "size", "predicted", "realized", "state")]
    for name in found:
        for row in executions(op.store, name, limit=10):
            realized = "" if row.realized_pnl is None else str(row.realized_pnl)
            rows.append((row.opportunity_id[:10], row.direction, str(row.size), str(row.predicted_pnl), realized,
                         row.state))
    facts = "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in s.status().items()) for name, s in found.items())
    return Reply("Arbitrage", rows=rows, header=True, text=facts)


INVENTORY = Command("inventory", inventory, "viewer", "balances per venue of the arb strategies", usage="[strategy]")
ARB = Command("arb", arb, "viewer", "latest arbitrage executions: predicted vs realized", usage="[strategy]")
