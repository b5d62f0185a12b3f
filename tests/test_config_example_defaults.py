"""config.example.toml states each key's default: the value shown is the code's default, or the key's comment says
``(default X)`` with X the code's default, or the setting is optional (the code's default is None: not set) and
the value is an example. A key the code does not read is refused by ``check-config`` (tests/test_config.py);
this holds the commented-out tables too (Kraken, Coinbase, ccxt, Jupiter, Orca, Telegram, Discord)."""

from __future__ import annotations

import dataclasses
import datetime
import re
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from bot.config import HOST_SECTIONS
from bot.plugins import collect, load_plugins

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"exchanges": "exchange", "strategies": "strategy", "risk": "risk", "notifiers": "notifier"}
CONTINUED = re.compile(r"^#?\s{20,}#\s?(.*)$")  # a comment carried on under a key's own
NOT_SET = object()


@dataclasses.dataclass
class Key:
    table: str
    commented: bool
    name: str
    value: Any
    comment: str
    line: int


def split_value(rest: str) -> tuple[str, str] | None:
    """``VALUE  # comment`` -> (VALUE, comment): the shortest prefix that is a TOML value followed by a comment."""
    for end in range(1, len(rest) + 1):
        tail = rest[end:].lstrip()
        if tail and not tail.startswith("#"):
            continue
        try:
            tomllib.loads(f"x = {rest[:end]}")
        except tomllib.TOMLDecodeError:
            continue
        return rest[:end], tail.lstrip("#").strip()
    return None


def example_keys(text: str) -> list[Key]:
    keys: list[Key] = []
    table, commented, current = "", False, None
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^(#\s*)?\[([A-Za-z0-9_.-]+)\]", line)
        if header:
            table, commented, current = header.group(2), bool(header.group(1)), None
            continue
        more = CONTINUED.match(line)
        if more and current is not None:
            current.comment += " " + more.group(1)
            continue
        body = line[1:].lstrip(" ") if commented and line.startswith("#") else line
        key = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$', body)
        split = split_value(key.group(2)) if key and table else None
        if key and split:
            value = tomllib.loads(f"x = {split[0]}", parse_float=Decimal)["x"]
            current = Key(table, commented, key.group(1), value, split[1], number)
            keys.append(current)
        else:
            current = None
    return keys


def comparable(value: Any) -> Any:
    """A shown TOML value and a settings default in one form: numbers (and numeric text) as Decimal."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).normalize()
    if isinstance(value, str):
        try:
            return Decimal(value).normalize()
        except InvalidOperation:
            return value
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [comparable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): comparable(v) for k, v in value.items()}
    return value


def stated_default(comment: str) -> Any:
    """X of ``default X`` in a comment (a TOML value, or a bare word), NOT_SET when the comment states none."""
    found = re.search(r"\bdefault (.+)$", comment)
    if not found:
        return NOT_SET
    rest = found.group(1)
    word = re.match(r"[A-Za-z][\w.-]*", rest)
    if word and word.group(0) not in ("true", "false"):
        return word.group(0)  # a bare word: info, not TOML's inf
    for end in range(len(rest), 0, -1):
        try:
            return tomllib.loads(f"x = {rest[:end]}", parse_float=Decimal)["x"]
        except tomllib.TOMLDecodeError:
            continue
    return rest


@pytest.fixture(scope="module")
def settings_classes() -> dict[str, type]:
    """Each table of the example (commented out or not) -> the settings class that reads it."""
    registry = collect(load_plugins())
    keys = example_keys((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    classes: dict[str, type] = dict(HOST_SECTIONS)
    for table in dict.fromkeys(k.table for k in keys):
        section, _, name = table.partition(".")
        if section == "plugins" and name:
            classes[table] = registry.plugin_settings[name].obj
        elif section in KINDS:
            type_name = next((k.value for k in keys if k.table == table and k.name == "type"), name)
            classes[table] = registry.components[KINDS[section]][type_name].obj.Settings
    return classes


def test_every_key_shown_is_a_setting_and_its_stated_default_is_the_codes(settings_classes: dict[str, type]):
    keys = example_keys((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert len(keys) > 300 and any(k.commented and k.table == "exchanges.kraken" for k in keys)
    active_types = {(k.table.split(".")[0], k.value) for k in keys if k.name == "type" and not k.commented}
    active_types |= {tuple(t.split(".", 1)) for t in {k.table for k in keys if not k.commented} if "." in t}
    wrong = []
    for key in keys:
        if key.table == "sweep" or key.name == "type":
            continue
        section = key.table.split(".")[0]
        type_name = next((k.value for k in keys if k.table == key.table and k.name == "type"), None)
        if key.commented and type_name and (section, type_name) in active_types:
            continue  # a commented-out example of a type configured above ("Paper trading on recorded data")
        fields = {f.name: f for f in dataclasses.fields(settings_classes[key.table])}
        field = fields.get(key.name)
        if field is None:
            wrong.append(f"line {key.line}: [{key.table}] {key.name} is no setting")
            continue
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory() if field.default_factory is not dataclasses.MISSING else NOT_SET)
        if default is NOT_SET:
            continue  # required: the value shown is the example
        stated = stated_default(key.comment)
        if stated is not NOT_SET:
            if comparable(stated) != comparable(default):
                wrong.append(f"line {key.line}: [{key.table}] {key.name}: the comment says default {stated!r}, "
                             f"the code's is {default!r}")
        elif comparable(key.value) != comparable(default) and default is not None:
            wrong.append(f"line {key.line}: [{key.table}] {key.name} = {key.value!r} is not the default "
                         f"({default!r}) and its comment does not say so: add (default ...)")
    assert not wrong, "\n".join(wrong)


def test_the_reader_sees_values_comments_and_continued_comments():
    text = ('[a]\nx = "1"          # one; default "2"\n'
            '                          # carried on\n# [b]\n# y = { Z = "3" }   # z\nz = 4\n')
    keys = example_keys(text)
    assert [(k.table, k.commented, k.name, k.value) for k in keys] == [
        ("a", False, "x", "1"), ("b", True, "y", {"Z": "3"}), ("b", True, "z", 4)]
    assert keys[0].comment == 'one; default "2" carried on'
    assert stated_default(keys[0].comment) == "2"
    assert stated_default("info | warning (default info)") == "info"
    assert stated_default("no cap") is NOT_SET
