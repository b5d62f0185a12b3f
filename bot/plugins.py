"""The plugin manager: entry-point discovery, per-plugin isolation, and the registry of components.

Nothing here runs at import time. :func:`load_plugins` builds a pluggy manager, loads every entry
point in the ``arbot`` group (first-party plugins are found exactly like third-party ones), and
:func:`collect` asks each plugin's registration hooks, so one failing plugin is reported by name and
the others carry on.

**How hooks are called.** pluggy's own caller (``pm.hook.NAME(...)``) stops at the first
implementation that raises, so one broken plugin would silence every plugin after it. arbot calls
each implementation itself, in exactly the order pluggy would (:meth:`PluginSet.impls`: ``tryfirst``
first, ``trylast`` last, otherwise the plugin registered last first), catching and reporting each
failure with its plugin's name. pluggy hook wrappers (``wrapper=True``/``hookwrapper=True``) wrap
the whole call, which arbot never makes, so a plugin declaring one is refused at load with a message
saying so.

**Lazy components.** A registration hook may hand over a reference ``"package.module:Class"``
instead of the class: the module is imported only when the config uses that name (or when
``Registered.obj`` is first read), so ``arbot --help`` and a config without the venue never pay for
its imports. An import that fails then is reported against the plugin, with its traceback at DEBUG.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pluggy

from . import PROJECT, hookspecs
from .api import ROLE_RANK, Command, Component, Exchange, Job, Notifier, RiskCheck, Service, Strategy
from .logs import describe_failure
from .redact import REDACTOR
from .settings import NoSettings, closest, settings_problem

log = logging.getLogger("arbot.plugins")

ENTRY_POINT_GROUP = PROJECT
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
REF_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
COMMAND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
"""A command's name: what follows the slash in Telegram and Discord, and ``arbot ctl``'s word with ``-`` for ``_``."""

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
    """Each error as a running bot shows it (``/plugins``, the web console, alerts): an exception quoted short."""
    details: list[str] = field(default_factory=list)
    """The same errors as the developer's CLI shows them (``arbot plugins -v``): an exception's whole text.
    Both are kept with every known secret masked."""

    @property
    def label(self) -> str:
        """``plugin "kraken" (arbot-kraken 1.2.0)``: how every error names a plugin."""
        if self.dist:
            return f'plugin "{self.name}" ({self.dist} {self.version})'
        return f'plugin "{self.name}"'


class ComponentLoadError(Exception):
    """A component registered by reference could not be imported (or is not what its kind needs)."""


def load_reference(ref: str) -> Any:
    """``"package.module:Attr.attr"`` -> the object, as entry points resolve their values."""
    module_name, _, attrs = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in attrs.split("."):
        obj = getattr(obj, attr)
    return obj


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """The names a module's own code binds at its top level (classes, functions, assignments, imports, also inside
    ``if``/``try`` blocks); None when it cannot be told without running it (``from x import *``, a module
    ``__getattr__``)."""
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
            continue  # what a body binds is not the module's
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if not isinstance(node, ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return names


def reference_problem(ref: str) -> Exception | None:
    """Why the ``"module:Attr"`` reference ``ref`` cannot be loaded, as the error :func:`load_reference` would raise
    (the exception), found without running the module: it is not on the path, or its source does not
    bind ``Attr``. None when it may load (a module that binds names only when run, an extension module, is given
    the benefit of the doubt). ``arbot plugins`` checks each reference this way, so a broken one is an error there
    before any config uses it, and a lazy one stays unimported."""
    module_name, _, attrs = ref.partition(":")
    first = attrs.split(".")[0]
    loaded = sys.modules.get(module_name)
    try:
        if loaded is not None:
            getattr(loaded, first)
            return None
        spec = importlib.util.find_spec(module_name)  # imports the parent packages only (a plugin's own, loaded)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {module_name!r}", name=module_name)
        if not (isinstance(spec.origin, str) and spec.origin.endswith(".py")):
            return None
        names = _top_level_names(ast.parse(Path(spec.origin).read_bytes(), spec.origin))
        if names is not None and first not in names:
            raise AttributeError(f"module {module_name!r} has no attribute {first!r}")
    except Exception as exc:  # a parent package that fails to import, a syntax error: as loading would fail
        return exc
    return None


def _shape_problem(cls: type) -> str | None:
    """Why the host cannot use ``cls`` as its base classes promise, naming the method and the fix; None if it can.

    Checked when the class is loaded (``arbot check-config`` too): an abstract method left out would only fail when
    the bot builds it, and an ``async def`` where the host calls (or a ``def`` where it awaits) would fail or do
    nothing at run time, alert after alert, without naming the plugin."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        return f"{cls.__name__} does not implement {', '.join(missing)} (abstract in its base classes): define them"
    for host_class in cls.__mro__[1:]:
        if not host_class.__module__.startswith("bot."):
            continue
        for name, promised in vars(host_class).items():
            if name.startswith("__") or not callable(promised := getattr(host_class, name, None)):
                continue
            own = getattr(cls, name, None)
            if own is promised or not callable(own) or isinstance(promised, type):
                continue
            awaited, coroutine = inspect.iscoroutinefunction(promised), inspect.iscoroutinefunction(own)
            if awaited and not coroutine:
                return f"its {name}() must be a coroutine (async def {name}): the host awaits it"
            if coroutine and not awaited:
                return (f"its {name}() must be a plain def, not async def: the host calls it without awaiting, so "
                        f"its body would never run")
    return None


