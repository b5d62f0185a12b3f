"""The ``arbot`` command: run | init | plugins | check-config | report | db | ctl | record | replay | backtest."""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, logs, redact
from .api import Reply
from .clock import parse_duration
from .config import (
    BACKTEST_BOT,
    DEFAULT_SOURCE,
    Config,
    build_config,
    default_toml,
    learn_secrets,
    plugins_disabled,
    read_toml,
    resolve_secrets,
)
from .errors import EXIT_INTERRUPTED, TryAgainLater, UserError
from .filemodes import PRIVATE_UMASK
from .plugins import PluginSet, Registry, collect, load_plugins, verify_registrations
from .settings import ConfigError, ConfigIssue

if TYPE_CHECKING:
    import asyncio

    from .app import Bot
    from .store import Store, StoreError

log = logging.getLogger("arbot")

EXIT_USAGE = 2
EXIT_FAILED = 1
"""What a failure nothing handled ends with (as Python's own exit on an uncaught exception)."""
EXIT_SIGPIPE = 128 + 13
"""What a program killed by SIGPIPE gives its shell: the reader of its output went away."""


def prepare(config_path: Path | None, *, secrets: bool) -> tuple[PluginSet, Registry, Config]:
    """Load plugins (honouring ``[plugins] disabled``), then validate the config against them."""
    raw = read_toml(config_path) if config_path else default_toml()
    source = str(config_path) if config_path else DEFAULT_SOURCE
    plugins = load_plugins(disabled=plugins_disabled(raw))
    registry = collect(plugins)
    if registry.conflicts:
        raise ConfigError([ConfigIssue("plugins", c) for c in registry.conflicts], source)
    config = build_config(raw, registry, source)
    if secrets:
        resolve_secrets(config)
        check_environment(config)
    return plugins, registry, config


