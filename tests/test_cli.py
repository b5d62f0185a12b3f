"""The `arbot` command as a user meets it: real subprocesses, clear errors, no tracebacks."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.cli import build_parser
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.processes import arbot as arbot_command
from tests.helpers.processes import run_until
from tests.helpers.risk_kit import plugin as kit_plugin

ROOT = Path(__file__).resolve().parent.parent

def arbot(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``arbot ARGS`` run from ``cwd`` with this checkout's code (``-m bot.cli`` from another directory would
    import the copy the shared environment installed)."""
    return subprocess.run(arbot_command(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})

def test_check_config_accepts_the_example(tmp_path):
    out = arbot("check-config", str(ROOT / "config.example.toml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "OK (mode paper" in out.stdout

@pytest.mark.parametrize("text, expected", [
    ('mode = "paper\n', "not valid TOML"),
    ('[strategies.g]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\nlower = 1\nupper = 2\n'
     'levels = "ten"\norder_size = "0.1"\n[exchanges.paper]\n',
     'strategies.g.levels: expected an integer >= 2 and <= 1000, got "ten"'),
    ('[exchanges.paper]\nvolatility_bps = "-1"\n', "exchanges.paper.volatility_bps: expected a decimal number >= 0"),
    ('[exchanges.paper]\nseeed = 1\n', 'exchanges.paper.seeed: unknown key; did you mean "seed"?'),
    ('[strategies.g]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\nlower = 2\nupper = 1\n'
     'levels = 3\norder_size = "0.1"\n[exchanges.paper]\n', "strategies.g.upper: must be greater than lower"),
])
def test_bad_config_is_one_clear_paragraph(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = arbot("check-config", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert expected in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""

def test_run_refuses_live_mode_without_the_flag(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('mode = "live"\n[exchanges.paper]\n')
    out = arbot("run", "--config", str(path), "--for", "1s", cwd=tmp_path)
    assert out.returncode == 2 and "arbot run --live" in out.stderr and "Traceback" not in out.stderr
    path.write_text('mode = "paper"\n[exchanges.paper]\n')
    out = arbot("run", "--config", str(path), "--live", "--for", "1s", cwd=tmp_path)
    assert out.returncode == 2 and 'config says mode = "paper"' in out.stderr

def test_plugins_lists_first_party_plugins_with_their_distribution(tmp_path):
    out = arbot("plugins", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    assert {"paper", "grid", "limits", "console", "arbot"} <= set(lines)
    assert "exchange:paper" in lines["paper"] and "arbot 0.1.0" in lines["paper"]
    assert "strategy:grid" in lines["grid"]

def test_ctl_without_a_running_bot_says_so(tmp_path):
    out = arbot("ctl", "status", cwd=tmp_path)
    assert out.returncode == 2 and "No running arbot answers" in out.stderr

async def test_ctl_confirms_a_command_that_asks_with_yes_or_at_a_terminal_prompt(make_bot, tmp_path, monkeypatch,
                                                                                capsys):
    """`arbot ctl kill` shows the question; `--yes` or a "y" at the terminal's prompt confirms it; anything else
    (no terminal, "n") leaves it undone and exits 1, so a script never takes an unconfirmed kill for done."""
    bot = await make_bot("[exchanges.v]\ntype = \"scripted\"\n[strategies.s]\ntype = \"recorder\"\n",
                         extra=[("venue", venue_plugin), ("kit", kit_plugin)], control_socket="arbot.sock")
    config = tmp_path / "ctl.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "arbot.sock"\n')

    async def ctl(*argv: str, typed: str | None = None) -> tuple[int, str]:
        """``arbot ctl ARGV``; ``typed``: what the person at the terminal answers (None: no terminal)."""
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: typed is not None))
        monkeypatch.setattr("builtins.input", lambda prompt: typed)
        args = build_parser().parse_args(["ctl", "--config", str(config), *argv])
        status = await asyncio.to_thread(args.func, args)  # it runs its own event loop
        return status, capsys.readouterr().out

    status, out = await ctl("kill", "from", "a", "script")
    assert status == 1 and out.startswith("Kill switch: pause 1 strategy and") and "Not confirmed" in out
    assert (await ctl("kill", typed="n"))[0] == 1 and not bot.killed("s")
    status, out = await ctl("kill", typed="y")
    assert status == 0 and "Kill switch: 1 strategy paused," in out and bot.killed("s")
    status, out = await ctl("--yes", "resume")  # after a kill, resume asks first too
    assert status == 0 and "Resume s after the kill switch?" in out and "Resumed: s." in out and not bot.killed("s")

@pytest.mark.slow
def test_default_run_for_60s_completes_a_grid_round_trip(tmp_path):
    """The README's run command with --for 60s: at least one grid buy and its sell filled within the minute, then `arbot
    report`. The run is stopped with Ctrl-C once both are stored (the README's clean stop; a run that ends by its
    own ``--for`` is tests/test_console_output.py's), so the test takes as long as the round trip, not the minute."""
    db = tmp_path / "arbot.db"

    def sides() -> dict:
        if not db.exists():
            return {}
        con = sqlite3.connect(db, timeout=5)
        try:
            return dict(con.execute("select side, count(*) from fills where strategy = ? group by side",
                                    ("btc-grid",)).fetchall())
        except sqlite3.OperationalError:  # the schema not written yet
            return {}
        finally:
            con.close()

    def round_trip() -> bool:
        fills = sides()
        return fills.get("buy", 0) >= 1 and fills.get("sell", 0) >= 1

    log = tmp_path / "run.log"
    status = run_until(arbot_command("run", "--for", "60s"), log, round_trip, cwd=tmp_path,
                       env={**os.environ, "NO_COLOR": "1"}, timeout_s=120)
    assert status == 0, log.read_text()[-3000:]
    fills = sides()
    assert fills.get("buy", 0) >= 1 and fills.get("sell", 0) >= 1, fills
    report = arbot("report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    row = next(line for line in report.stdout.splitlines() if line.startswith("btc-grid"))
    assert "USD" in row and int(row.split()[4]) >= 1  # round trips column


def test_a_failure_nothing_handled_exits_with_its_traceback_masked(tmp_path, monkeypatch, capsys):
    """What no handler took (here a venue refusing to cancel an unknown order at `--cancel-unknown`, its error
    quoting the request with its key, as a ccxt error quotes its URL) ends `arbot` with its traceback on stderr,
    every known secret masked, not with Python's own print of it at exit."""
    import logging

    from bot import cli, hookimpl
    from bot.api import PermanentError
    from bot.domain import OrderState, OrderStatus
    from bot.plugins import load_plugins
    from tests.fakes.venue import ScriptedVenue
    from tests.helpers import secret_kit

    class StrangerVenue(ScriptedVenue):
        """Lists an order under strategy s's prefix that the store has never seen, and refuses to cancel it."""

        async def open_orders(self, symbol=None):
            return [OrderState("s-stranger", OrderStatus.OPEN, exchange_order_id="X1")]

        async def cancel_order(self, symbol, client_order_id):
            raise PermanentError(secret_kit.REFUSAL)

    class StrangerPlugin:
        @hookimpl
        def register_exchanges(self, register):
            register("stranger", StrangerVenue)

    secret_kit.know_the_key(monkeypatch)
    monkeypatch.setattr(cli, "load_plugins", lambda **kw: load_plugins(
        **kw, extra=[("secret-kit", secret_kit.plugin), ("stranger", StrangerPlugin())]))
    config = tmp_path / "c.toml"
    config.write_text(f'mode = "paper"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n'
                      + secret_kit.TOML.replace('type = "leaky"', 'type = "stranger"'))
    root = logging.getLogger()
    handlers, level, umask = list(root.handlers), root.level, os.umask(0o077)
    try:
        status = cli.main(["run", "--config", str(config), "--cancel-unknown", "--for", "5s"])
    finally:
        root.handlers[:] = handlers  # cli.main put a handler writing to capsys's stream on the root logger
        root.setLevel(level)
        os.umask(umask)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" in err and "PermanentError" in err and secret_kit.MASKED in err, err
    assert secret_kit.KEY not in err


def test_output_piped_to_a_reader_that_stops_early_ends_quietly(tmp_path):
    """``arbot plugins | head -1``: the reader closes the pipe before arbot writes; before, Python's
    BrokenPipeError traceback came out on stderr."""
    from tests.helpers.processes import arbot as command_line

    read, write = os.pipe()
    os.close(read)  # the reader is gone before a line is written
    try:
        done = subprocess.run(command_line("plugins"), stdout=write, stderr=subprocess.PIPE, cwd=tmp_path,
                              text=True, timeout=60)
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # what a program killed by SIGPIPE gives its shell (128 + 13)

def with_stdout_closed(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``arbot ARGS >&-``: standard output closed (a cron line or a unit that closed it)."""
    return subprocess.run(["/bin/sh", "-c", 'exec "$@" >&-', "sh", *args], stderr=subprocess.PIPE, cwd=cwd,
                          text=True, timeout=60)


@pytest.mark.parametrize("command", [("plugins",), ("report",), ("check-config",)])
def test_a_command_with_its_output_closed_says_so_without_a_traceback(tmp_path, command):
    """Before: the output was dropped without a word, then ``AttributeError: 'NoneType' object has no attribute
    'flush'`` and its traceback, exit 1."""
    config = tmp_path / "arbot.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n[exchanges.paper]\n')
    if command == ("report",):
        from bot.store import Store

        Store(f"sqlite:///{tmp_path}/arbot.db").open().close()
    done = with_stdout_closed(arbot_command(*command, *(("--config",) if command[0] != "check-config" else ()),
                                            str(config)), tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "standard output is closed" in done.stderr, done.stderr


def test_run_with_its_output_closed_runs_and_stops_cleanly(tmp_path):
    """`arbot run` writes nothing it needs to standard output: it runs, and no file it opens takes descriptor 1 (where
    a stray write, a child process's output, would land in the store)."""
    config = tmp_path / "arbot.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n[exchanges.paper]\n'
                      '[notifiers.console]\n')
    probe = tmp_path / "probe.py"
    probe.write_text("import os, atexit\n"
                     "atexit.register(lambda: print('FD1', os.readlink('/proc/self/fd/1'), file=__import__('sys')"
                     ".stderr))\n")
    done = with_stdout_closed([sys.executable, "-c", f"exec(open({str(probe)!r}).read()); "
                               + arbot_command("run")[2], "run", "--config", str(config), "--for", "1s"], tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "FD1 /dev/null" in done.stderr, done.stderr[-3000:]


async def test_ctl_says_so_when_the_bot_does_not_answer_in_time(tmp_path, monkeypatch):
    """A bot busy past the client's wait (a slow command, a stalled loop): a sentence saying the command may still
    run, exit 2, never a traceback of asyncio's TimeoutError."""
    from bot.errors import UserError

    connected, release = asyncio.Event(), asyncio.Event()

    async def never_answers(reader, writer):
        connected.set()
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_unix_server(never_answers, path=str(tmp_path / "arbot.sock"))
    config = tmp_path / "ctl.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "arbot.sock"\n')
    monkeypatch.setattr("bot.control.CTL_TIMEOUT_S", 0.5, raising=False)
    args = build_parser().parse_args(["ctl", "--config", str(config), "kill"])
    try:
        with pytest.raises(UserError, match=r"no answer within 0\.5 s: /kill may still run"):
            await asyncio.wait_for(asyncio.to_thread(args.func, args), 30)
        assert connected.is_set()
    finally:
        release.set()
        server.close()
        await server.wait_closed()

async def test_ctl_with_a_request_too_long_for_the_socket_says_so(make_bot, tmp_path):
    """The control socket reads one line of at most 4 KiB: a longer one (a long kill reason) is refused with a
    sentence naming the limit, and the bot runs on; never a JSONDecodeError traceback in the client."""
    from bot.errors import UserError

    bot = await make_bot("[exchanges.v]\ntype = \"scripted\"\n[strategies.s]\ntype = \"recorder\"\n",
                         extra=[("venue", venue_plugin), ("kit", kit_plugin)], control_socket="arbot.sock")
    config = tmp_path / "ctl.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "arbot.sock"\n')
    args = build_parser().parse_args(["ctl", "--config", str(config), "--yes", "kill", "x" * 5000])
    with pytest.raises(UserError, match="4096 bytes"):
        await asyncio.to_thread(args.func, args)
    assert not bot.killed("s")
    reader, writer = await asyncio.open_unix_connection(str(tmp_path / "arbot.sock"))  # another client's long line
    writer.write(b'{"command": "kill", "args": ["' + b"x" * 5000 + b'"]}\n')
    answer = json.loads(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    assert answer == {"ok": False, "text": "bad request: longer than 4096 bytes"} and not bot.killed("s")
    args = build_parser().parse_args(["ctl", "--config", str(config), "status"])
    assert await asyncio.to_thread(args.func, args) == 0  # it still answers

async def test_ctl_shows_control_characters_in_an_answer_escaped(tmp_path, capsys):
    """An answer may quote what others wrote (a failed strategy's exception quoting a venue's body): an escape
    sequence in it is printed escaped, never sent to the terminal; its lines stay lines."""
    async def answers(reader, writer):
        await reader.readline()
        writer.write(json.dumps({"ok": True, "text": "Status\nsol-arb  failed (\x1b[2J\x1b]0;x\x07boom\r)"}).encode()
                     + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answers, path=str(tmp_path / "arbot.sock"))
    config = tmp_path / "ctl.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "arbot.sock"\n')
    args = build_parser().parse_args(["ctl", "--config", str(config), "status"])
    try:
        assert await asyncio.to_thread(args.func, args) == 0
    finally:
        server.close()
        await server.wait_closed()
    assert capsys.readouterr().out == "Status\nsol-arb  failed (\\x1b[2J\\x1b]0;x\\x07boom\\r)\n"


@pytest.mark.parametrize("error", ["UserError", "ConfigError"])
def test_an_error_for_the_user_is_printed_with_known_secrets_masked(monkeypatch, capsys, error):
    """Every way ``arbot`` ends on stderr masks what it knows, not only the traceback of a failure nothing handled:
    a UserError or ConfigError quoting a value (a URL, a venue's answer) may hold a key."""
    from bot import cli
    from bot.errors import UserError
    from bot.settings import ConfigError, ConfigIssue
    from tests.helpers import secret_kit

    secret_kit.know_the_key(monkeypatch)
    text = f"the venue refused the key {secret_kit.KEY}"

    def refuse(args):
        raise UserError(text) if error == "UserError" else ConfigError([ConfigIssue("exchanges.v.key", text)])

    monkeypatch.setattr(cli, "cmd_plugins", refuse)
    assert cli.main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert secret_kit.KEY not in err and "refused the key ***" in err, err



@pytest.mark.parametrize("argv", [("db", "current"), ("report",)])
def test_a_reading_command_refuses_a_store_that_is_not_there_and_creates_none(argv, tmp_path):
    """`arbot db current` / `arbot report` on a mistyped path (or with the config read from another directory)
    answered "empty" / "No orders stored yet." with exit 0 and left a new store file there."""
    missing = tmp_path / "arbot-typo.db"
    out = arbot(*argv, "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"no store at {missing}" in out.stderr and "data_dir" in out.stderr and "Traceback" not in out.stderr
    assert not missing.exists()
    relative = arbot(*argv, "--db", "sqlite:///arbot-typo.db", cwd=tmp_path)  # relative to where it runs
    assert relative.returncode == 2 and f"no store at {missing}" in relative.stderr  # named where it was looked for
    assert list(tmp_path.iterdir()) == []


def test_ctl_names_a_bot_that_does_not_answer_and_a_socket_it_may_not_open(tmp_path, monkeypatch, capsys):
    """A bot whose loop is blocked (or stopped with SIGSTOP) accepts the connection and never answers: `arbot ctl`
    ended with a TimeoutError traceback; a socket of another user ended with a PermissionError one. Each is now
    one line naming the cause and the way out, exit 2."""
    import socket
    import threading

    from bot import cli

    config = tmp_path / "c.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "ctl.sock"\n')
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "ctl.sock"))
    server.listen()
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()  # accepts, never answers
    monkeypatch.setattr("bot.control.CTL_TIMEOUT_S", 0.5)
    try:
        assert cli.main(["ctl", "--config", str(config), "status"]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert "sent no answer within 0.5 s" in err and "arbot ctl status" in err and "Traceback" not in err, err
    finally:
        for connection, _ in held:
            connection.close()
        server.close()

    async def refused(*args, **kwargs):  # what connecting to a socket of mode 0600 does for another user (not root)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("bot.control.send_command", refused)
    assert cli.main(["ctl", "--config", str(config), "status"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "permission denied" in err and "bot's user" in err and "Traceback" not in err, err


def test_check_config_reads_arbot_config_when_no_file_is_given(tmp_path):
    """`arbot check-config` with no file checks the config `$ARBOT_CONFIG` names, as every other command reads it;
    with neither it says what to give."""
    path = tmp_path / "bad.toml"
    path.write_text('[exchanges.paper]\nseeed = 1\n')
    out = arbot("check-config", cwd=tmp_path, env={"ARBOT_CONFIG": str(path)})
    assert out.returncode == 2 and 'exchanges.paper.seeed: unknown key' in out.stderr, out.stderr
    path.write_text('[exchanges.paper]\n')
    out = arbot("check-config", cwd=tmp_path, env={"ARBOT_CONFIG": str(path)})
    assert out.returncode == 0 and f"{path}: OK" in out.stdout, out.stderr
    env = {k: v for k, v in os.environ.items() if k != "ARBOT_CONFIG"}
    out = subprocess.run(arbot_command("check-config"), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.returncode == 2 and "ARBOT_CONFIG" in out.stderr and "Traceback" not in out.stderr


async def test_ctl_unknown_command_names_arbot_ctl_help_not_the_chat_wording(make_bot, tmp_path, capsys):
    """On the command line the list of commands is `arbot ctl help`; "Send /help" is chat wording."""
    from bot.errors import UserError

    await make_bot("[exchanges.v]\ntype = \"scripted\"\n[strategies.s]\ntype = \"recorder\"\n",
                   extra=[("venue", venue_plugin), ("kit", kit_plugin)], control_socket="arbot.sock")
    config = tmp_path / "ctl.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = "arbot.sock"\n')
    args = build_parser().parse_args(["ctl", "--config", str(config), "nosuch"])
    try:
        status = await asyncio.to_thread(args.func, args)
        text = capsys.readouterr().out
    except UserError as exc:
        status, text = 1, str(exc)
    assert status != 0 and "arbot ctl help" in text and "/help" not in text and "nosuch" in text, text


def test_report_leaves_an_older_store_as_it_is_and_names_the_upgrade(tmp_path, capsys):
    """A report is a read: before, `arbot report` upgraded a store of an older revision, and an upgrade past 0007 gives
    every row stored before bots had names to the bot upgrading, here the report's config (a laptop's host name):
    the bot that owned them then found no history of its own."""
    from bot import cli
    from bot.store import Store, migrate
    from tests.test_store import make_old_db

    url = f"sqlite:///{tmp_path}/arbot.db"
    make_old_db(url)
    config = tmp_path / "laptop.toml"
    config.write_text(f'[bot]\nname = "laptop"\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n')
    assert cli.main(["report", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "older than this arbot" in err and "arbot db upgrade" in err and "Traceback" not in err, err
    store = Store(url)
    try:
        assert migrate.current(store) is None  # still as the builds before migrations left it
    finally:
        store.close()
    assert cli.main(["db", "upgrade", "--config", str(config)]) == 0  # what the message names: then it reports
    assert cli.main(["report", "--config", str(config)]) == 0
    assert "btc-grid" in capsys.readouterr().out


@pytest.mark.parametrize("command", [("ctl", "status"), ("report",)])
def test_a_relative_data_dir_is_named_with_the_directory_it_was_taken_in(tmp_path, monkeypatch, capsys, command):
    """`arbot ctl -c /etc/arbot/arbot.toml status` from the home directory, the config leaving data_dir "." (the
    directory arbot runs in): before, "No running arbot answers on arbot.sock" and "no store at arbot.db", naming no
    directory at all."""
    from bot import cli

    (tmp_path / "etc").mkdir()
    config = tmp_path / "etc" / "arbot.toml"
    config.write_text('[bot]\nname = "x"\n')
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    assert cli.main([command[0], "--config", str(config), *command[1:]]) == 2
    err = capsys.readouterr().err
    file = "arbot.sock" if command[0] == "ctl" else "arbot.db"
    assert f"{home / file}" in err, err
    assert f'[bot] data_dir "." is relative to the current directory ({home})' in err, err
