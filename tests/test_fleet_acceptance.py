"""The fleet issue's acceptance, end to end: real PostgreSQL, real nats-server, real `arbot run` processes.

Each test starts what it needs (``tests/helpers/fleet.py``): its own throwaway PostgreSQL server (it is
stopped and restarted here, so never the shared ``ARBOT_TEST_DB_URL`` one) and, for the fleet tests,
a nats-server with JetStream, the fake Telegram Bot API and three bots. Select them with ``-m fleet``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bot.store import engine_url, migrate
from tests.helpers.fleet import ADMIN, OUTSIDER, Fleet, Postgres, arbot_env, secret_file
from tests.helpers.nats_server import nats_server_binary
from tests.helpers.processes import arbot
from tests.helpers.store_kit import query
from tests.helpers.waiting import wait_for
from tests.test_store import make_old_db

pytestmark = [pytest.mark.fleet, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def needs_postgres() -> None:
    if not Postgres.available():
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL binaries; .ci/run should install postgresql")
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql)")


def sql(url: str, statement: str) -> list[tuple]:
    engine = create_engine(engine_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(statement)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


async def run_to_end(*args: str, cwd: Path, timeout_s: float = 120) -> tuple[int, str]:
    """``arbot ARGS`` to its end: (exit code, stdout and stderr together)."""
    proc = await asyncio.create_subprocess_exec(
        *arbot(*args), cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=arbot_env(cwd))
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


# --- one PostgreSQL, a pending migration, several bots starting at once ----------------------------

MIGRATING_BOT = """
mode = "paper"
[bot]
name = "{name}"
data_dir = "{folder}"
db_url = "file:{db_url_file}"
control_socket = ""
[notifiers.console]
min_level = "info"
"""


async def test_a_pending_migration_runs_once_when_bots_start_together_on_one_postgresql(tmp_path: Path):
    """Two `arbot run` and two `arbot db upgrade` at once on a database made before migrations, three times:
    each time exactly one process upgrades the schema, and every process then works on the new schema."""
    needs_postgres()
    pg = await Postgres().start()
    try:
        db_url_file = secret_file(tmp_path / "db-url", pg.url)
        configs = []
        for name in ("bot-a", "bot-b"):
            folder = tmp_path / name
            folder.mkdir()
            config = folder / "arbot.toml"
            config.write_text(MIGRATING_BOT.format(name=name, folder=folder, db_url_file=db_url_file))
            configs.append(config)
        for round_ in range(3):
            sql(pg.url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            make_old_db(pg.url)  # the host's tables as the builds before migrations left them, with rows
            runs = [run_to_end("run", "--config", str(config), "--for", "1s", cwd=config.parent)
                    for config in configs]
            upgrades = [run_to_end("db", "upgrade", "--config", str(config), cwd=config.parent) for config in configs]
            results = await asyncio.gather(*runs, *upgrades)
            for code, out in results:
                assert code == 0 and "Traceback" not in out, f"round {round_}:\n{out[-3000:]}"
                assert pg.url.split("@")[0].split(":")[-1] not in out  # the password is never printed
            upgraded = [out for _, out in results if "upgrading the schema" in out]
            assert len(upgraded) == 1, f"round {round_}: {len(upgraded)} processes ran the migration"
            assert sql(pg.url, "SELECT version_num FROM alembic_version") == [(migrate.head(),)]
    finally:
        await pg.close()


# --- three bots steered from one Telegram chat, through NATS ----------------------------------------
# One fleet for the tests below (starting three bots costs seconds of CPU): they run in file order and
# each leaves the fleet as the next expects; the kill switch comes last.

STRATEGIES = {"grid-1": ("btc-grid", "eth-grid"), "arb-1": ("sol-arb",), "front": ()}
VENUE_FILES = {"grid-1": ("paper",), "arb-1": ("cex", "pool")}
"""Each trading bot's paper venues' own state files: what the venue saw (submissions, fills, swaps)."""


def needs_nats() -> None:
    try:
        nats_server_binary()
    except RuntimeError:
        if os.environ.get("CI"):
            pytest.fail("no nats-server; .ci/run should install nats-server")
        pytest.skip("no nats-server (apt-get install nats-server)")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory):
    needs_postgres()
    needs_nats()
    started = Fleet(tmp_path_factory.mktemp("fleet"))
    try:
        await started.start()
        # every bot hears every other: the front's link knows all three before the first command
        await wait_for(lambda: set(started.heartbeats) == set(STRATEGIES), timeout_s=60, what="three heartbeats")
        yield started
    finally:
        await started.close()


async def conversation(fleet: Fleet, user: int, text: str, expect, timeout_s: float = 60) -> list[dict]:
    """Send ``text`` as ``user`` to the front's Telegram bot; the messages it sends back to that user's chat
    until ``expect(joined texts)`` holds."""
    api = fleet.api
    before = len(api.messages_to(user))
    await api.command(user, text)

    def answers() -> list[dict]:
        return api.messages_to(user)[before:]

    try:
        await wait_for(lambda: expect("\n".join(m.get("text", "") for m in answers())), timeout_s=timeout_s,
                       what=f"the front's answer to {text!r}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it answered: {[m.get('text') for m in answers()]}") from None
    return answers()


async def strategy_states(fleet: Fleet, bot: str) -> dict[str, str]:
    """``arbot ctl strategies`` of ``bot``: strategy -> its state (running, paused by ..., failed (...))."""
    answer = await fleet.bots[bot].ctl("strategies")
    assert answer["ok"], (bot, answer["text"])
    states = {}
    for line in answer["text"].splitlines()[3:]:
        name, _type, state = line.split()[:3]
        states[name] = state
    return states


def venue_rows(fleet: Fleet, bot: str, venue: str, sql_text: str) -> list[tuple]:
    return query(fleet.bots[bot].venue_file(venue), sql_text)


async def test_status_all_lists_every_bot_with_its_strategies(fleet: Fleet):
    def complete(text: str) -> bool:
        return all(name in text for bot, names in STRATEGIES.items() for name in (bot, *names))

    answers = await conversation(fleet, ADMIN, "/status all", complete)
    text = "\n".join(m["text"] for m in answers)
    assert "not authorized" not in text.lower() and "no answer" not in text.lower(), text


async def test_pause_bot_strategy_pauses_exactly_that_strategy(fleet: Fleet):
    await conversation(fleet, ADMIN, "/pause grid-1:btc-grid", lambda text: "btc-grid" in text)
    grid = await strategy_states(fleet, "grid-1")
    arb = await strategy_states(fleet, "arb-1")
    assert grid["btc-grid"] == "paused" and grid["eth-grid"] == "running", grid
    assert arb == {"sol-arb": "running"}, arb
    # grid-1 ran it and audited it, as a call from Telegram forwarded by the front (the line is written on the
    # store writer's thread: it may land just after the answer)
    def pauses() -> list[tuple]:
        return sql(fleet.pg.url, "SELECT bot, transport, user_id, args, outcome FROM audit_log WHERE command = 'pause'")

    await wait_for(lambda: ("grid-1", "telegram@front", str(ADMIN), "btc-grid") in [row[:4] for row in pauses()],
                   timeout_s=10, what="grid-1's audit line")
    rows = pauses()
    assert not any(row[0] == "arb-1" for row in rows), rows


async def test_a_strangers_command_is_refused_and_audited_by_the_receiving_bot(fleet: Fleet):
    """OUTSIDER may use the front (operator there), but arb-1's roles do not name him: arb-1 refuses."""
    await conversation(fleet, OUTSIDER, "/pause arb-1:sol-arb",
                       lambda text: "arb-1" in text and ("not authorized" in text.lower() or "refused" in text.lower()))
    assert await strategy_states(fleet, "arb-1") == {"sol-arb": "running"}

    def refusals() -> list[tuple]:  # (written on the store writer's thread: it may land just after the answer)
        return sql(fleet.pg.url, f"SELECT transport, command, args, outcome FROM audit_log "
                                 f"WHERE bot = 'arb-1' AND user_id = '{OUTSIDER}'")

    await wait_for(refusals, timeout_s=10, what="arb-1's audit line")
    rows = refusals()
    assert len(rows) == 1 and rows[0][:3] == ("telegram@front", "pause", "sol-arb"), rows
    assert rows[0][3] != "ok", rows


