"""A real PostgreSQL server that stops answering: every process of the server of ``ARBOT_TEST_DB_URL`` stopped with
SIGSTOP (the postmaster first, so it forks no new backend, then each of its children: PostgreSQL puts each backend in
a session of its own, so stopping the postmaster's process group alone would leave the open connections answering),
and continued with SIGCONT.

The server is continued on leaving the ``with`` block, and by a timer after ``max_s`` whatever the test does: a loop
that a read on its thread holds could never leave the block itself, and the test would hang instead of failing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def server_processes(engine: Engine) -> list[int]:
    """The postmaster of ``engine``'s server (on this machine), then each of its children."""
    with engine.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    postmaster = _parent(backend)
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _parent(int(entry.name)) == postmaster:
                    children.append(int(entry.name))
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    if os.getpid() in (postmaster, *children):
        raise RuntimeError("the test process is the server's: not stopping it")
    return [postmaster, *children]


class StoppedServer:
    """The server while it is stopped: :meth:`resume` continues it (once)."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self._lock = threading.Lock()
        self.stopped = False

    def stop(self) -> None:
        with self._lock:
            for pid in self.pids:
                _signal(pid, signal.SIGSTOP)
            self.stopped = True

    def resume(self) -> None:
        with self._lock:
            if not self.stopped:
                return
            for pid in reversed(self.pids):
                _signal(pid, signal.SIGCONT)
            self.stopped = False


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # a backend that ended meanwhile
        pass


@contextmanager
def stopped_server(engine: Engine, max_s: float = 4.0) -> Iterator[StoppedServer]:
    """Stop the PostgreSQL server ``engine`` talks to for the block (``max_s`` at most, then it is continued)."""
    server = StoppedServer(server_processes(engine))
    timer = threading.Timer(max_s, server.resume)
    timer.daemon = True
    server.stop()
    timer.start()
    try:
        yield server
    finally:
        timer.cancel()
        server.resume()
