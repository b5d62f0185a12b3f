"""One process per chat bot token: a transport goes live only while it holds the token's store lease.

A Telegram bot token may be polled by one process only (a second ``getUpdates`` is refused with 409
Conflict), and a Discord token's gateway sessions race each other. In a fleet several bots may be
configured with the same token (any of them may carry the fleet's chat); :class:`TokenLease` makes
exactly one of them live:

- :meth:`TokenLease.start` takes the lease on ``"<transport> <hash of the token>"`` (the token
  itself never reaches the store) and calls ``go_live``; when another process holds it, the
  transport stands by (no polling, no sending: a standby bot's alerts reach chat through the
  fleet's alert relay) and says so once in the log and an alert;
- :meth:`TokenLease.watch` (a background task) retries every ``retry_s`` and takes over when the
  holder is gone (its process ended or its database session was lost); a holder that finds its
  lease taken by another process (its own session was lost meanwhile) calls ``stand_by``; each
  round that finds the lease still held elsewhere calls ``held_elsewhere`` with the loop time the
  round began (the holder was live then: what it relays had reached the chat by that round);
- a store that cannot be asked (database down) changes nothing: a live transport stays live;
- every call on the store runs off the loop on a daemon thread (:func:`bot.store.lease.off_loop`) or the store's
  own read threads, never the loop's default executor: a database that does not answer (a PostgreSQL server stopped
  with SIGSTOP) holds the round waiting for it, never the process's exit; :meth:`TokenLease.release` waits
  :data:`~bot.store.lease.LEASE_RELEASE_S` at most (then the server frees the lease when this process's session
  ends: its exit included);
- :meth:`TokenLease.handled` / :meth:`TokenLease.last_handled` keep the position of the last update the
  holder handled (a Telegram ``update_id``) in the store, per *sequence* (what numbers the updates: a Telegram
  bot's id, which a new token of the same bot keeps and another bot does not share; never a secret), where
  every process of the database reads it: one taking over after a crash skips what the dead holder handled
  but never confirmed to the chat service (which hands such updates out again).

Public for plugins as :class:`bot.api.kit.TokenLease`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .store.lease import LEASE_RELEASE_S, Lease, LeaseUnavailable, lease, off_loop

if TYPE_CHECKING:
    from .store import Store

LIVE, STANDBY = "live", "standby"


HANDLED_PREFIX = "chat_handled:"
"""``bot_state`` key prefix (then the transport and the sequence) of the last update a token's holder handled."""


def token_lease_name(transport: str, token: str) -> str:
    """The lease name of a chat token: the transport and a hash of the token (never the token)."""
    return f"{transport} {hashlib.sha256(token.encode()).hexdigest()[:24]}"