def check_environment(config: Config) -> None:
    """What the config needs from this machine: a writable data directory and the store's driver.

    Run before ``arbot run`` and by ``check-config``, so either problem is one message, not a traceback.
    """
    issues: list[ConfigIssue] = []
    existing = config.data_dir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        issues.append(ConfigIssue("bot.data_dir", f"{existing} is not a directory"))
    elif not os.access(existing, os.W_OK | os.X_OK):
        issues.append(ConfigIssue("bot.data_dir", f"{existing} is not writable by this user (uid {os.getuid()}); "
                                                  "choose another data_dir or change the directory's owner"))
    store_file = sqlite_file(config.db_url)
    store_dir = store_file.absolute().parent if store_file is not None else None
    if store_dir is not None and store_dir != config.data_dir.absolute() and not store_dir.is_dir():
        # data_dir is made at start; any other directory is not, and SQLite says only "unable to open database file"
        issues.append(ConfigIssue("bot.db_url", f"the directory of the SQLite store, {store_dir}, is not a directory: "
                                                "change db_url" if store_dir.exists() else
                                                f"the directory of the SQLite store, {store_dir}, does not exist: "
                                                f"create it (mkdir -p {store_dir}) or change db_url"))
    from .store import Store, StoreError

    try:
        Store(config.db_url).close()  # builds the engine (loads the driver) without connecting
    except StoreError as exc:
        issues.append(ConfigIssue("bot.db_url", str(exc)))
    if issues:
        raise ConfigError(issues, config.source)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` store; None for another database, an in-memory one or a ``file:`` URI."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def _config_path(args: argparse.Namespace) -> Path | None:
    value = getattr(args, "config", None) or os.environ.get("ARBOT_CONFIG")
    return Path(value) if value else None


def _log_format_of(path: Path | None) -> str:
    """``[bot] log_format`` of the config, read before anything logs (a plugin that fails to load)."""
    try:
        raw = read_toml(path) if path else default_toml()
    except ConfigError:
        return "text"  # reported by prepare() below
    bot = raw.get("bot")
    return "json" if isinstance(bot, dict) and bot.get("log_format") == "json" else "text"


def cmd_run(args: argparse.Namespace) -> int:
    held_sighup = hold_sighup()
    logs.configure(fmt=_log_format_of(_config_path(args)), details=args.verbose)
    plugins, registry, config = prepare(_config_path(args), secrets=True)
    if config.mode == "live" and not args.live:
        raise UserError('The config says mode = "live": real orders. Start with `arbot run --live` to confirm.')
    if args.live and config.mode != "live":
        raise UserError(f'--live was given but the config says mode = "{config.mode}". Set mode = "live" in the '
                        "config as well to trade for real.")
    logs.configure(level=config.bot.log_level, fmt=config.bot.log_format, details=args.verbose)
    import asyncio
    import signal

    from .app import Bot, StartOptions
    from .identity import StoreMismatch
    from .store import StoreError

    try:
        bot = Bot(config, plugins, registry,
                  options=StartOptions(new_epoch=args.new_epoch, cancel_unknown=args.cancel_unknown))
    except StoreError as exc:
        raise UserError(str(exc)) from None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, bot.request_stop)
        on_sighup(loop, bot, held=held_sighup)
        await bot.run(duration_s=args.duration)

    log.info("arbot %s: config %s, mode %s, store %s", __version__, config.source, config.mode,
             redact.safe_url(config.db_url))
    try:
        asyncio.run(main())
    except StoreError as exc:  # unreachable: the service manager starts it again later
        raise store_failed(exc, config, "Not started", "so that systemd or Docker restarts the bot") from None
    except StoreMismatch as exc:
        raise UserError(f"not started: {exc}") from None
    return 0


def hold_sighup() -> list[int]:
    """Note a SIGHUP that comes before the loop's handler exists (the config, its secrets and the plugins are being
    read: `systemctl reload` right after `start`), where its default action would end the process; returns the
    list it is noted in, for :func:`on_sighup`."""
    import signal

    held: list[int] = []
    signal.signal(signal.SIGHUP, lambda signum, frame: held.append(signum))
    return held


def on_sighup(loop: asyncio.AbstractEventLoop, bot: Bot, held: list[int] | None = None) -> None:
    """SIGHUP re-reads every secret reference (as `arbot ctl reload-secrets`), in the background; one ``held``
    from before the loop ran (:func:`hold_sighup`) is re-read now."""
    import signal

    def reload() -> None:
        bot.tasks.create(bot.reload_secrets(by="SIGHUP"), owner="host", what="reload secrets")

    loop.add_signal_handler(signal.SIGHUP, reload)
    if held:
        held.clear()
        reload()


def cmd_plugins(args: argparse.Namespace) -> int:
    path = _config_path(args)
    raw = read_toml(path) if path else default_toml()
    plugins = load_plugins(disabled=plugins_disabled(raw), report=lambda info, message: None)
    registry = collect(plugins)
    verify_registrations(registry)  # a broken "module:Class" is an error here, not once a config uses it
    rows = [("plugin", "kinds", "provides", "distribution", "status")]
    for info in sorted(plugins.infos.values(), key=lambda i: i.name):
        provides = []
        for kind, table in registry.components.items():
            provides += [f"{kind}:{name}" for name, reg in table.items() if reg.plugin == info.name]
        provides += [f"command:{n}" for n, r in registry.commands.items() if r.plugin == info.name]
        provides += [f"service:{n}" for n, r in registry.services.items() if r.plugin == info.name]
        clashes = [c for c in registry.conflicted if info.name in (c.first, c.second)]
        provides += [f"{c.kind}:{c.name}(conflict)" for c in clashes if c.second == info.name]
        provides = [f"{p}(conflict)" if any(p == f"{c.kind}:{c.name}" for c in clashes) else p for p in provides]
        if info.name in registry.plugin_settings:
            provides.append(f"settings:[plugins.{info.name}]")
        status = "error" if info.errors else "conflict" if clashes else "ok"
        rows.append((info.name, ", ".join(sorted(info.kinds)) or "-", " ".join(provides) or "-",
                     f"{info.dist} {info.version}" if info.dist else "-", status))
    wide = getattr(args, "verbose", False)
    print_plugin_table(rows, wide=wide)
    # -v: each error whole (a local path, a long message), for the developer; else short, as /plugins says it
    errors = [(info, e) for info in plugins.infos.values() for e in (info.details if wide else info.errors)]
    notes = [f"{info.label}: {error}" for info, error in errors] + [f"conflict: {c}" for c in registry.conflicts]
    for note in notes:
        print()
        print(note if wide else "\n".join(textwrap.wrap(note, PLUGINS_WIDTH, subsequent_indent="  ")))
    return 1 if errors or registry.conflicts else 0


PLUGINS_WIDTH = 100
"""``arbot plugins`` fits this many columns; ``-v`` gives one line per plugin, however long."""


def print_plugin_table(rows: list[tuple[str, str, str, str, str]], *, wide: bool) -> None:
    """Rows of (plugin, kinds, provides, distribution, status): all on one line each with ``wide``, else
    plugin, status, distribution and what it provides, wrapped under its column to fit PLUGINS_WIDTH."""
    if wide:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return
    narrow = [(name, status, dist, provides) for name, _kinds, provides, dist, status in rows]
    widths = [max(len(r[i]) for r in narrow) for i in range(3)]
    indent = sum(widths) + 2 * len(widths)
    for name, status, dist, provides in narrow:
        head = "  ".join(c.ljust(w) for c, w in zip((name, status, dist), widths, strict=True)) + "  "
        lines = textwrap.wrap(provides, max(PLUGINS_WIDTH - indent, 20), break_on_hyphens=False) or [""]
        print((head + lines[0]).rstrip())
        for line in lines[1:]:
            print(" " * indent + line)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config FILE, or the one ``$ARBOT_CONFIG`` names (as every other command reads it)."""
    path = Path(args.file) if args.file else _config_path(args)
    if path is None:
        raise UserError("check-config needs a config file: `arbot check-config FILE` (`arbot init FILE` writes one), "
                        "or set ARBOT_CONFIG to its path.")
    _, _, config = prepare(path, secrets=True)
    counts = ", ".join(f"{len(v)} {k}" for k, v in config.components.items() if v)
    print(f"{path}: OK (mode {config.mode}; {counts or 'no components'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """This bot's report (``[bot] name``); with ``--all`` every bot of the database, then the fleet's totals.

    Stored text is printed with every secret of the config masked (each one that resolves here): rows older than the
    store's masking, and plugins' own tables, which the store does not mask, hold it as written. Another bot's
    secrets are masked too when its config is given (``--bot-config FILE``, once per bot; each secret it resolves
    here, in every section); with ``--all`` a bot whose config was not given is named on stderr: its rows print as it
    masked them when it wrote them (docs/fleet.md)."""
    plugins, _, config = prepare(_config_path(args), secrets=False)
    learn_secrets(config)  # a reference that does not resolve here is skipped, not an error: the report needs none
    configured = {config.bot.resolved_name()}
    for other in args.bot_config or []:
        _, _, other_config = prepare(Path(other), secrets=False)
        learn_secrets(other_config)
        configured.add(other_config.bot.resolved_name())
    from .commands import masked
    from .report import fleet_reply, report_reply

    def failed(plugin: str, exc: Exception) -> None:
        text = redact.REDACTOR.redact(f"{type(exc).__name__}: {exc}")  # it may quote the store's URL
        print(f"\n(plugin {plugin}: its report section failed: {text})")

    url = args.db or config.db_url
    require_existing_store(url, None if args.db else config)
    store = open_store(url, config, reading=True)
    try:
        bots = store.bots() if args.all else [report_bot(store, config)]
        unmasked = [bot for bot in bots if bot not in configured]
        if args.all and unmasked:
            print(f"arbot: no config given for bot(s) {', '.join(b or '(unnamed)' for b in unmasked)}: their rows "
                  "print as each masked them when it wrote them; add --bot-config FILE for each to mask their "
                  "secrets too", file=sys.stderr)
        for n, bot in enumerate(bots):
            if args.all:
                print(("\n" if n else "") + f"=== bot {bot or '(unnamed)'} ===")
            print(masked(report_reply(store, bot=bot)).render_text())
            for plugin, sections in plugins.call_each("report_sections", {"store": store.scoped(bot)},
                                                      on_error=failed):
                try:
                    texts = [masked(section).render_text() for section in report_sections(sections)]
                except Exception as exc:
                    failed(plugin, exc)
                    continue
                for text in texts:
                    print()
                    print(text)
        if args.all:
            print("\n=== fleet ===")
            print(masked(fleet_reply(store)).render_text())
    finally:
        store.close()
    return 0


def report_bot(store: Store, config: Config) -> str:
    """The bot whose report ``arbot report`` shows: ``config``'s (``[bot] name``, else the host name), or, when
    the config names none and the store's only bot is a backtest's (``DIR/backtest.db``), the backtest's. No
    config may take that name: on a database bots share, this never picks another bot's rows."""
    if not config.bot.name and store.bots() == [BACKTEST_BOT]:
        return BACKTEST_BOT
    return store.bot


def report_sections(result: Any) -> list[Reply]:
    """What a ``report_sections`` implementation returned, checked: None or a list of Reply. Anything else is a
    TypeError (a coroutine is closed first, so no "never awaited" warning leaks)."""
    if result is None:
        return []
    if isinstance(result, list) and all(isinstance(section, Reply) for section in result):
        return result
    if inspect.iscoroutine(result):
        result.close()
    raise TypeError(f"report_sections returned {type(result).__name__}, not a list of Reply (or None)")


def open_store(url: str, config: Config, *, upgrade: bool = True, reading: bool = False) -> Store:
    """The store at ``url`` as ``config``'s bot sees it, upgraded to the current schema, after waiting for a database
    server that cannot be reached yet as ``arbot run`` does (``[bot] store_wait_s``, :meth:`Store.wait_reachable`): a
    report from a cron job right after a reboot runs once PostgreSQL is up. ``reading``: a command that only reads
    (a report) refuses a store of an older revision rather than upgrading it, since the upgrade past 0007 gives the
    rows stored before bots had names to ``config``'s bot, which may not be the bot that owns them. A store problem
    is a UserError: :func:`store_failed`."""
    from .store import Store, StoreError

    try:
        store = Store(url, bot=config.bot.resolved_name(), migrate_wait_s=config.bot.migrate_wait_s)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    try:
        store.wait_reachable(config.bot.store_wait_s)
        if reading:
            return open_reading(store)
        return store.open() if upgrade else store
    except StoreError as exc:
        store.close()
        raise store_failed(exc, config, "Nothing done", "to try again later") from None
    except UserError:
        store.close()
        raise


def open_reading(store: Store) -> Store:
    """``store`` for a command that only reads (a report), as it is: its schema must be this arbot's, and nothing
    is created, upgraded or widened (:meth:`Store.open` would create the tables of every imported plugin that are
    missing, which an older arbot's store, or one where none of a plugin's components ran, lacks: a plugin's
    ``report_sections`` sees them missing, :meth:`Store.has_table`). Every connection is read-only (SQLite's
    ``query_only``, PostgreSQL's ``default_transaction_read_only``): a plugin section that writes fails, named."""
    from sqlalchemy import inspect as inspect_db
    from sqlalchemy import text

    from .store.migrate import HEAD, behind

    store.read_only()  # before its first connection: a rollback-journal SQLite file is not even switched to WAL
    revision = behind(store)
    if revision is not None:
        raise UserError(
            f"{store.url}: schema revision {revision}, older than this arbot's ({HEAD}); a report does not "
            "change the store. Upgrade it with the config of the bot that owns it (`arbot db upgrade "
            "--config FILE`: rows stored before bots had names go to that bot), or let that bot's next "
            "start upgrade it; then report again.")

    def read() -> tuple[set[str], list[str]]:
        with store.engine.connect() as conn:
            tables = set(inspect_db(conn).get_table_names())
            versions = (list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
                        if "alembic_version" in tables else [])
        return tables, versions

    tables, versions = store._guard(read, "read the schema revision")
    if not tables & {t.name for t in store.host_tables}:
        raise UserError(f"{store.url} holds no arbot store (none of its tables); a report does not create one: "
                        "check --db or the config's [bot] db_url; `arbot run` creates the store on its first start")
    if versions != [HEAD]:
        raise UserError(f"{store.url}: schema revision {', '.join(versions) or 'none'}, which this arbot does not "
                        f"know (its newest is {HEAD}): it was written by a newer arbot. Report with that arbot.")
    return store


