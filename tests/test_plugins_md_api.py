"""What docs/plugins.md (and the other guides) show a plugin author exists in the public API: every
``from bot.api... import X`` of its code blocks imports, every dotted ``bot.api...`` name resolves, and every
``ctx.NAME`` / ``operator.NAME`` it uses is on :class:`~bot.api.Context` / :class:`~bot.api.Operator`.
(Complete examples are run by tests/test_docs_examples.py; hooks' signatures by tests/test_meta.py.)"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from bot.api import Context, Operator

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IMPORT = re.compile(r"^\s*from\s+(bot[\w.]*)\s+import\s+(\([^)]*\)|[^\n]+)", re.M)


def imported_names(text: str) -> list[tuple[str, str]]:
    """(module, name) of every ``from bot... import`` in the python blocks of ``text``."""
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for module, names in IMPORT.findall(block):
            names = re.sub(r"#[^\n]*", "", names).strip("()")
            found += [(module, n.split(" as ")[0].strip()) for n in names.split(",") if n.strip()]
    return found


def unresolved(dotted: str) -> str | None:
    """None when ``bot.api.a.b`` names a module or an attribute of one, else what is missing."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return f"{dotted}: no {part}"
            obj = getattr(obj, part)
        return None
    return f"{dotted}: no such module"


def has_member(cls: type, name: str) -> bool:
    """An attribute of the class or one its ``__init__`` sets on the instance (``ctx.log``)."""
    init = "".join(inspect.getsource(k.__init__) for k in cls.__mro__ if "__init__" in vars(k) and k is not object)
    return hasattr(cls, name) or re.search(rf"\bself\.{name}\s*[:=]", init) is not None


def test_every_import_of_the_plugin_guide_is_public_and_exists():
    names = imported_names(GUIDE)
    assert len(names) > 50
    private = [f"{m}.{n}" for m, n in names if not (m == "bot" and n == "hookimpl") and not m.startswith("bot.api")]
    assert not private, f"docs/plugins.md imports private host modules: {private}"
    missing = [f"from {m} import {n}" for m, n in names if not hasattr(importlib.import_module(m), n)]
    assert not missing, f"docs/plugins.md imports names the API does not have: {missing}"


def test_every_dotted_public_name_in_the_docs_resolves():
    missing = []
    for doc in DOCS:
        for dotted in sorted(set(re.findall(r"\bbot\.api(?:\.[A-Za-z_]\w*)+", doc.read_text(encoding="utf-8")))):
            problem = unresolved(dotted)
            if problem:
                missing.append(f"{doc.relative_to(ROOT)}: {problem}")
    assert not missing, missing


def test_the_context_and_operator_members_the_guide_uses_exist():
    missing = []
    for prefix, cls in (("ctx", Context), ("operator", Operator)):
        for name in sorted(set(re.findall(rf"(?<![\w]){prefix}\.([a-z_]\w*)", GUIDE))):
            if not has_member(cls, name):
                missing.append(f"{prefix}.{name}")
    assert not missing, f"docs/plugins.md uses members Context or Operator do not have: {missing}"


def test_the_checks_find_what_is_missing():
    text = "```python\nfrom bot.api import (Strategy,  # a base\n    NoSuchThing)\nfrom bot.api.kit import Outbox\n```"
    assert imported_names(text) == [("bot.api", "Strategy"), ("bot.api", "NoSuchThing"), ("bot.api.kit", "Outbox")]
    assert unresolved("bot.api.kit.Outbox") is None
    assert unresolved("bot.api.kit.NoSuchThing") == "bot.api.kit.NoSuchThing: no NoSuchThing"
    assert has_member(Context, "log") and has_member(Context, "submit") and not has_member(Context, "no_such")