OUTAGE_S = 20


async def wait_until_async(condition, timeout_s: float, what: str) -> None:
    """``wait_for`` for a condition that must await (a control socket, a NATS query)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


def fills_since(fleet: Fleet, bot: str, since_ns: int) -> int:
    """Fills the bot's venues made since ``since_ns`` (the venue's own record: trading, whatever the bot stores)."""
    count = 0
    for venue in VENUE_FILES[bot]:
        table = "swaps WHERE status = 'filled' AND" if venue == "pool" else "fills WHERE"
        count += venue_rows(fleet, bot, venue, f"SELECT count(*) FROM {table} ts_ns >= {since_ns}")[0][0]
    return count


def submissions(fleet: Fleet, bot: str) -> int:
    return sum(venue_rows(fleet, bot, venue, "SELECT count(*) FROM submissions")[0][0] for venue in VENUE_FILES[bot])


def assert_no_order_sent_twice(fleet: Fleet) -> None:
    for bot, venues in VENUE_FILES.items():
        for venue in venues:
            twice = venue_rows(fleet, bot, venue, "SELECT client_order_id, count(*) FROM submissions "
                                                  "GROUP BY client_order_id HAVING count(*) > 1")
            assert twice == [], (bot, venue, twice)


async def stream_seqs_upto(fleet: Fleet, bot: str, count: int, numbered: int, timeout_s: float = 15) -> list[int]:
    """The bot's event numbers in the stream, once ``count`` of them are at most ``numbered`` (or the timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        seqs = (await fleet.stream_seqs()).get(bot, [])
        if len([seq for seq in seqs if seq <= numbered]) >= count or loop.time() > deadline:
            return seqs
        await asyncio.sleep(0.2)


