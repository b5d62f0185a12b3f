"""A store that knows who it is: its identity, its client-id epoch, and checks that it is still the same.

Every store gets an identity once (``store_id`` in the ``bot_state`` table) and an **id epoch**
(``id_epoch``): a short random token that is part of every client order id the bot makes (the
executor's own ids, and strategies' deterministic ids through ``ctx.id_epoch``). A new or deleted
store starts with a new epoch, so its ids can never repeat one a venue has already seen.

Several bots may share one database (PostgreSQL): each has its own identity, epoch and run count
(the ``bot_state`` rows of its ``[bot] name``), and no two bots of one database ever hold the same
epoch (a unique index; a draw that another bot holds is drawn again), so their client order ids
never coincide, whatever their strategies are called.

A store *restored from an older backup* keeps its epoch, and with it the ids its lost newer runs
used. To notice it, each start counts itself (``runs`` in the store) and writes the same count to a
small file beside the data (``<data_dir>/arbot.identity``). A store whose count is behind that file
is older than the last run: the bot refuses to start until told ``arbot run --new-epoch``, which
draws a new epoch (so nothing can be reused) and goes on.

At start the bot also asks each venue for its open orders: an order open there under one of our
strategies' id prefixes that the store has never seen means the store does not match the venue
(a lost or replaced DB). The bot stops with :class:`StoreMismatch`; ``arbot run --cancel-unknown``
cancels those orders at the venue and starts.

While running, :class:`StoreWatch` checks every few seconds that the SQLite file is still the one
opened at start (same device and inode, same ``store_id``): a DB deleted or replaced under a
running bot is alerted.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from .store import Store

log = logging.getLogger("arbot.identity")

SIDECAR = "arbot.identity"
EPOCH_ALPHABET = string.ascii_lowercase + string.digits
EPOCH_LEN = 5


class StoreMismatch(Exception):
    """The store does not match what the venues or the last run know; the message says the way out."""


@dataclass(frozen=True)
class StoreIdentity:
    store_id: str
    id_epoch: str
    runs: int
    new_store: bool
    replaced: str | None = None
    """The store id this data dir held before, when a different store took its place."""


def new_epoch() -> str:
    return "".join(secrets.choice(EPOCH_ALPHABET) for _ in range(EPOCH_LEN))


def establish(store: Store, data_dir: Path, *, fresh_epoch: bool = False, ts_ns: int | None = None) -> StoreIdentity:
    """Read (or create) the store's identity and epoch, compare it with the last run's, count this run.

    Raises :class:`StoreMismatch` when the store is older than the last run (restored from a
    backup) and ``fresh_epoch`` is not given. Waits on the database: the bot's start calls it (and
    :func:`check_strategy_names`) on the store writer's thread, never on the event loop.
    """
    found = store.get_state("store_id")
    new_store = found is None
    store_id = secrets.token_hex(8) if found is None else found
    if new_store:
        store.set_state("store_id", store_id, ts_ns)
    epoch = store.get_state("id_epoch")
    runs = int(store.get_state("runs") or 0)
    sidecar = _read_sidecar(data_dir)
    replaced = None
    if sidecar is not None and sidecar.get("store_id") not in (None, store_id):
        replaced = str(sidecar["store_id"])
        log.warning("this data dir held store %s until now; store %s (%s) takes its place", replaced, store_id,
                    "new" if new_store else "existing")
    elif sidecar is not None and int(sidecar.get("runs", 0)) > runs and not fresh_epoch:
        raise StoreMismatch(
            f"the store ({_where(store)}) is older than the last run: it has counted {runs} run(s), the last run "
            f"was number {sidecar['runs']} (see {data_dir / SIDECAR}). It was probably restored from a backup; "
            "client order ids of the lost runs could be sent again. Start with `arbot run --new-epoch` to give "
            "new orders ids from a fresh epoch (orders still open at a venue from the lost runs are checked at "
            "start), or put the newer store back.")
    if epoch is None or fresh_epoch:
        old, epoch = epoch, _draw_epoch(store, ts_ns)
        if old is not None:
            log.warning("new client order id epoch %s (was %s)", epoch, old)
    runs += 1
    store.set_state("runs", str(runs), ts_ns)
    _write_sidecar(data_dir, {"store_id": store_id, "id_epoch": epoch, "runs": runs})
    return StoreIdentity(store_id, epoch, runs, new_store, replaced)


def check_strategy_names(store: Store, strategies: list[str]) -> None:
    """Refuse strategy names another bot of the database already trades under: strategies' own tables
    (grid slots, arbitrage executions, ...) are keyed by strategy name, so two bots sharing a database and a
    strategy name would read and change each other's rows. The names are claimed for this bot when free (seen by
    the next bot even before this one stores an order), in one step with the check (:meth:`Store.claim_strategies`):
    of two bots starting together under one name, one gets it."""
    taken = store.claim_strategies(strategies)
    if not taken:
        return
    listed = ", ".join(f'"{name}" (bot "{bot}")' for name, bot in sorted(taken.items()))
    raise StoreMismatch(
        f"strategy name(s) {listed} already trade in this database ({_where(store)}) under another bot: bots "
        "sharing a database need distinct strategy names, since strategies keep their own records by name. "
        "Rename the strategy in this bot's [strategies], or give this bot the other one's [bot] name if it "
        "is that bot moved to another machine.")


EPOCH_DRAWS = 20


def _draw_epoch(store: Store, ts_ns: int | None) -> str:
    """Store a new epoch that no other bot of the database holds, and return it."""
    for _ in range(EPOCH_DRAWS):
        epoch = new_epoch()
        try:
            store.set_state("id_epoch", epoch, ts_ns)
            return epoch
        except IntegrityError:  # another bot of this database holds it (a 1 in 60 million draw): draw again
            continue
    raise StoreMismatch(f"could not draw a client order id epoch no other bot of {_where(store)} holds "
                        f"in {EPOCH_DRAWS} tries")


def sqlite_path(store: Store) -> Path | None:
    """The SQLite file of ``store``, or None (another database, or in memory)."""
    url = make_url(store.url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class StoreWatch:
    """Notices a SQLite file deleted or replaced under the running bot."""

    def __init__(self, store: Store, store_id: str):
        self.store = store
        self.store_id = store_id
        self.path = sqlite_path(store)
        self._stat = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def problem(self) -> str | None:
        """What is wrong with the store now, or None."""
        if self.path is not None:
            now = self._identity()
            if now is None:
                return f"the store file {self.path} was deleted while the bot runs"
            if now != self._stat:
                return f"the store file {self.path} was replaced while the bot runs"
        try:
            found = self.store.get_state("store_id")
        except Exception:  # cannot read: the writer's failure handling reports it
            return None
        if found != self.store_id:
            return f"the store now holds identity {found}, not {self.store_id}: it was replaced while the bot runs"
        return None


def _where(store: Store) -> str:
    path = sqlite_path(store)
    return str(path) if path is not None else make_url(store.url).render_as_string(hide_password=True)


def _read_sidecar(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / SIDECAR).read_text())
        return data if isinstance(data, dict) else None
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        log.warning("%s unreadable (%s); taking the store as it is", data_dir / SIDECAR, exc)
        return None


def _write_sidecar(data_dir: Path, data: dict[str, Any]) -> None:
    path = data_dir / SIDECAR
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data) + "\n")
    os.replace(tmp, path)
