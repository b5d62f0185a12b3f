"""Several bots on one database (``db_url`` fixture: SQLite, or PostgreSQL with ARBOT_TEST_DB_URL).

Each bot reads and writes its own rows; the same trade or client order id on two bots is two rows;
``arbot report --all`` is the sum of the bots' reports; the client order id epochs of two bots differ;
on PostgreSQL a pending migration runs once while other bots wait (or refuse after
``[bot] migrate_wait_s``).
"""

from __future__ import annotations

import os
import subprocess
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bot import cli, identity
from bot.api import OrderIntent
from bot.app import Bot
from bot.config import BACKTEST_BOT, build_config, parse_toml
from bot.domain import Fill, Liquidity, Order, OrderStatus, Side, Transfer, TransferStatus
from bot.ledger import Ledger, totals
from bot.plugins import collect, load_plugins
from bot.report import fleet_reply
from bot.settings import ConfigError
from bot.store import Store, StoreError, engine_url, migrate
from plugins.limits.peaks import load_peaks, save_peaks  # a plugin table: created when the store opens
from tests.helpers.processes import arbot, wait_until
from tests.test_store import make_old_db

D = Decimal
T0 = 1_796_000_000_000_000_000


def order(cid: str, side: Side = Side.BUY, strategy: str = "grid", **kw) -> Order:
    return Order(**{"client_order_id": cid, "strategy": strategy, "exchange": "paper", "symbol": "BTC/USD",
                    "side": side, "qty": D("0.5"), "price": D("30000"), "status": OrderStatus.FILLED,
                    "created_ns": T0, "updated_ns": T0, **kw})


def fill(trade_id: str, cid: str, side: Side, price: str, ts: int = 0) -> Fill:
    return Fill("paper", "BTC/USD", cid, trade_id, side, D(price), D("0.5"), D("0.01"), "USD", Liquidity.TAKER,
                T0 + ts)


def trade(store: Store, buy: str, sell: str) -> None:
    """A round trip of the store's bot under the same ids every bot uses: order c-1 / c-2, trades T1 / T2."""
    assert store.insert_order(order("c-1")) and store.insert_order(order("c-2", Side.SELL))
    assert store.insert_fill(fill("T1", "c-1", Side.BUY, buy, 1), "grid")
    assert store.insert_fill(fill("T2", "c-2", Side.SELL, sell, 2), "grid")


@pytest.fixture
def two(db_url):
    """Stores of bots "alpha" and "beta" on one database."""
    alpha = Store(db_url, bot="alpha").open()
    beta = Store(db_url, bot="beta").open()
    yield alpha, beta
    alpha.close()
    beta.close()


def test_two_bots_on_one_database_each_see_only_their_rows(two):
    alpha, beta = two
    trade(alpha, "30000", "30100")
    trade(beta, "30000", "30040")  # the same client order ids and trade ids: both stored
    assert not alpha.insert_fill(fill("T1", "c-1", Side.BUY, "1"), "grid")  # but once per bot
    for store, sold in ((alpha, D("30100")), (beta, D("30040"))):
        assert [o.client_order_id for o in store.orders()] == ["c-1", "c-2"]
        assert [f.price for _, f in store.fills()] == [D("30000"), sold]
        assert store.get_order("c-2").side is Side.SELL and store.order_exists("c-1")
    alpha.write_batch([order("c-1", status=OrderStatus.CANCELLED)], [("grid", fill("T3", "c-1", Side.BUY, "29000"))])
    assert alpha.get_order("c-1").status is OrderStatus.CANCELLED
    assert beta.get_order("c-1").status is OrderStatus.FILLED and len(beta.fills()) == 2

    alpha.set_state("observe", "on")
    alpha.audit(transport="telegram", user_id="1", command="pause", args="", outcome="ok")
    alpha.record_risk_event(check_name="limits", reason="daily loss", action="halt")
    alpha.snapshot_balances("paper", [type("B", (), {"asset": "USD", "free": D(1), "total": D(2)})()], T0)
    alpha.save_transfer(Transfer("x-1", "USD", D(5), "paper", "other", "addr", D(0), D(0), TransferStatus.PLANNED,
                                 T0, T0))
    beta.save_transfer(Transfer("x-1", "USD", D(7), "paper", "other", "addr", D(0), D(0), TransferStatus.SENT, T0, T0))
    alpha.insert_markouts([{"exchange": "paper", "trade_id": "T1", "horizon_s": 1, "mid": D(30001), "ts_ns": T0}])
    beta.insert_markouts([{"exchange": "paper", "trade_id": "T1", "horizon_s": 1, "mid": D(29999), "ts_ns": T0}])
    assert beta.get_state("observe") is None and beta.audit_log() == [] and beta.risk_events() == []
    assert beta.risk_event_counts() == {} and beta.latest_balances() == []
    assert [t.amount for t in alpha.transfers()] == [D(5)] and [t.amount for t in beta.transfers()] == [D(7)]
    assert alpha.markouts() == {("paper", "T1"): {1: D(30001)}} and beta.markouts()[("paper", "T1")] == {1: D(29999)}
    assert len(alpha.audit_log()) == 1 and alpha.risk_event_counts() == {("limits", "halt"): 1}
    assert alpha.bots() == beta.bots() == ["alpha", "beta"]
    assert alpha.scoped("beta").fills() == beta.fills()


