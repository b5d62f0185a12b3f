"""A table or key written twice in a config: the error names it, both lines, and the fix.

A new user meets this in the first hour: a config copied from config.example.toml (or written by `arbot init`)
already has a ``[plugins.web]`` table, and `arbot web-token` prints a ``[plugins.web]`` block to paste, as
docs/web.md shows ``[plugins.web.users]``. Before, TOML's own words came out ("Cannot declare ('plugins', 'web')
twice") followed by advice about quotes and brackets, and a key written twice as the file's last line had no line
at all ("at end of document")."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_toml
from bot.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
WEB_LINE = EXAMPLE[:EXAMPLE.index("[plugins.web]")].count("\n") + 1
"""The line of config.example.toml's [plugins.web] header."""


def problem(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_toml(text, "config.toml")
    [issue] = caught.value.issues
    return str(issue)


def test_the_web_token_block_appended_to_a_copied_example_names_the_table_both_lines_and_the_fix():
    """`arbot web-token` prints "[plugins.web]\\nusers = { alice = ... }"; appended to the example it declares the
    table again."""
    text = EXAMPLE + '\n[plugins.web]\nusers = { alice = { role = "admin", token = "sha256:ab" } }\n'
    second = EXAMPLE.count("\n") + 2
    assert problem(text) == (
        f"plugins.web: the table [plugins.web] is written twice, at line {WEB_LINE} and again at line {second}; "
        f"TOML takes each table once: move the keys under line {second} into the table at line {WEB_LINE} "
        "(replacing the ones it already has) and delete the second [plugins.web]")


def test_a_sub_table_for_a_key_the_example_already_sets_names_both_lines():
    """docs/web.md's setup writes [plugins.web.users]; the example's [plugins.web] has ``users = {}``."""
    text = EXAMPLE + '\n[plugins.web.users]\nalice = { role = "admin", token = "env:ARBOT_WEB_ALICE" }\n'
    users = EXAMPLE[:EXAMPLE.index("users = {}", EXAMPLE.index("[plugins.web]"))].count("\n") + 1
    second = EXAMPLE.count("\n") + 2
    assert problem(text) == (
        f"plugins.web.users: set at line {users} and written again as the table [plugins.web.users] at line "
        f"{second}; TOML takes each key once: keep one of them (delete the line {users} or the table)")


@pytest.mark.parametrize("where", ["middle", "end"])
def test_a_key_written_twice_names_the_key_and_both_lines(where):
    """``enabled = true`` added under [plugins.web], which already says ``enabled = false``; at the end of the file
    TOML gave no line at all."""
    lines = ['mode = "paper"', "", "[plugins.web]", "enabled = false", "port = 8780"]
    lines += ["enabled = true"] if where == "end" else ["enabled = true", "host = \"127.0.0.1\""]
    assert problem("\n".join(lines) + ("\n" if where == "middle" else "")) == (
        "plugins.web.enabled: set twice, at line 4 and again at line 6; TOML takes each key once: keep one of them")


def test_other_toml_mistakes_keep_their_hint():
    assert problem('mode = "paper\n').endswith("Check the quotes, brackets and '=' on that line.")
