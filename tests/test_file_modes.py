"""The bot's data files are private: 0600 files in a 0700 data directory after a run."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.helpers.processes import arbot

CONFIG = '''
mode = "paper"
[bot]
data_dir = "{data}"
[exchanges.paper]
tick_interval_ms = 50
[strategies.btc-grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "29000"
upper = "31000"
levels = 5
order_size = "0.01"
'''


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.lstat().st_mode) for p in folder.iterdir()}


def test_files_are_0600_in_a_0700_data_dir_after_a_run(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "arbot.toml"
    config.write_text(CONFIG.format(data=data))
    out = subprocess.run(arbot("run", "--config", str(config), "--for", "2s"), capture_output=True, text=True,
                         timeout=180, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    found = modes(data)
    assert "arbot.db" in found and "paper-exchange.db" in found and "arbot.identity" in found, found
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert not loose, loose


async def test_older_data_files_are_tightened_at_start(make_bot, tmp_path, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the store is not a file")
    (tmp_path / "old-paper.db").write_text("")
    (tmp_path / "old-paper.db").chmod(0o644)
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "notes.txt").chmod(0o644)
    dir_mode = stat.S_IMODE(tmp_path.stat().st_mode)
    await make_bot("")
    found = modes(tmp_path)
    assert found["arbot.db"] & 0o077 == 0 and found["old-paper.db"] == 0o600 and found["arbot.identity"] & 0o077 == 0
    assert found["notes.txt"] == 0o644  # not a data file: left as it is
    assert stat.S_IMODE(tmp_path.stat().st_mode) == dir_mode  # a directory arbot did not create is the operator's
