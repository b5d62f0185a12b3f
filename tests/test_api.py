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
        "bot.api", "bot.api._core", "bot.domain", "bot.bookview", "bot.exact", "bot.settings", "bot.redact"}], loaded
    loaded = loaded_after("from bot.api.kit import Pool, PrecisionError")
    assert "bot.feed" not in loaded and not [m for m in loaded if m.startswith(heavy)]
