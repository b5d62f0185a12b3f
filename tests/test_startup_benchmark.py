"""``benchmarks/startup.py`` measures the ``arbot`` command as its console script runs it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_benchmark():
    spec = importlib.util.spec_from_file_location("startup_benchmark", ROOT / "benchmarks" / "startup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_runs_the_entry_point_of_the_arbot_script(tmp_path):
    """The script enters through ``bot.entry`` (a Ctrl-C during the imports is one line); a benchmark calling
    ``bot.cli.main`` measured another program."""
    module, function = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["arbot"].split(":")
    arbot = load_benchmark().ARBOT
    command = [sys.executable, "-X", "importtime", *arbot, "--version"]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.startswith("arbot "), out.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert module in imported, f"the benchmark's arbot never imported {module}, the script's entry point"
    assert f"from {module} import {function};" in arbot[1]  # and calls its function
