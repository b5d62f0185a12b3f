"""The layers, checked on the source: plugins import only the public API, the host no plugin, no cycles.

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ("bot.api",)
"""What a plugin or a shared library may import from the host (``bot`` itself only for ``hookimpl``)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import statement of a file, relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((module, [alias.name for alias in node.names]))
    return found


def files(*tops: str) -> list[Path]:
    return [p for top in tops for p in sorted((ROOT / top).rglob("*.py"))]


def copied_by_the_guide() -> list[Path]:
    """The test files docs/plugins.md tells plugin authors to copy: their copies are plugin code."""
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return [ROOT / path for path in re.findall(r"`(tests/[\w/]+\.py)`[^.]*\(copy it\)", guide)]


def test_plugins_and_libraries_import_only_the_public_api():
    private = []
    assert copied_by_the_guide() == [ROOT / "tests" / "fakes" / "venue.py"]
    for path in files("plugins", "arbotlib") + copied_by_the_guide():
        for module, names in imports(path):
            if module == "bot":
                bad = [n for n in names if n != "hookimpl"] or ([] if names else ["(the package)"])
                private += [f"{path.relative_to(ROOT)}: from bot import {n}" for n in bad]
            elif module.startswith("bot.") and not any(module == p or module.startswith(p + ".") for p in PUBLIC):
                private.append(f"{path.relative_to(ROOT)}: {module}")
    assert not private, "plugins must import the host through bot.api only:\n" + "\n".join(private)


def test_the_host_imports_no_plugin():
    found = [f"{path.relative_to(ROOT)}: {module}" for path in files("bot") for module, _ in imports(path)
             if module == "plugins" or module.startswith("plugins.")]
    assert not found, found


def test_no_import_cycle_in_the_host():
    modules = {module_name(p): p for p in files("bot")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, names in imports(path):
            targets |= {m for m in [module, *(f"{module}.{n}" for n in names)] if m in modules and m != name}
        graph[name] = targets

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    cycles = [c for c in map(cycle_from, sorted(graph)) if c]
    assert not cycles, "import cycles in bot/:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_plugin_guide_points_plugins_at_the_public_api_only():
    """docs/plugins.md imports nothing but ``bot.api`` (and its submodules) in its examples, and never tells a plugin
    to use a private module's member (``bot.store.money``): what it shows is what a plugin may use."""
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    imports = re.findall(r"^\s*(?:from|import) (bot(?:\.[a-z_]+)*)", guide, re.MULTILINE)
    assert imports and [m for m in imports if m != "bot" and not m.startswith("bot.api")] == []
    members = re.findall(r"`[^`\n]*\bbot\.(?:store|settings|domain|execution|ledger|exact|units|redact)\.[A-Za-z_]+"
                         r"[^`\n]*`", guide)
    assert members == [] and "imports only `bot.settings`" not in guide, members
