"""``arbot replay --config``: what a recording quotes of the config's secrets is masked in all replay prints.

A recording holds frames as the venue sent them; a venue's error answer can quote a request with its key, and a
hostile or corrupt file can hold anything anywhere. Without a config no secret is known here; with
one, every secret it resolves is masked in the summary, the log lines and an error.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.helpers.processes import arbot

KEY = "sk-live-replay-0123456789abcdef"
CONFIG = """
[exchanges.kraken]
api_key = "env:ARBOT_REPLAY_TEST_KEY"
api_secret = "env:ARBOT_REPLAY_TEST_SECRET"
"""


def recording(path: Path) -> Path:
    frames = [json.dumps({"error": f"EAPI:Invalid key {KEY}"}),
              json.dumps({"method": "subscribe", "success": False, "error": f"refused for {KEY}"}),
              json.dumps({"channel": f"news for {KEY}"})]
    path.write_text("".join(json.dumps({"ts_ns": n, "raw": raw}) + "\n" for n, raw in enumerate(frames)))
    return path


def test_replay_with_a_config_masks_its_secrets_in_the_summary_and_the_log(tmp_path):
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "ARBOT_REPLAY_TEST_KEY": KEY, "ARBOT_REPLAY_TEST_SECRET": "c2VjcmV0LXNlY3JldA=="}
    out = subprocess.run(arbot("replay", "--exchange", "kraken", "--config", str(config),
                               str(recording(tmp_path / "rec.jsonl"))),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert out.returncode == 0, out.stderr
    assert "messages=3" in out.stdout, out.stdout
    assert "kraken error: EAPI:Invalid key ***" in out.stderr, out.stderr
    assert KEY[:8] not in out.stdout + out.stderr, out
