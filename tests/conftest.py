"""Shared fixtures: start a real Bot in-process with throwaway plugins and a temporary data dir.

The store is SQLite in the test's temp folder, or a fresh schema on a real PostgreSQL server when
``ARBOT_TEST_DB_URL`` names one (``.ci/run`` starts a throwaway server and runs the store-related
tests again that way): use the ``db_url`` fixture wherever a test needs a store URL.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.redact import REDACTOR
from bot.store import engine_url

TEST_DB_URL = os.environ.get("ARBOT_TEST_DB_URL", "")
"""A PostgreSQL server to run the store tests on (each test gets its own schema); empty: SQLite."""

# Property tests check what is computed, not how fast: an example's time on a loaded machine (CI runs two passes side
# by side on two cores) is no failure. Every property test runs without Hypothesis's per-example deadline and its
# "too slow" health check; a test may still set its own.
settings.register_profile("arbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("arbot")


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Secrets a test made known to the log redactor, the redactor `cli.main` puts on the root logger's
    handlers, the stderr handler it adds and the root level it sets end with the test: they would rewrite later
    tests' log records, and write them to a stream pytest has closed by then (a "Logging error" and its traceback
    per record)."""
    known, in_urls = set(REDACTOR._values), set(REDACTOR._url_passwords)
    short_lived = REDACTOR._deadlines, REDACTOR._short_lived  # replaced whole, never changed in place
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.setLevel(level)  # `cli.main` sets the config's level: a later test's caplog would miss INFO records
    REDACTOR._values, REDACTOR._url_passwords = known, in_urls
    REDACTOR._deadlines, REDACTOR._short_lived = short_lived
    for handler in list(root.handlers):
        handler.removeFilter(REDACTOR)
        if getattr(handler, "arbot", False) and handler not in handlers:  # logs.configure's, from cli.main
            root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _forget_scripted_venues() -> Iterator[None]:
    """The scripted venues a test made (``ScriptedVenue.instances``, for the test to find its venue) end with it:
    kept, each would keep its bot, store and connections alive until another test cleared the list, and a leak
    would show up there, in an unrelated test."""
    yield
    scripted = sys.modules.get("tests.fakes.venue")
    if scripted is not None:
        scripted.ScriptedVenue.instances.clear()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test: ``sqlite:///TMP/arbot.db`` or a PostgreSQL schema dropped after."""
    if not TEST_DB_URL:
        yield f"sqlite:///{tmp_path}/arbot.db"
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(engine_url(TEST_DB_URL), poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(TEST_DB_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
async def make_bot(tmp_path: Path, db_url: str) -> AsyncIterator[Callable[..., object]]:
    """``bot = await make_bot(toml, extra=[("name", plugin)])``: a started Bot, stopped at teardown.

    Its store is the ``db_url`` fixture's database. One made with ``start=False`` and started by the test is stopped at
    teardown too (its store writer's thread left running outlived the test, and failed later tests that count them).
    """
    made: list[Bot] = []

    async def factory(toml: str, extra: list[tuple[str, object]] = (), start: bool = True, clock=None,
                      control_socket: str = "") -> Bot:
        text = (f'[bot]\ndata_dir = "{tmp_path}"\ndb_url = "{db_url}"\ncontrol_socket = "{control_socket}"\n'
                + textwrap.dedent(toml))
        plugins = load_plugins(extra=list(extra))
        registry = collect(plugins)
        assert not registry.conflicts, registry.conflicts
        config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        bot = Bot(config, plugins, registry, clock=clock)
        made.append(bot)
        if start:
            await bot.start()
        return bot

    yield factory
    for bot in made:
        if bot.started_ns:  # its start began (a stopped one's stop does nothing)
            await bot.stop()


@pytest.fixture
def postgresql(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test runs only on a real PostgreSQL server it may stop with SIGSTOP (``tests.helpers.pg_stop``), with the
    store's write-stall alarm pushed out of the way (the alarm is not what such a test looks at)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL)")
    from bot import writer

    monkeypatch.setattr(writer, "WRITE_STALL_S", 30.0)
