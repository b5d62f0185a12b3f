"""docs/architecture.md stays true to the code: it names every host module, every first-party plugin, every
table and every hook, and each ``Class.member`` it names exists (a method, attribute or constant of that class
or of a base class in the repository)."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from pathlib import Path

from bot import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
# classes of other libraries the document names by their own names (discord.py's Client, not the stream's)
FOREIGN = {"Client.connect", "Client.close"}


def section(title: str) -> str:
    """The text of the ``## title`` section, up to the next section of that level."""
    start = DOC.index(f"\n## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else None]


def test_every_host_module_is_named():
    modules = [p for p in (ROOT / "bot").rglob("*.py")
               if p.name != "__init__.py" and "migrations" not in p.parts]
    assert len(modules) > 50
    missing = [str(p.relative_to(ROOT)) for p in modules if f"`{p.name}`" not in DOC and
               f"{p.relative_to(ROOT / 'bot')}" not in DOC and f"`{p.stem}`" not in DOC]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_every_first_party_plugin_is_in_the_list_of_arbots_own():
    plugins = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]["arbot"]
    intro = DOC[:DOC.index("### Layers")]
    missing = [name for name, module in plugins.items() if f"`{module.replace('.', '/')}`" not in intro]
    assert not missing, f"the first section of docs/architecture.md does not list plugin(s): {missing}"


def test_every_table_is_named_where_the_store_is_described():
    tables = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        tables |= set(re.findall(r'^\s+__tablename__ = "(\w+)"', path.read_text(encoding="utf-8"), re.M))
    assert {"orders", "fills", "jupiter_swaps"} <= tables
    persistence = section("Persistence")
    missing = sorted(t for t in tables if f"`{t}`" not in persistence)
    assert not missing, f"docs/architecture.md's Persistence section does not name table(s): {missing}"


def test_every_hook_is_named():
    hooks = [n for n, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "arbot_spec")]
    assert len(hooks) > 10
    missing = [h for h in hooks if not re.search(rf"`[^`\n]*\b{h}\b", DOC)]
    assert not missing, f"docs/architecture.md does not name hook(s): {missing}"


def class_members() -> dict[str, set[str]]:
    """Each class name defined in bot/, plugins/ and arbotlib/ -> what it and its bases there define."""
    own: dict[str, set[str]] = {}
    bases: dict[str, set[str]] = {}
    for path in [p for top in ("bot", "plugins", "arbotlib") for p in (ROOT / top).rglob("*.py*")]:
        if path.suffix not in (".py", ".pyi"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            members = own.setdefault(node.name, set())
            bases.setdefault(node.name, set()).update(
                b.id if isinstance(b, ast.Name) else b.attr
                for b in node.bases if isinstance(b, (ast.Name, ast.Attribute)))
            for item in ast.walk(node):
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    members |= {t.id for t in item.targets if isinstance(t, ast.Name)}
                elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and item.value.id == "self":
                    members.add(item.attr)

    def every(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found = set(own.get(name, ()))
        for base in bases.get(name, ()):
            if base not in seen:
                found |= every(base, seen | {name})
        return found

    return {name: every(name) for name in own}


def test_every_class_member_named_exists():
    members = class_members()
    named = {m for code in re.findall(r"`([^`\n]+)`", DOC)
             for m in re.findall(r"\b([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)\.([A-Za-z_]\w*)", code)}
    assert len(named) > 100
    missing = sorted(f"{cls}.{attr}" for cls, attr in named
                     if cls in members and attr not in members[cls] and f"{cls}.{attr}" not in FOREIGN)
    assert not missing, f"docs/architecture.md names members that do not exist: {missing}"
