"""The console in a real `arbot run`: the port it logs answers, a pause through it holds, SIGTERM stops it all.

When this checkout's ``web`` entry point is not installed in the interpreter running the tests, a
throwaway ``.dist-info`` on the subprocess's path declares it, so ``arbot`` finds the plugin exactly
as an installed one (through the ``arbot`` entry-point group).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.processes import arbot, wait_until

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "process-test-token-0123456789"

CONFIG = """
[bot]
data_dir = "{data_dir}"
control_socket = ""
[exchanges.paper]
tick_interval_ms = 50
[strategies.g]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 11
order_size = "0.01"
[plugins.web]
enabled = true
port = 0
users = {{ ops = {{ role = "operator", token = "env:ARBOT_WEB_PROCESS_TOKEN" }} }}
"""


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    if not importlib.metadata.entry_points(group="arbot", name="web"):
        info = tmp_path / "entry" / "arbot_web_checkout-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: arbot-web-checkout\nVersion: 0\n")
        (info / "entry_points.txt").write_text("[arbot]\nweb = plugins.web\n")
        paths.append(str(info.parent))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "ARBOT_WEB_PROCESS_TOKEN": TOKEN,
            "NO_COLOR": "1"}


def call(url: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_arbot_run_serves_the_console_on_the_port_it_logs(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path))
    log = tmp_path / "out.log"
    env = subprocess_env(tmp_path)
    with log.open("w") as out:
        proc = subprocess.Popen(arbot("run", "--config", str(config)), cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    try:
        assert wait_until(lambda: "web console on http://" in log.read_text(), 60), log.read_text()
        [port] = re.findall(r"web console on http://127\.0\.0\.1:(\d+)", log.read_text())
        base = f"http://127.0.0.1:{port}/api/v1"
        status, body = call(f"{base}/status")
        assert status == 200 and body["user"] == {"name": "ops", "role": "operator"}
        assert [s["name"] for s in body["strategies"]] == ["g"]
        status, body = call(f"{base}/strategies/g/pause", "POST")
        assert status == 200 and body["state"] == "paused by web:ops"
        status, body = call(f"{base}/kill", "POST")
        assert status == 403 and "needs the admin role" in body["error"]
        assert TOKEN not in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_help_does_not_import_the_web_server(tmp_path: Path):
    code = ("import sys\nfrom bot.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'plugins.web' in sys.modules, 'the web plugin was not registered'\n"
            "print('AIOHTTP' if 'aiohttp' in sys.modules else 'LIGHT')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=subprocess_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "web-token" in out.stdout and out.stdout.strip().endswith("LIGHT")
