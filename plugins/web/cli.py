"""``arbot web-token``: a new console token, and the hash to put in the config instead of it."""

from __future__ import annotations

import argparse


def cmd_web_token(args: argparse.Namespace) -> int:
    from .auth import new_token, token_hash  # with the command: hashlib, hmac and secrets, not at every command's start

    token = new_token()
    # the block works pasted as is into a config without the table; one copied from config.example.toml has
    # [plugins.web] already (enabled = false, users = {}): its lines are edited instead (docs/web.md)
    print(f"token (give it to {args.name}; it is shown once):\n  {token}\n\n"
          f"config (only the hash is stored): pasted as is into a config without a [plugins.web] table, these\n"
          f"lines turn the console on; a config from config.example.toml or arbot init has that table: edit its\n"
          f"enabled and users lines to these instead (keeping any user already there):\n\n"
          f"[plugins.web]\nenabled = true\n"
          f'users = {{ {args.name} = {{ role = "{args.role}", token = "{token_hash(token)}" }} }}')
    return 0


def register(register_command) -> None:
    cmd = register_command("web-token", cmd_web_token, help="make a token for the web console and its config line")
    cmd.add_argument("--name", default="me", help="user name shown in the config line (default: me)")
    cmd.add_argument("--role", default="viewer", choices=["viewer", "operator", "admin"])
