"""Every hook arbot calls. Each docstring here is the hook's documentation.

Hooks are synchronous (pluggy has no async hooks). Registration hooks hand over classes (or
``"package.module:Class"`` references, imported only when a config uses them) and descriptions;
the I/O lives on the objects they register. The host calls each plugin's implementation
separately, in pluggy's order (``tryfirst`` first, ``trylast`` last, otherwise the plugin
registered last first), so a plugin that raises is reported by name and skipped while the others
still run; the backtest hooks go through pluggy's own caller, where a raise fails the backtest.
Hook wrappers (``wrapper=True``, ``hookwrapper=True``) are refused when the plugin loads. None of
these hooks is ``firstresult``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

from . import PROJECT

if TYPE_CHECKING:
    from .api import (
        Command,
        Exchange,
        ExecutionView,
        Job,
        Notifier,
        Operator,
        Opportunity,
        Reply,
        RiskCheck,
        Service,
        Strategy,
    )
    from .backtest.contract import BacktestRun, ReportSection
    from .store import Store

hookspec = pluggy.HookspecMarker(PROJECT)


# --- registration ------------------------------------------------------------------------------


@hookspec
def register_exchanges(register: Callable[[str, type[Exchange] | str], None]) -> None:
    """Register exchange (venue) classes: ``register("kraken", "plugins.kraken.exchange:KrakenExchange")``.

    Every component hook takes the class itself or, better, a ``"package.module:Class"`` reference:
    the module is imported only when a config uses the name, so ``arbot --help`` and configs
    without your component never pay for its imports (keep the plugin's top module light).

    The name is what ``[exchanges.NAME] type = "..."`` refers to (``type`` defaults to the table
    name). The class subclasses :class:`bot.api.Exchange`. A name registered twice, by any two
    plugins, is an error that names both plugins.
    """


@hookspec
def register_strategies(register: Callable[[str, type[Strategy] | str], None]) -> None:
    """Register strategy classes: ``register("grid", GridStrategy)``.

    Config tables ``[strategies.NAME]`` with ``type = "grid"`` each get an instance. The class
    subclasses :class:`bot.api.Strategy`.
    """


@hookspec
def register_risk_checks(register: Callable[[str, type[RiskCheck] | str], None]) -> None:
    """Register risk check classes: ``register("limits", LimitsCheck)``.

    Each ``[risk.NAME]`` table makes one instance; every instance is asked about every order
    before it is sent, and any one can veto it (:meth:`bot.api.RiskCheck.check`).
    """


@hookspec
def register_notifiers(register: Callable[[str, type[Notifier] | str], None]) -> None:
    """Register notifier classes: ``register("console", ConsoleNotifier)``.

    Each ``[notifiers.NAME]`` table makes one instance; it receives every alert at or above its
    level through :meth:`bot.api.Notifier.send`, from a queue, so it can never block trading.
    """


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Register control commands: ``register(Command("status", handler, "viewer", "..."))``.

    Commands are transport-independent: the local ``arbot ctl`` channel and chat transports all
    dispatch through the same table, which checks the caller's role and audits every attempt.
    ``handler(operator, caller, args)`` is a coroutine returning a :class:`bot.api.Reply`; ``operator``
    is a :class:`bot.api.Operator`, ``caller`` a :class:`bot.api.Caller`, ``args`` a ``list[str]``.
    """


@hookspec
def register_jobs(register: Callable[[Job], None], config: Any) -> None:
    """Register timed work: ``register(Job("snapshot", func, every_s=300))`` or ``at="00:00"``.

    Called when the bot starts, after the config is validated (``config`` lets a plugin take its
    intervals from it). ``func(operator)`` is a coroutine run by the host's APScheduler in the bot's
    loop: one instance at a time, missed runs coalesced, daily times in ``[scheduler] timezone``.
    A daily job runs at most once a local day, across restarts too; with ``catch_up=True`` a run
    missed while the bot was down is made once at start, the same day. A job that raises is logged
    and alerted with its plugin's name, and runs again next time. Job names are unique across plugins.
    """


@hookspec
def register_plugin_settings(register: Callable[[type], None]) -> None:
    """Declare the settings of the plugin itself: ``register(StreamSettings)``.

    For plugin-wide services that are not components (a stream server, a metrics endpoint).
    Called when plugins are loaded. The argument is a frozen dataclass written like a component's
    ``Settings`` (``bot.settings.option``); the user configures it in the table
    ``[plugins.PLUGIN]``, where PLUGIN is the plugin's entry-point name. The table is validated
    with the rest of the config (unknown keys and bad values are reported with their key paths),
    its secrets are resolved, and a missing table gives the defaults. Read it at run time with
    ``operator.plugin_settings(PLUGIN)`` (for example in :func:`startup`). One class per plugin. A
    :class:`bot.api.Service` gets these settings itself (its ``Settings`` class is registered for it).
    """


@hookspec
def register_services(register: Callable[[str, type[Service] | str], None]) -> None:
    """Register services, plugin-wide work beside the trading: ``register("stream", StreamServer)``.

    The class subclasses :class:`bot.api.Service`; a ``"module:Class"`` reference instead is imported when the
    service starts (declare its settings with :func:`register_plugin_settings` then). The host builds one
    instance per registered name (names are unique among services, like every kind), with the settings of
    ``[plugins.PLUGIN]``
    (the class's ``Settings``; registering them with :func:`register_plugin_settings` too is
    allowed if it is the same class). A service whose settings have ``enabled = false`` is not
    started. Services start after the strategies, the scheduler and the control channel, in
    registration order, before the ``startup`` hook; they stop after the ``shutdown`` hook, in
    reverse order, before anything else stops. One that fails to build or start is reported with
    its plugin's name (traceback at DEBUG) and left out; the bot and the other services run. When
    a service stops, its bus and alert subscriptions and its background tasks end with it.
    """


@hookspec
def register_cli(register: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``arbot`` subcommands: ``parser = register("watch", run, help="...")``.

    Called when the ``arbot`` command builds its argument parser, before the arguments are parsed.
    ``register(name, run, help)`` returns the new subcommand's ``argparse.ArgumentParser`` for the
    plugin to add its arguments to; ``run(args)`` is called with the parsed ``argparse.Namespace``
    when the user runs ``arbot NAME`` and returns the exit status (an ``int``). A name the host or
    another plugin already uses is refused with an error naming the plugin. ``run`` owns the
    process: it may call ``asyncio.run``. Returns nothing.
    """


@hookspec
def report_sections(store: Store) -> list[Reply] | None:
    """Add sections to ``arbot report``: return a list of :class:`~bot.api.Reply` (or None).

    Called by ``arbot report`` (no bot running) with the opened :class:`~bot.store.Store`, after the
    host's own table. Read your plugin's tables (or the host's) and return one Reply per section:
    a ``title``, optional ``rows`` (first row a header when ``header=True``) and ``text``. Read
    only; a hook that raises is reported with the plugin's name and the other sections still print.
    Your tables may be missing (a store where none of your components ran: :meth:`Store.has_table`
    says): return None then, never an error.
    """


@hookspec
def executions(store: Store, strategy: str | None, since_ns: int | None, until_ns: int | None,
               limit: int) -> list[ExecutionView] | None:
    """Report executed opportunities (predicted vs realized PnL, legs, latencies) for the operator.

    Called through ``Operator.executions`` (the web console's ``/api/v1/arb/executions``), in a
    worker thread, with the bot's store: return at most ``limit`` of your strategies' executions
    created in ``[since_ns, until_ns)`` (bounds None: open), of ``strategy`` if given, newest first,
    as :class:`~bot.api.ExecutionView`; None when you have none (as when your tables are missing:
    :meth:`Store.has_table`). Read only.
    """


@hookspec
def stored_opportunities(store: Store, limit: int) -> list[Opportunity] | None:
    """Hand over the newest opportunities your strategies stored before this run, to show after a restart.

    Called once when the bot starts (its store open, before any strategy starts), on the store writer's thread, not
    the event loop's (the start awaits it: a database slow to answer holds the start, never the loop), with the
    bot's store: return
    at most ``limit`` of the :class:`~bot.api.Opportunity` events your strategies published and stored, newest
    first, as they were published. The host puts them in the list of the latest opportunities
    (``Operator.opportunities``: ``/opportunities`` and the web console), so a restart does not show "none
    yet" while stored rows exist; newer ones arriving on the bus push them out. None when you store none (your
    tables may be missing: :meth:`Store.has_table`). Read only.
    """


# --- backtest report: called by `arbot backtest` after the run ---------------------------------


@hookspec
def backtest_report_sections(run: BacktestRun) -> list[ReportSection] | None:
    """Add sections to the backtest report: return a list of :class:`~bot.backtest.contract.ReportSection`.

    Called by ``arbot backtest`` once the run is over (the bot stopped) with a
    :class:`~bot.backtest.contract.BacktestRun`: the configured strategies, every ``Opportunity``
    and ``ExecutionResult`` the bus carried and every stored ``(strategy, Fill)``. A section has a
    ``key`` (under ``sections`` in ``report.json``), a ``title`` and ``markdown`` for ``report.md``,
    JSON ``data`` and ``summary`` lines for the terminal. Return None when the run has nothing for
    you (no strategy of yours ran). Read only; a hook that raises fails the backtest (exit 1).
    """


@hookspec
def backtest_chart(axes: Any, run: BacktestRun) -> list[str] | None:
    """Draw on the backtest's PnL chart; return the strategies you drew a PnL curve for (or None).

    ``axes`` is the chart's matplotlib ``Axes`` (x: seconds of simulated time since the start,
    ``run.seconds(ts_ns)``; y: cumulative PnL in quote units, ``run.pnl_at(strategy, quote,
    ts_ns)`` on the ledger's curves). Called before the host draws each strategy's net realized PnL
    curve (``run.pnl_curves``); the host leaves out the curves of the strategies you name. Give your
    artists a ``label`` to have them in the legend. Called only when a chart is written.
    """


# --- lifecycle: called while the bot runs -----------------------------------------------------


@hookspec
def startup(operator: Operator, bot: Operator) -> Awaitable[None] | None:
    """Called once after every component and service has started.

    May return an awaitable, which the host awaits. ``operator`` is the running bot's
    :class:`bot.api.Operator`; ``bot`` is the same object under its 0.1 name (deprecated: take
    ``operator``). Work that lives as long as the bot belongs in a service (``register_services``).
    """


@hookspec
def shutdown(operator: Operator, bot: Operator) -> Awaitable[None] | None:
    """Called once when the bot stops, before services and components stop. May return an awaitable.

    ``operator`` and ``bot`` as in :func:`startup`.
    """
