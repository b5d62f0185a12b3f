"""Revision 0012: a stored transfer keeps its expected settle time (``TransferTerms.expected_s``); older rows say
none is known (NULL), so nothing flags them as overdue on a guess."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import text

from bot.domain import Transfer, TransferStatus
from bot.store import Store, migrate


def test_a_transfer_keeps_its_expected_time_and_an_old_row_has_none(db_url):
    from alembic import command

    old = Store(db_url, bot="b")
    with old.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn, "b"), "0011")
        conn.execute(text(
            "INSERT INTO transfers (bot, transfer_id, asset, amount, source, destination, address, fee, network_fee, "
            "network_fee_asset, status, venue_ref, reason, created_ns, updated_ns) VALUES ('b', 't-old', 'SOL', '5', "
            "'kraken', 'jupiter', 'addr', '0.01', '0', NULL, 'sent', 'FTQ1', '', 1, 2)"))
    old.close()
    store = Store(db_url, bot="b").open()
    try:
        assert migrate.current(store) == migrate.head() == "0012"
        [before] = store.transfers()
        assert before.transfer_id == "t-old" and before.expected_s is None  # unknown: never guessed
        store.save_transfer(Transfer("t-new", "SOL", D(5), "kraken", "jupiter", "addr", D("0.01"), D(0),
                                     TransferStatus.PLANNED, 5, 5, expected_s=900.0))
        new = {t.transfer_id: t for t in store.transfers()}["t-new"]
        assert new.expected_s == 900.0
        store.save_transfer(Transfer("t-new", "SOL", D(5), "kraken", "jupiter", "addr", D("0.01"), D(0),
                                     TransferStatus.SENT, 5, 6, "REF", expected_s=900.0))
        assert {t.transfer_id: t for t in store.transfers()}["t-new"].expected_s == 900.0  # kept on update
    finally:
        store.close()
