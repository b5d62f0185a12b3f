"""``arbot web-token`` prints a ``[plugins.web]`` block that works pasted as is: the console it configures is on."""

from __future__ import annotations

import argparse
import tomllib

from plugins.web.auth import token_hash
from plugins.web.cli import cmd_web_token


def test_the_printed_block_pasted_as_is_turns_the_console_on(capsys):
    assert cmd_web_token(argparse.Namespace(name="alice", role="admin")) == 0
    out = capsys.readouterr().out
    token = out.splitlines()[1].strip()
    block = out[out.rindex("\n[plugins.web]\n"):]
    web = tomllib.loads(block)["plugins"]["web"]
    assert web["enabled"] is True, block  # pasted alone it must not leave the console off
    assert web["users"] == {"alice": {"role": "admin", "token": token_hash(token)}}
