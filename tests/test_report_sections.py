"""`arbot report`: the host's balances section and plugin sections (the report_sections hook)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from bot import cli, hookimpl
from bot.api import Reply
from bot.config import DEFAULT_SOURCE, build_config, default_toml, learn_secrets
from bot.domain import Balance
from bot.plugins import collect, load_plugins
from bot.report import balance_lines
from bot.settings import Secret
from bot.store import Store

D = Decimal


def test_the_latest_snapshot_of_each_venue_is_reported(db_url):
    store = Store(db_url).open()
    try:
        store.snapshot_balances("cex", [Balance("USDC", D("10"), D("12")), Balance("SOL", D("1"), D("1"))],
                                1_700_000_000_000_000_000)
        store.snapshot_balances("cex", [Balance("USDC", D("9.5"), D("11.5"))], 1_700_000_060_000_000_000)
        store.snapshot_balances("dex", [Balance("SOL", D("3.25"), D("3.25"))], 1_700_000_030_000_000_000)
        rows = [(r.exchange, r.asset, r.free) for r in store.latest_balances()]
        assert rows == [("cex", "USDC", D("9.5")), ("dex", "SOL", D("3.25"))]  # the older cex snapshot is gone
        lines = balance_lines(store)
        assert lines[0].startswith("Balances") and "free 9.50 USDC" in lines[1] and "3.25 SOL" in lines[2]
    finally:
        store.close()


class Sections:
    """A throwaway plugin adding two sections, and one whose hook fails."""

    @hookimpl
    def report_sections(self, store):
        return [Reply("Widgets", rows=[("name", "count"), ("gear", "3")], header=True), Reply("Empty", text="none")]


class Broken:
    @hookimpl
    def report_sections(self, store):
        raise RuntimeError("table missing")


def test_plugin_sections_follow_the_host_table_and_a_failure_is_isolated(db_url, monkeypatch, capsys):
    plugins = load_plugins(extra=[("widgets", Sections()), ("broken", Broken())])
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    Store(db_url).open().close()  # `arbot report` reads a store that exists
    assert cli.main(["report", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert out.index("No orders stored yet.") < out.index("Widgets") < out.index("gear")
    assert "Empty" in out and "none" in out
    assert "plugin broken: its report section failed: RuntimeError: table missing" in out


class OneReply:
    @hookimpl
    def report_sections(self, store):
        return Reply("Sloppy", rows=[("a", "b")])  # one Reply, not a list of them


class Eager:
    @hookimpl
    async def report_sections(self, store):  # a coroutine: nothing awaits it in `arbot report`
        return [Reply("Never", text="seen")]


def test_a_section_of_the_wrong_shape_is_named_and_the_rest_of_the_report_prints(db_url, monkeypatch, capsys,
                                                                                  recwarn):
    plugins = load_plugins(extra=[("widgets", Sections()), ("sloppy", OneReply()), ("eager", Eager())])
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    Store(db_url).open().close()  # `arbot report` reads a store that exists
    assert cli.main(["report", "--db", db_url]) == 0  # before: TypeError: 'Reply' object is not iterable
    out = capsys.readouterr().out
    assert "No orders stored yet." in out and "Widgets" in out
    assert ("plugin sloppy: its report section failed: TypeError: report_sections returned Reply, not a list of "
            "Reply (or None)") in out
    assert "plugin eager: its report section failed: TypeError: report_sections returned coroutine" in out
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


class Leaky:
    @hookimpl
    def report_sections(self, store):
        raise RuntimeError("401 from https://api.example/v1?api_key=sk-live-0123456789abcdef")


def test_a_failed_sections_message_is_printed_with_known_secrets_masked(db_url, monkeypatch, capsys):
    monkeypatch.setenv("ARBOT_TEST_REPORT_KEY", "sk-live-0123456789abcdef")
    Secret("env:ARBOT_TEST_REPORT_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    plugins = load_plugins(extra=[("leaky", Leaky())])
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    Store(db_url).open().close()  # `arbot report` reads a store that exists
    assert cli.main(["report", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "plugin leaky: its report section failed: RuntimeError: 401 from https://api.example/v1?api_key=***" in out
    assert "sk-live" not in out


def test_the_arb_plugin_reports_its_executions(db_url):
    from plugins.arb import report_sections
    from plugins.arb.records import ArbExecutionRow, insert_execution, insert_opportunities

    store = Store(db_url).open()
    try:
        assert report_sections(store) is None  # nothing stored: no section

        def execution(oid: str, state: str, predicted: str, realized: str | None, hedge: str = "") -> ArbExecutionRow:
            return ArbExecutionRow(
                opportunity_id=oid, strategy="arb", state=state, symbol="SOL/USDC", direction="buy-cex-sell-dex",
                size=D(1), predicted_pnl=D(predicted), sol_price=D(150), cex_exchange="c", cex_side="buy",
                cex_qty=D(1), cex_price=D(150), cex_cid=f"{oid}-cex", cex_filled=D(1), dex_exchange="d",
                dex_side="sell", dex_qty=D(1), dex_price=D(151), dex_cid=f"{oid}-dex", dex_filled=D(1), hedge_cid=hedge,
                realized_pnl=None if realized is None else D(realized))

        assert insert_execution(store, execution("a", "done", "1.00", "0.80"))
        assert insert_execution(store, execution("b", "done", "2.00", "-0.40", hedge="b-hedge"))
        assert insert_execution(store, execution("c", "open", "3.00", None))
        row = dict(strategy="arb", ts_ns=1, mode="paper", symbol="SOL/USDC", direction="buy-cex-sell-dex",
                   buy_exchange="c", sell_exchange="d", buy_price=D(150), sell_price=D(151), qty=D(1),
                   gross_pnl=D(1), net_pnl=D("0.5"), net_bps=D(33), costs="{}", reason="")
        insert_opportunities(store, [{**row, "opportunity_id": oid, "acted": oid != "x"} for oid in "abcx"])
        (section,) = report_sections(store)
        header, arb = section.rows
        assert header[0] == "strategy" and arb[:7] == ("arb", "4", "3", "2", "1", "0", "1")
        # predicted 1 + 2 (each for its size, all filled), realized 0.8 - 0.4, mean |error| (0.2 + 2.4) / 2
        assert arb[8:] == ("3.00", "0.40", "1.30")  # USDC, to the cent
    finally:
        store.close()


def test_the_arb_plugin_has_no_section_and_no_executions_on_a_store_without_its_tables(db_url):
    """A store where no arb strategy ran (a grid's backtest) lacks the arb tables: they are created only when a
    store opens after the plugin's models were imported. Nothing to report then, never "no such table"."""
    from plugins.arb import executions, report_sections
    from plugins.arb.records import ArbExecutionRow, ArbOpportunityRow

    store = Store(db_url).open()
    try:
        with store.engine.begin() as conn:  # this test process imported the models before the store opened
            for model in (ArbOpportunityRow, ArbExecutionRow):
                model.__table__.drop(conn)
        assert not store.has_table(ArbOpportunityRow) and not store.has_table(ArbExecutionRow)
        assert report_sections(store) is None
        assert executions(store, None, None, None, 10) == []
    finally:
        store.close()


async def test_a_short_run_has_balances_to_report_from_its_start_and_its_clean_stop(make_bot, db_url):
    # the balance-snapshot job runs every 5 min: a one-minute demo run stored none, and its report showed none
    bot = await make_bot('[exchanges.paper]\ntick_interval_ms = 0\nstart_price = "30000"\n')
    started = [(r.exchange, r.asset, r.ts_ns) for r in bot.store.latest_balances()]
    assert {(e, a) for e, a, _ in started} >= {("paper", "USD")}
    await bot.stop()
    store = Store(db_url, bot=bot.store.bot).open()
    try:
        stopped = store.latest_balances()
        assert stopped and {r.ts_ns for r in stopped} != {t for *_, t in started}  # taken again at the stop
        assert any(line.startswith("Balances") for line in balance_lines(store))
    finally:
        store.close()


TG_TOKEN = "123456:tg-report-token-0123456789"
WEB_TOKEN = "web-report-token-0123456789"
URL_PASSWORD = "pw9"  # shorter than the redactor's minimum: masked where a URL holds it
REPORT_CONFIG = """
mode = "paper"
[bot]
name = "rep"
data_dir = "{data_dir}"
db_url = "sqlite:///{data_dir}/arbot.db"
control_socket = ""
[exchanges.paper]
[notifiers.tg]
type = "telegram"
token = "env:ARBOT_TEST_REPORT_TG"
base_url = "https://arbot:{url_password}@bot-api.example"
[plugins.web.users.ada]
role = "admin"
token = "file:{token_file}"
[plugins.web.users.bob]
role = "viewer"
token = "env:ARBOT_TEST_REPORT_UNSET"
"""


class Echoes:
    """A plugin section quoting what its own table holds, as stored."""

    @hookimpl
    def report_sections(self, store):
        return [Reply("Swaps", rows=[("error",), (f"401 for token {WEB_TOKEN}",)], header=True)]


def test_the_report_masks_every_secret_the_config_resolves_in_old_rows_and_plugin_sections(
        tmp_path, monkeypatch, capsys):
    """Rows stored before the store masked them (and a plugin's own table, which the store does not mask) are printed
    with every secret of the config masked: each reference this environment resolves (a component's, a plugin
    table's, one inside a table), and a URL's password; one that does not resolve here is skipped, never shown."""
    token_file = tmp_path / "ada.token"
    token_file.write_text(WEB_TOKEN + "\n")
    token_file.chmod(0o600)
    monkeypatch.setenv("ARBOT_TEST_REPORT_TG", TG_TOKEN)
    monkeypatch.delenv("ARBOT_TEST_REPORT_UNSET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(REPORT_CONFIG.format(data_dir=tmp_path, token_file=token_file, url_password=URL_PASSWORD))
    store = Store(f"sqlite:///{tmp_path}/arbot.db", bot="rep").open()
    try:  # an old row: written before the redactor knew these
        store.record_risk_event(check_name="limits", action="halt", reason=(
            f"sendMessage to https://arbot:{URL_PASSWORD}@bot-api.example/bot{TG_TOKEN} failed"))
    finally:
        store.close()
    real = cli.load_plugins
    monkeypatch.setattr(cli, "load_plugins", lambda **kw: real(**kw, extra=[("echoes", Echoes())]))
    assert cli.main(["report", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "sendMessage to https://arbot:***@bot-api.example/bot*** failed" in out, out
    assert "401 for token ***" in out, out
    assert TG_TOKEN not in out and WEB_TOKEN not in out and f":{URL_PASSWORD}@" not in out
    _, _, read = cli.prepare(config, secrets=False)
    assert learn_secrets(read) == ["plugins.web.users.bob.token"]  # skipped: its variable is not set here


FLEET_CONFIG = """
mode = "paper"
[bot]
name = "{name}"
data_dir = "{data_dir}"
db_url = "sqlite:///{db}"
control_socket = ""
[exchanges.paper]
[notifiers.tg]
type = "telegram"
token = "{token}"
"""


def test_report_all_masks_each_bots_rows_with_the_secrets_its_own_config_resolves(tmp_path, monkeypatch, capsys):
    """Two bots of one database, each with its own chat token: `arbot report --all --config alpha.toml --bot-config
    beta.toml` masks beta's token in beta's rows too (before: only alpha's config was read, beta's rows printed its
    token as stored)."""
    alpha_token, beta_token = f"111:alpha-{uuid.uuid4().hex}", f"222:beta-{uuid.uuid4().hex}"
    beta_file = tmp_path / "beta.token"
    beta_file.write_text(beta_token + "\n")
    beta_file.chmod(0o600)
    monkeypatch.setenv("ARBOT_TEST_ALPHA_TG", alpha_token)
    db = tmp_path / "shared.db"
    configs = {}
    for name, token in (("alpha", "env:ARBOT_TEST_ALPHA_TG"), ("beta", f"file:{beta_file}")):
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text(FLEET_CONFIG.format(name=name, data_dir=tmp_path / name, db=db, token=token))
    for name, secret in (("alpha", alpha_token), ("beta", beta_token)):
        store = Store(f"sqlite:///{db}", bot=name).open()
        try:  # old rows: written before the redactor knew these
            store.record_risk_event(check_name="limits", action="halt",
                                    reason=f"{name}: sendMessage bot{secret} failed")
        finally:
            store.close()
    assert cli.main(["report", "--all", "--config", str(configs["alpha"]), "--bot-config", str(configs["beta"])]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "alpha: sendMessage bot*** failed" in out and "beta: sendMessage bot*** failed" in out, out
    assert alpha_token not in out and beta_token not in out
    assert "=== bot alpha ===" in out and "=== bot beta ===" in out and "no config" not in captured.err


def test_report_all_names_the_bots_whose_config_it_was_not_given(tmp_path, capsys):
    db = tmp_path / "shared.db"
    for name in ("alpha", "beta", "gamma"):
        store = Store(f"sqlite:///{db}", bot=name).open()
        try:
            store.record_risk_event(check_name="limits", action="halt", reason="stop")
        finally:
            store.close()
    config = tmp_path / "alpha.toml"
    config.write_text(FLEET_CONFIG.format(name="alpha", data_dir=tmp_path, db=db, token="env:ARBOT_TEST_UNSET_TG"))
    assert cli.main(["report", "--all", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "beta, gamma" in err and "--bot-config" in err and "alpha" not in err.split("beta")[0], err


def schema_of(store: Store) -> dict[str, list[tuple[str, str, bool]]]:
    """Every table of the store's database (its schema on PostgreSQL) with its columns' names, types and nullability."""
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        inspector = inspect(conn)
        return {table: [(c["name"], str(c["type"]), bool(c["nullable"])) for c in inspector.get_columns(table)]
                for table in sorted(inspector.get_table_names())}


class Scribbler:
    """A plugin whose report section writes to the store it was handed to read."""

    @hookimpl
    def report_sections(self, store):
        from sqlalchemy import text

        with store.engine.begin() as conn:
            conn.execute(text("CREATE TABLE scribbled (x INTEGER)"))
        return [Reply("Scribbled", text="wrote")]


def test_the_report_reads_a_store_without_plugin_tables_as_it_is_and_creates_none(db_url, monkeypatch, capsys):
    """`arbot report` on a store where no component of a plugin ran (an older arbot's, a grid bot's read by an
    install with the arb plugin) created every missing plugin table in it: a report wrote to the store it read.
    The schema is the same after the report; a plugin whose tables are missing has no section (runs on SQLite and
    on PostgreSQL: the store opening differs)."""
    import importlib

    from sqlmodel import SQLModel

    for models in ("plugins.arb.records", "plugins.grid.models", "plugins.jupiter.records", "plugins.jupiter.transfers",
                   "plugins.limits.peaks"):
        importlib.import_module(models)  # every plugin table known to SQLModel, as in a real `arbot report`

    plugins = load_plugins(extra=[("scribbler", Scribbler())])
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    store = Store(db_url, bot=config.bot.resolved_name()).open()
    try:
        store.record_risk_event(check_name="limits", action="halt", reason="stop")
        host = {t.name for t in store.host_tables}
        with store.engine.begin() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if table.name not in host:
                    table.drop(conn)
        before = schema_of(store)
    finally:
        store.close()
    assert "arb_executions" not in before and "orders" in before
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    assert cli.main(["report", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "No orders stored yet." in out and "limits halt 1" in out, out
    assert "plugin scribbler: its report section failed:" in out  # the report's connections are read-only
    assert out.count("failed") == 1, out  # the arb plugin's tables are missing: no section, no error
    store = Store(db_url)
    try:
        assert schema_of(store) == before
    finally:
        store.close()


def test_the_report_refuses_an_empty_database_and_a_newer_revision_and_changes_neither(db_url, monkeypatch, capsys):
    """Reading as it is: an empty database (a cron job's report before the bot's first start) got the host's tables
    made by the report; a store of a newer arbot is refused, naming its revision, as before."""
    from sqlalchemy import text

    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(default_toml(), registry, DEFAULT_SOURCE)
    monkeypatch.setattr(cli, "prepare", lambda path, secrets: (plugins, registry, config))
    if db_url.startswith("sqlite:///"):
        Path(db_url[len("sqlite:///"):]).touch()  # a file that exists: not refused as a mistyped path
    assert cli.main(["report", "--db", db_url]) == 2
    assert "holds no arbot store" in capsys.readouterr().err
    store = Store(db_url)
    try:
        assert schema_of(store) == {}
        store.open()
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        before = schema_of(store)
    finally:
        store.close()
    assert cli.main(["report", "--db", db_url]) == 2
    assert "schema revision 9999, which this arbot does not know" in capsys.readouterr().err
    store = Store(db_url)
    try:
        assert schema_of(store) == before
    finally:
        store.close()
