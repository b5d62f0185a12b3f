"""``arbot keygen`` and ``arbot watch``: added through the ``register_cli`` hook."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

from bot.api.kit import escape_controls

from .protocol import CHANNELS, public_key_of, read_signing_key, write_key_pair


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        key = write_key_pair(path)
    except FileExistsError:
        print(f"arbot: {path} exists; not overwriting a key", file=sys.stderr)
        return 2
    print(f"private key: {path} (mode 600; keep it secret)\npublic key:  {path}.pub\n"
          f"allow it in the bot's config: pasted as is into a config without a [plugins.stream] table, these\n"
          f"lines turn the stream on; a config from config.example.toml or arbot init has that table: edit its\n"
          f"enabled and clients lines to these instead (keeping any client already there):\n\n"
          f"[plugins.stream]\nenabled = true\nclients = {{ {args.name} = "
          f"\"{args.role}:{public_key_of(key)}\" }}")
    return 0


def to_json(value: object) -> str:
    """JSON of a frame or a part of it, as received (``--json`` prints each frame so).

    The client reads a number with a fraction as a Decimal (never a float: an amount must not round), which
    ``json`` cannot write; it is written here as a JSON number from the Decimal's own text, the digits the server
    sent (``1234567.123456789012``, not the float's ``1234567.123456789``). Amounts are decimal strings on the
    wire (docs/stream.md) and stay strings; everything else is written as ``json.dumps`` writes it."""
    if isinstance(value, Decimal):  # finite: the client parses NaN and Infinity as floats
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def format_frame(frame: dict) -> str:
    """One line per frame: time, channel#seq, then the data as key=value.

    Control characters are shown escaped (``\\x1b``, ``\\n``), never sent: an event quotes what others wrote (an
    alert's venue error body), and the terminal would obey an escape sequence in it. A frame not of the shape
    described in docs/stream.md is printed as its JSON."""
    try:
        line = _describe(frame)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
        line = f"{frame.get('type')}: {to_json(frame)}"
    return escape_controls(line)


def _describe(frame: dict) -> str:
    kind = frame.get("type")
    if kind == "event":
        when = dt.datetime.fromtimestamp(frame["ts"] / 1e9).strftime("%H:%M:%S.%f")[:-3]
        data = frame["data"]
        body = " ".join(f"{k}={to_json(v) if isinstance(v, (dict, list)) else v}" for k, v in data.items())
        return f"{when} {frame['channel']}#{frame['seq']} {body}"
    if kind == "snapshot":
        return f"snapshot {frame['channel']}#{frame['seq']} {to_json(frame['data'])}"
    if kind == "reset":
        return f"reset {frame['channel']}#{frame['seq']}: {frame['reason']}"
    return f"{kind}: {to_json(frame)}"


async def _watch(args: argparse.Namespace) -> int:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    from .client import StreamClient, StreamRefused

    client = StreamClient(args.url, read_signing_key(Path(args.key)), args.channels or list(CHANNELS))
    try:
        async for frame in client.events(reconnect=not args.once):
            print(to_json(frame) if args.json else format_frame(frame), flush=True)
    except StreamRefused as exc:
        print(f"arbot: the stream refused us: {exc}", file=sys.stderr)
        return 1
    except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:  # --once: no connection was made
        print(f"arbot: cannot reach the stream at {args.url}: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    unknown = [c for c in args.channels if c not in CHANNELS]
    if unknown:
        print(f"arbot: unknown channel(s) {', '.join(unknown)}; channels: {', '.join(CHANNELS)}", file=sys.stderr)
        return 2
    import asyncio  # not at import: every `arbot` command imports this module to build its parser

    try:
        return asyncio.run(_watch(args))
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as exc:
        print(f"arbot: {exc}", file=sys.stderr)
        return 1


def register(register_command) -> None:
    keygen = register_command("keygen", cmd_keygen, help="make an Ed25519 key pair for the stream")
    keygen.add_argument("file", help="private key file to write (mode 600); the public key goes to FILE.pub")
    keygen.add_argument("--name", default="me", help="client name shown in the config line (default: me)")
    keygen.add_argument("--role", default="viewer", choices=["viewer", "operator", "admin"])

    watch = register_command("watch", cmd_watch, help="print live events from a running bot's stream")
    watch.add_argument("--url", required=True, help="ws://127.0.0.1:PORT")
    watch.add_argument("--key", required=True, help="private key file made by `arbot keygen`")
    watch.add_argument("--json", action="store_true", help="print raw JSON frames")
    watch.add_argument("--once", action="store_true",
                       help="exit when the connection ends instead of resuming (status 1 if none could be made)")
    watch.add_argument("channels", nargs="*", help=f"channels (default: all): {' '.join(CHANNELS)}")
