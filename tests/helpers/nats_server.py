"""A real ``nats-server`` (Debian's package) on 127.0.0.1 for tests: start, stop, restart on the same port.

::

    server = NatsServer(tmp_path / "nats")          # JetStream on, its store in that directory
    server.start()
    url = server.url                                # nats://127.0.0.1:PORT, the same after restart()
    server.stop()                                   # a partition: clients see it gone
    server.start()                                  # back, with the JetStream store kept
    server.close()                                  # at teardown (also stop())

``user``/``password``, ``token`` or ``nkey`` (a user's public NKey, ``U...``; written to a config file, the
only way nats-server takes one) make the server require them. ``.ci/run`` installs the package.

:func:`fleet_plugin_path` lets an ``arbot`` subprocess find the ``fleet`` plugin in a venv installed
before the plugin's entry point existed: put it on the subprocess's ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def nats_server_binary() -> str:
    """The ``nats-server`` executable; a clear error (how to install it) when there is none."""
    found = shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError("nats-server is not installed: apt-get install nats-server (.ci/run does it)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server process at a time on a fixed port, its JetStream store kept across restarts."""

    def __init__(self, store_dir: Path, *, jetstream: bool = True, user: str = "", password: str = "",
                 token: str = "", nkey: str = "", port: int | None = None):
        self.store_dir = Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.jetstream = jetstream
        self.user, self.password, self.token, self.nkey = user, password, token, nkey
        self.port = port or free_port()
        self.log_path = self.store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT`` (no credentials in it)."""
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-l", str(self.log_path)]
        if self.jetstream:
            cmd += ["-js", "-sd", str(self.store_dir / "jetstream")]
        if self.user:
            cmd += ["--user", self.user, "--pass", self.password]
        elif self.token:
            cmd += ["--auth", self.token]
        elif self.nkey:
            conf = self.store_dir / "nkey.conf"
            conf.write_text(f'authorization {{ users = [ {{ nkey: "{self.nkey}" }} ] }}\n')
            cmd += ["-c", str(conf)]
        return cmd

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start it and wait until it accepts connections (JetStream ready when it logs so)."""
        if self.running:
            return
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nats-server did not listen on {self.port} within {timeout_s} s: "
                                       f"{self.log_tail()}") from None
                time.sleep(0.02)  # another process: nothing to wait on but its port

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop it (SIGTERM, then SIGKILL): its clients lose their connection."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash or a pulled cable would."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fleet_plugin_path(where: Path) -> Path:
    """A directory holding a distribution that declares the ``fleet`` entry point (``plugins.fleet``).

    On an ``arbot`` subprocess's ``PYTHONPATH`` (after the repository), the plugin is found even by a venv
    installed before pyproject.toml listed it; when the installed metadata lists it too, it is loaded once.
    """
    dist = Path(where) / "arbot_fleet_under_test-0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: arbot-fleet-under-test\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[arbot]\nfleet = plugins.fleet\n")
    return Path(where)
