"""Every complete example in docs/plugins.md runs, as written, against the public API.

The blocks headed ``# my_plugin/NAME.py -- a complete ... plugin`` become the package ``my_plugin``;
the testing recipe (its ``conftest.py``, its ``pyproject.toml`` settings and its two tests) runs in
a pytest of its own, with warnings as errors, the way a plugin author would run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.api import Caller, OrderStatus
from bot.api.testing import build_bot, wait_for

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```(python|toml)\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8"), re.S)
MODULE = re.compile(r"# my_plugin/(\w+)\.py(?: -- a complete .* plugin)?")


def block(containing: str, lang: str = "python") -> str:
    found = [text for kind, text in BLOCKS if kind == lang and containing in text]
    assert len(found) == 1, f"{len(found)} {lang} blocks contain {containing!r}"
    return found[0]


@pytest.fixture
def my_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The documented modules written out as the package ``my_plugin``, importable."""
    package = tmp_path / "src" / "my_plugin"
    package.mkdir(parents=True)
    for kind, text in BLOCKS:
        match = MODULE.match(text) if kind == "python" else None
        if match:
            (package / f"{match.group(1)}.py").write_text(text, encoding="utf-8")
    assert {p.stem for p in package.iterdir()} >= {"__init__", "dip", "toy_venue", "max_size", "webhook", "price",
                                                   "jobs", "journal", "hello", "report"}
    monkeypatch.syspath_prepend(str(package.parent))
    for name in [m for m in sys.modules if m == "my_plugin" or m.startswith("my_plugin.")]:
        monkeypatch.delitem(sys.modules, name)
    return package


async def test_the_component_examples_run_together_in_one_bot(my_plugin: Path, tmp_path: Path):
    import importlib

    mods = {name: importlib.import_module(f"my_plugin.{name}")
            for name in ("dip", "toy_venue", "max_size", "price", "jobs", "journal", "hello", "report")}
    bot = build_bot("""
        [exchanges.toy]
        tick_interval_s = 0.01
        [strategies.dip]
        exchange = "toy"
        symbol = "BTC/USD"
        below = 40000
        size = "0.01"
        [risk.max-size]
        max_qty = "1"
        [plugins.journal]
        file = "journal.csv"
    """, data_dir=tmp_path / "data", entry_points=[], extra=[(f"my-{n}" if n != "journal" else n, m)
                                                              for n, m in mods.items()])
    await bot.start()
    try:
        await wait_for(lambda: (o := bot.order("dip-dip")) is not None and o.status is OrderStatus.FILLED,
                       what="the dip buy filled on the toy venue")
        assert bot.component("strategy", "dip").status() == {"bought": "yes"}
        admin = Caller("local", "me", "admin")
        reply = await bot.commands.dispatch(admin, "price", ["toy", "BTC/USD"])
        assert reply.ok and reply.rows[0][0] == "mid" and Decimal(reply.rows[0][1]) > 0
        await mods["jobs"].morning_report(bot.operator)  # a job is a coroutine of the operator
        await mods["jobs"].check_feeds(bot.operator)
        await wait_for(lambda: bot.store.fills(), what="the fill stored")
        assert mods["report"].report_sections(bot.store)[0].rows[1] == ("toy", "1")
        assert [e for p in ("my-dip", "my-toy_venue", "my-max_size", "my-price", "my-jobs", "journal", "my-hello",
                            "my-report") for e in bot.plugin_errors(p)] == []
    finally:
        await bot.stop()
    journal = (tmp_path / "data" / "journal.csv").read_text(encoding="utf-8")
    assert ",order,dip,dip-dip,filled" in journal and ",alert,hello,hello," in journal


def test_the_testing_recipe_runs_under_pytest_with_warnings_as_errors(my_plugin: Path, tmp_path: Path):
    project = my_plugin.parent.parent
    (project / "pyproject.toml").write_text(block("asyncio_mode", "toml"), encoding="utf-8")
    (project / "conftest.py").write_text(block("# conftest.py"), encoding="utf-8")
    (project / "test_dip.py").write_text(block("async def test_dip_buys_once"), encoding="utf-8")
    (project / "test_webhook.py").write_text(block("async def test_webhook_posts"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("ARBOT_CONFIG", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(my_plugin.parent), str(ROOT)])
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
                            cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout


def test_the_recipe_blocks_are_the_ones_documented():
    settings = block("asyncio_mode", "toml")
    assert 'filterwarnings = ["error"]' in settings and 'asyncio_default_fixture_loop_scope = "function"' in settings
    assert "from bot.api.testing import build_bot" in block("# conftest.py")


def test_the_examples_type_check_against_the_public_api_with_mypy_strict(my_plugin: Path, tmp_path: Path):
    """A plugin author who runs ``mypy --strict`` gets no error from the documented code's use of the API.

    Unannotated functions are the author's choice, so those checks are relaxed; their bodies are still checked
    (``--strict`` checks untyped defs), so a facade type that forces an error, or an example that misuses one, fails.
    """
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    env["MYPYPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--allow-untyped-defs", "--allow-incomplete-defs",
         "--allow-untyped-calls", "--follow-imports=silent", "--cache-dir", str(tmp_path / "mypy-cache"),
         "--python-executable", sys.executable, "my_plugin"],
        cwd=my_plugin.parent, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


TYPED_SETTINGS = '''
from dataclasses import dataclass
from decimal import Decimal

from bot.api import Exchange, Notifier, RiskCheck, Service, Strategy, option


@dataclass(frozen=True)
class MySettings:
    size: Decimal = option(Decimal(1), gt=0, help="a size")


class Mine(Strategy[MySettings]):
    Settings = MySettings

    def size(self) -> Decimal:
        return self.settings.size  # --strict: "Returning Any" unless the settings are typed

    def misspelt(self) -> object:
        return self.settings.sise


class MyVenue(Exchange[MySettings]):
    def size(self) -> Decimal:
        return self.settings.size


class MyCheck(RiskCheck[MySettings]):
    def size(self) -> Decimal:
        return self.settings.size


class MyNotifier(Notifier[MySettings]):
    def size(self) -> Decimal:
        return self.settings.size


class MyService(Service[MySettings]):
    def size(self) -> Decimal:
        return self.settings.size


class Unparameterized(Strategy):  # as every plugin written before: still accepted by --strict
    Settings = MySettings

    def size(self) -> object:
        return self.settings.size
'''


def test_mypy_strict_sees_a_components_settings_type(tmp_path: Path):
    """``class Mine(Strategy[MySettings])`` types ``self.settings`` for a plugin author's ``mypy --strict`` (a
    misspelt field is an error, a field read is its type); a component with no type argument still checks."""
    (tmp_path / "typed_plugin.py").write_text(TYPED_SETTINGS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    env["MYPYPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / "mypy-cache"), "--python-executable", sys.executable, "typed_plugin.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    errors = [line.split(": error: ", 1)[1] for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == ['"MySettings" has no attribute "sise"  [attr-defined]'], result.stdout + result.stderr
