"""Who is calling: users and their token hashes, browser sessions, rate limits, strangers, kill confirmations.

Tokens are never kept: a user's token (from ``env:``/``file:`` or given as ``sha256:HEX``) is held
as its SHA-256 and a presented token is hashed and compared in constant time. A browser logs in
once (``POST /api/v1/login``) and gets an HttpOnly, ``SameSite=Strict`` session cookie plus a CSRF
token that its state-changing calls echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import cast

from bot.api import ROLE_RANK, Role, Secret
from bot.api.kit import Folding

from .settings import WebSettings, same_token


def token_hash(token: str) -> str:
    """``sha256:HEX`` of a token: what ``[plugins.web] users.NAME.token`` may hold instead of a reference."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def may(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Users:
    """The configured users, found by token."""

    def __init__(self, settings: WebSettings):
        self._by_hash: list[tuple[bytes, User]] = []
        for name, entry in sorted(settings.users.items()):
            reference = entry["token"]
            if reference.startswith("sha256:"):
                hashed = reference
            else:
                secret = Secret(reference)
                try:
                    secret.resolve()
                except ValueError as exc:
                    raise ValueError(f"[plugins.web] users.{name}.token: {exc}") from None
                hashed = token_hash(secret.reveal())
            other = next((user.name for known, user in self._by_hash if known == hashed.encode()), None)
            if other is not None:  # two references read to one token (the settings caught one reference twice)
                raise ValueError(f"[plugins.web] users.{name}.token: {same_token(other)}")
            self._by_hash.append((hashed.encode(), User(name, cast(Role, entry["role"]))))  # checked by the settings

    def __len__(self) -> int:
        return len(self._by_hash)

    def keys(self) -> set[tuple[User, bytes]]:
        """Each user with the hash of its token now: what a session opened with a token must still match."""
        return {(user, hashed) for hashed, user in self._by_hash}

    def knows(self, text: str) -> bool:
        """Whether ``text`` is a user's token, or the ``sha256:`` hash the config holds of one: a value the audit must
        not store (the redactor knows neither of a token given as its hash). Not in constant time: it decides what
        is written, not who may call."""
        hashes = {hashed for hashed, _ in self._by_hash}
        text = text.strip()
        return bool(text) and (token_hash(text).encode() in hashes or text.lower().encode() in hashes)

    def by_token(self, token: str) -> User | None:
        """The user with this token; every configured hash is compared, so the time says nothing."""
        presented = token_hash(token).encode()
        found = None
        for hashed, user in self._by_hash:
            if hmac.compare_digest(hashed, presented):
                found = user
        return found


@dataclass
class Session:
    user: User
    csrf: str
    expires: float
    key: bytes
    """The hash of the token it was opened with: a session outlives neither its token nor its user."""


class Sessions:
    """Browser sessions by the random id in their cookie: at most :attr:`PER_USER` of one user's."""

    PER_USER = 100
    """A user's sessions kept at most; a login past them ends that user's oldest. A script logging in for each call
    (the browser's way, not a bearer token's) would otherwise keep one per login for ``session_ttl_s``: 864,000 at
    the default 20 logins/s, each login walking them all on the loop."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        """By id, in the order they opened: each lasts ``ttl_s`` from the loop's clock, so the first to expire is
        the first kept."""
        self._of_user: dict[str, dict[str, None]] = {}
        """Each user's session ids, oldest first."""

    def open(self, user: User, token: str, now: float) -> tuple[str, Session]:
        """A new session of ``user``, who logged in with ``token`` (only its hash is kept)."""
        self._expire(now)
        sid = secrets.token_urlsafe(32)
        session = self._sessions[sid] = Session(user, secrets.token_urlsafe(24), now + self.ttl_s,
                                                token_hash(token).encode())
        mine = self._of_user.setdefault(user.name, {})
        mine[sid] = None
        while len(mine) > self.PER_USER:
            self.close(next(iter(mine)))
        return sid, session

    def get(self, sid: str, now: float) -> Session | None:
        session = self._sessions.get(sid)
        if session is None or now > session.expires:
            return None
        return session

    def close(self, sid: str) -> None:
        session = self._sessions.pop(sid, None)
        if session is not None:
            mine = self._of_user[session.user.name]
            del mine[sid]
            if not mine:
                del self._of_user[session.user.name]

    def __len__(self) -> int:
        """Sessions kept now (an expired one until the next login clears it)."""
        return len(self._sessions)

    def retain(self, keys: set[tuple[User, bytes]]) -> int:
        """End every session whose user and token are not among ``keys`` (a token rotated or a user removed by
        ``arbot ctl reload-secrets``: whoever logged in with the old token is out); how many ended."""
        ended = [sid for sid, session in self._sessions.items() if (session.user, session.key) not in keys]
        for sid in ended:
            self.close(sid)
        return len(ended)

    def _expire(self, now: float) -> None:
        """Forget the sessions expired by ``now``: the first ones kept, so only they are looked at."""
        while self._sessions:
            sid, session = next(iter(self._sessions.items()))
            if now <= session.expires:
                break
            self.close(sid)