def test_the_fleet_total_is_the_sum_of_the_bots_reports(two):
    alpha, beta = two
    trade(alpha, "30000", "30100")  # 0.5 * 100 = 50 realized, 0.02 fees
    trade(beta, "30000", "29980")  # -10 realized
    per_bot = {bot: totals(Ledger(alpha, bot=bot).report().values()) for bot in ("alpha", "beta")}
    assert per_bot["alpha"].realized == {"USD": D("50")} and per_bot["beta"].realized == {"USD": D("-10")}
    assert Ledger(beta).report()["grid"].realized == per_bot["beta"].realized  # bot=None: the store's own
    reply = fleet_reply(beta)
    assert reply.rows[0][0] == "bot"
    assert [r[0] for r in reply.rows[1:]] == ["alpha", "beta", "fleet total"]
    assert reply.rows[-1][1:] == ("4", "4", "4", "2", "40.00 USD", "0.04 USD", "39.96 USD")



def test_the_fleet_report_takes_each_bots_transfer_costs_off_its_net_and_the_fleets(two):
    alpha, beta = two
    trade(alpha, "30000", "30100")  # net 49.98 USD
    trade(beta, "30000", "29980")  # net -10.02 USD
    alpha.save_transfer(Transfer("a-1", "USD", D(5), "paper", "other", "addr", D("0.5"), D("0.000005"),
                                 TransferStatus.CREDITED, T0, T0, network_fee_asset="SOL"))
    beta.save_transfer(Transfer("b-1", "USD", D(5), "paper", "other", "addr", D("9"), D(0), TransferStatus.FAILED,
                                T0, T0))
    text = fleet_reply(beta).text
    assert "alpha: transfer costs 0.000005 SOL, 0.50 USD; net after transfer costs -0.000005 SOL, 49.48 USD" in text
    assert "beta: transfer costs" not in text  # a refused withdrawal cost nothing
    assert "fleet total: transfer costs 0.000005 SOL, 0.50 USD; net after transfer costs -0.000005 SOL, 39.46 USD" \
        in text


def config_file(tmp_path: Path, db_url: str, bot: str, **bot_keys: object) -> Path:
    path = tmp_path / f"{bot}.toml"
    extra = "".join(f"{k} = {v!r}\n" for k, v in bot_keys.items())
    path.write_text(f'[bot]\nname = "{bot}"\ndb_url = "{db_url}"\n{extra}')
    return path


