"""What docs/plugins.md (and the other guides) show a plugin author exists in the public API: every
``from bot.api... import X`` of its code blocks imports, every dotted ``bot.api...`` name resolves, and every
``ctx.NAME`` / ``operator.NAME`` it uses is on :class:`~bot.api.Context` / :class:`~bot.api.Operator`.
(Complete examples are run by tests/test_docs_examples.py; hooks' signatures by tests/test_meta.py.)"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
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


PUBLIC_MODULES = ("bot.api", "bot.api.kit", "bot.api.storage", "bot.api.ledger", "bot.api.backtest", "bot.api.testing")


def public(name: str) -> object | None:
    """The public API's object of that name, None when no public module has it."""
    for module in map(importlib.import_module, PUBLIC_MODULES):
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    return None


def code_blocks(text: str) -> list[ast.Module]:
    """The python blocks of ``text`` that parse (a method shown alone is dedented)."""
    trees = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        try:
            trees.append(ast.parse(textwrap.dedent(block)))
        except SyntaxError:
            continue
    return trees


def parameters(obj: object) -> list[inspect.Parameter] | None:
    """The parameters of a callable, None where Python cannot tell (an exception class's ``*args``)."""
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None


def override_problems(cls: ast.ClassDef, base: type) -> list[str]:
    """Methods of ``cls`` that override ``base``'s with other parameters, or async where it is not (or the reverse)."""
    problems = []
    for method in (f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))):
        original = getattr(base, method.name, None)
        if method.name.startswith("__") or not callable(original) or parameters(original) is None:
            continue
        expected = [p.name for p in parameters(original) or []]
        if isinstance(inspect.getattr_static(base, method.name), classmethod):
            expected = ["cls", *expected]
        shown = [a.arg for a in (*method.args.posonlyargs, *method.args.args, *method.args.kwonlyargs)]
        if shown != expected:
            problems.append(f"{cls.name}.{method.name}{tuple(shown)}: {base.__name__} has {tuple(expected)}")
        if inspect.iscoroutinefunction(original) != isinstance(method, ast.AsyncFunctionDef):
            problems.append(f"{cls.name}.{method.name}: async or not, unlike {base.__name__}'s")
    return problems


def call_problems(call: ast.Call) -> list[str]:
    """A public callable called with a keyword it does not take, or more positional arguments than it takes."""
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    params = parameters(public(name)) if callable(public(name)) else None
    if params is None or any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    problems = [f"{name}(..., {k.arg}=...): no such parameter"
                for k in call.keywords if k.arg and k.arg not in {p.name for p in params}]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(call.args) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in params):
        problems.append(f"{name}(...): {len(call.args)} positional arguments, it takes {len(positional)}")
    return problems


def unsubscripted(base: ast.expr) -> ast.expr:
    """``Strategy`` of a base written ``Strategy[MySettings]`` (components are generic over their settings)."""
    return base.value if isinstance(base, ast.Subscript) else base


def signature_problems(text: str) -> list[str]:
    """What the python blocks of ``text`` override or call of the public API with the wrong signature."""
    problems = []
    for tree in code_blocks(text):
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for base in (public(b.id if isinstance(b, ast.Name) else b.attr) for b in map(unsubscripted, cls.bases)
                         if isinstance(b, (ast.Name, ast.Attribute))):
                if inspect.isclass(base):
                    problems += override_problems(cls, base)
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            problems += call_problems(call)
    return problems


def test_the_guides_overrides_and_calls_match_the_public_signatures():
    trees = code_blocks(GUIDE)
    subclasses = [c for t in trees for c in ast.walk(t) if isinstance(c, ast.ClassDef)
                  and any(inspect.isclass(public(getattr(b, "id", getattr(b, "attr", ""))))
                          for b in map(unsubscripted, c.bases))]
    assert len(subclasses) >= 7 and len(trees) > 25  # the examples' components are among them
    assert not signature_problems(GUIDE)


def test_a_wrong_override_or_call_is_found():
    text = ("```python\nfrom bot.api import Notifier, Reply\n\nclass Loud(Notifier):\n"
            "    def send(self, alert, extra):\n        return None\n\n"
            "reply = Reply('t', no_such_field=1)\n```\n")
    problems = signature_problems(text)
    assert any(p.startswith("Loud.send('self', 'alert', 'extra')") for p in problems), problems
    assert any("no_such_field" in p for p in problems), problems
