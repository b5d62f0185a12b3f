"""A store opened only to read (`arbot report`, :meth:`bot.store.Store.read_only`) changes nothing in its file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot import cli
from bot.config import DEFAULT_SOURCE, build_config, default_toml
from bot.plugins import collect, load_plugins
from bot.store import Store


def test_a_report_leaves_a_rollback_journal_store_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`arbot report` opens the store read-only, yet every connection ran ``PRAGMA journal_mode=WAL``: a store in
    rollback-journal mode (copied from a backup, set by hand for a network disk) was switched to WAL by a report,
    its header rewritten and a -wal file left beside it. The file is now byte for byte what it was."""
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    path = tmp_path / "arbot.db"
    url = f"sqlite:///{path}"
    store = Store(url, bot=config.bot.resolved_name()).open()
    try:
        store.record_risk_event(check_name="limits", action="halt", reason="stop")
    finally:
        store.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    finally:
        con.close()
    before = path.read_bytes()
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    assert cli.main(["report", "--db", url]) == 0
    assert "limits halt 1" in capsys.readouterr().out
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


def test_a_read_only_store_refuses_a_write_and_still_reads(tmp_path: Path) -> None:
    """:meth:`Store.read_only`: reads work, a write fails (``query_only``), the journal mode stays as it was."""
    path = tmp_path / "arbot.db"
    store = Store(f"sqlite:///{path}").open()
    store.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    store = Store(f"sqlite:///{path}").read_only()
    try:
        assert store.bots() == []
        with pytest.raises(Exception, match="readonly|read-only|query_only|attempt to write"):
            store.record_risk_event(check_name="limits", action="halt", reason="stop")
    finally:
        store.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        con.close()
