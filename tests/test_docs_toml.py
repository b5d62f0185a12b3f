"""Every key the README and the guides show in a ``toml`` block is a setting of the table it is in (a key there that
the code does not read would be refused by ``check-config`` when an operator copies it). Tables of types no
installed plugin registers (a third party's examples in docs/plugins.md) are left to their own tests."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from bot.config import HOST_SECTIONS
from bot.plugins import collect, load_plugins

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"exchanges": "exchange", "strategies": "strategy", "risk": "risk", "notifiers": "notifier"}
NOT_CONFIG = {"project", "tool", "build-system", "sweep", "mode"}  # pyproject blocks; sweep axes are any paths


def unknown_keys(data: dict[str, Any], registry: Any) -> tuple[list[str], int]:
    """(``section.table.key`` the settings class does not have, how many tables were checked)."""
    wrong, checked = [], 0

    def check(path: str, table: dict[str, Any], cls: type, extra: set[str] = set()) -> None:  # noqa: B006
        nonlocal checked
        checked += 1
        names = {f.name for f in dataclasses.fields(cls)} | extra
        wrong.extend(f"{path}.{key}" for key in table if key not in names)

    for section, tables in data.items():
        if section in NOT_CONFIG or not isinstance(tables, dict):
            continue
        if section == "plugins":
            check("plugins", {k: v for k, v in tables.items() if not isinstance(v, dict)}, HOST_SECTIONS["plugins"])
            for name, table in tables.items():
                if isinstance(table, dict) and name in registry.plugin_settings:
                    check(f"plugins.{name}", table, registry.plugin_settings[name].obj)
        elif section in HOST_SECTIONS:
            check(section, tables, HOST_SECTIONS[section])
        elif section in KINDS:
            for name, table in tables.items():
                registered = registry.components[KINDS[section]].get(table.get("type", name))
                if registered is not None:
                    check(f"{section}.{name}", table, registered.obj.Settings, {"type"})
        else:
            wrong.append(f"[{section}]: no such section")
    return wrong, checked


def test_every_key_in_the_docs_toml_blocks_is_a_setting():
    registry = collect(load_plugins())
    wrong, checked = [], 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            found, tables = unknown_keys(tomllib.loads(block), registry)
            wrong += [f"{doc.relative_to(ROOT)}: {key}" for key in found]
            checked += tables
    assert checked > 20
    assert not wrong, f"keys no setting reads: {wrong}"


def test_an_unknown_key_is_found():
    registry = collect(load_plugins())
    data = tomllib.loads('[bot]\nname = "a"\nnmae = "b"\n[exchanges.dex]\ntype = "paper-dex"\ntvl = "1"\ntlv = "1"\n'
                         '[plugins.web]\nenabled = true\nport_ = 1\n[fleet]\nnats_url = "x"\n')
    assert unknown_keys(data, registry) == (["bot.nmae", "exchanges.dex.tlv", "plugins.web.port_",
                                             "[fleet]: no such section"], 4)