_UNLOADED = object()


@dataclass(eq=False)
class Registered:
    """One registered component, command or settings class, tagged with its plugin.

    ``ref`` is the object itself or a ``"module:Class"`` reference; :attr:`obj` imports a
    reference on first use and checks it is a subclass of ``base``.
    """

    name: str
    ref: Any
    plugin: str
    base: type | None = None
    kind: str = ""
    on_error: Callable[[str, str, BaseException, str], None] | None = field(default=None, repr=False)
    """``on_error(plugin, message, exc, detail)``: as :meth:`PluginSet.fail` takes them."""
    _obj: Any = field(default=_UNLOADED, init=False, repr=False)

    @property
    def loaded(self) -> bool:
        return self._obj is not _UNLOADED or not isinstance(self.ref, str)

    @property
    def obj(self) -> Any:
        if self._obj is _UNLOADED:
            self._obj = self._load()
        return self._obj

    def _load(self) -> Any:
        if not isinstance(self.ref, str):
            obj, what = self.ref, f'{self.kind or "component"} "{self.name}"'
        else:
            what = f'{self.kind or "component"} "{self.name}" ({self.ref})'
            try:
                obj = load_reference(self.ref)
            except Exception as exc:
                self._failed(f"{what} could not be loaded: {describe_failure(exc)}", exc,
                             f"{what} could not be loaded: {type(exc).__name__}: {exc}")
        if self.base is None:
            return obj
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            error = TypeError(f"not a subclass of bot.api.{self.base.__name__}")
            self._failed(f"{what} could not be loaded: {error}", error)
        shape = _shape_problem(obj)
        if shape is not None:
            error = TypeError(shape)
            self._failed(f"{what} could not be loaded: {error}", error)
        settings = getattr(obj, "Settings", NoSettings)
        problem = settings_problem(settings)  # here, not in parse_settings: named, and whatever the config says
        if problem is not None:
            error = TypeError(f"its Settings ({getattr(settings, '__name__', settings)}) {problem}")
            self._failed(f"{what} could not be loaded: {error}", error)
        return obj

    def verify(self) -> bool:
        """Whether this registration can be loaded, each problem reported as :attr:`obj` reports it (against the
        plugin). A class handed over is checked now (it is imported already); a reference is checked without
        importing its module (:func:`reference_problem`), so a sound one stays unloaded until it is used."""
        if self.loaded:
            try:
                _ = self.obj
            except ComponentLoadError:
                return False
            return True
        found = reference_problem(self.ref)
        if found is None:
            return True
        if self.on_error is not None:
            what = f'{self.kind or "component"} "{self.name}" ({self.ref}) could not be loaded: '
            self.on_error(self.plugin, what + describe_failure(found), found,
                          f"{what}{type(found).__name__}: {found}")
        return False

    def _failed(self, message: str, exc: BaseException, detail: str | None = None) -> NoReturn:
        """Report ``message`` (a failure quoted short) against the plugin, ``detail`` (its whole text) to the
        developer's CLI; the error raised (a config issue in ``check-config``, at ``arbot run``) says ``detail``."""
        detail = detail or message
        if self.on_error is not None:
            self.on_error(self.plugin, message, exc, detail)
        raise ComponentLoadError(REDACTOR.redact(f'plugin "{self.plugin}": {detail}')) from exc


