"""The example third-party package (tests/example_plugin), pip-installed for real, then found and run.

Proves the whole path a plugin author takes: a separate distribution with an ``arbot`` entry point
is built and installed (offline), ``arbot plugins`` lists it with its distribution and kinds, and
a real bot built from config alone -- no ``extra=`` plugins -- runs its strategy against the paper
exchange, through its risk check, into its notifier, and answers its command.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.api import Caller
from bot.domain import OrderIntent, OrderStatus, Side
from tests.helpers.waiting import wait_for

PACKAGE_SOURCE = Path(__file__).parent / "example_plugin"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and install arbot-example into a fresh directory, offline; return that directory."""
    root = tmp_path_factory.mktemp("example-plugin")
    # pip builds in the source tree (build/, *.egg-info): build from a copy to keep the checkout clean.
    source = shutil.copytree(PACKAGE_SOURCE, root / "source",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    assert (target / "arbot_example-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def test_arbot_plugins_lists_the_installed_package(site_dir: Path, tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key != "ARBOT_CONFIG"}
    env["PYTHONPATH"] = str(site_dir)
    result = subprocess.run([str(VENV_BIN / "arbot"), "plugins", "-v"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    output = result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "example" in rows, output
    row = rows["example"]
    assert " command, notifier, risk, strategy " in row, output
    for provided in ("strategy:example-dca", "risk:example-max-price", "notifier:example-file", "command:hello"):
        assert provided in row.split(), output
    assert "arbot-example 0.1.0" in row, output
    assert row.split()[-1] == "ok", output
    assert 'plugin "example"' not in result.stdout, output  # no error paragraph about it



def test_the_documented_arbot_plugins_output_is_what_the_command_prints(site_dir: Path, tmp_path: Path):
    """docs/plugins.md ("Packaging") shows ``arbot plugins`` after installing the example: same columns, same row."""
    docs = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    [shown] = [block for block in docs.split("```console\n")[1:] if "$ arbot plugins" in block]
    lines = shown.split("```")[0].splitlines()
    command = next(line for line in lines if line.startswith("$ arbot plugins"))[2:].split()
    header, rows = lines[lines.index(f"$ {' '.join(command)}") + 1], lines[lines.index(f"$ {' '.join(command)}") + 2:]
    env = {key: value for key, value in os.environ.items() if key != "ARBOT_CONFIG"}
    env["PYTHONPATH"] = str(site_dir)
    result = subprocess.run([str(VENV_BIN / command[0]), *command[1:]], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    printed = result.stdout.splitlines()
    assert header.split() == printed[0].split(), (header, printed[0])
    [documented] = [row for row in rows if row.startswith("example ")]
    [actual] = [row for row in printed if row.startswith("example ")]
    assert documented.split()[:4] == actual.split()[:4], (documented, actual)



def test_the_guide_names_every_private_module_the_0_1_example_imports():
    """The guide says "copy it": it must name what a copy must not keep, each host module the example imports
    that is not the public API (``bot.api``, ``bot.hookimpl``)."""
    import re

    docs = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    intro = docs.split("Contents:")[0]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (PACKAGE_SOURCE / "arbot_example").glob("*.py"))
    private = {m for m in re.findall(r"^from (bot\.\w+)", sources, re.M) if m != "bot.api"}
    assert private, "the example imports only the public API: drop this test and the guide's warning"
    assert [m for m in sorted(private) if f"`{m}`" not in intro] == []


CONFIG = """
[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "0"       # a still market: the best ask the strategy saw is still there when its IOC arrives
tick_interval_ms = 5
state_file = ""

[strategies.dca]
type = "example-dca"
exchange = "paper"
symbol = "BTC/USD"
order_size = "0.001"
every_n_books = 3
max_buys = 2

[risk.max-price]
type = "example-max-price"
max_buy_price = "100000"

[notifiers.jsonl]
type = "example-file"
path = "alerts.jsonl"
"""


def alerts_in(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_installed_plugin_runs_in_a_real_bot(site_dir, monkeypatch, make_bot, tmp_path, caplog):
    monkeypatch.syspath_prepend(str(site_dir))  # what an installed package amounts to: its dist-info on sys.path
    importlib.invalidate_caches()
    caplog.set_level(logging.INFO, logger="arbot.example")
    bot = await make_bot(CONFIG)  # found through the entry point: no extra= plugins

    info = bot.plugins.infos["example"]
    assert (info.dist, info.version, info.errors) == ("arbot-example", "0.1.0", [])
    assert {kind: reg.plugin for kind, table in bot.registry.components.items()
            for name, reg in table.items() if name.startswith("example-")} == {
        "strategy": "example", "risk": "example", "notifier": "example"}
    assert Path(sys.modules["arbot_example"].__file__).is_relative_to(site_dir)  # the installed copy
    assert "arbot-example ready: DCA strategies dca" in caplog.text  # its startup hook ran

    # The strategy buys twice (max_buys), with deterministic ids, each IOC filled at the best ask.
    def filled(cid: str) -> bool:
        order = bot.executor.order(cid)
        return order is not None and order.status is OrderStatus.FILLED

    await wait_for(lambda: filled("dca-1") and filled("dca-2"), what="two DCA buys filled")
    await bot.executor.flush()
    stored = bot.store.orders(strategy="dca")
    assert [(o.client_order_id, o.status, o.filled_qty) for o in stored] == [
        ("dca-1", OrderStatus.FILLED, Decimal("0.001")), ("dca-2", OrderStatus.FILLED, Decimal("0.001"))]
    assert [fill.client_order_id for _, fill in bot.store.fills(strategy="dca")] == ["dca-1", "dca-2"]
    status = bot.strategies["dca"].status()
    bought, asset = status["bought"].split()
    assert (status["orders sent"], Decimal(bought), asset) == ("2", Decimal("0.002"), "BTC")

    # The risk check vetoes a buy above max_buy_price: nothing sent, the veto stored under its name.
    too_dear = OrderIntent("dca", "paper", "BTC/USD", Side.BUY, Decimal("0.001"), Decimal("150000"),
                           client_order_id="dca-too-dear")
    assert bot.strategies["dca"].ctx.submit(too_dear) is None
    await bot.writer.drained()  # the veto's row is written on the store writer's thread
    veto = bot.store.risk_events()[0]
    assert veto.check_name == "max-price" and "above max_buy_price 100000" in veto.reason
    assert bot.executor.order("dca-too-dear") is None

    # The notifier wrote the fills and the veto as JSON lines under the data directory.
    log_file = tmp_path / "alerts.jsonl"
    await wait_for(lambda: {"fill", "risk"} <= {a["kind"] for a in alerts_in(log_file)}, what="alerts in the file")
    fills = [a for a in alerts_in(log_file) if a["kind"] == "fill"]
    assert fills[0]["source"] == "dca" and fills[0]["fields"]["exchange"] == "paper"
    side, qty, symbol, _, price = fills[0]["message"].split()
    assert (side, Decimal(qty), symbol) == ("buy", Decimal("0.001"), "BTC/USD") and Decimal(price) > 0

    # /hello answers through the same command table every transport uses. The example is written
    # for 0.1, whose handlers got the Bot: its bot.config works through the Operator, deprecated.
    with pytest.warns(DeprecationWarning, match=r"bot\.config: .*operator\.configured_mode"):
        reply = await bot.commands.dispatch(Caller("local", "me", "admin"), "hello", [])
    assert reply.ok and "Hello, me!" in reply.render_text() and "dca" in reply.render_text()
    refused = await bot.commands.dispatch(Caller("local", "stranger", None), "hello", [])
    assert not refused.ok

    # The heartbeat job is scheduled under the plugin's name; one run logs a line.
    assert bot.registry.jobs["example-heartbeat"].plugin == "example"
    assert "example-heartbeat" in [job_id for job_id, _ in bot.scheduler.jobs()]
    with pytest.warns(DeprecationWarning, match=r"bot\.executor: .*operator\.open_orders\(\)"):
        await bot.registry.jobs["example-heartbeat"].obj.func(bot.operator)
    assert "heartbeat: 1 strategies" in caplog.text