class TokenLease:
    """Hold a chat token's store lease while live; stand by and retry while another process holds it."""

    def __init__(self, store: Store, transport: str, token: Callable[[], str], *,
                 go_live: Callable[[], Awaitable[None]], stand_by: Callable[[], Awaitable[None]],
                 notice: Callable[[str], None], log: logging.Logger, retry_s: float = 5.0,
                 held_elsewhere: Callable[[float], None] | None = None) -> None:
        self.transport = transport
        self._store = store
        self._token = token
        """Read again at each round: a rotated token (``reload_secrets``) moves the lease to its new name."""
        self._lease: Lease = lease(store, token_lease_name(transport, token()))
        self._go_live = go_live
        self._stand_by = stand_by
        self._notice = notice
        self._held_elsewhere = held_elsewhere
        """Called with the loop time a standby round began when it found the lease held by another process."""
        self._log = log
        self.retry_s = retry_s
        self.state = ""
        """``live`` or ``standby`` once started."""

    def status(self) -> dict[str, str]:
        """The facts ``/status`` shows."""
        if self.state == STANDBY:
            return {"chat": "standing by: another process holds this token (retrying every "
                            f"{self.retry_s:g} s)"}
        return {"chat": "live"} if self.state == LIVE else {}

    async def _acquire(self) -> bool | None:
        """True: ours; False: held elsewhere; None: the store cannot tell now."""
        try:
            return await off_loop(self._lease.acquire, f"{self.transport} acquire")
        except LeaseUnavailable as exc:
            self._log.warning("%s: cannot ask the store for the token lease (%s); keeping the current state",
                              self.transport, exc)
            return None

    async def start(self) -> None:
        """Go live if the lease is ours (or the store cannot tell: the single-process default), else stand by."""
        got = await self._acquire()
        if got is False:
            self.state = STANDBY
            self._notice(f"{self.transport}: another process polls this bot token; standing by (no polling, no "
                         f"sending) and taking over when it stops")
            return
        try:
            await self._go_live()
        except BaseException:  # the transport failed to start: another process may do better
            await self._let_go(self._lease)
            raise
        self.state = LIVE

    async def _rekey(self) -> None:
        """The token was rotated: hold (or wait for) the lease of the new one, and let the old one go."""
        name = token_lease_name(self.transport, self._token())
        if name == self._lease.name:
            return
        old, self._lease = self._lease, lease(self._store, name)
        await self._let_go(old)

    async def watch(self) -> None:
        """Every ``retry_s``: take over when the holder is gone; stand by when another took the lease."""
        while True:
            await asyncio.sleep(self.retry_s)
            await self._rekey()
            if self.state == LIVE:
                if await off_loop(self._lease.held, f"{self.transport} held"):
                    continue
                got = await self._acquire()
                if got is False:  # our session was lost and another process took over meanwhile
                    await self._stand_by()
                    self.state = STANDBY
                    self._notice(f"{self.transport}: another process took over this bot token; standing by")
            else:
                began = asyncio.get_running_loop().time()
                got = await self._acquire()
                if got is False and self._held_elsewhere is not None:
                    self._held_elsewhere(began)
                if not got:
                    continue
                try:
                    await self._go_live()
                except Exception as exc:  # the chat service refused us: let another process try, and retry
                    self._log.warning("%s: could not go live after taking the token lease: %s: %s",
                                      self.transport, type(exc).__name__, exc)
                    await self._let_go(self._lease)
                    continue
                self.state = LIVE
                self._notice(f"{self.transport}: took over this bot token (the process that held it stopped)")

    def _handled_key(self, sequence: str) -> str:
        if not sequence or any(c.isspace() for c in sequence) or len(sequence) > 64:
            raise ValueError(f"{self.transport}: an update sequence is a short word (a bot id), got {len(sequence)} "
                             "characters")
        return f"{HANDLED_PREFIX}{self.transport} {sequence}"

    async def record_handled(self, position: int, *, sequence: str) -> None:
        """:meth:`handled` from the loop: on a daemon thread (see the module doc), never the default executor."""
        await off_loop(lambda: self.handled(position, sequence=sequence), f"{self.transport} handled")

    async def read_last_handled(self, *, sequence: str, max_age_s: float | None = None) -> int | None:
        """:meth:`last_handled` from the loop: on the store's own read threads (``Store.read_off_loop``: a database
        that does not answer refuses it with ``ReadRefused`` once they are held), never the default executor."""
        return await self._store.read_off_loop(self.last_handled, sequence=sequence, max_age_s=max_age_s)

    def handled(self, position: int, *, sequence: str) -> None:
        """Record ``position`` (an update id) as handled in ``sequence`` (what numbers the updates: a Telegram bot's
        id, never a secret), in this bot's ``bot_state`` (blocking: from a worker thread). Written before the update
        is acted on: after a crash it is skipped, not redone, whichever token of that bot is in force then."""
        self._store.set_state(self._handled_key(sequence), str(position))

    def last_handled(self, *, sequence: str, max_age_s: float | None = None) -> int | None:
        """The highest position any process of this database recorded as handled in ``sequence`` (blocking); with
        ``max_age_s``, only among those recorded within that many seconds (older positions no update handed out
        again can be at: the chat service keeps unconfirmed updates that long at most)."""
        since_ns = time.time_ns() - int(max_age_s * 1e9) if max_age_s is not None else 0
        records = self._store.state_of_every_bot(self._handled_key(sequence)).values()
        positions = [int(value) for value, at_ns in records if value.lstrip("-").isdigit() and at_ns >= since_ns]
        return max(positions) if positions else None

    async def release(self) -> None:
        """Give the lease up (on stop): a standby process takes over within its ``retry_s``. Waits
        :data:`~bot.store.lease.LEASE_RELEASE_S` at most for the database (see the module doc)."""
        await self._let_go(self._lease)
        self.state = ""

    async def _let_go(self, held: Lease) -> None:
        """Release ``held`` on a daemon thread, waiting :data:`~bot.store.lease.LEASE_RELEASE_S` at most: a database
        that does not answer is logged, and the release goes on until it answers (the server frees the lease when
        the session ends, this process's exit included)."""
        releasing = off_loop(held.release, f"{self.transport} release")
        await asyncio.wait([releasing], timeout=LEASE_RELEASE_S)
        if not releasing.done():
            self._log.warning("%s: the token lease was not released within %g s (the database does not answer): "
                              "another process takes over once the server frees it (when this process's session "
                              "ends)", self.transport, LEASE_RELEASE_S)
        elif (exc := releasing.exception()) is not None:
            raise exc
