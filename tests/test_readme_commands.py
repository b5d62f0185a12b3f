"""The README's table of chat commands lists every command the host and the first-party plugins register, each in
the row of the role it needs (a new operator reads it to know what they may send)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.plugins import collect, load_plugins

ROOT = Path(__file__).resolve().parent.parent


def documented_roles(readme: str) -> dict[str, set[str]]:
    """role -> the /commands its row of the README's command table names."""
    rows = re.findall(r"^\| (viewer|operator|admin) \| (.*) \|$", readme, re.M)
    return {role: set(re.findall(r"`/(\w+)", cells)) for role, cells in rows}


def test_every_registered_command_is_in_the_readme_under_its_role():
    documented = documented_roles((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(documented) == {"viewer", "operator", "admin"}
    registry = collect(load_plugins())
    assert len(registry.commands) >= 20
    wrong = [f"/{name} ({reg.obj.role}, plugin {reg.plugin})" for name, reg in registry.commands.items()
             if name not in documented[reg.obj.role]]
    assert not wrong, f"README's command table does not list: {wrong}"
    unknown = {name for names in documented.values() for name in names} - set(registry.commands)
    assert not unknown, f"README lists commands nobody registers: {unknown}"


def test_the_table_reader_takes_each_roles_commands():
    table = "| viewer | `/status`, `/pnl [day\\|week]` |\n| operator | `/pause [s]` |\n| admin | `/kill` |\n"
    assert documented_roles(table) == {"viewer": {"status", "pnl"}, "operator": {"pause"}, "admin": {"kill"}}
