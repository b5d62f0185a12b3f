"""arbotlib is a library layer: it imports no plugin, and a plugin using it pulls in only what it uses."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_arbotlib_imports_no_plugin():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "arbotlib").rglob("*.py")
                       for name in imported_modules(path) if name == "plugins" or name.startswith("plugins."))
    assert offenders == []


def test_arbotlib_registers_nothing():
    marked = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "arbotlib").rglob("*.py")
                    if "hookimpl" in path.read_text())
    assert marked == []


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_paper_venue_does_not_load_orca_solana_or_solders():
    loaded = loaded_after("import plugins.paper.exchange, plugins.paper.dex")
    assert "plugins.paper.dex" in loaded and "arbotlib.amm.whirlpool.model" in loaded  # the test sees imports
    leaked = sorted(m for m in loaded if m.split(".")[0] in ("solders", "httpx", "websockets")
                    or m.startswith(("plugins.orca", "arbotlib.solana", "plugins.jupiter")))
    assert leaked == []
