"""A new user's first hour with arbot, as README.md and docs/*.md tell it: what broke on the way, held fixed.

Each test is one step a trader takes after `git clone` (a config copied from config.example.toml and edited, the
web console's token pasted in, a backtest stopped with Ctrl-C, ...) and checks that arbot does what the docs say,
in real subprocesses where the terminal matters (signals, exit codes, the last line printed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.processes import arbot as arbot_command
from tests.helpers.processes import wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def arbot(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``arbot ARGS`` from ``cwd``, with this checkout's code."""
    return subprocess.run(arbot_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})


def ctrl_c(args: list[str], cwd: Path, ready: Path, timeout_s: float = 60) -> tuple[int, str, str, float]:
    """Start ``arbot ARGS`` in a session of its own, wait until ``ready`` exists, then press Ctrl-C: SIGINT to the
    whole process group, as a terminal sends it. Returns the exit status, stdout, stderr and how long it took to
    exit after the signal. SIGINT is reset to its default in the child (a test run in the background inherits it
    ignored, and Python would then never raise KeyboardInterrupt)."""
    process = subprocess.Popen(arbot_command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, env={**os.environ, "NO_COLOR": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_until(ready.exists, timeout_s), f"{ready} never appeared"
        time.sleep(0.5)  # well inside the run
        pressed = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=timeout_s)
        return process.returncode, out, err, time.monotonic() - pressed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def test_ctrl_c_during_a_backtest_ends_with_one_clear_line_and_exit_130_leaving_nothing_in_out(tmp_path):
    """The README: "A run that stops leaves nothing half-written in --out". Before, Ctrl-C ended `arbot backtest`
    with a 30-line asyncio traceback ending in KeyboardInterrupt, killed by the signal (status -2)."""
    (tmp_path / "bt").mkdir()
    (tmp_path / "bt" / "notes.txt").write_text("mine")  # what --out held before stays
    status, out, err, _ = ctrl_c(["backtest", "--steps", "5000000", "--out", "bt"], tmp_path,
                                 ready=tmp_path / "bt" / "backtest.db")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert status == 130, (status, err[-3000:])
    assert err.strip().splitlines()[-1] == ("arbot backtest: interrupted (Ctrl-C): no report written; nothing of "
                                            "this run is left in bt"), err
    assert sorted(p.name for p in (tmp_path / "bt").iterdir()) == ["notes.txt"]
    assert out == ""


def test_ctrl_c_during_a_sweep_stops_every_combination_at_once_and_leaves_no_run_directory(tmp_path):
    """Before: a traceback from concurrent.futures, and the combinations already queued to the workers played on
    to their end first (21.8 s after Ctrl-C here, for 3 combinations on 2 processes; a long sweep: its length)."""
    status, out, err, after_s = ctrl_c(
        ["backtest", "--steps", "5000000", "--out", "sw", "--workers", "2", "--sweep", "min_edge_bps=5,10,20"],
        tmp_path, ready=tmp_path / "sw" / "run-001" / "backtest.db")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert status == 130, (status, err[-3000:])
    assert err.strip().splitlines()[-1] == ("arbot backtest: interrupted (Ctrl-C): no sweep table written; nothing "
                                            "of this run is left in sw"), err
    assert after_s < 10, after_s
    assert not (tmp_path / "sw").exists()
    assert out == ""


def test_ctrl_c_in_any_other_command_is_one_line_and_exit_130(monkeypatch, capsys):
    """`arbot report` on a large store, `arbot db upgrade`, a plugin's command: Ctrl-C before ended each with
    Python's KeyboardInterrupt traceback; now one line naming the command, and 130 as a shell gives it."""
    from bot import cli

    def slow_report(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_report", slow_report)
    assert cli.main(["report"]) == 130
    err = capsys.readouterr().err
    assert err == "arbot report: interrupted (Ctrl-C)\n", err


def test_record_takes_its_duration_as_run_does():
    """`arbot run --for 60s` works, so a user writes `arbot record ... --for 10m`; before, that was "argument --for:
    invalid float value: '10m'". Plain seconds (the README's `--for 600`) still work."""
    from bot.cli import build_parser

    def seconds(value: str) -> float:
        args = build_parser().parse_args(["record", "--exchange", "kraken", "--symbol", "BTC/USD", "--out", "x.jsonl",
                                          "--for", value])
        return float(args.seconds)

    assert seconds("10m") == 600 and seconds("600") == 600 and seconds("90s") == 90 and seconds("1.5h") == 5400


def test_a_sqlite_store_in_a_directory_that_does_not_exist_is_a_config_error_naming_db_url_and_the_fix(tmp_path):
    """Before, check-config said OK and `arbot run` ended with "store sqlite:///sub/arbot.db: cannot open the schema:
    unable to open database file": no key, no fix. data_dir itself is made at start, so a store directly in it
    (the default), or in a data_dir that does not exist yet, is fine."""
    (tmp_path / "c.toml").write_text('[bot]\ndb_url = "sqlite:///sub/arbot.db"\n')
    out = arbot("check-config", "c.toml", cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert (f"  - bot.db_url: the directory of the SQLite store, {tmp_path / 'sub'}, does not exist: create it "
            f"(mkdir -p {tmp_path / 'sub'}) or change db_url") in out.stderr, out.stderr
    (tmp_path / "ok.toml").write_text('[bot]\ndata_dir = "new/dir"\n')
    out = arbot("check-config", "ok.toml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_check_config_without_a_file_says_how_in_one_clean_line(tmp_path):
    """Before: "arbot: arbot check-config: give the config file, ..." (the prefix twice)."""
    env = {k: v for k, v in os.environ.items() if k != "ARBOT_CONFIG"}
    out = subprocess.run(arbot_command("check-config"), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.returncode == 2
    assert out.stderr == ("arbot: check-config needs a config file: `arbot check-config FILE` (`arbot init FILE` "
                          "writes one), or set ARBOT_CONFIG to its path.\n"), out.stderr


def test_backtest_out_naming_a_file_is_an_argument_error_not_a_traceback(tmp_path):
    """The README: exit 2 for bad arguments, each named. Before: "arbot: failed: FileExistsError" and a traceback
    from pathlib, exit 1."""
    (tmp_path / "notes.md").write_text("mine")
    for out_dir in ("notes.md", "notes.md/run-1"):
        for sweep in ([], ["--sweep", "min_edge_bps=5,10"]):
            out = arbot("backtest", "--steps", "100", "--out", out_dir, *sweep, cwd=tmp_path)
            assert "Traceback" not in out.stderr, out.stderr
            assert out.returncode == 2, out.stderr
            assert out.stderr == (f"arbot: --out {out_dir}: notes.md is a file: name a directory for the report "
                                  "(default: backtest-report)\n"), out.stderr
            assert (tmp_path / "notes.md").read_text() == "mine"


def test_ctrl_c_while_arbot_starts_up_is_one_line_and_exit_130(monkeypatch, capsys):
    """Ctrl-C in the first half second of `arbot run` (plugins loading, before any command runs) printed a
    40-line import traceback ending in KeyboardInterrupt."""
    from bot import cli

    def loading(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_plugins", loading)
    assert cli.main(["run"]) == 130
    assert capsys.readouterr().err == "arbot: interrupted (Ctrl-C)\n"


def test_a_ctrl_c_after_the_command_finished_leaves_its_exit_status(tmp_path):
    """Ctrl-C pressed twice on `arbot run`: the first stops the bot cleanly ("arbot stopped"), the second lands in the
    half second the interpreter takes to exit after `main()` returned, and the process died by SIGINT (130 in the
    shell, no message) although everything had stopped cleanly. Here the second press is sent right after `main()`
    returns, as the program `arbot` runs it (no argv: in-process callers keep their own signal handling)."""
    code = (f"import os, signal, sys, time; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['arbot', 'plugins']; "
            "from bot.cli import main; status = main(); os.kill(os.getpid(), signal.SIGINT); time.sleep(0.3); "
            "sys.exit(status)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert "KeyboardInterrupt" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == 0, out.returncode


def test_a_misspelt_sweep_key_gets_a_did_you_mean(tmp_path):
    """The README: unknown keys get a did-you-mean. `--sweep min_edge=5,10` said only "no configured strategy has this
    setting"."""
    out = arbot("backtest", "--config", str(ROOT / "config.example.toml"), "--sweep", "min_edge=5,10", "--out", "sw",
                cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert ('  - sweep.min_edge: no configured strategy has this setting; did you mean "min_edge_bps"? Else name its '
            "path (e.g. strategies.NAME.min_edge_bps or exchanges.NAME.fee_bps)") in out.stderr, out.stderr
    assert not (tmp_path / "sw").exists()
