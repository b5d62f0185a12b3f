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
