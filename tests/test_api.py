"""The public API's edge: every listed name resolves, submodules load what is used, bot.api stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ["bot.api", "bot.api.kit", "bot.api.storage", "bot.api.ledger", "bot.api.backtest", "bot.api.testing"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_in_all_resolves(name):
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"
    assert len(set(module.__all__)) == len(module.__all__)
    lazy = getattr(module, "_WHERE", None)
    if lazy is not None:
        assert set(lazy) == set(module.__all__)


def test_a_name_not_exported_is_an_attribute_error():
    import bot.api.kit

    with pytest.raises(AttributeError, match="bot.api.kit.*has no attribute 'Bot'"):
        bot.api.kit.Bot  # noqa: B018


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return set(out.stdout.split())


def test_bot_api_is_light_and_kit_names_load_their_own_module_only():
    heavy = ("sqlalchemy", "sqlmodel", "websockets", "apscheduler")
    loaded = loaded_after("import bot.api")
    assert not [m for m in loaded if m.startswith(heavy)], "import bot.api loads a heavy stack"
    assert not [m for m in loaded if m.startswith("bot.") and m not in {
        "bot.api", "bot.api._core", "bot.bus", "bot.domain", "bot.bookview", "bot.exact", "bot.settings",
        "bot.redact"}], loaded
    loaded = loaded_after("from bot.api.kit import Pool, PrecisionError")
    assert "bot.feed" not in loaded and not [m for m in loaded if m.startswith(heavy)]


def test_what_bot_under_test_hands_a_test_is_of_public_types():
    """A plugin author's test annotates what ``bot.api.testing.BotUnderTest`` returns with public names only: each
    property's type is exported by a public module (or is not arbot's at all, such as ``Path``)."""
    import inspect
    import typing

    from bot.api.testing import BotUnderTest

    public = {id(getattr(module, n)) for module in map(importlib.import_module, PUBLIC) for n in module.__all__}
    private = []
    for name, member in inspect.getmembers(BotUnderTest, lambda m: isinstance(m, property)):
        returned = typing.get_type_hints(member.fget)["return"]
        if returned.__module__.split(".")[0] == "bot" and id(returned) not in public:
            private.append(f"{name} -> {returned.__module__}.{returned.__qualname__}")
    assert private == []
