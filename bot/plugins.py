"""The plugin manager: entry-point discovery, per-plugin isolation, and the registry of components.

Nothing here runs at import time. :func:`load_plugins` builds a pluggy manager, loads every entry
point in the ``arbot`` group (first-party plugins are found exactly like third-party ones), and
:func:`collect` asks each plugin's registration hooks separately, so one failing plugin is
reported by name and the others carry on.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import PROJECT, hookspecs
from .api import Command, Exchange, Job, Notifier, RiskCheck, Service, Strategy
from .settings import NoSettings

log = logging.getLogger("arbot.plugins")

ENTRY_POINT_GROUP = PROJECT
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")

# kind -> (hook name, required base class)
COMPONENT_KINDS: dict[str, tuple[str, type]] = {
    "exchange": ("register_exchanges", Exchange),
    "strategy": ("register_strategies", Strategy),
    "risk": ("register_risk_checks", RiskCheck),
    "notifier": ("register_notifiers", Notifier),
}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as ``arbot plugins`` shows it."""

    name: str
    dist: str | None = None
    version: str | None = None
    kinds: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``plugin "kraken" (arbot-kraken 1.2.0)``: how every error names a plugin."""
        if self.dist:
            return f'plugin "{self.name}" ({self.dist} {self.version})'
        return f'plugin "{self.name}"'


@dataclass(frozen=True)
class Registered:
    name: str
    obj: Any
    plugin: str


@dataclass
class Registry:
    """Everything the plugins registered, by kind and name, each tagged with its plugin."""

    components: dict[str, dict[str, Registered]] = field(
        default_factory=lambda: {kind: {} for kind in COMPONENT_KINDS}
    )
    commands: dict[str, Registered] = field(default_factory=dict)
    jobs: dict[str, Registered] = field(default_factory=dict)
    plugin_settings: dict[str, Registered] = field(default_factory=dict)
    """Plugin name -> the settings dataclass of its ``[plugins.NAME]`` table."""
    services: dict[str, Registered] = field(default_factory=dict)
    """Service name -> the :class:`bot.api.Service` class, in registration order."""
    conflicts: list[str] = field(default_factory=list)

    def classes(self, kind: str) -> dict[str, type]:
        return {name: reg.obj for name, reg in self.components[kind].items()}


class PluginSet:
    """The plugin manager plus what we know about each plugin (distribution, kinds, errors)."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo],
                 report: Callable[[PluginInfo, str], None]):
        self.pm = pm
        self.infos = infos
        self._report = report

    def info(self, plugin_name: str) -> PluginInfo:
        return self.infos.setdefault(plugin_name, PluginInfo(plugin_name))

    def fail(self, plugin_name: str, message: str) -> None:
        """Record and report a plugin error (load, hook or run time)."""
        info = self.info(plugin_name)
        info.errors.append(message)
        self._report(info, message)

    async def call_each_async(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of a hook separately, awaiting any awaitable it returns.

        One that raises is reported with its plugin's name; the others still run.
        """
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                await await_me_maybe(result)
            except Exception as exc:
                self.fail(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}")


async def await_me_maybe(value: Any) -> Any:
    """Await ``value`` if it is awaitable; hooks may return either."""
    if inspect.isawaitable(value):
        return await value
    return value


def _default_report(info: PluginInfo, message: str) -> None:
    log.error("%s: %s", info.label, message)


def load_plugins(
    *,
    disabled: Iterable[str] = (),
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    extra: Iterable[tuple[str, object]] = (),
    report: Callable[[PluginInfo, str], None] = _default_report,
) -> PluginSet:
    """Build the plugin manager: host plugins, then the ``arbot`` entry points, minus ``disabled``.

    ``extra`` registers (name, module-or-object) pairs directly: tests use it for throwaway plugins.
    A plugin that fails to import is recorded with its error and skipped.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = PluginSet(pm, {}, report)
    disabled = set(disabled)

    from . import builtins  # the host's own commands and jobs, registered like any plugin

    pm.register(builtins, name=PROJECT)
    plugins.info(PROJECT)

    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(entry_points, key=lambda e: e.name):
        if ep.name in disabled or pm.has_plugin(ep.name):
            continue
        info = plugins.info(ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            info.dist, info.version = dist.name, dist.version
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party package must not stop the bot
            plugins.fail(ep.name, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
            continue
        try:
            pm.register(module, name=ep.name)
        except Exception as exc:
            plugins.fail(ep.name, f"cannot be registered: {type(exc).__name__}: {exc}")
            continue
        if not pm.get_hookcallers(module):
            plugins.fail(ep.name, f"{ep.value} provides no @hookimpl functions (is another module or a "
                                  f"namespace package shadowing it?)")
    for name, obj in extra:
        if name in disabled:
            continue
        plugins.info(name)
        pm.register(obj, name=name)
    pm.check_pending()
    return plugins


def collect(plugins: PluginSet) -> Registry:
    """Ask every plugin what it provides; validate names and types; record conflicts."""
    registry = Registry()
    for kind, (hook_name, base) in COMPONENT_KINDS.items():
        _collect_named(plugins, registry, kind, hook_name, registry.components[kind], base)

    def valid_command(plugin: str, cmd: Any) -> str | None:
        if not isinstance(cmd, Command):
            return f"register_commands: expected a bot.api.Command, got {type(cmd).__name__}"
        return None

    _collect_items(plugins, registry, "command", "register_commands", registry.commands, valid_command, {})
    _collect_plugin_settings(plugins, registry)
    _collect_named(plugins, registry, "service", "register_services", registry.services, Service)
    for reg in registry.services.values():  # a service's Settings is its plugin's [plugins.NAME] table
        declared = registry.plugin_settings.get(reg.plugin)
        if reg.obj.Settings is NoSettings or (declared is not None and declared.obj is reg.obj.Settings):
            continue
        if declared is not None:
            plugins.fail(reg.plugin, f'service "{reg.name}": its Settings ({reg.obj.Settings.__name__}) differs from '
                                     f"the plugin's register_plugin_settings ({declared.obj.__name__}); "
                                     "[plugins.NAME] has one settings class")
        elif NAME_RE.match(reg.plugin):
            registry.plugin_settings[reg.plugin] = Registered(reg.plugin, reg.obj.Settings, reg.plugin)
    return registry


def _collect_plugin_settings(plugins: PluginSet, registry: Registry) -> None:
    for impl in plugins.pm.hook.register_plugin_settings.get_hookimpls():
        staged: list[type] = []

        def register(cls: Any, _staged=staged) -> None:
            _staged.append(cls)

        try:
            impl.function(register=register)
        except Exception as exc:
            plugins.fail(impl.plugin_name, f"register_plugin_settings raised {type(exc).__name__}: {exc}")
            continue
        if len(staged) != 1 or not (isinstance(staged[0], type) and dataclasses.is_dataclass(staged[0])):
            plugins.fail(impl.plugin_name, "register_plugin_settings: register exactly one settings dataclass")
            continue
        if not NAME_RE.match(impl.plugin_name):
            plugins.fail(impl.plugin_name, f"register_plugin_settings: the plugin name must match {NAME_RE.pattern}"
                                           f" to name a [plugins.NAME] table")
            continue
        registry.plugin_settings[impl.plugin_name] = Registered(impl.plugin_name, staged[0], impl.plugin_name)
        plugins.info(impl.plugin_name).kinds.add("settings")


def collect_jobs(plugins: PluginSet, registry: Registry, config: Any) -> None:
    """Ask for jobs once the config is known (``register_jobs`` may read it)."""

    def valid_job(plugin: str, job: Any) -> str | None:
        if not isinstance(job, Job):
            return f"register_jobs: expected a bot.api.Job, got {type(job).__name__}"
        return None

    registry.jobs.clear()
    _collect_items(plugins, registry, "job", "register_jobs", registry.jobs, valid_job, {"config": config})


def _add(plugins: PluginSet, registry: Registry, kind: str, table: dict[str, Registered], item: Registered) -> None:
    if item.name in table:
        first = table[item.name]
        registry.conflicts.append(
            f'{kind} "{item.name}" is registered by both {plugins.info(first.plugin).label} and '
            f'{plugins.info(item.plugin).label}; disable one of them in config: '
            f'[plugins] disabled = ["{item.plugin}"]'
        )
        return
    table[item.name] = item
    plugins.info(item.plugin).kinds.add(kind)


def _collect_named(plugins, registry, kind, hook_name, table, base) -> None:
    for impl in getattr(plugins.pm.hook, hook_name).get_hookimpls():
        staged: list[Registered] = []
        problems: list[str] = []

        def register(name: str, cls: Any, _plugin=impl.plugin_name) -> None:
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems.append(f"{hook_name}: name {name!r} must match {NAME_RE.pattern}")
            elif not (isinstance(cls, type) and issubclass(cls, base)):
                problems.append(f'{hook_name}: "{name}" must be a subclass of bot.api.{base.__name__}')
            else:
                staged.append(Registered(name, cls, _plugin))

        try:
            impl.function(register=register)
        except Exception as exc:
            plugins.fail(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}")
            continue  # nothing of a failed registration is kept
        for problem in problems:
            plugins.fail(impl.plugin_name, problem)
        for item in staged:
            _add(plugins, registry, kind, table, item)


def _collect_items(plugins, registry, kind, hook_name, table, validate, extra_args) -> None:
    for impl in getattr(plugins.pm.hook, hook_name).get_hookimpls():
        staged: list[Registered] = []
        problems: list[str] = []

        def register(item: Any, _plugin=impl.plugin_name) -> None:
            problem = validate(_plugin, item)
            if problem:
                problems.append(problem)
            else:
                staged.append(Registered(item.name, item, _plugin))

        args = {"register": register, **extra_args}
        try:
            impl.function(**{name: args[name] for name in impl.argnames})
        except Exception as exc:
            plugins.fail(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}")
            continue
        for problem in problems:
            plugins.fail(impl.plugin_name, problem)
        for item in staged:
            _add(plugins, registry, kind, table, item)
