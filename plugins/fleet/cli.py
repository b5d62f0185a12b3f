"""``arbot fleet status|pause|resume|kill|transfers``: steer every bot of the fleet from any machine that reaches NATS.

Reads ``[plugins.fleet]`` of the config (``-c``): the NATS URL, the login and TLS. Sends each command
as the user ``cli_user`` (default: the OS user) over transport ``cli``; each bot authorizes it with
its own ``roles`` (``"cli:alice" = "operator"``) and audits it as ``cli@cli``. ``transfers`` sends no
command: it reads each bot's transfers on their way from its status heartbeat.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from bot.api import Caller, Reply

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from .settings import FleetSettings

# The wire format, the settings and getpass are imported when `arbot fleet` runs: `register` adds the subcommand
# to every `arbot` command line (`arbot --help` too).

ACTIONS = ("status", "pause", "resume", "kill", "transfers")
EXIT_FAILED = 1
EXIT_USAGE = 2
ARGS_CONFIRM = "this asks for a confirmation on a terminal; add --yes to confirm it here"


MAX_LISTED = 256
"""Names taken from one bot's view of the fleet (a bot keeps at most 256 others: ``link.MAX_PEERS``)."""


@dataclass
class Discovered:
    """What listening to the fleet's statuses told: who is alive, who is gone, and what their statuses say."""

    alive: list[str]
    stale: list[str]
    """Bots only known from an old status (their heartbeats stopped)."""
    statuses: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """Each bot's latest status heard (when it was heard or stamped, ns; its data)."""
    processes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Per bot, the processes heard under its name (instance -> identity with ``holds_name`` when known)."""


async def discover(nc: NATS, settings: FleetSettings, wait_s: float, *, statuses_of_all: bool = False) -> Discovered:
    """The bots alive now, and those only known from an old status (their heartbeats stopped).

    Done as soon as the whole fleet is known: a bot's status carries its view of the fleet (``fleet``: the other
    bots it heard from within ``alive_after_s``, and ``complete`` once it has listened that long), so one recent
    status with a complete view lists every bot alive, those with ``jetstream = false`` (in no bucket) too. With
    JetStream that status is in the KV bucket at once; without, it is the first heartbeat of a bot that has been up
    a while. Until one comes (bots of an older version send none) heartbeats are listened to for ``wait_s``, as
    every bot's comes within that. The bucket adds the bots whose heartbeats stopped (listed as skipped).
    ``statuses_of_all``: then go on listening (up to ``wait_s``) until every bot alive has sent its own status.
    """
    import nats.errors
    import nats.js.errors

    from . import wire

    seen: dict[str, int] = {}
    statuses: dict[str, tuple[int, dict[str, Any]]] = {}
    processes: dict[str, dict[str, dict[str, Any]]] = {}
    now = time.time_ns()
    window = int(settings.alive_after_s * 1e9)
    known = asyncio.Event()
    """Set by a recent status whose bot's view is complete: ``seen`` holds the whole fleet."""
    all_heard = asyncio.Event()
    """With ``statuses_of_all``: set once every bot alive has sent its own status."""

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
        if isinstance(data, dict):
            if at >= statuses.get(bot, (-1, {}))[0]:
                statuses[bot] = (at, data)
            if now - at <= window:
                note_processes(bot, data)
            if statuses_of_all and everyone_heard():
                all_heard.set()
        view = data.get("fleet") if isinstance(data, dict) else None
        if now - at > window or not isinstance(view, dict) or view.get("complete") is not True \
                or not isinstance(view.get("alive"), dict):
            return
        for name, heard_ns in list(view["alive"].items())[:MAX_LISTED]:
            if isinstance(name, str) and wire.BOT_NAME.fullmatch(name) and _ns(heard_ns):
                seen[name] = max(seen.get(name, 0), min(heard_ns, at))  # not later than the status telling it
        known.set()
        if statuses_of_all and everyone_heard():
            all_heard.set()

    def note_processes(bot: str, data: dict[str, Any]) -> None:
        """The processes a recent status shows under ``bot``'s name: its own, and those it heard (``name_clash``)."""
        here = processes.setdefault(bot, {})
        clash = data.get("name_clash")
        for identity in [data, *(clash[:8] if isinstance(clash, list) else [])]:
            found = wire.identity_of(identity)
            if found is not None:
                holds = identity.get("holds_name") if isinstance(identity, dict) else None
                if isinstance(holds, bool) or found["instance"] not in here:
                    here[found["instance"]] = {**found, "holds_name": holds if isinstance(holds, bool) else None}

    def everyone_heard() -> bool:
        alive = [bot for bot, at in seen.items() if now - at <= window or at >= now]
        return bool(alive) and all(bot in statuses and now - statuses[bot][0] <= window for bot in alive)

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
            if statuses_of_all:
                await all_heard.wait()
    except TimeoutError:
        pass
    await sub.unsubscribe()
    alive = sorted(bot for bot, at in seen.items() if now - at <= window or at >= now)
    stale = sorted(bot for bot in seen if bot not in alive)
    return Discovered(alive, stale, statuses, {bot: found for bot, found in processes.items() if len(found) > 1})