def store_failed(exc: StoreError, config: Config, outcome: str, exit_1_for: str) -> UserError:
    """The error a command ends with when its store cannot be used: a server still unreachable after ``[bot]
    store_wait_s`` is :class:`TryAgainLater` (exit 1, ``exit_1_for``); one that answered and refused (a wrong
    password, a missing database), or a schema this arbot does not know, a UserError (exit 2) naming the fix."""
    if exc.unreachable:
        return TryAgainLater(f"{exc}. {outcome}: the database server cannot be reached: waited [bot] store_wait_s = "
                             f"{config.bot.store_wait_s:g} s for it; exit 1 {exit_1_for} (docs/runbook.md, The store "
                             "cannot be reached at start).")
    return UserError(str(exc))


def require_existing_store(url: str, config: Config | None = None) -> None:
    """Refuse a SQLite store file that does not exist, for a command that only reads one: opening it would create
    an empty store there (a mistyped ``--db``, a config read from another directory) and report on nothing.
    ``config``: the one the URL came from (not ``--db``), whose relative data_dir the message explains."""
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    raise UserError(f"no store at {path.absolute()}{relative_data_dir(config)}: check --db, or the config's "
                    "[bot] data_dir and db_url (a relative SQLite path is under data_dir); `arbot run` creates the "
                    "store on its first start")