async def test_partitions_nats_down_20s_then_postgresql_restarted(fleet: Fleet):
    """No bot stops trading on its own venues, no order is sent twice, and every event numbered during the
    outage reaches the JetStream stream afterwards or is counted as dropped by its bot."""
    loop = asyncio.get_running_loop()
    # --- NATS killed for 20 s ---
    fleet.nats.kill()
    down_ns, down_at = time.time_ns(), loop.time()
    await wait_for(lambda: all(fills_since(fleet, bot, down_ns) >= 2 for bot in VENUE_FILES), timeout_s=OUTAGE_S,
                   what="fills on every trading bot's venues while NATS is down")
    await asyncio.sleep(max(0.0, OUTAGE_S - (loop.time() - down_at)))  # the outage lasts what the issue says
    for bot in VENUE_FILES:  # still trading on its own: it answers locally and its strategies run
        states = await strategy_states(fleet, bot)
        assert not any(state.startswith("failed") for state in states.values()), (bot, states)
    await asyncio.to_thread(fleet.nats.start)
    back_ns = time.time_ns()

    def caught_up(bot: str) -> bool:
        link = fleet.link(bot)
        return fleet.heard_ns.get(bot, 0) > back_ns and bool(link.get("connected")) and link.get("buffered") == 0

    await wait_for(lambda: all(caught_up(bot) for bot in STRATEGIES), timeout_s=60,
                   what="every bot back on NATS with its outbox sent")
    for bot in STRATEGIES:
        link = fleet.link(bot)
        numbered = link["published"] + link["dropped"]  # every event up to this heartbeat: sent or dropped
        seqs = await stream_seqs_upto(fleet, bot, numbered - link["dropped"], numbered)
        assert len(seqs) == len(set(seqs)), f"{bot}: an event reached the stream twice"
        kept = [seq for seq in seqs if seq <= numbered]
        live = {seq for seq in fleet.seen.get(bot, set()) if seq <= numbered}
        missing = sorted(set(range(1, numbered + 1)) - set(kept) - live)
        assert len(missing) == link["dropped"], \
            f"{bot}: {len(missing)} events neither in the stream, nor seen live, nor counted as dropped: seq " \
            f"{missing[:20]} ({link})"
        assert len(kept) + link["dropped"] == numbered, \
            f"{bot}: events seen live but not kept by JetStream: seq {sorted(live - set(kept))[:20]}"
        assert numbered > 0 and link["dropped"] == 0  # buffer_max (10 000) holds a 20 s outage
    # --- PostgreSQL restarted ---
    await fleet.pg.stop("fast")
    pg_down_ns = time.time_ns()
    await wait_for(lambda: fills_since(fleet, "grid-1", pg_down_ns) >= 1, timeout_s=30,
                   what="resting grid orders filling while PostgreSQL is down")
    await fleet.pg.start_again()
    pg_back_ns = time.time_ns()
    sent = {bot: submissions(fleet, bot) for bot in VENUE_FILES}

    async def store_ok(bot: str) -> bool:
        answer = await fleet.bots[bot].ctl("status")
        return answer["ok"] and "cannot be written" not in answer["text"]

    for bot in VENUE_FILES:
        await wait_until_async(lambda b=bot: store_ok(b), timeout_s=60, what=f"{bot} writing its store again")
    await wait_for(lambda: all(submissions(fleet, bot) > sent[bot] for bot in VENUE_FILES), timeout_s=60,
                   what="new orders on every trading bot's venues after PostgreSQL is back")
    await wait_for(lambda: all(fills_since(fleet, bot, pg_back_ns) >= 1 for bot in VENUE_FILES), timeout_s=60,
                   what="fills on every trading bot's venues after PostgreSQL is back")
    for bot in VENUE_FILES:
        states = await strategy_states(fleet, bot)
        assert not any(state.startswith("failed") for state in states.values()), (bot, states)
    assert_no_order_sent_twice(fleet)
    for bot in STRATEGIES:
        assert fleet.bots[bot].running, fleet.bots[bot].log()[-3000:]