def clash_lines(processes: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One line per bot name heard from more than one process: the processes, and which holds the name."""
    lines = []
    for bot, found in sorted(processes.items()):
        who = ", ".join(f"host {p['host']} pid {p['pid']} instance {p['instance']}"
                        + (" (holds the name)" if p.get("holds_name") else "")
                        for p in sorted(found.values(), key=lambda p: (p["claimed_ns"], p["instance"])))
        lines.append(f"{bot}: {len(found)} processes on NATS under this name: {who}; fleet commands reach the one "
                     "that holds it; stop the other")
    return lines


AMOUNT_DIGITS = 24
"""``arbot fleet transfers`` writes out an amount whose digits lie within this many places of the point (a store's
amounts keep 18 decimals and 64-bit integers); another's text, as the bot sent it."""


def amount_text(amount: Any, asset: Any) -> str:
    """A transfer's amount as the bot's own surfaces show it (:func:`bot.api.ledger.exact_amount`: exact, no padding
    zeros, even from an older bot that sent ``"4.020000"``); what is not a number, or not one a bot could hold
    (beyond :data:`AMOUNT_DIGITS` digits either side of the point), as it came ("?" when missing)."""
    if not isinstance(amount, str):
        return "?"
    try:
        value = Decimal(amount)
    except ArithmeticError:
        return amount
    if not value.is_finite() or (value and not -AMOUNT_DIGITS <= value.adjusted() < AMOUNT_DIGITS):
        return amount
    from bot.api.ledger import exact_amount

    return exact_amount(value, asset if isinstance(asset, str) else "")


def transfer_lines(status: dict[str, Any], heard_ago_ns: int) -> tuple[list[str], int]:
    """A bot's transfers on their way as its status tells them, each with its age as of now (the status's age
    added: ``heard_ago_ns``), and how many are older than the venue's expected settle time (flagged, when the
    transfer says one: ``expected_s``)."""
    transfers = status.get("transfers", ...)
    if transfers is ...:
        return ["transfers not reported (a bot of an older version)"], 0
    if not isinstance(transfers, list):
        return ["transfers could not be read (its store failing)"], 0
    if not transfers:
        return ["no transfers on their way"], 0
    from bot.api.ledger import age_text  # the host's report: when `arbot fleet` runs, not when `arbot --help` loads

    lines, overdue = [], 0
    for t in transfers:
        if not isinstance(t, dict):
            continue
        age_ms = t.get("age_ms")
        age_ns = (age_ms * 1_000_000 + max(0, heard_ago_ns)) if _ns(age_ms) else None
        line = (f"{t.get('id', '?')}: {t.get('status', '?')} {amount_text(t.get('amount'), t.get('asset'))} "
                f"{t.get('asset', '?')} "
                f"{t.get('source', '?')} -> {t.get('destination', '?')}, "
                f"{age_text(age_ns) + ' old' if age_ns is not None else 'age unknown'}")
        expected_s = t.get("expected_s")
        if age_ns is not None and isinstance(expected_s, int | float) and not isinstance(expected_s, bool) \
                and age_ns > expected_s * 1e9:
            overdue += 1
            line += f"  OVERDUE: expected within {age_text(int(expected_s * 1e9))}"
        lines.append(line)
    more = status.get("transfers_total")
    if _ns(more) and more > len(transfers):
        lines.append(f"({more - len(transfers)} more not in the status)")
    return lines, overdue


def print_transfers(bots: list[str], found: Discovered) -> int:
    """``arbot fleet transfers``: each bot's transfers on their way; 1 when one is overdue or a bot's status was
    not heard."""
    now = time.time_ns()
    failed = False
    for bot in bots:
        heard = found.statuses.get(bot)
        if heard is None:
            print(f"== {bot} (FAILED) ==\nits status was not heard: transfers unknown")
            failed = True
            continue
        at, data = heard
        lines, overdue = transfer_lines(data, now - at)
        failed = failed or bool(overdue)
        print(f"== {bot}{' (OVERDUE)' if overdue else ''} ==")
        print("\n".join(lines))
    return EXIT_FAILED if failed else 0


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
        found = Discovered([], [])
        wait_s = args.wait if args.wait is not None else settings.heartbeat_s * 1.5 + 0.5
        if args.bot:
            bots = sorted(set(args.bot))
            if args.action == "transfers":  # read from their statuses: listen for them
                found = await discover(nc, settings, wait_s, statuses_of_all=True)
        else:
            found = await discover(nc, settings, wait_s, statuses_of_all=args.action == "transfers")
            bots = found.alive
        for bot in found.stale:
            print(f"{bot}: not heard from within {settings.alive_after_s:g} s; skipped")
        for line in clash_lines(found.processes):
            print(line)
        if not bots:
            print("arbot: no bot of the fleet was heard from on NATS", file=sys.stderr)
            return EXIT_FAILED
        if args.action == "transfers":
            return print_transfers(bots, found)
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
    parser = register_command("fleet", cmd_fleet, help="status, pause, resume or kill the fleet's bots over NATS, or "
                                                       "list their transfers on their way")
    parser.add_argument("action", choices=ACTIONS, help="the command each bot runs (transfers: read from each bot's "
                                                        "status, none is run)")
    parser.add_argument("targets", nargs="*", help="pause/resume: strategies (default: all); kill: the reason")
    parser.add_argument("--bot", action="append", metavar="NAME",
                        help="only this bot (repeat for several; default: every bot heard from)")
    parser.add_argument("--config", "-c", help="config file with [plugins.fleet] (default: $ARBOT_CONFIG)")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="confirmed already: do not ask (kill; resume of what a kill switch stopped)")
    parser.add_argument("--wait", type=float, metavar="S",
                        help="how long to listen for heartbeats when no bot's status tells the whole fleet "
                             "(default: 1.5 heartbeats)")
