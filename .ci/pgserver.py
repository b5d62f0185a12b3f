"""A throwaway PostgreSQL server for tests and benchmarks: data in a temp folder, 127.0.0.1 only.

    python .ci/pgserver.py start DIR   # prints the server's URL (password auth over TCP)
    python .ci/pgserver.py stop DIR

Uses Debian's binaries (/usr/lib/postgresql/*/bin); as root the server runs as the ``postgres``
user (PostgreSQL refuses to run as root). :func:`start` and :func:`stop` do the same from Python.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

USER = "arbot"
DATABASE = "arbot"


def binaries() -> Path | None:
    """The newest installed PostgreSQL bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], **kwargs) -> None:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, **kwargs)


def start(root: Path, *, durable: bool = False) -> str:
    """initdb into ``root``, start the server on a free port; returns its URL.

    ``durable=False`` (tests) turns fsync off; benchmarks keep PostgreSQL's default (fsync on commit).
    """
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (apt-get install postgresql)")
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    password = secrets.token_hex(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    pwfile.chmod(0o600)
    data = root / "data"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth-local=trust",
          "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
    pwfile.unlink()
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    if not durable:
        options += " -c fsync=off -c full_page_writes=off"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"])
    _run([str(bin_dir / "createdb"), "-h", str(root), "-p", str(port), "-U", USER, DATABASE])
    (root / "port").write_text(str(port))
    return f"postgresql://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"


def stop(root: Path) -> None:
    bin_dir = binaries()
    if bin_dir is not None and (root / "data" / "postmaster.pid").exists():
        _run([str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"])


if __name__ == "__main__":
    action, folder = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(folder))
    else:
        stop(folder)
