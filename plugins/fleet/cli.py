"""``arbot fleet status|pause|resume|kill``: steer every bot of the fleet from any machine that reaches NATS.

Reads ``[plugins.fleet]`` of the config (``-c``): the NATS URL, the login and TLS. Sends each command
as the user ``cli_user`` (default: the OS user) over transport ``cli``; each bot authorizes it with
its own ``roles`` (``"cli:alice" = "operator"``) and audits it as ``cli@cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, TypeGuard

from bot.api import Caller, Reply

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from .settings import FleetSettings

# The wire format, the settings and getpass are imported when `arbot fleet` runs: `register` adds the subcommand
# to every `arbot` command line (`arbot --help` too).

ACTIONS = ("status", "pause", "resume", "kill")
EXIT_FAILED = 1
EXIT_USAGE = 2
ARGS_CONFIRM = "this asks for a confirmation on a terminal; add --yes to confirm it here"


MAX_LISTED = 256
"""Names taken from one bot's view of the fleet (a bot keeps at most 256 others: ``link.MAX_PEERS``)."""


async def discover(nc: NATS, settings: FleetSettings, wait_s: float) -> tuple[list[str], list[str]]:
    """The bots alive now, and those only known from an old status (their heartbeats stopped).

    Done as soon as the whole fleet is known: a bot's status carries its view of the fleet (``fleet``: the other
    bots it heard from within ``alive_after_s``, and ``complete`` once it has listened that long), so one recent
    status with a complete view lists every bot alive, those with ``jetstream = false`` (in no bucket) too. With
    JetStream that status is in the KV bucket at once; without, it is the first heartbeat of a bot that has been up
    a while. Until one comes (bots of an older version send none) heartbeats are listened to for ``wait_s``, as
    every bot's comes within that. The bucket adds the bots whose heartbeats stopped (listed as skipped).
    """
    import nats.errors
    import nats.js.errors

    from . import wire

    seen: dict[str, int] = {}
    now = time.time_ns()
    window = int(settings.alive_after_s * 1e9)
    known = asyncio.Event()
    """Set by a recent status whose bot's view is complete: ``seen`` holds the whole fleet."""

    def note(raw: bytes, received_ns: int | None) -> None:
        try:
            obj = wire.load_object(raw, "a status")
        except ValueError:
            return
        bot, ts, data = obj.get("bot"), obj.get("ts"), obj.get("data")
        if not isinstance(bot, str) or not wire.BOT_NAME.fullmatch(bot):
            return
        at = received_ns if received_ns is not None else (min(ts, now) if _ns(ts) else 0)
        seen[bot] = max(seen.get(bot, 0), at)
        view = data.get("fleet") if isinstance(data, dict) else None
        if now - at > window or not isinstance(view, dict) or view.get("complete") is not True \
                or not isinstance(view.get("alive"), dict):
            return
        for name, heard_ns in list(view["alive"].items())[:MAX_LISTED]:
            if isinstance(name, str) and wire.BOT_NAME.fullmatch(name) and _ns(heard_ns):
                seen[name] = max(seen.get(name, 0), min(heard_ns, at))  # not later than the status telling it
        known.set()

    async def on_status(msg: Any) -> None:
        note(msg.data, time.time_ns())

    deadline = asyncio.get_running_loop().time() + wait_s
    sub = await nc.subscribe(wire.ALL_STATUS, cb=on_status)
    if settings.jetstream:
        try:
            kv = await nc.jetstream().key_value(wire.BUCKET)
            for key in await kv.keys():
                note((await kv.get(key)).value or b"", None)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            pass
    try:
        async with asyncio.timeout_at(deadline):
            await known.wait()
    except TimeoutError:
        pass
    await sub.unsubscribe()
    alive = sorted(bot for bot, at in seen.items() if now - at <= window or at >= now)
    stale = sorted(bot for bot in seen if bot not in alive)
    return alive, stale


def _ns(value: Any) -> TypeGuard[int]:
    """A time in ns as the bus carries it: an int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def ask(question: str, assume_yes: bool) -> bool | None:
    """Ask once on the terminal; None when there is no terminal to ask on (and no --yes)."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def not_confirmed(answer: bool | None) -> int:
    if answer is None:
        print(f"arbot: {ARGS_CONFIRM}", file=sys.stderr)
        return EXIT_USAGE
    print("not confirmed: not run")
    return EXIT_FAILED


