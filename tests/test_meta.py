"""Meta-tests keep the plugin contract honest: every hook is documented and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from bot import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, obj in vars(hookspecs).items()
               if inspect.isfunction(obj) and hasattr(obj, "arbot_spec"))


def test_there_are_hooks():
    assert {"register_exchanges", "register_strategies", "register_risk_checks", "register_notifiers",
            "register_commands", "register_jobs", "startup", "shutdown"} <= set(HOOKS)


def test_every_hook_has_a_docstring_and_type_hints():
    for name in HOOKS:
        func = getattr(hookspecs, name)
        assert func.__doc__ and len(func.__doc__.strip()) > 40, f"hook {name} needs a real docstring"
        assert "return" in func.__annotations__, f"hook {name} needs a return annotation"


def test_every_hook_is_documented_in_plugins_md():
    text = (ROOT / "docs" / "plugins.md").read_text()
    missing = [name for name in HOOKS if f"`{name}" not in text]
    assert not missing, f"docs/plugins.md does not document: {missing}"


def test_every_hook_is_exercised_by_a_test():
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_meta.py")
    sources += "\n".join(p.read_text() for p in (ROOT / "tests" / "example_plugin").rglob("*.py"))
    missing = [name for name in HOOKS if not re.search(rf"def {name}\(", sources)]
    assert not missing, f"no test implements hook(s): {missing}"


def test_the_host_ships_its_type_information():
    """A plugin type-checks against an installed arbot (PEP 561): ``bot/py.typed`` is in the package, and the
    package data pip installs lists it."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    assert (root / "bot" / "py.typed").is_file()
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["bot"]


def test_every_named_registration_hook_types_the_module_class_reference_it_takes():
    """The host registers components and services given as ``"module:Class"`` (docs/plugins.md, "Load what is
    used"); the hook's type, which the guide sends authors to, says so too."""
    from bot.plugins import COMPONENT_KINDS

    named = [hook for hook, _base in COMPONENT_KINDS.values()] + ["register_services"]
    for hook in named:
        annotation = str(inspect.signature(getattr(hookspecs, hook)).parameters["register"].annotation)
        assert re.fullmatch(r"Callable\[\[str, type\[\w+\] \| str\], None\]", annotation), (hook, annotation)


def test_the_hooks_types_in_plugins_md_are_the_hookspecs():
    """docs/plugins.md gives every hook's types with public names (a plugin checked by mypy cannot import the private
    bot.hookspecs): each documented argument and return type is the hookspec's, and every hook is there."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    [typed] = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith("# The hooks' types")]
    documented = {m[0]: m for m in re.findall(r"^def (\w+)\((.*?)\) -> (.*?): \.\.\.$", typed, re.S | re.M)}
    assert sorted(documented) == HOOKS
    for name, (_, params, returns) in documented.items():
        spec = inspect.signature(getattr(hookspecs, name))
        assert returns == spec.return_annotation, name
        for param in _top_level_split(" ".join(params.split())):
            arg, _, annotation = param.partition(": ")
            assert arg in spec.parameters and annotation == spec.parameters[arg].annotation, (name, param)
    for imported in re.findall(r"^from (\S+) import", typed, re.M):
        assert imported.split(".")[0] != "bot" or imported.startswith("bot.api"), imported


def _top_level_split(params: str) -> list[str]:
    """``a: X[b, c], d: Y`` -> ``["a: X[b, c]", "d: Y"]``: the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(params):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(params[start:i].strip())
            start = i + 1
    return [*parts, params[start:].strip()]
