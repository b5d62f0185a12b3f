"""The ``arbot`` console script: Ctrl-C while ``bot.cli`` and its modules import (the first ~0.2 s) ends with one
line and status 130, as Ctrl-C does once ``main()`` runs, not with Python's traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.helpers.processes import ROOT

# What the installed `arbot` script does with the entry point pyproject.toml declares, with a Ctrl-C that lands
# while bot.cli imports bot.config (a KeyboardInterrupt raised there, where SIGINT's default handler raises it).
CHILD = """
import sys
sys.path.insert(0, {root!r})


class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == {when!r}:
            raise KeyboardInterrupt
        return None


sys.meta_path.insert(0, CtrlC())
from {module} import {func} as main
sys.exit(main())
"""


def console_script(when: str, *args: str) -> subprocess.CompletedProcess:
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["arbot"]
    module, func = target.split(":")
    code = CHILD.format(root=str(ROOT), when=when, module=module, func=func)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_ctrl_c_while_the_command_imports_is_one_line_and_130():
    done = console_script("bot.config", "plugins")
    print(f"status={done.returncode} stderr={done.stderr!r}")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr == "arbot: interrupted (Ctrl-C)\n", done.stderr
    assert done.returncode == 130


def test_the_console_script_still_runs_the_command():
    done = console_script("no.such.module", "--version")
    assert done.returncode == 0 and done.stdout.startswith("arbot "), done
