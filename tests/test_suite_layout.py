"""The test suite is a package: helpers and fakes are imported by their full name (``tests.helpers.waiting``,
``tests.fakes.kraken``), never as top-level modules that only exist because pytest put a folder on sys.path."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
OUTSIDE_THE_PACKAGE = {"example_plugin"}  # a separate distribution, built and installed by its tests


def _suite_files() -> list[Path]:
    return [p for p in TESTS.rglob("*.py") if OUTSIDE_THE_PACKAGE.isdisjoint(p.relative_to(TESTS).parts)]


def test_every_test_folder_is_a_package():
    folders = {p.parent for p in _suite_files()}
    missing = sorted(str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == [], f"add an __init__.py to: {missing}"


def test_modules_of_the_suite_are_imported_by_their_full_name():
    local = {p.stem for p in _suite_files()} - {"__init__"}
    offenders = []
    for path in _suite_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.relative_to(TESTS.parent)}:{node.lineno}: {name}" for name in names
                          if name.split(".")[0] in local | {"fakes", "helpers"}]
    assert offenders == [], "import these as tests.<path>: " + ", ".join(offenders)