async def test_kill_all_stops_trading_on_every_bot_after_one_confirmation(fleet: Fleet):
    api = fleet.api
    before = len(api.messages_to(ADMIN))
    await api.command(ADMIN, "/kill all")

    def questions() -> list[dict]:
        return [m for m in api.messages_to(ADMIN)[before:] if m.get("reply_markup")]

    await wait_for(lambda: questions(), timeout_s=60, what="the front's one question")
    assert (await strategy_states(fleet, "arb-1")) == {"sol-arb": "running"}  # nothing ran before the confirmation
    question = dict(questions()[0])
    await api.press(ADMIN, question)

    def answers() -> str:  # the question message is edited into the answer (each bot's, merged)
        return "\n".join(m.get("text", "") for m in api.messages_to(ADMIN)[before:]
                         if m.get("text") != question["text"])

    await wait_for(lambda: all(bot in answers() for bot in STRATEGIES), timeout_s=60,
                   what="every bot's answer to the kill switch")
    assert len([m for m in api.messages_to(ADMIN)[before:] if m.get("reply_markup")]) <= 1, \
        "the kill switch was asked more than once"
    for bot, names in STRATEGIES.items():
        states = await strategy_states(fleet, bot)
        assert set(states) == set(names) and all(state == "paused" for state in states.values()), \
            (bot, states, answers())
    resting = "SELECT count(*) FROM orders WHERE status = 'open'"
    await wait_for(lambda: venue_rows(fleet, "grid-1", "paper", resting) == [(0,)],
                   timeout_s=30, what="grid-1's resting orders cancelled at its venue")

    def kills() -> list[tuple]:  # (written on the store writer's thread: they may land just after the answers)
        return sql(fleet.pg.url, "SELECT bot, transport, outcome FROM audit_log WHERE command = 'kill'")

    await wait_for(lambda: {"grid-1", "arb-1"} <= {row[0] for row in kills()}, timeout_s=10,
                   what="each bot's audit line")
    rows = kills()
    for bot in ("grid-1", "arb-1"):  # each bot ran it once, as confirmed at the front
        runs = [row for row in rows if row[0] == bot]
        assert len(runs) == 1 and runs[0][1] == "telegram@front", (bot, rows)
    # nothing new reaches any venue once every bot has answered (absence has no event to wait on)
    sent = {bot: submissions(fleet, bot) for bot in VENUE_FILES}
    await asyncio.sleep(3)
    assert {bot: submissions(fleet, bot) for bot in VENUE_FILES} == sent
    assert_no_order_sent_twice(fleet)
    for bot in VENUE_FILES:
        await wait_until_async(lambda b=bot: settled(fleet, b), timeout_s=30, what=f"{bot} with nothing in flight")
    for bot, venues in VENUE_FILES.items():  # the venues' order counts against each bot's own rows
        for venue in venues:
            at_venue = {row[0] for row in venue_rows(fleet, bot, venue, "SELECT client_order_id FROM submissions")}
            stored = dict(sql(fleet.pg.url, f"SELECT client_order_id, status FROM orders "
                                            f"WHERE bot = '{bot}' AND exchange = '{venue}'"))
            assert at_venue and at_venue <= set(stored), (bot, venue, sorted(at_venue - set(stored))[:5])
            reached = {cid for cid, status in stored.items() if status in ("open", "filled")}
            assert reached <= at_venue, (bot, venue, sorted(reached - at_venue)[:5])