def run_arbot(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(arbot(*args), cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def test_arbot_report_shows_this_bot_and_all_shows_every_bot_then_the_fleet(two, db_url, tmp_path):
    alpha, beta = two
    trade(alpha, "30000", "30100")
    trade(beta, "30000", "29980")
    one = run_arbot(tmp_path, "report", "--config", str(config_file(tmp_path, db_url, "beta")))
    assert one.returncode == 0, one.stderr
    assert "arbot report: bot beta" in one.stdout and "-10.00 USD" in one.stdout and "50.00" not in one.stdout
    every = run_arbot(tmp_path, "report", "--all", "--config", str(config_file(tmp_path, db_url, "beta")))
    assert every.returncode == 0, every.stderr
    out = every.stdout
    assert out.index("=== bot alpha ===") < out.index("=== bot beta ===") < out.index("=== fleet ===")
    fleet = out[out.index("=== fleet ==="):].splitlines()
    rows = {line.split()[0]: line for line in fleet if line.startswith(("alpha", "beta", "fleet total"))}
    assert "50.00 USD" in rows["alpha"] and "-10.00 USD" in rows["beta"] and "39.96 USD" in rows["fleet"]


def test_a_config_naming_no_bot_reports_a_backtest_only_on_a_store_whose_only_bot_is_the_backtest(db_url):
    registry = collect(load_plugins())

    def config(toml: str):
        return build_config(parse_toml(toml, "test"), registry, "test")

    unnamed, named = config(""), config('[bot]\nname = "beta"\n')
    host = unnamed.bot.resolved_name()
    store = Store(db_url, bot=BACKTEST_BOT).open()
    try:
        trade(store, "30000", "30100")  # a backtest's store: its only bot is the backtest
        assert cli.report_bot(store.scoped(host), unnamed) == BACKTEST_BOT
        assert cli.report_bot(store.scoped("beta"), named) == "beta"  # a named bot reads its own rows, always
        trade(store.scoped("alpha"), "30000", "30040")  # a database another bot shares: this bot's own rows
        assert cli.report_bot(store.scoped(host), unnamed) == host
    finally:
        store.close()
    with pytest.raises(ConfigError, match='"backtest" names the rows of a backtest whose config names no bot'):
        config(f'[bot]\nname = "{BACKTEST_BOT}"\n')


def test_two_bots_draw_different_client_order_id_epochs(two, tmp_path, monkeypatch):
    alpha, beta = two
    draws = iter(["same1", "same1", "other"])
    monkeypatch.setattr(identity, "new_epoch", lambda: next(draws))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = identity.establish(alpha, tmp_path / "a")
    b = identity.establish(beta, tmp_path / "b")
    assert (a.id_epoch, b.id_epoch) == ("same1", "other")  # beta's first draw was alpha's: drawn again
    assert a.store_id != b.store_id and (a.runs, b.runs) == (1, 1)
    reopened = Store(alpha.engine.url.render_as_string(hide_password=False), bot="alpha")
    again = identity.establish(reopened, tmp_path / "a")
    reopened.close()
    assert (again.id_epoch, again.runs, again.new_store) == ("same1", 2, False)  # each bot keeps its own


async def test_two_running_bots_make_different_client_order_ids(db_url, tmp_path):
    bots = []
    try:
        for name in ("alpha", "beta"):
            toml = (f'[bot]\nname = "{name}"\ndata_dir = "{tmp_path / name}"\ndb_url = "{db_url}"\n'
                    'control_socket = ""\n[exchanges.paper]\ntype = "paper"\n')
            plugins = load_plugins()
            registry = collect(plugins)
            bot = Bot(build_config(parse_toml(toml, "test.toml"), registry, "test.toml"), plugins, registry)
            await bot.start()
            bots.append(bot)
        alpha, beta = bots
        assert (alpha.store.bot, beta.store.bot) == ("alpha", "beta") and alpha.id_epoch != beta.id_epoch
        intent = OrderIntent("grid", "paper", "BTC/USD", Side.BUY, D("0.001"), D("1000"))
        ids = [bot.submit(intent) for bot in bots]
        assert None not in ids and ids[0] != ids[1]
        assert [b.id_epoch in cid for b, cid in zip(bots, ids, strict=True)] == [True, True]
        assert alpha.store.bots() == ["alpha", "beta"]
    finally:
        for bot in bots:
            await bot.stop()


# --- the schema lock (PostgreSQL) --------------------------------------------------------------------------------


@pytest.fixture
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("the schema lock is PostgreSQL's (ARBOT_TEST_DB_URL)")
    return db_url


class HeldLock:
    """The schema lock of ``url``'s schema, held by this test (as a bot in the middle of an upgrade would)."""

    def __init__(self, url: str):
        self.engine = create_engine(engine_url(url), poolclass=NullPool)
        self.conn = self.engine.connect()
        self.conn.execute(text("SELECT pg_advisory_lock(:k, hashtext(current_schema()))"), {"k": migrate.SCHEMA_LOCK})

    def waiting(self) -> int:
        """How many other sessions wait for the lock."""
        return self.conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :k "
                                      "AND NOT granted"), {"k": migrate.SCHEMA_LOCK}).scalar() or 0

    def release(self) -> None:
        self.conn.execute(text("SELECT pg_advisory_unlock_all()"))
        self.conn.close()
        self.engine.dispose()