@dataclass
class Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per key: ``rate`` per second sustained, ``burst`` at once."""

    KEPT = 10_000
    """At most this many keys' buckets are kept (keys may be addresses): the least recently used is forgotten."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """0 when allowed (one token taken); otherwise the seconds until a token is back."""
        bucket = self._buckets.pop(key, None)  # put back at the end: the dict is in the order of last use
        if bucket is None:
            bucket = Bucket(float(self.burst), now)
            if len(self._buckets) >= self.KEPT:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class FailureWindow:
    """Failed logins per address in the last minute (a guessing client gets 429)."""

    WINDOW_S = 60.0

    def __init__(self, per_min: int):
        self.per_min = per_min
        self._recent: dict[str, deque[float]] = {}

    def _trim(self, key: str, now: float) -> deque[float]:
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] >= self.WINDOW_S:
            recent.popleft()
        return recent

    def blocked(self, key: str, now: float) -> float:
        """0 when the address may try; otherwise the seconds until it may."""
        recent = self._trim(key, now)
        if len(recent) < self.per_min:
            if not recent:
                del self._recent[key]
            return 0.0
        return self.WINDOW_S - (now - recent[0])

    def failed(self, key: str, now: float) -> None:
        recent = self._trim(key, now)
        recent.append(now)
        # kept in the order of each address's latest failure: an address whose latest failure is a minute old
        # (it never came back) is forgotten from the front, so addresses that fail once do not pile up
        self._recent[key] = self._recent.pop(key)
        while self._recent:
            oldest, window = next(iter(self._recent.items()))
            if window and now - window[-1] < self.WINDOW_S:
                break
            del self._recent[oldest]

    def clear(self) -> None:
        """Forget every address's failures."""
        self._recent.clear()


@dataclass(frozen=True)
class Refused:
    """What the audit line of a refusal window quotes (the :attr:`~bot.api.kit.Fold.note` of its first refusal)."""

    command: str
    role: str = ""
    """The user's role, when the window is a user's (:attr:`WebServer.throttled_audit`)."""


OTHERS = "other addresses"
"""The key of the one window every address past :attr:`StrangerAudit.NAMED` counts in."""


class StrangerAudit(Folding[str]):
    """Refusals audited folded per key (an address, or a throttled user), by the host's one rule
    (:class:`bot.api.kit.Folding`): the first of a minute as it happens (:meth:`first` with its :class:`Refused`),
    the rest as one line with their count once the minute is over (:meth:`due`), as the command layer folds a chat
    stranger's, so a client hammering the API writes a line a minute, not one per request.

    Addresses are a stranger's to choose (an IPv6 network gives millions): with ``capped``, at most :attr:`NAMED`
    keys have a window of their own at once, and a refusal from any other key counts in one shared window
    (:data:`OTHERS`), so many addresses write at most ``NAMED`` + 2 lines a minute, and memory stays bounded."""

    WINDOW_S = 60.0
    NAMED = 100

    def __init__(self, capped: bool = True) -> None:
        super().__init__(lambda: self.WINDOW_S, keys=self.NAMED if capped else None, others=OTHERS)


@dataclass
class Pending:
    user: str
    verb: str
    args: dict[str, str]
    expires: float
    used: bool = field(default=False)


class Confirmations:
    """Two-step verbs (kill): a token only the same user can redeem, once, before it expires."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._pending: dict[str, Pending] = {}

    def ask(self, user: User, verb: str, args: dict[str, str], now: float) -> str:
        for token in [t for t, p in self._pending.items() if now > p.expires + 3600]:
            del self._pending[token]
        token = secrets.token_urlsafe(16)
        self._pending[token] = Pending(user.name, verb, args, now + self.ttl_s)
        return token

    def redeem(self, user: User, verb: str, token: str, now: float) -> tuple[Pending | None, int, str]:
        """(the pending call, or None with the HTTP status and the reason it is refused)."""
        pending = self._pending.get(token)
        if pending is None or pending.verb != verb:
            return None, 404, "no such confirmation token"
        if pending.user != user.name:
            return None, 403, "only the user who asked can confirm it"
        if pending.used:
            return None, 409, "this confirmation was used already"
        if now > pending.expires:
            return None, 410, f"the confirmation expired (valid {self.ttl_s:g} s); ask again"
        pending.used = True
        return pending, 200, "ok"