MONEY = re.compile(r"([+-]?\d+(?:\.(\d+))?) ([A-Z][A-Z0-9]*)")
COUNTS = ("orders", "filled", "fills", "round trips")
AMOUNTS = ("realized PnL", "fees", "net PnL")


def table(text: str, first: str) -> list[dict[str, str]]:
    """The rows of the rendered table whose header starts with ``first``, as column -> cell."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(first + " "))
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(header):  # the text under the table
            break
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def amounts(cell: str) -> dict[str, tuple[Decimal, int]]:
    """``1.50 USD, 2.00 USDC`` -> asset -> (amount, decimals shown)."""
    return {asset: (Decimal(value), len(digits or "")) for value, digits, asset in MONEY.findall(cell)}


async def settled(fleet: Fleet, bot: str) -> bool:
    answer = await fleet.bots[bot].ctl("status")
    text = answer["text"]
    return answer["ok"] and re.search(r"^open orders +0$", text, re.M) is not None and "unknown orders" not in text


async def test_report_all_equals_the_sum_of_the_bots_reports(fleet: Fleet):
    config = {bot: str(fleet.bots[bot].config_path) for bot in STRATEGIES}
    # the figures must hold still: the kill switch on every bot, from the command line over NATS
    code, out = await run_to_end("fleet", "kill", "report", "--yes", "--config", config["front"], cwd=fleet.root)
    assert code == 0 and all(f"== {bot} ==" in out for bot in STRATEGIES), out
    for bot in VENUE_FILES:
        await wait_until_async(lambda b=bot: settled(fleet, b), timeout_s=30, what=f"{bot} with nothing in flight")
    own = {}
    for bot in STRATEGIES:
        code, out = await run_to_end("report", "--config", config[bot], cwd=fleet.root)
        assert code == 0, out
        own[bot] = out
    code, everything = await run_to_end("report", "--all", "--config", config["front"], cwd=fleet.root)
    assert code == 0, everything
    for bot in VENUE_FILES:  # each bot's part of --all has that bot's own figures (markouts still mature: not compared)
        section = everything.split(f"=== bot {bot} ===\n", 1)[1].split("\n=== ", 1)[0]
        assert table(section, "strategy") == table(own[bot], "strategy"), (bot, section, own[bot])
    per_strategy = [row for bot in VENUE_FILES for row in table(own[bot], "strategy")]
    assert {row["strategy"] for row in per_strategy} == {n for names in STRATEGIES.values() for n in names}
    fleet_rows = {row["bot"]: row for row in table(everything.split("=== fleet ===", 1)[1], "bot")}
    total = fleet_rows["fleet total"]
    for column in COUNTS:
        assert int(total[column]) == sum(int(row[column]) for row in per_strategy), column
    assert int(total["fills"]) > 0
    for column in AMOUNTS:
        summed: dict[str, Decimal] = {}
        slack: dict[str, Decimal] = {}
        for row in per_strategy:
            for asset, (value, places) in amounts(row[column]).items():
                summed[asset] = summed.get(asset, Decimal(0)) + value
                slack[asset] = slack.get(asset, Decimal(0)) + Decimal(1).scaleb(-places) / 2
        shown = amounts(total[column])
        assert set(shown) == {asset for asset, value in summed.items() if value or asset in shown}, column
        for asset, (value, places) in shown.items():  # each row was rounded for display: that much apart at most
            assert abs(value - summed[asset]) <= slack[asset] + Decimal(1).scaleb(-places) / 2, (column, asset)
