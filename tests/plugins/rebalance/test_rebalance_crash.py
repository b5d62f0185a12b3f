"""SIGKILL in the middle of an automatic transfer, then restart: the transfer is made once and completes.

Runs the real `arbot run` in a subprocess. The paper venues keep their own state files, where each
logs every withdrawal and deposit it makes under its transfer id, as real venues would see them.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.helpers.processes import arbot, wait_until
from tests.helpers.store_kit import query, query_db

from .rebalance_kit import config


def plugin_path(tmp_path: Path) -> str:
    """A directory whose dist-info declares the rebalance (and arb) entry points, unless they are installed."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    missing = [name for name in ("rebalance", "arb") if name not in installed]
    root = tmp_path / "entry-points"
    info = root / "arbot_test_plugins-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: arbot-test-plugins\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[arbot]\n" + "".join(f"{n} = plugins.{n}\n" for n in missing))
    return str(root)


@pytest.mark.slow
def test_sigkill_mid_transfer_never_moves_funds_twice_and_the_arbitrage_keeps_trading(tmp_path: Path, db_url: str):
    cfg = tmp_path / "config.toml"
    body = textwrap.dedent(config(mode="auto", delay_s=3.0, cex_state="paper.db", dex_state="dex.db", db_url=db_url))
    cfg.write_text(f'mode = "paper"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n' + body)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), plugin_path(tmp_path)]))}
    def statuses() -> list[str]:
        try:
            return [s for (s,) in query_db(db_url, "select status from transfers order by created_ns")]
        except Exception:  # not created yet
            return []

    log = tmp_path / "run1.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(arbot("run", "--config", str(cfg)), env=env, cwd=tmp_path, stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        mid_transfer = wait_until(lambda: "sent" in statuses() or "planned" in statuses(), timeout_s=90)
        assert mid_transfer, log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    (first,) = query_db(db_url, "select transfer_id from transfers")[0:1]
    stored_at_kill = statuses()[0]
    assert stored_at_kill in ("planned", "sent")  # killed mid-transfer: not credited yet
    # what the source venue had made when the bot died: the withdrawal, or not yet (killed before it was asked)
    made_at_kill = query(tmp_path / "paper.db", f"select count(*) from transfers where transfer_id = '{first[0]}' "
                                                "and direction = 'out'")[0][0] == 1

    # the arbitrage's filled DEX orders stored by the second run (created after the first transfer's last change)
    traded_after = ("select count(*) from orders where exchange = 'dex' and filled_qty != '0' and created_ns > (select "
                    f"max(updated_ns) from transfers where transfer_id = '{first[0]}')")

    def settled() -> bool:
        credited = query_db(db_url, f"select status from transfers where transfer_id = '{first[0]}'") == [("credited",)]
        return credited and query_db(db_url, traded_after)[0][0] > 0

    log2 = tmp_path / "run2.log"
    with log2.open("wb") as sink:
        second = subprocess.Popen(arbot("run", "--config", str(cfg), "--for", "12s"), env=env, cwd=tmp_path,
                                  stdout=sink, stderr=subprocess.STDOUT)
    try:
        # Ctrl-C once the transfer is credited and the arbitrage has traded after it, as its owner would; --for 12s
        # bounds a run that never gets there (the assertions below then say what is missing)
        if wait_until(lambda: second.poll() is not None or settled(), timeout_s=60):
            second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0, log2.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    rows = query_db(db_url, "select transfer_id, status, amount from transfers order by created_ns")
    assert rows[0][0] == first[0] and rows[0][1] == "credited", rows
    # each transfer was sent once: the withdrawals the source venue was asked for, and what it did. Its transfers
    # table cannot show a second send (its key refuses a second row); its request log can. Asked again after the
    # restart only when the venue had made it and the store did not know yet (the restart asks the venue, finds it,
    # and asks for its reference: "made already")
    asked = query(tmp_path / "paper.db", "select transfer_id, answer from withdrawal_requests order by rowid")
    again = ["made already"] if stored_at_kill == "planned" and made_at_kill else []
    assert [answer for tid, answer in asked if tid == first[0]] == ["sent", *again], (stored_at_kill, made_at_kill,
                                                                                     asked)
    sent = [tid for tid, answer in asked if answer == "sent"]
    assert len(sent) == len(set(sent)), asked  # none twice
    assert set(sent) <= {t for t, *_ in rows}, (asked, rows)  # no withdrawal the bot does not know of
    # each one the store has as sent or credited was sent (one planned when the second run stopped may not be yet)
    assert {t for t, status, _ in rows if status in ("sent", "credited")} <= set(sent), (asked, rows)
    assert [tid for tid, answer in asked if answer != "sent"] == [first[0]] * len(again)
    # and reached its destination (its deposit: the venue's own act, one row under the same key)
    assert query(tmp_path / "dex.db", f"select count(*) from transfers where transfer_id = '{first[0]}' and direction "
                                      "= 'in'") == [(1,)]
    # the arbitrage traded on after the restart (orders stored by the second run)
    after_restart = query_db(db_url, traded_after)[0][0]
    assert after_restart > 0, log2.read_text()[-3000:]
