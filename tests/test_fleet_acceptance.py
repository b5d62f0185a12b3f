"""The fleet issue's acceptance, end to end: real PostgreSQL, real nats-server, real `arbot run` processes.

Each test starts what it needs (``tests/helpers/fleet.py``): its own throwaway PostgreSQL server (it is
stopped and restarted here, so never the shared ``ARBOT_TEST_DB_URL`` one) and, for the fleet tests,
a nats-server with JetStream, the fake Telegram Bot API and three bots. Select them with ``-m fleet``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bot.store import engine_url, migrate
from tests.helpers.fleet import ROOT, Postgres, secret_file
from tests.helpers.processes import arbot
from tests.test_store import make_old_db

pytestmark = [pytest.mark.fleet, pytest.mark.slow]


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
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
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
