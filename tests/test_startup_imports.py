"""Load what is used: the light commands import no heavy stack, and a plugin's modules only when used.

(Timings and memory are measured by benchmarks/startup.py; this checks which modules load.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import run_until

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "telegram", "discord", "matplotlib", "solders", "httpx", "websockets",
         "apscheduler", "prometheus_client", "msgspec", "cryptography", "numpy", "ccxt", "aiohttp", "nats")
VENUES = ("plugins.kraken.", "plugins.coinbase.", "plugins.ccxt.", "plugins.jupiter.", "plugins.orca.",
          "plugins.telegram.", "plugins.discord.", "arbotlib.solana")


def modules_after(*argv: str, cwd: Path) -> set[str]:
    """The modules ``arbot ARGV`` imported, read from inside its process when it exits."""
    code = ("import atexit, json, sys\n"
            "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
            "from bot.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    [line] = [line for line in out.stderr.splitlines() if line.startswith("MODULES ")]
    return set(json.loads(line.removeprefix("MODULES ")))


def heavy(modules: set[str], names=HEAVY) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in names})


@pytest.mark.parametrize("argv", [("--help",), ("plugins",)])
def test_help_and_plugins_import_no_heavy_stack_and_no_venue(argv, tmp_path):
    modules = modules_after(*argv, cwd=tmp_path)
    assert "plugins.paper" in modules and "plugins.grid" in modules  # every plugin registered...
    assert heavy(modules) == []  # ...none of them paid for its venue, chat client or database
    assert sorted(m for m in modules if m.startswith(VENUES)) == []
    assert "bot.app" not in modules and "bot.store" not in modules


def test_check_config_imports_only_what_the_config_uses(tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text('[exchanges.paper]\n[strategies.g]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                      'lower = "1"\nupper = "2"\nlevels = 3\norder_size = "0.1"\n')
    modules = modules_after("check-config", str(config), cwd=tmp_path)
    assert "plugins.paper.exchange" in modules and "plugins.grid.strategy" in modules
    assert "plugins.paper.dex" not in modules and "plugins.arb.strategy" not in modules
    unused = [name for name in HEAVY if name not in ("sqlalchemy", "sqlmodel", "pydantic")]  # grid reads the store
    assert heavy(modules, unused) == [] and sorted(m for m in modules if m.startswith(VENUES)) == []


HELP_MUST_NOT_IMPORT = (
    "bot.app", "bot.store", "bot.report", "bot.ledger", "bot.opportunities",  # the host's commands import them
    "plugins.rebalance.service", "plugins.rebalance.planner",  # a service's class: when a config is read
    "plugins.fleet.service", "plugins.fleet.settings", "plugins.fleet.wire", "plugins.fleet.link",
    "uuid", "platform", "getpass",
    "bot.bookview",  # the book view strategies receive: with the market events' types, when a strategy is read
)
"""What `arbot --help` imported at some point and does not need (benchmarks/startup.py: its wall time doubled)."""


def test_help_imports_none_of_what_it_does_not_need(tmp_path):
    modules = modules_after("--help", cwd=tmp_path)
    assert sorted(m for m in HELP_MUST_NOT_IMPORT if m in modules) == []


def test_plugins_imports_no_command_module_of_the_host(tmp_path):
    """`arbot plugins` lists what each plugin provides: a service's class (for its settings), not the ledger or
    the report its commands use, nor what a plugin's command runs with (the fleet's wire format, getpass)."""
    modules = modules_after("plugins", cwd=tmp_path)
    assert sorted(m for m in ("bot.report", "bot.ledger", "bot.opportunities", "getpass", "plugins.fleet.link")
                  if m in modules) == []


RUN_MUST_NOT_IMPORT = (
    "sqlalchemy.dialects.postgresql",  # a PostgreSQL store's (2.2 MB): its engine imports it, bot.store does not
    "nacl",  # PyNaCl, cffi and libsodium (1 MB): the stream's keys, read when the stream is configured
    "plugins.rebalance.service", "plugins.rebalance.planner",  # an enabled rebalancer's, imported when it starts
    "plugins.web.auth",  # `arbot web-token`'s and the running console's
    "difflib",  # a mistake's did-you-mean
)
"""What the demo (`arbot run`, the embedded default) imported at some point and does not use (benchmarks/startup.py:
its peak went from 75.6 to 78.0 MB, over the README's 75 MB)."""


def demo_modules(tmp_path: Path) -> set[str]:
    """The modules `arbot run` imported by the time it started, then stopped by Ctrl-C, read from inside its process
    when it exits. It runs as the `arbot` script does (``bot.entry``)."""
    dump, log = tmp_path / "modules.json", tmp_path / "run.log"
    code = ("import atexit, json, sys\n"
            f"atexit.register(lambda: open({str(dump)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
            "from bot.entry import main\n"
            "sys.exit(main())\n")  # its command line: `-c run`
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    status = run_until([sys.executable, "-c", code, "run"], log, lambda: "arbot started in" in log.read_text(),
                       cwd=tmp_path, env=env, timeout_s=120)
    assert status == 0 and "arbot started in" in log.read_text(), log.read_text()[-3000:]
    return set(json.loads(dump.read_text()))


def test_the_demo_imports_none_of_what_it_does_not_use(tmp_path):
    modules = demo_modules(tmp_path)
    assert {"bot.app", "bot.store", "plugins.arb.strategy", "plugins.grid.strategy"} <= modules  # it traded
    assert "plugins.stream" in modules and "plugins.rebalance" in modules  # every plugin registered
    unused = [m for m in modules if any(m == name or m.startswith(f"{name}.") for name in RUN_MUST_NOT_IMPORT)]
    assert sorted(unused) == []