def test_two_bots_racing_a_pending_migration_run_it_once(pg_url, tmp_path):
    make_old_db(pg_url)  # tables of the builds before migrations: every revision is pending
    held = HeldLock(pg_url)
    procs = []
    try:
        for bot in ("alpha", "beta"):
            cfg = config_file(tmp_path, pg_url, bot, migrate_wait_s=120.0)
            procs.append(subprocess.Popen(arbot("db", "upgrade", "--config", str(cfg)), cwd=tmp_path, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}))
        assert wait_until(lambda: held.waiting() == 2, 120), "both should wait for the lock"
    finally:
        held.release()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    said = sorted(out for out, _ in outs)
    assert f"already at the newest schema revision {migrate.HEAD}" in said[0], said
    assert f"upgraded from revision 0001 to {migrate.HEAD}" in said[1], said
    store = Store(pg_url, bot="alpha")
    try:
        upgrader = "alpha" if "upgraded" in outs[0][0] else "beta"
        assert store.bots() == [upgrader]  # the rows stored before belong to the bot that upgraded
        assert migrate.current(store) == migrate.HEAD
    finally:
        store.close()


def test_a_bot_that_waits_too_long_for_the_lock_refuses_clearly(pg_url, tmp_path):
    make_old_db(pg_url)
    held = HeldLock(pg_url)
    try:
        cfg = config_file(tmp_path, pg_url, "alpha", migrate_wait_s=1.0)
        out = run_arbot(tmp_path, "db", "upgrade", "--config", str(cfg))
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert "for longer than [bot] migrate_wait_s = 1 s" in out.stderr and "raise [bot] migrate_wait_s" in \
            out.stderr
        store = Store(pg_url, bot="alpha", migrate_wait_s=1.0)
        with pytest.raises(StoreError, match="another bot has been creating or upgrading the schema"):
            store.open()
        store.close()
    finally:
        held.release()
    store = Store(pg_url, bot="alpha").open()
    assert store.bots() == ["alpha"]
    store.close()