def print_reply(bot: str, reply: Reply) -> None:
    mark = "" if reply.ok else " (FAILED)"
    print(f"== {bot}{mark} ==")
    print(reply.render_text())


async def run(args: argparse.Namespace, settings: FleetSettings) -> int:
    import getpass

    import nats.errors
    from nats.aio.client import Client as NATS

    from . import wire
    from .client import LinkConfigError, connect_options, shown
    from .link import close_quietly, send_request

    user = settings.cli_user or getpass.getuser()
    try:
        options = connect_options(settings, f"arbot fleet ({user})")
    except LinkConfigError as exc:
        print(f"arbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # each server tried twice, then a clear "cannot reach" (0 would mean: forever)
    options.update(allow_reconnect=False, max_reconnect_attempts=1)
    nc = NATS()

    async def quiet(exc: Exception) -> None:  # the failure is reported once below
        pass

    try:
        await asyncio.wait_for(nc.connect(**options, error_cb=quiet),
                               timeout=2 * (options["connect_timeout"] + settings.reconnect_wait_s) + 5)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        print(f"arbot: cannot reach NATS at {shown(options['servers'])}: {type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILED
    try:
        stale: list[str] = []
        if args.bot:
            bots = sorted(set(args.bot))
        else:
            wait_s = args.wait if args.wait is not None else settings.heartbeat_s * 1.5 + 0.5
            bots, stale = await discover(nc, settings, wait_s)
        for bot in stale:
            print(f"{bot}: not heard from within {settings.alive_after_s:g} s; skipped")
        if not bots:
            print("arbot: no bot of the fleet was heard from on NATS", file=sys.stderr)
            return EXIT_FAILED
        confirmed = False
        if args.action == "kill":
            answer = ask(f"Kill switch on {len(bots)} bot(s) ({', '.join(bots)}): pause every strategy and cancel "
                         "every resting order?", args.yes)
            if not answer:
                return not_confirmed(answer)
            confirmed = True
        caller = Caller("cli", user, None)

        async def send(to: list[str], confirmed: bool) -> dict[str, Reply]:
            request = wire.request(caller, "cli", args.action, list(args.targets), confirmed,
                                   settings.call_timeout_s)
            answers = await asyncio.gather(*(send_request(nc, bot, request, settings.call_timeout_s) for bot in to))
            return dict(zip(to, answers, strict=True))

        replies = await send(bots, confirmed)
        asked = sorted(bot for bot, reply in replies.items() if wire.asks_confirmation(reply))
        if asked:  # e.g. resuming what a kill switch stopped: the bots' questions, asked here once
            for bot in asked:
                print(f"{bot}: {replies[bot].title}")
            answer = ask(f"Confirm on {', '.join(asked)}?", args.yes)
            if not answer:
                for bot in bots:
                    if bot not in asked:
                        print_reply(bot, replies[bot])
                return not_confirmed(answer)
            replies.update(await send(asked, True))
        for bot in bots:
            print_reply(bot, replies[bot])
        return 0 if all(reply.ok for reply in replies.values()) else EXIT_FAILED
    finally:
        await close_quietly(nc)


def cmd_fleet(args: argparse.Namespace) -> int:
    from bot.api.kit import read_plugin_settings

    from .settings import FleetSettings

    settings = read_plugin_settings(args.config, "fleet", FleetSettings)  # a ConfigError: arbot prints it
    try:
        return asyncio.run(run(args, settings))
    except KeyboardInterrupt:
        return EXIT_FAILED


def register(register_command) -> None:
    parser = register_command("fleet", cmd_fleet, help="status, pause, resume or kill the fleet's bots over NATS")
    parser.add_argument("action", choices=ACTIONS, help="the command each bot runs")
    parser.add_argument("targets", nargs="*", help="pause/resume: strategies (default: all); kill: the reason")
    parser.add_argument("--bot", action="append", metavar="NAME",
                        help="only this bot (repeat for several; default: every bot heard from)")
    parser.add_argument("--config", "-c", help="config file with [plugins.fleet] (default: $ARBOT_CONFIG)")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="confirmed already: do not ask (kill; resume of what a kill switch stopped)")
    parser.add_argument("--wait", type=float, metavar="S",
                        help="how long to listen for heartbeats when no bot's status tells the whole fleet "
                             "(default: 1.5 heartbeats)")
