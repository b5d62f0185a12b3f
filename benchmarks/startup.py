"""Start-up cost of the ``arbot`` command: wall time and peak RSS, next to ``python -c pass``.

Each command runs in a fresh process, the way a user runs it, from an empty temporary directory
(so ``arbot run`` starts from empty venue and store files):

* ``arbot --help``, ``arbot plugins``, ``arbot check-config bot/default.toml``: ``--runs`` times
  each, the median wall time and the largest peak RSS are shown;
* ``arbot run --for 20s`` on the embedded default (the demo): once, its peak RSS (the wall time is
  the 20 s it was asked to run, plus start and stop).

Each ``arbot`` command runs what the console script runs (the entry point pyproject.toml names). Baseline, in the
same run: ``python -c pass`` with the same interpreter (``--runs`` times), so the
share of the interpreter itself is visible. Peak RSS is the child's own ``ru_maxrss`` from
``os.wait4``, its CPU time (user + system) from the same call. The targets (issue 13): ``--help`` <= 0.3 s and
<= 45 MB, ``run`` <= 75 MB; the time target is judged on CPU time, which a machine busy with other work does not
stretch as it stretches the wall time (both are shown).

    python benchmarks/startup.py [--runs 5] [--run-for 20s]

Ends with one ``RESULT startup key=value ...`` line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def script_command() -> tuple[str, str]:
    """``python -c CODE`` arguments running what the ``arbot`` console script runs: the entry point that
    pyproject.toml's ``[project.scripts]`` names (``module:function``), its return value the exit status."""
    target = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["arbot"]
    module, _, function = target.partition(":")
    return "-c", f"import sys; from {module} import {function}; sys.exit({function}())"


ARBOT = script_command()


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Run ``argv`` once: (wall seconds, CPU seconds (user + system), peak RSS in MB, exit status)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ARBOT_CONFIG", None)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def repeat(argv: list[str], runs: int, cwd: Path) -> tuple[float, float, float]:
    """Median wall and CPU times and largest peak RSS over ``runs`` runs; a failing command stops the benchmark."""
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        wall, cpu, peak, code = measure(argv, cwd)
        if code != 0:
            sys.exit(f"{' '.join(argv)} exited with {code}")
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each short command (default 5)")
    parser.add_argument("--run-for", default="20s", help='how long `arbot run` runs (default "20s")')
    args = parser.parse_args()
    python = [sys.executable]
    with tempfile.TemporaryDirectory(prefix="arbot-startup-") as tmp:
        cwd = Path(tmp)
        rows = [("python -c pass", *repeat([*python, "-c", "pass"], args.runs, cwd))]
        for label, extra in (("arbot --help", ["--help"]), ("arbot plugins", ["plugins"]),
                             ("arbot check-config", ["check-config", str(ROOT / "bot" / "default.toml")])):
            rows.append((label, *repeat([*python, *ARBOT, *extra], args.runs, cwd)))
        wall, cpu, peak, code = measure([*python, *ARBOT, "run", "--for", args.run_for], cwd)
        if code != 0:
            sys.exit(f"arbot run exited with {code}")
        rows.append((f"arbot run --for {args.run_for}", wall, cpu, peak))

    base_s, base_cpu, base_mb = rows[0][1:]
    print(f"{'command':<24} {'wall s':>8} {'cpu s':>7} {'peak MB':>8}   {'vs python -c pass (cpu, peak)':>30}")
    for label, wall, cpu, peak in rows:
        print(f"{label:<24} {wall:>8.3f} {cpu:>7.3f} {peak:>8.1f}   "
              f"{cpu - base_cpu:>+9.3f} s {peak - base_mb:>+7.1f} MB")
    _, help_s, help_cpu, help_mb = rows[1]
    run_mb = rows[4][3]
    print(f"targets: --help <= 0.3 s of CPU ({'met' if help_cpu <= 0.3 else 'MISSED'}; wall {help_s:.3f} s) and "
          f"<= 45 MB ({'met' if help_mb <= 45 else 'MISSED'}); run <= 75 MB ({'met' if run_mb <= 75 else 'MISSED'})")
    print(f"RESULT startup python_s={base_s:.3f} python_cpu_s={base_cpu:.3f} python_mb={base_mb:.1f} "
          f"help_s={help_s:.3f} help_cpu_s={help_cpu:.3f} help_mb={help_mb:.1f} "
          f"plugins_s={rows[2][1]:.3f} plugins_cpu_s={rows[2][2]:.3f} plugins_mb={rows[2][3]:.1f} "
          f"check_config_s={rows[3][1]:.3f} check_config_cpu_s={rows[3][2]:.3f} check_config_mb={rows[3][3]:.1f} "
          f"run_s={rows[4][1]:.1f} run_mb={run_mb:.1f}")


if __name__ == "__main__":
    main()