def test_bots_starting_together_on_an_empty_database_create_it_once(pg_url):
    errors: list[BaseException] = []

    def start(bot: str) -> None:
        try:
            Store(pg_url, bot=bot).open().close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(f"bot{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_a_store_at_0006_upgrades_with_every_row_of_every_table_kept_for_the_upgrading_bot(db_url):
    from alembic import command

    make_old_db(db_url)
    old = Store(db_url)
    with old.engine.begin() as conn:
        command.stamp(migrate.alembic_config(conn), migrate.BASELINE)
        command.upgrade(migrate.alembic_config(conn), "0006")
        conn.execute(text("INSERT INTO transfers (transfer_id, asset, amount, source, destination, address, fee, "
                          "network_fee, status, venue_ref, reason, created_ns, updated_ns) VALUES ('x-1', 'USD', "
                          "'5', 'a', 'b', 'addr', '0', '0', 'sent', '', '', 1, 2)"))
        conn.execute(text("INSERT INTO markouts (exchange, trade_id, horizon_s, mid, ts_ns) VALUES "
                          "('paper', 'T-1', 1, '30001.5', 3)"))
        conn.execute(text("INSERT INTO bot_state (key, value, updated_ns) VALUES ('id_epoch', 'ep0ch', 4)"))
    old.close()
    store = Store(db_url, bot="keeper").open()
    try:
        assert migrate.current(store) == migrate.HEAD
        [transfer] = store.transfers()
        assert (transfer.transfer_id, transfer.amount, transfer.status) == ("x-1", D(5), TransferStatus.SENT)
        assert store.markouts() == {("paper", "T-1"): {1: D("30001.5")}}
        assert store.get_state("id_epoch") == "ep0ch" and store.get_state("observe") == "on"
        assert [f.trade_id for _, f in store.fills()] == ["T-1", "T-2"] and len(store.orders()) == 3
        assert store.bots() == ["keeper"]
        # the new keys: the same ids are another bot's rows, the epoch stays the keeper's alone
        other = store.scoped("other")
        other.save_transfer(transfer)
        assert other.insert_order(order("g-1")) and other.insert_fill(fill("T-1", "g-1", Side.BUY, "1"), "grid")
        with pytest.raises(IntegrityError):
            other.set_state("id_epoch", "ep0ch")
    finally:
        store.close()


def test_a_strategy_name_another_bot_trades_under_is_refused(two):
    alpha, beta = two
    trade(alpha, "30000", "30100")  # alpha's strategy "grid"
    identity.check_strategy_names(alpha, ["grid"])  # its own: fine
    identity.check_strategy_names(beta, ["arb"])
    with pytest.raises(identity.StoreMismatch, match='"grid" \\(bot "alpha"\\) already trade in this database'):
        identity.check_strategy_names(beta, ["arb", "grid"])
    # at start, an order open at a shared venue account under another bot's id is that bot's, not unknown
    assert beta.other_bots(client_order_id="c-1") == {"c-1": "alpha"} and alpha.other_bots(client_order_id="c-1") == {}


def test_a_strategy_that_only_observed_is_its_bots_from_the_start(two):
    """A strategy that has stored no order yet (observing, or no opportunity so far) is still claimed by its bot:
    another bot cannot start under its name, and the bot's report sections (Store.strategies) include it."""
    alpha, beta = two
    identity.check_strategy_names(alpha, ["sol-arb"])
    assert alpha.strategies() == ["sol-arb"] and beta.strategies() == []
    with pytest.raises(identity.StoreMismatch, match='"sol-arb" \\(bot "alpha"\\) already trade in this database'):
        identity.check_strategy_names(beta, ["sol-arb"])
    identity.check_strategy_names(alpha, ["sol-arb"])  # its own restart: fine, and claimed once
    trade(alpha, "30000", "30100")
    assert alpha.strategies() == ["grid", "sol-arb"]
    assert beta.other_bots(strategies=["sol-arb", "grid", "x"]) == {"sol-arb": "alpha", "grid": "alpha"}


def test_two_bots_starting_together_under_one_strategy_name_do_not_both_get_it(two, monkeypatch):
    """The check and the claim are one step: each bot, once it has read the claims, waits for the other to read
    them too (up to a second); with a check then a claim, both read before either claimed, and both started."""
    both_read = threading.Barrier(2)
    read = Store._other_bots

    def slow_read(self, *args):
        found = read(self, *args)
        try:
            both_read.wait(timeout=1)
        except threading.BrokenBarrierError:  # the other waits for the claims lock: it reads after this one claimed
            pass
        return found

    monkeypatch.setattr(Store, "_other_bots", slow_read)
    outcomes: dict[str, str] = {}

    def start(store: Store) -> None:
        try:
            identity.check_strategy_names(store, ["sol-arb"])
            outcomes[store.bot] = "started"
        except identity.StoreMismatch:
            outcomes[store.bot] = "refused"

    threads = [threading.Thread(target=start, args=(store,)) for store in two]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(outcomes.values()) == ["refused", "started"], outcomes
    winner, loser = (two[0], two[1]) if outcomes[two[0].bot] == "started" else (two[1], two[0])
    assert loser.other_bots(strategies=["sol-arb"]) == {"sol-arb": winner.bot}
    assert winner.other_bots(strategies=["sol-arb"]) == {}  # the refused bot claimed nothing


def test_each_bot_keeps_its_own_drawdown_peak_and_the_first_takes_the_unnamed_one(two):
    alpha, beta = two
    save_peaks(alpha.scoped(""), "limits", {"USD": D("900")}, T0)  # saved before bots had names
    assert load_peaks(alpha, "limits") == {"USD": D("900")}  # alpha loads first: its own now
    assert load_peaks(beta, "limits") == {}
    save_peaks(beta, "limits", {"USD": D("50")}, T0)
    save_peaks(alpha, "limits", {"USD": D("1000")}, T0)
    assert load_peaks(alpha, "limits") == {"USD": D("1000")} and load_peaks(beta, "limits") == {"USD": D("50")}