def relative_data_dir(config: Config | None) -> str:
    """For a file not found under ``config``'s data_dir: where a relative one was taken from (the directory arbot
    runs in, not the config file's), else nothing."""
    if config is None or config.data_dir.is_absolute():
        return ""
    return (f' ([bot] data_dir "{config.bot.data_dir}" is relative to the current directory ({Path.cwd()}): run '
            "arbot in the bot's directory, or give data_dir as an absolute path)")


def cmd_db(args: argparse.Namespace) -> int:
    _, _, config = prepare(_config_path(args), secrets=False)
    from .store import StoreError
    from .store.migrate import db_command

    url = args.db or config.db_url
    if args.action == "current":
        require_existing_store(url, None if args.db else config)
    store = open_store(url, config, upgrade=False)
    try:
        print(db_command(store, args.action))
    except StoreError as exc:
        raise store_failed(exc, config, "Nothing done", "to try again later") from None
    finally:
        store.close()
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Write the example config shipped in the package (every setting, commented) to start from."""
    from importlib.resources import files

    path = Path(args.path)
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; pass --force to overwrite it, or name another file.")
    text = files("bot").joinpath("config.example.toml").read_text(encoding="utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it will hold secret references
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"Wrote {path}: every setting with its default and a comment; it trades on paper until you change it.\n"
          f"Check it with `arbot check-config {path}`, then `arbot run --config {path}`.")
    return 0


def cmd_ctl(args: argparse.Namespace) -> int:
    """Send one command to the running bot; one that asks first is confirmed with ``--yes``, or at a y/N
    prompt on a terminal. Exit 0 only when it ran and succeeded (a confirmation left unanswered is 1)."""
    _, _, config = prepare(_config_path(args), secrets=False)
    import asyncio

    from .control import send_command, send_confirm, socket_path

    if not config.bot.control_socket:
        raise UserError("Local control is disabled ([bot] control_socket is empty).")
    path = socket_path(config.data_dir, config.bot.control_socket)
    try:
        # `arbot ctl reload-secrets` is the command /reload_secrets (chat commands take no hyphen)
        answer = asyncio.run(send_command(path, args.command.replace("-", "_"), args.args))
        print(logs.escape_controls(answer.get("text", ""), lines=True))
        token = answer.get("confirm_token")
        if token:
            if not (args.yes or _confirmed_at_prompt()):
                print("Not confirmed: nothing was done (`arbot ctl --yes ...` confirms without a prompt).")
                return 1
            answer = asyncio.run(send_confirm(path, str(token)))
            print(logs.escape_controls(answer.get("text", ""), lines=True))
    except (FileNotFoundError, ConnectionRefusedError):
        raise UserError(f"No running arbot answers on {path.absolute()}{relative_data_dir(config)}. Is it running "
                        "with the same config?") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied. Run `arbot ctl` as the bot's user, or list your uid in its "
                        "[bot] control_allowed_uids.") from None
    if answer.get("image"):
        print(f"image: {answer['image']}")
    return 0 if answer.get("ok") else 1


def _confirmed_at_prompt() -> bool:
    """Ask "Confirm? [y/N]" on a terminal; without one (a script, a pipe) nothing is confirmed."""
    if not sys.stdin.isatty():
        return False
    try:
        return input("Confirm? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _disabled_before_parsing(argv: list[str]) -> list[str]:
    """``[plugins] disabled`` of the config named by ``--config``/``-c`` or $ARBOT_CONFIG, if readable.

    Plugin subcommands are added before the arguments are parsed, so the config is located by hand;
    a config that cannot be read is reported later by the subcommand that needs it.
    """
    path = os.environ.get("ARBOT_CONFIG")
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
    if not path:
        return []
    try:
        return plugins_disabled(read_toml(Path(path)))
    except ConfigError:
        return []


def add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], plugins: PluginSet) -> None:
    """Let each plugin add subcommands (``register_cli``); a clash or an error names the plugin."""

    def arguments(plugin: str) -> dict[str, Any]:
        def register(name: str, run: Callable[[argparse.Namespace], int], help: str = "") -> argparse.ArgumentParser:
            if name in sub.choices:
                raise ValueError(f'subcommand "{name}" already exists')
            parser: argparse.ArgumentParser = sub.add_parser(name, help=help)
            parser.set_defaults(func=run)
            return parser

        return {"register": register}

    def failed(plugin: str, exc: Exception) -> None:  # printed by every command, `arbot run`'s journal too
        log.debug("%s: register_cli raised", plugins.info(plugin).label, exc_info=exc)
        print(f"arbot: {plugins.info(plugin).label}: register_cli raised {logs.describe_failure(exc)}",
              file=sys.stderr)

    for _ in plugins.call_each("register_cli", arguments, on_error=failed):
        pass


def build_parser(plugins: PluginSet | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arbot", description="A plugin-based crypto trading bot.")
    parser.add_argument("--version", action="version", version=f"arbot {__version__}")
    parser.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS,
                        help="no colour codes in any output (as NO_COLOR=1 does)")
    sub = parser.add_subparsers(dest="cmd", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", "-c", help="config file (default: $ARBOT_CONFIG, else the embedded default: "
                                              "paper exchange, simulated market, grid)")
        p.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS,
                       help="no colour codes in any output (as NO_COLOR=1 does)")
        return p

    run = with_config(sub.add_parser("run", help="run the bot"))
    run.add_argument("--for", dest="duration", type=parse_duration, help='stop by itself after this long, e.g. "60s"')
    run.add_argument("--live", action="store_true", help='confirm real trading (needs mode = "live" in config too)')
    run.add_argument("--new-epoch", action="store_true",
                     help="give new orders client ids from a fresh epoch (needed on a store restored from a backup)")
    run.add_argument("--cancel-unknown", action="store_true",
                     help="cancel orders open at a venue under our id prefix that the store has never seen, then start")
    run.add_argument("--verbose", "-v", action="store_true",
                     help=f"full log and alert lines (by default cut to {logs.MAX_LINE} characters)")
    run.set_defaults(func=cmd_run)

    plugins_cmd = with_config(sub.add_parser("plugins", help="list plugins, what they provide, and their errors"))
    plugins_cmd.add_argument("--verbose", "-v", action="store_true", help="wide view: one line per plugin, "
                                                                          "with the kinds it provides")
    plugins_cmd.set_defaults(func=cmd_plugins)

    check = sub.add_parser("check-config", help="validate a config file without running")
    check.add_argument("file", nargs="?", help="the config to check (default: $ARBOT_CONFIG)")
    check.set_defaults(func=cmd_check_config)

    report = with_config(sub.add_parser("report", help="orders, fills, fees and realized PnL per strategy"))
    report.add_argument("--db", help="store URL (default: from the config)")
    report.add_argument("--all", action="store_true", help="every bot of a shared database, then the fleet's "
                                                           "totals (default: this bot, [bot] name); this config's "
                                                           "secrets are masked, and each --bot-config's: another "
                                                           "bot's rows print as that bot masked them when it wrote "
                                                           "them (rows from arbot 0.1 and an unmasking plugin's "
                                                           "table as stored)")
    report.add_argument("--bot-config", action="append", metavar="FILE",
                        help="another bot's config (repeat for each bot): every secret it resolves here is masked "
                             "too, in every section")
    report.set_defaults(func=cmd_report)

    db = with_config(sub.add_parser("db", help="the store's schema: show its revision, or upgrade it"))
    db.add_argument("action", choices=["current", "upgrade"])
    db.add_argument("--db", help="store URL (default: from the config)")
    db.set_defaults(func=cmd_db)

    init = sub.add_parser("init", help="write the example config (every setting, commented) to start from")
    init.add_argument("path", nargs="?", default="arbot.toml", help="where to write it (default: arbot.toml)")
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    init.set_defaults(func=cmd_init)

    ctl = with_config(sub.add_parser("ctl", help="send a command to the running bot: status, pause, resume, ..."))
    ctl.add_argument("--yes", "-y", action="store_true",
                     help="confirm a command that asks first (kill, resume after a kill, observe off) without a "
                          "prompt; without it a terminal asks y/N and anything else leaves it unconfirmed (exit 1)")
    ctl.add_argument("command")
    ctl.add_argument("args", nargs="*")
    ctl.set_defaults(func=cmd_ctl)
    from .recording import add_commands as add_record_commands

    add_record_commands(sub)  # record/replay for any exchange class with a `recorder`
    from .backtest.command import add_commands as add_backtest_command

    add_backtest_command(sub)  # the driver is imported when the command runs
    if plugins is not None:
        add_plugin_commands(sub, plugins)
    return parser


def fill_closed_std_fds() -> list[int]:
    """Put ``/dev/null`` on each standard descriptor (0, 1, 2) that is closed (``arbot report >&-``, a unit or a cron
    line that closed it), before arbot opens any file: the store, opened next, would otherwise take that number, and
    a stray write to standard output or error (a library's message, a child process's output) would land in it.
    Returns the descriptors that were closed."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if 0 in closed and sys.stdin is None:  # what Python made of a closed descriptor: a stream on /dev/null now
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (for the life of the process)
    if 1 in closed and sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    if 2 in closed and sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    return closed


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # `arbot` itself, not a caller in its own process (tests)
    closed = fill_closed_std_fds()
    os.umask(PRIVATE_UMASK)  # every file arbot creates (store, WAL, state files, recordings, reports) is private
    argv = sys.argv[1:] if argv is None else argv
    if "--no-color" in argv:  # anywhere on the line; plugins read NO_COLOR (https://no-color.org)
        os.environ["NO_COLOR"] = "1"
    logs.configure(details="-v" in argv or "--verbose" in argv)
    try:
        plugins = load_plugins(disabled=_disabled_before_parsing(argv), report=lambda info, message: None)
        args = build_parser(plugins).parse_args(argv)
    except KeyboardInterrupt:  # Ctrl-C while the plugins load: nothing has been done yet
        _fail("arbot: interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    if 1 in closed and args.func is not cmd_run:  # `run` writes nothing it needs there; every other command does
        _fail(f"arbot {args.cmd}: standard output is closed: what this command prints would be lost. Send it to a "
              "file or to /dev/null (`> FILE`); nothing was done.")
        return EXIT_USAGE
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # a closed pipe is found here, not in the interpreter's flush at exit
        if as_program:  # done: a second Ctrl-C in the half second the interpreter takes to exit (after `arbot run`
            ignore_interrupts()  # stopped cleanly on the first) leaves the status as it is, not death by SIGINT
        return status
    except KeyboardInterrupt:  # Ctrl-C: a line, not Python's traceback (`arbot run` stops cleanly on its own)
        _fail(f"arbot {args.cmd}: interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``arbot plugins | head -1``): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit writes nowhere
        return EXIT_SIGPIPE
    except ConfigError as exc:
        _fail(f"arbot: invalid config\n{exc}")
        return EXIT_USAGE
    except UserError as exc:
        _fail(f"arbot: {exc}")
        return EXIT_FAILED if isinstance(exc, TryAgainLater) else EXIT_USAGE
    except Exception as exc:  # nothing handled it: what Python would print at exit, with known secrets masked
        import traceback

        _fail(f"arbot: failed: {type(exc).__name__}\n{''.join(traceback.format_exception(exc)).rstrip()}")
        return EXIT_FAILED


def ignore_interrupts() -> None:
    """Ignore SIGINT from now on: the command has finished, only the interpreter's exit is left."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fail(message: str) -> None:
    """A user-facing error on stderr, known secrets masked: plain text, or one JSON object when the log is json."""
    message = redact.REDACTOR.redact(message)
    if logs.json_lines():
        log.error("%s", message.removeprefix("arbot: "))
    else:
        print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
