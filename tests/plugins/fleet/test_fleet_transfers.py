"""``arbot fleet transfers``: every bot's transfers on their way (asset, amount, age) from its heartbeats, an overdue
one flagged; and ``arbot fleet`` printing two processes under one name."""

from __future__ import annotations

import time
from decimal import Decimal

from bot.api import Transfer, TransferStatus
from plugins.fleet import running_link
from plugins.fleet.cli import transfer_lines
from tests.helpers.waiting import wait_for

from .test_fleet_cli import cli_config, fleet_cli


def moving(tid: str, age_s: float) -> Transfer:
    created = time.time_ns() - int(age_s * 1e9)
    return Transfer(tid, "SOL", Decimal("5.25"), "kraken", "jupiter", "WaLLet", Decimal("0.01"), Decimal(0),
                    TransferStatus.SENT, created, created, "FTQ1")


async def test_the_cli_lists_each_bots_transfers_on_their_way(nats_server, fleet_bot, tmp_path):
    mover = await fleet_bot("mover", nats_server.url, fleet="jetstream = true\n")
    still = await fleet_bot("still", nats_server.url, fleet="jetstream = true\n", toml="")
    mover.store.save_transfer(moving("rb-1", age_s=600))
    link = running_link(mover.operator)
    await wait_for(lambda: [t["id"] for t in link.status()["transfers"]] == ["rb-1"], what="the transfer in the status")
    await wait_for(lambda: {m.name for m in running_link(still.operator).members() if m.alive} == {"mover", "still"},
                   timeout_s=20, what="both bots")
    config = cli_config(tmp_path, nats_server.url)
    code, out, err = await fleet_cli(tmp_path, "transfers", "-c", str(config))
    assert code == 0, (out, err)
    mover_part = out.split("== mover ==")[1].split("==")[0]
    assert "rb-1: sent 5.25 SOL kraken -> jupiter, 10m old" in mover_part
    assert "no transfers on their way" in out.split("== still ==")[1]
    assert "OVERDUE" not in out


def test_a_transfer_older_than_its_expected_settle_time_is_flagged_and_one_without_is_not():
    status = {"transfers": [
        {"id": "a", "asset": "BTC", "amount": "0.5", "source": "kraken", "destination": "coinbase", "status": "sent",
         "age_ms": 3_600_000, "expected_s": 900},
        {"id": "b", "asset": "BTC", "amount": "0.1", "source": "kraken", "destination": "coinbase", "status": "sent",
         "age_ms": 60_000, "expected_s": 900},
        {"id": "c", "asset": "SOL", "amount": "5", "source": "kraken", "destination": "jupiter", "status": "sent",
         "age_ms": 86_400_000}]}
    lines, overdue = transfer_lines(status, heard_ago_ns=2_000_000_000)
    assert overdue == 1
    assert lines[0] == "a: sent 0.5 BTC kraken -> coinbase, 60m old  OVERDUE: expected within 15m"
    assert lines[1] == "b: sent 0.1 BTC kraken -> coinbase, 62.0s old"  # its age as of now: heard 2 s ago
    assert lines[2] == "c: sent 5 SOL kraken -> jupiter, 24.0h old"  # no expected time on the record: no flag
    assert transfer_lines({"transfers": []}, 0) == (["no transfers on their way"], 0)
    assert transfer_lines({}, 0) == (["transfers not reported (a bot of an older version)"], 0)
    assert transfer_lines({"transfers": None}, 0) == (["transfers could not be read (its store failing)"], 0)


async def test_the_cli_prints_two_processes_under_one_name(nats_server, fleet_bot, tmp_path):
    first = await fleet_bot("twin", nats_server.url, toml="")
    await wait_for(lambda: running_link(first.operator).ready, timeout_s=20, what="the first twin")
    second = await fleet_bot("twin", nats_server.url, toml="")
    links = [running_link(first.operator), running_link(second.operator)]
    await wait_for(lambda: all(link.status()["name_clash"] for link in links), timeout_s=20, what="the clash")
    config = cli_config(tmp_path, nats_server.url)
    code, out, err = await fleet_cli(tmp_path, "status", "--wait", "3", "-c", str(config))
    assert "twin: 2 processes on NATS under this name" in out, (out, err)
    assert f"instance {links[0].instance} (holds the name)" in out and f"instance {links[1].instance}" in out


async def test_a_bots_status_carries_each_transfers_expected_time_so_the_cli_flags_it_overdue(nats_server, fleet_bot):
    from dataclasses import replace

    mover = await fleet_bot("mover", nats_server.url, fleet="jetstream = true\n")
    mover.store.save_transfer(replace(moving("rb-late", age_s=600), expected_s=60.0))
    mover.store.save_transfer(moving("rb-unknown", age_s=600))  # stored before 0012: no expected time
    link = running_link(mover.operator)
    await wait_for(lambda: link.stats()["connected"], what="the link connected")  # not torn down mid-connect
    status = link.status()
    by_id = {t["id"]: t for t in status["transfers"]}
    assert by_id["rb-late"]["expected_s"] == 60.0 and by_id["rb-unknown"]["expected_s"] is None
    lines, overdue = transfer_lines(status, heard_ago_ns=0)
    assert overdue == 1
    assert [line for line in lines if "OVERDUE" in line] == [
        "rb-late: sent 5.25 SOL kraken -> jupiter, 10m old  OVERDUE: expected within 60.0s"]