class ComponentClasses(Mapping[str, type[Component]]):
    """Name -> class of one kind; a class registered by reference is imported when it is looked up."""

    def __init__(self, table: dict[str, Registered]):
        self._table = table

    def __getitem__(self, name: str) -> type[Component]:
        cls: type[Component] = self._table[name].obj  # every component kind registers a Component subclass
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


@dataclass(frozen=True)
class Conflict:
    """One name registered by two plugins: neither registration is used."""

    kind: str
    name: str
    first: str
    second: str


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
    """Each conflict as the one-line message that stops ``arbot run``."""
    conflicted: list[Conflict] = field(default_factory=list)
    """The same conflicts with both plugins, for ``arbot plugins``."""
    installed: frozenset[str] = frozenset()
    """Every installed plugin's name, the disabled ones included: what ``[plugins] disabled`` may name."""

    def classes(self, kind: str) -> ComponentClasses:
        return ComponentClasses(self.components[kind])


class PluginSet:
    """The plugin manager plus what we know about each plugin (distribution, kinds, errors)."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo],
                 report: Callable[[PluginInfo, str], None]):
        self.pm = pm
        self.infos = infos
        self._report = report
        self.installed: frozenset[str] = frozenset()
        """Every plugin found (entry points and extras), the disabled ones included."""

    def info(self, plugin_name: str) -> PluginInfo:
        return self.infos.setdefault(plugin_name, PluginInfo(plugin_name))

    def fail(self, plugin_name: str, message: str, exc: BaseException | None = None, detail: str | None = None) -> None:
        """Record and report a plugin error (load, hook or run time); its traceback goes to DEBUG.

        ``message`` is what a running bot shows (``/plugins``, the web console, the ``plugin_error`` alert: an
        exception quoted short, :func:`~bot.logs.describe_failure`); ``detail``, when given, the same with the
        exception's whole text, for the developer's CLI (``arbot plugins -v``) and the log. Both are kept with
        every known secret masked (an exception's text may quote a request with its key)."""
        info = self.info(plugin_name)
        message = REDACTOR.redact(message)
        detail = REDACTOR.redact(detail) if detail is not None else message
        info.errors.append(message)
        info.details.append(detail)
        if exc is not None:
            log.debug("%s: %s", info.label, detail, exc_info=exc)
        self._report(info, detail)

    def impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        """The implementations of a hook in the order pluggy's caller runs them.

        pluggy keeps them trylast, plain, tryfirst (each group in registration order) and calls them
        from the end: tryfirst first, and among equals the plugin registered last first.
        """
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def call_each(self, hook_name: str, kwargs: Mapping[str, Any] | Callable[[str], Mapping[str, Any]],
                  on_error: Callable[[str, Exception], None] | None = None) -> Iterator[tuple[str, Any]]:
        """Call every implementation of a hook separately, in pluggy's order: yields (plugin, result).

        ``kwargs`` are the hook's arguments, or a function of the plugin name giving them (for a
        ``register`` callback per plugin). An implementation that raises yields nothing: it goes to
        ``on_error(plugin, exc)``, by default reported with its plugin's name; the others still run.
        """
        for impl in self.impls(hook_name):
            args = kwargs(impl.plugin_name) if callable(kwargs) else kwargs
            try:
                result = impl.function(*[args[name] for name in impl.argnames])
            except Exception as exc:
                if on_error is not None:
                    log.debug("plugin %s: %s raised", impl.plugin_name, hook_name, exc_info=exc)
                    on_error(impl.plugin_name, exc)
                else:
                    self.fail(impl.plugin_name, f"{hook_name} raised {describe_failure(exc)}", exc)
                continue
            yield impl.plugin_name, result

    async def call_each_async(self, hook_name: str, *, timeout_s: float | None = None, **kwargs: Any) -> None:
        """:meth:`call_each`, awaiting any awaitable an implementation returns (isolated the same way, each within
        ``timeout_s``: see :meth:`await_within`)."""
        for plugin_name, result in self.call_each(hook_name, kwargs):
            await self.await_within(plugin_name, hook_name, await_me_maybe(result), timeout_s)

    async def await_within(self, plugin_name: str, what: str, awaitable: Awaitable[Any],
                           timeout_s: float | None) -> None:
        """Await a plugin's ``awaitable`` (``what`` names it in a report). One that raises, or is still running after
        ``timeout_s`` (it is cancelled then), is reported against the plugin; the caller goes on either way."""
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                await awaitable
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                self.fail(plugin_name, f"{what} did not finish within {timeout_s:g} s; cancelled")
            else:
                self.fail(plugin_name, f"{what} raised {describe_failure(exc)}", exc)


async def await_me_maybe(value: Any) -> Any:
    """Await ``value`` if it is awaitable; hooks may return either."""
    if inspect.isawaitable(value):
        return await value
    return value


def _default_report(info: PluginInfo, message: str) -> None:
    log.error("%s: %s", info.label, message)


def _hook_problem(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """Why ``plugin``'s implementations do not fit arbot's hooks (a misspelt hook, an argument the hook does not
    pass), in words that name the fix; None when they fit. pluggy's own checks would raise from
    ``check_pending()`` for every plugin at once (a misspelt hook) or name neither the hook's arguments nor a fix."""
    specs = {hook: caller.spec.argnames for hook, caller in vars(pm.hook).items()
             if isinstance(caller, pluggy.HookCaller) and caller.spec is not None}
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        if hook not in specs:
            if opts.get("optionalhook"):
                continue
            close = closest(hook, specs)
            guess = f" (did you mean {close}?)" if close else ""
            return (f'implements {hook}, which is not an arbot hook{guess}; rename it to one of the hooks in '
                    f'docs/plugins.md ("The hooks")')
        try:
            parameters = inspect.signature(getattr(plugin, attr)).parameters.values()
        except (TypeError, ValueError):
            continue  # pluggy's own check decides
        taken = [p.name for p in parameters if p.default is p.empty
                 and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        unknown = [arg for arg in taken if arg not in specs[hook]]
        if unknown:
            return (f"{hook}({', '.join(taken)}) takes {', '.join(unknown)}, which the hook does not pass; "
                    f"{hook} passes {', '.join(specs[hook])} (take any of them, by these names)")
    return None


def _register(plugins: PluginSet, name: str, plugin: object, what: str) -> None:
    """Register one plugin module or object; refuse hook wrappers (see the module docstring) and implementations
    that fit no hook."""
    pm = plugins.pm
    problem = _hook_problem(pm, plugin)
    if problem is not None:
        plugins.fail(name, problem)
        return
    try:
        pm.register(plugin, name=name)
    except Exception as exc:
        plugins.fail(name, f"cannot be registered: {describe_failure(exc)}", exc,
                     f"cannot be registered: {type(exc).__name__}: {exc}")
        return
    callers = pm.get_hookcallers(plugin) or []
    wrappers = sorted(caller.name for caller in callers for impl in caller.get_hookimpls()
                      if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper))
    if wrappers:
        pm.unregister(plugin)
        plugins.fail(name, f"declares the hook wrapper(s) {', '.join(wrappers)}, which arbot does not support: "
                           f"arbot calls each plugin's hook on its own so that one failing plugin cannot stop the "
                           f"others; use a plain @hookimpl (tryfirst=True or trylast=True to order it)")
        return
    if not callers:
        plugins.fail(name, f"{what} provides no @hookimpl functions (is another module or a namespace package "
                           f"shadowing it?)")


def load_plugins(
    *,
    disabled: Iterable[str] = (),
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    extra: Iterable[tuple[str, object]] = (),
    report: Callable[[PluginInfo, str], None] = _default_report,
) -> PluginSet:
    """Build the plugin manager: host plugins, then the ``arbot`` entry points, minus ``disabled``.

    ``extra`` registers (name, module-or-object) pairs directly: tests use it for throwaway plugins.
    A plugin that fails to import is recorded with its error (traceback at DEBUG) and skipped.
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
    entry_points = sorted(entry_points, key=lambda e: e.name)
    extra = list(extra)
    plugins.installed = frozenset(ep.name for ep in entry_points) | {name for name, _ in extra}
    dists: dict[int, tuple[str, str]] = {}  # each read of dist.name or .version parses its METADATA again
    for ep in entry_points:
        if ep.name in disabled or pm.has_plugin(ep.name):
            continue
        info = plugins.info(ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            if id(dist) not in dists:
                metadata = dist.metadata
                dists[id(dist)] = (metadata["Name"], metadata["Version"])
            info.dist, info.version = dists[id(dist)]
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party package must not stop the bot
            plugins.fail(ep.name, f"failed to import {ep.value}: {describe_failure(exc)}", exc,
                         f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
            continue
        _register(plugins, ep.name, module, ep.value)
    for name, obj in extra:
        if name in disabled:
            continue
        loaded_as = pm.get_name(obj) if pm.is_registered(obj) else None
        if loaded_as == name:
            log.debug("plugin %s: passed in extra and already loaded from its entry point", name)
            continue
        plugins.info(name)
        if loaded_as is not None:  # an installed plugin passed again (the testing recipe after pip install -e .)
            what = getattr(obj, "__name__", type(obj).__name__)
            plugins.fail(name, f'{what} is already loaded as the installed plugin "{loaded_as}" (its entry point): '
                               f"pass it in extra= only when it is not installed, or build with entry_points=[]")
            continue
        _register(plugins, name, obj, name)
    pm.check_pending()
    return plugins


def collect(plugins: PluginSet) -> Registry:
    """Ask every plugin what it provides; validate names and types; record conflicts."""
    registry = Registry(installed=plugins.installed)
    for kind, (hook_name, base) in COMPONENT_KINDS.items():
        _collect_named(plugins, registry, kind, hook_name, registry.components[kind], base)

    def valid_command(cmd: Any) -> str | None:
        if not isinstance(cmd, Command):
            return f"register_commands: expected a bot.api.Command, got {type(cmd).__name__}"
        if not isinstance(cmd.name, str) or not COMMAND_RE.match(cmd.name):
            return (f"register_commands: command name {cmd.name!r} must match {COMMAND_RE.pattern} (lower case, "
                    "digits and _, at most 32 characters)")
        if cmd.role not in ROLE_RANK:
            return (f'register_commands: command "{cmd.name}": role {cmd.role!r} is not one of '
                    f"{', '.join(map(repr, ROLE_RANK))}")
        return None

    _collect_items(plugins, registry, "command", "register_commands", registry.commands, valid_command, {})
    _collect_plugin_settings(plugins, registry)
    _collect_named(plugins, registry, "service", "register_services", registry.services, Service)
    for name, reg in list(registry.services.items()):  # a service's Settings is its plugin's [plugins.NAME] table
        declared = registry.plugin_settings.get(reg.plugin)
        if declared is not None and not reg.loaded:
            continue  # registered by reference: the declared settings are its; the class loads when it starts
        try:
            cls = reg.obj
        except ComponentLoadError:  # reported against the plugin by the reference itself
            del registry.services[name]
            continue
        if cls.Settings is NoSettings or (declared is not None and declared.obj is cls.Settings):
            continue
        if declared is not None:
            plugins.fail(reg.plugin, f'service "{reg.name}": its Settings ({cls.Settings.__name__}) differs from '
                                     f"the plugin's register_plugin_settings ({declared.obj.__name__}); "
                                     "[plugins.NAME] has one settings class")
        elif NAME_RE.match(reg.plugin):
            registry.plugin_settings[reg.plugin] = Registered(reg.plugin, cls.Settings, reg.plugin)
    return registry


def verify_registrations(registry: Registry) -> None:
    """Check every registered component and service can be loaded (:meth:`Registered.verify`), reporting each one
    that cannot against its plugin: what ``arbot plugins`` shows before any config uses them."""
    for table in [*registry.components.values(), registry.services]:
        for reg in table.values():
            reg.verify()


def _collect_plugin_settings(plugins: PluginSet, registry: Registry) -> None:
    staged: dict[str, list[Any]] = {}
    for plugin_name, _ in plugins.call_each("register_plugin_settings",
                                            lambda plugin: {"register": staged.setdefault(plugin, []).append}):
        classes = staged.get(plugin_name, [])
        if len(classes) != 1 or not (isinstance(classes[0], type) and dataclasses.is_dataclass(classes[0])):
            plugins.fail(plugin_name, "register_plugin_settings: register exactly one settings dataclass")
            continue
        problem = settings_problem(classes[0])
        if problem is not None:
            plugins.fail(plugin_name, f"register_plugin_settings: {classes[0].__name__} {problem}")
            continue
        if not NAME_RE.match(plugin_name):
            plugins.fail(plugin_name, f"register_plugin_settings: the plugin name must match {NAME_RE.pattern}"
                                      f" to name a [plugins.NAME] table")
            continue
        registry.plugin_settings[plugin_name] = Registered(plugin_name, classes[0], plugin_name)
        plugins.info(plugin_name).kinds.add("settings")


def collect_jobs(plugins: PluginSet, registry: Registry, config: Any) -> None:
    """Ask for jobs once the config is known (``register_jobs`` may read it)."""

    def valid_job(job: Any) -> str | None:
        if not isinstance(job, Job):
            return f"register_jobs: expected a bot.api.Job, got {type(job).__name__}"
        return None

    registry.jobs.clear()
    _collect_items(plugins, registry, "job", "register_jobs", registry.jobs, valid_job, {"config": config})


def _add(plugins: PluginSet, registry: Registry, kind: str, table: dict[str, Registered], item: Registered) -> None:
    plugins.info(item.plugin).kinds.add(kind)
    if item.name in table:
        first = table[item.name]
        registry.conflicted.append(Conflict(kind, item.name, first.plugin, item.plugin))
        registry.conflicts.append(
            f'{kind} "{item.name}" is registered by both {plugins.info(first.plugin).label} and '
            f'{plugins.info(item.plugin).label}; disable one of them in config: '
            + " or ".join(f'[plugins] disabled = ["{name}"]' for name in sorted({first.plugin, item.plugin}))
        )
        return
    table[item.name] = item


def _report_load_error(plugins: PluginSet) -> Callable[[str, str, BaseException, str], None]:
    return lambda plugin, message, exc, detail: plugins.fail(plugin, message, exc, detail)


def _collect_named(plugins: PluginSet, registry: Registry, kind: str, hook_name: str,
                   table: dict[str, Registered], base: type) -> None:
    staged: dict[str, list[Registered]] = {}
    problems: dict[str, list[str]] = {}
    on_error = _report_load_error(plugins)

    def arguments(plugin: str) -> dict[str, Any]:
        def register(name: str, cls: Any) -> None:
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems[plugin].append(f"{hook_name}: name {name!r} must match {NAME_RE.pattern}")
            elif isinstance(cls, str) and not REF_RE.match(cls):
                problems[plugin].append(f'{hook_name}: "{name}": {cls!r} is not a "package.module:Class" reference')
            elif not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, base)):
                problems[plugin].append(f'{hook_name}: "{name}" must be a subclass of bot.api.{base.__name__}')
            else:
                staged[plugin].append(Registered(name, cls, plugin, base, kind, on_error))

        staged[plugin], problems[plugin] = [], []
        return {"register": register}

    for plugin, _ in plugins.call_each(hook_name, arguments):  # nothing of a failed registration is kept
        for problem in problems[plugin]:
            plugins.fail(plugin, problem)
        for item in staged[plugin]:
            _add(plugins, registry, kind, table, item)


def _collect_items(plugins: PluginSet, registry: Registry, kind: str, hook_name: str, table: dict[str, Registered],
                   validate: Callable[[Any], str | None], extra_args: dict[str, Any]) -> None:
    staged: dict[str, list[Registered]] = {}
    problems: dict[str, list[str]] = {}

    def arguments(plugin: str) -> dict[str, Any]:
        def register(item: Any) -> None:
            problem = validate(item)
            if problem:
                problems[plugin].append(problem)
            else:
                staged[plugin].append(Registered(item.name, item, plugin))

        staged[plugin], problems[plugin] = [], []
        return {"register": register, **extra_args}

    for plugin, _ in plugins.call_each(hook_name, arguments):
        for problem in problems[plugin]:
            plugins.fail(plugin, problem)
        for item in staged[plugin]:
            _add(plugins, registry, kind, table, item)
