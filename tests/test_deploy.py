"""What ships for deployment: the example config in the package, the wheel, the Dockerfile, the
compose file, the systemd unit and the Prometheus rules, each checked by the tool that owns its format.

The tools (hadolint, systemd-analyze, promtool, docker-compose) are installed by ``.ci/run``; outside
CI a missing one skips its test. No Docker engine runs here, so the image itself is not built.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.processes import arbot as arbot_command

ROOT = Path(__file__).resolve().parent.parent


def arbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(arbot_command(*args), cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def tool(name: str) -> str:
    """The tool's path; in CI a missing tool fails the test, elsewhere it skips it."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run should install it")
        pytest.skip(f"{name} is not installed")
    return path


def test_init_writes_the_example_config_from_the_package(tmp_path):
    out = arbot("init", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    written = tmp_path / "arbot.toml"
    assert written.read_text() == (ROOT / "config.example.toml").read_text()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it will hold secret references
    assert "arbot check-config arbot.toml" in out.stdout
    again = arbot("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr and "Traceback" not in again.stderr
    assert arbot("init", "--force", cwd=tmp_path).returncode == 0
    checked = arbot("check-config", "arbot.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.slow
def test_the_wheel_carries_the_licence_and_the_example_config_and_builds_without_warnings(tmp_path):
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    src = tmp_path / "src"
    for name in files:
        if name.startswith(("bot/", "plugins/", "arbotlib/")) or "/" not in name:
            target = src / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_symlink():
                target.symlink_to(os.readlink(ROOT / name))
            else:
                shutil.copy2(ROOT / name, target)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    warnings = [line for line in (built.stdout + built.stderr).splitlines()
                if re.search(r"Warning|deprecated", line) and "is ignored" not in line]  # pip's local index notes
    assert warnings == []
    (wheel,) = (tmp_path / "dist").glob("arbot-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
        assert z.read("bot/config.example.toml") == (ROOT / "config.example.toml").read_bytes()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert "License-Expression: MIT" in metadata


def test_dockerfile_lints_clean_and_copies_what_the_package_needs():
    out = subprocess.run([tool("hadolint"), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = (ROOT / "Dockerfile").read_text()
    copied = {part for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line
              for part in line.split()[1:-1]}
    for package in ("bot", "plugins", "arbotlib"):
        assert package in copied
    for name in copied:
        assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which does not exist"
    assert re.search(r"^USER \d+:\d+$", text, re.M), "the image runs as a numeric non-root user"
    assert 'VOLUME ["/data"]' in text and "HEALTHCHECK" in text


def test_compose_file_is_valid(tmp_path):
    deploy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", deploy)
    for name in ("arbot.toml", "arbot.env", "pg_password.txt"):  # the files a user creates beside it
        (deploy / name).write_text("")
    for profile in ([], ["--profile", "postgres"]):
        out = subprocess.run([tool("docker-compose"), "-f", str(deploy / "compose.yaml"), *profile, "config",
                              "--services"], capture_output=True, text=True, cwd=deploy)
        assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"bot", "postgres"}


def test_systemd_unit_verifies(tmp_path):
    unit = (ROOT / "deploy" / "arbot.service").read_text()
    assert "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
    local = tmp_path / "arbot.service"  # the unit names /opt/arbot; point it at this venv's arbot to verify
    local.write_text(unit.replace("/opt/arbot/bin/arbot", str(Path(sys.executable).parent / "arbot")))
    out = subprocess.run([tool("systemd-analyze"), "verify", str(local)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_prometheus_rules_check_and_pass_their_unit_tests():
    promtool = tool("promtool")
    rules = ROOT / "docs" / "prometheus-rules.yml"
    for args in (["check", "rules", str(rules)], ["test", "rules", str(ROOT / "docs" / "prometheus-rules.test.yml")]):
        out = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_prometheus_rules_name_only_exported_metrics_and_runbook_sections():
    rules = (ROOT / "docs" / "prometheus-rules.yml").read_text()
    exported = set(re.findall(r"`(arbot_[a-z_]+)`", (ROOT / "docs" / "metrics.md").read_text()))
    used = set(re.findall(r"\b(arbot_[a-z_]+)\b", rules)) - {"arbot"}
    assert used and used <= exported, used - exported
    runbook = (ROOT / "docs" / "runbook.md").read_text().lower()
    for alert in re.findall(r"alert: (\w+)", rules):
        assert f"#{alert.lower()}" in rules.lower() and f"### {alert.lower()}" in runbook, alert


def test_compose_publishes_the_port_the_metrics_endpoint_listens_on():
    """The published container port is the one `[plugins.metrics]` serves on by default, so the host's
    127.0.0.1 port reaches /metrics once the config sets host = "0.0.0.0" as the comment says."""
    from plugins.metrics.settings import MetricsSettings

    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    bot = compose.split("\n  postgres:")[0]  # the bot's service, before the next one
    published = re.findall(r'^\s+- "127\.0\.0\.1:(\d+):(\d+)"', bot, re.M)
    assert published and {int(inside) for _, inside in published} == {MetricsSettings().port}, published


def dashboard_expr(title: str) -> str:
    """The PromQL of the Grafana dashboard's panel ``title`` (its one query)."""
    import json

    panels = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())["panels"]
    [panel] = [p for p in panels if p.get("title") == title]
    [target] = panel["targets"]
    return str(target["expr"])


def test_dashboard_net_pnl_is_per_bot_when_a_fleet_shares_one_prometheus(tmp_path):
    """docs/metrics.md: the bots of a fleet are scraped into one Prometheus and told apart by `bot`. Two bots each
    running a strategy named "g" (each its own store) made the panel's query fail (matching on strategy and asset
    alone found two fee series for one PnL series), so the panel showed nothing for any bot."""
    promtool = tool("promtool")
    (tmp_path / "none.yml").write_text("groups: []\n")
    expr = dashboard_expr("Realized PnL net of fees")
    (tmp_path / "test.yml").write_text(f"""
rule_files: [none.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'arbot_realized_pnl{{bot="alpha", instance="a", job="arbot", strategy="g", asset="USD"}}'
        values: "10 10"
      - series: 'arbot_fees_paid{{bot="alpha", instance="a", job="arbot", strategy="g", asset="USD"}}'
        values: "2 2"
      - series: 'arbot_realized_pnl{{bot="beta", instance="b", job="arbot", strategy="g", asset="USD"}}'
        values: "5 5"
      - series: 'arbot_fees_paid{{bot="beta", instance="b", job="arbot", strategy="g", asset="USD"}}'
        values: "1 1"
      - series: 'arbot_realized_pnl{{bot="alpha", instance="a", job="arbot", strategy="h", asset="USDC"}}'
        values: "0 0"
      - series: 'arbot_fees_paid{{bot="alpha", instance="a", job="arbot", strategy="h", asset="USDC"}}'
        values: "3 3"
    promql_expr_test:
      - expr: 'sum by (bot, strategy, asset) ({expr})'
        eval_time: 1m
        exp_samples:
          - labels: '{{bot="alpha", strategy="g", asset="USD"}}'
            value: 8
          - labels: '{{bot="beta", strategy="g", asset="USD"}}'
            value: 4
          - labels: '{{bot="alpha", strategy="h", asset="USDC"}}'
            value: -3
""")
    out = subprocess.run([promtool, "test", "rules", str(tmp_path / "test.yml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_systemd_install_steps_let_arbot_ctl_reach_the_bot_from_any_directory(tmp_path):
    """The unit runs the bot in its StateDirectory (WorkingDirectory=/var/lib/arbot); `arbot init` writes
    data_dir = ".", so the control socket (and the store) were found relative to the directory `arbot ctl` ran
    in: docs/deploy.md's `sudo -u arbot ARBOT_CONFIG=... arbot ctl status`, run from anywhere else, answered "No
    running arbot answers". The install steps' config, and the documented ctl command, reach the bot."""
    from tests.helpers.processes import wait_until

    state, etc, elsewhere = tmp_path / "state", tmp_path / "etc", tmp_path / "home"
    for folder in (state, etc, elsewhere):
        folder.mkdir()
    config = etc / "arbot.toml"
    unit = (ROOT / "deploy" / "arbot.service").read_text()
    wrapper = tmp_path / "arbot"  # /opt/arbot/bin/arbot: this checkout's arbot
    wrapper.write_text("#!/bin/sh\nexec " + shlex.join(arbot_command()) + ' "$@"\n')
    wrapper.chmod(0o755)

    def local(line: str) -> str:
        line = re.sub(r"\bsudo -u arbot ", "", line)  # no arbot user here: the test's user plays it
        line = line.replace("/var/lib/arbot", str(state)).replace("/etc/arbot/arbot.toml", str(config))
        return re.sub(r"(?<![\w/-])(/opt/arbot/bin/)?arbot (?=init|ctl)", f"{wrapper} ", line)

    steps = [line.removeprefix("#").strip() for line in unit.splitlines() if re.match(r"#\s+(arbot init|sed )", line)]
    assert steps, "the unit's install steps write the config with `arbot init`"
    for step in steps:
        step = local(step).split(" && chgrp")[0]  # no arbot group here either
        done = subprocess.run(step, shell=True, cwd=elsewhere, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARBOT_CONFIG": str(config)}
    bot = subprocess.Popen([str(wrapper), "run", "--for", "60s"], cwd=state, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: (state / "arbot.sock").exists() or bot.poll() is not None, 60), "no socket"
        deploy = (ROOT / "docs" / "deploy.md").read_text().split("## A systemd service")[1]
        [documented] = [line for line in deploy.splitlines() if line.endswith("arbot ctl status")]
        env.pop("ARBOT_CONFIG")  # the documented line sets it
        status = subprocess.run(local(documented), shell=True, cwd=elsewhere, capture_output=True, text=True,
                                timeout=60, env=env)
        assert status.returncode == 0 and "mode" in status.stdout, status.stdout + status.stderr
    finally:
        bot.terminate()
        bot.communicate(timeout=60)


def test_the_runbook_explains_every_kind_of_chat_alert_the_bot_raises():
    """docs/runbook.md: "Chat alerts come from the bot (...; kinds below)". A kind the code raises that the runbook
    never names leaves the person on call with an alert and no section to read."""
    raised: set[str] = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        text = path.read_text()
        raised.update(re.findall(r'alert\(\s*(?:AlertLevel\.[A-Z]+|level),\s*"([a-z_-]+)"', text))
        raised.update(re.findall(r'^KIND = "([a-z_-]+)"', text, re.M))
    assert {"order", "risk", "store", "watchdog", "plugin_error", "bot"} <= raised  # the scan finds them
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    explained = set(re.findall(r"`([a-z_-]+)`", runbook))
    assert sorted(raised - explained) == []


def test_the_fleet_units_install_steps_give_each_bot_its_state_directory_as_data_dir(tmp_path):
    """`arbot@NAME` runs in /var/lib/arbot/NAME (StateDirectory=arbot/%i), but deploy/fleet/arb-1.toml leaves
    data_dir at ".": `arbot ctl` (docs/fleet.md: `arbot ctl reload-secrets`), `arbot report` and `arbot db` run
    anywhere else looked for the socket and the store there. The unit's steps, and docs/fleet.md's, set it."""
    import tomllib

    unit = (ROOT / "deploy" / "fleet" / "arbot@.service").read_text()
    assert "StateDirectory=arbot/%i" in unit
    state = tmp_path / "state"
    config = tmp_path / "arb-1.toml"
    shutil.copy(ROOT / "deploy" / "fleet" / "arb-1.toml", config)
    steps = [line.removeprefix("#").strip() for line in unit.splitlines()
             if re.match(r"#\s+sed .*data_dir", line)]
    fleet_md = (ROOT / "docs" / "fleet.md").read_text()
    assert steps and all(step.split("#")[0].strip() in fleet_md for step in steps), steps
    for step in steps:
        step = step.replace("/etc/arbot/arb-1.toml", str(config)).replace("/var/lib/arbot", str(state))
        done = subprocess.run(step, shell=True, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    assert tomllib.loads(config.read_text())["bot"]["data_dir"] == str(state / "arb-1")


def test_the_image_runs_arbot_under_an_init_and_has_the_sqlite3_the_runbook_uses(tmp_path):
    """PID 1 gets no default signal action: arbot as PID 1 ignores a SIGTERM until its handler exists (and reaps
    no zombies), so the image starts it under tini, which every way of running it keeps (`docker run`, compose: no
    entrypoint of their own, and no `init: true`, which would put a second init in front of it). The runbook's
    `PRAGMA integrity_check` and `.backup` need the sqlite3 shell in the run stage."""
    text = (ROOT / "Dockerfile").read_text()
    run_stage = text.split("\nFROM ")[-1]
    installs = re.search(r"apt-get install[^\n]*(?:\\\n[^\n]*)*", run_stage)
    assert installs and {"sqlite3", "tini"} <= set(installs.group(0).split()), installs
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", run_stage, re.M)
    assert entrypoint and entrypoint.group(1).startswith('["/usr/bin/tini", "--", "arbot"'), entrypoint
    for compose in (ROOT / "deploy" / "compose.yaml", ROOT / "deploy" / "fleet" / "compose.yaml"):
        assert not re.search(r"^\s+(entrypoint|init):", compose.read_text(), re.M), compose
