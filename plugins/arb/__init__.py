"""The ``arb`` plugin: CEX/DEX arbitrage (strategy ``arb``) and its ``/inventory`` and ``/arb`` commands.

Registration imports nothing of the strategy: the class is registered by reference and the
commands import their module when they run, so a config without an arb strategy never loads it.
"""

from bot.api import Command, Reply, hookimpl


@hookimpl
def register_strategies(register):
    """Register the arbitrage strategy class under the name ``arb``."""
    register("arb", "plugins.arb.strategy:ArbStrategy")


async def _inventory_command(operator, caller, args) -> Reply:  # (plugins.arb.inventory is a module)
    from .commands import inventory

    return await inventory(operator, caller, args)


async def _arb_command(operator, caller, args) -> Reply:
    from .commands import arb

    return await arb(operator, caller, args)


@hookimpl
def register_commands(register):
    """``/inventory`` (balances per venue) and ``/arb`` (latest executions)."""
    register(Command("inventory", _inventory_command, "viewer", "balances per venue of the arb strategies",
                     usage="[strategy]"))
    register(Command("arb", _arb_command, "viewer", "latest arbitrage executions: predicted vs realized",
                     usage="[strategy]"))


@hookimpl
def backtest_report_sections(run):
    """``arbot backtest``: the "Arbitrage" section (opportunities, capture rate, prediction error)."""
    from .backtest import report_sections

    return report_sections(run)


@hookimpl
def backtest_chart(axes, run):
    """``arbot backtest``: the opportunities, marked on the arb strategy's PnL curve."""
    from .backtest import chart

    return chart(axes, run)


@hookimpl
def executions(store, strategy, since_ns, until_ns, limit):
    """The operator's executions (the web console): predicted vs realized PnL, legs, latencies."""
    from .records import execution_views

    return execution_views(store, strategy, since_ns, until_ns, limit)


@hookimpl
def stored_opportunities(store, limit):
    """The newest opportunities the arb strategies stored, for ``/opportunities`` after a restart."""
    from .records import stored_opportunities as stored

    return stored(store, limit)


@hookimpl
def report_sections(store):
    """``arbot report``: opportunities and executions per arb strategy, predicted vs captured PnL."""
    from .records import CAPTURED, summary

    rows = summary(store)
    if len(rows) == 1:
        return None
    return [Reply("Arbitrage", rows=rows, header=True,
                  text="PnL in each strategy's quote currency, over finished executions; /arb lists the latest.\n"
                       + CAPTURED)]
