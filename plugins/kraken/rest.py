"""Kraken's private REST API: signing, nonces, pacing, and its errors mapped to arbot's.

Every private call is ``POST /0/private/<Method>`` with a form body that starts with ``nonce``,
an ``API-Key`` header and an ``API-Sign`` header: HMAC-SHA512, keyed with the base64-decoded
secret, of the URI path followed by SHA256(nonce + body), base64-encoded (:func:`api_sign`).
Nonces strictly increase (:class:`Nonces`), across restarts too: Kraken keeps the highest nonce
each API key used and refuses any lower one, so after a restart on a clock that stepped back every
call would be refused until the clock caught up. The nonces a run may use are reserved ahead in a
state file (``kraken-nonces.json`` in the data directory, per key digest, never the key), and a
restart starts past the reservation. An ``EAPI:Invalid nonce`` (another client of the key ahead, the
file lost) is sent once more ``NONCE_RETRY_JUMP_US`` past the refused nonce; refused again, it is
an :class:`InvalidNonce` that says why. Calls go one at a time so they reach Kraken in nonce order.
Calls pass through a token bucket; a rate-limit answer blocks that bucket for ``rate_limit_pause_s`` so a storm of
errors never turns into a storm of requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.api import (
    ExchangeError,
    InsufficientFunds,
    OrderNotFound,
    PermanentError,
    PostOnlyWouldCross,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from bot.api.kit import TokenBucket

log = logging.getLogger("arbot.kraken.rest")


def api_sign(secret_b64: str, uri_path: str, nonce: str, post_data: str) -> str:
    """Kraken's ``API-Sign``: base64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + body)))."""
    digest = hashlib.sha256((nonce + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


NONCE_RESERVE_US = 60_000_000
"""Nonces reserved in the state file ahead of the one in use (a minute of the clock's microseconds): at most one
write a minute while the clock runs, and a restart starts at most this far ahead of the clock."""
NONCE_RETRY_JUMP_US = 60_000_000
"""How far past a refused nonce the one retry goes."""


def key_digest(api_key: str) -> str:
    """What names an API key in the nonce state file: a digest, so the file never holds the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class NonceFile:
    """The nonces reserved per API key (digest -> highest nonce reserved), in a JSON file written atomically."""

    def __init__(self, path: Path):
        self.path = path

    def reserved(self, key_id: str) -> int:
        """The highest nonce reserved for the key by any earlier run (0 when none)."""
        try:
            value = json.loads(self.path.read_text()).get(key_id, 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, AttributeError) as exc:  # unreadable: starting low could reuse a nonce
            raise PermanentError(f"kraken: nonce state {self.path} unreadable ({type(exc).__name__}); move it "
                                 "aside to start from the clock") from exc
        return value if isinstance(value, int) else 0

    def reserve(self, key_id: str, nonce: int) -> None:
        """Record ``nonce`` as reserved for the key (kept if higher than what the file holds); on disk when it
        returns."""
        try:
            current = json.loads(self.path.read_text())
        except (OSError, ValueError):
            current = {}
        if not isinstance(current, dict):
            current = {}
        current[key_id] = max(nonce, current.get(key_id, 0) if isinstance(current.get(key_id), int) else 0)
        temp = self.path.with_name(self.path.name + ".tmp")
        with open(temp, "w") as f:
            json.dump(current, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.path)


class Nonces:
    """Strictly increasing nonces from a clock in ns: microseconds, or last + 1 if the clock lags.

    With a :class:`NonceFile`, they increase across runs too: the first is past what any earlier run reserved, and
    each one beyond the reservation first reserves ``NONCE_RESERVE_US`` more (a nonce is used only once on disk).
    The file is read and written off the event loop (in a worker thread): it may sit on a slow or stalled disk."""

    def __init__(self, time_ns: Callable[[], int], state: NonceFile | None = None, api_key: str = ""):
        self._time_ns = time_ns
        self._state = state
        self._key_id = key_digest(api_key)
        self._reserved = 0
        self._last = 0
        self._unread = state is not None
        """The key's reservation is still to be read from the file (at start, after a key rotation)."""

    async def load(self) -> None:
        """Read what earlier runs reserved for the key, if not read yet (in a worker thread); an unreadable file is a
        :class:`PermanentError`: starting low could reuse a nonce."""
        while self._state is not None and self._unread:  # read again for a key rotated during the read
            key_id = self._key_id
            reserved = await asyncio.to_thread(self._state.reserved, key_id)
            if key_id == self._key_id:
                self._last = max(self._last, reserved)
                self._unread = False

    def use_key(self, api_key: str) -> None:
        """A rotated key: its nonces go on from the last one, reserved under it (read before its next nonce)."""
        self._key_id = key_digest(api_key)
        self._unread = self._state is not None
        self._reserved = 0

    async def next(self) -> int:
        """The next nonce. One beyond the reservation waits for the new reservation to be on disk (written, with
        its fsync, in a worker thread: the loop runs on meanwhile); callers take nonces one at a time."""
        await self.load()
        nonce = max(self._last + 1, self._time_ns() // 1000)
        if self._state is not None and nonce > self._reserved:
            try:
                await asyncio.to_thread(self._state.reserve, self._key_id, nonce + NONCE_RESERVE_US)
            except OSError as exc:  # not recorded: a restart could use it again, so it is not used now
                raise TransientError(f"kraken: nonce state {self._state.path} not written: "
                                     f"{type(exc).__name__}") from exc
            self._reserved = nonce + NONCE_RESERVE_US
        self._last = nonce
        return nonce

    def past(self, refused: int) -> None:
        """Kraken refused ``refused`` (it has seen a higher one): the next nonce goes ``NONCE_RETRY_JUMP_US`` past."""
        self._last = max(self._last, refused + NONCE_RETRY_JUMP_US)


# Kraken's error strings, by what they tell the executor (documented under "API error messages").
# A lockout is paced like a rate limit: every call refused meanwhile still counts and keeps the key locked.
_RATE_LIMITED = ("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded", "EGeneral:Too many requests",
                 "EGeneral:Temporary lockout")
_TRANSIENT = ("EService:Unavailable", "EService:Busy", "EService:Market in cancel_only mode",
              "EService:Market in limit_only mode", "EService:Deadline elapsed", "EAPI:Feature disabled")
_INSUFFICIENT = ("EOrder:Insufficient funds", "EOrder:Insufficient margin", "EFunding:Insufficient funds")
_POST_ONLY = ("EOrder:Post only order",)
_NOT_FOUND = ("EOrder:Unknown order",)
_DUPLICATE = ("EOrder:Duplicate",)
_INVALID_NONCE = ("EAPI:Invalid nonce",)
_UNKNOWN = ("EGeneral:Internal error", "EService:Timeout")


class NonceRefused(TransientError):
    """``EAPI:Invalid nonce``: refused before anything was done, Kraken having seen a higher nonce of the key."""


class InvalidNonce(PermanentError):
    """``EAPI:Invalid nonce`` again after moving past the refused nonce: Kraken has seen a much higher one."""


class DuplicateClientId(PermanentError):
    """AddOrder refused: an open order of the account already carries this ``cl_ord_id`` (unique among open orders)."""


def classify(errors: list[str], rate_limit_pause_s: float) -> ExchangeError:
    """Map Kraken's ``error`` list to the executor's error classes (the first error decides)."""
    text = "; ".join(errors)
    first = errors[0] if errors else ""

    def starts(prefixes: tuple[str, ...]) -> bool:
        return any(first.startswith(p) for p in prefixes)

    if starts(_RATE_LIMITED):
        return RateLimited(f"kraken: {text}", retry_after_s=rate_limit_pause_s)
    if starts(_INSUFFICIENT):
        return InsufficientFunds(f"kraken: {text}")
    if starts(_POST_ONLY):
        return PostOnlyWouldCross(f"kraken: {text}")
    if starts(_NOT_FOUND):
        return OrderNotFound(f"kraken: {text}")
    if starts(_DUPLICATE):
        return DuplicateClientId(f"kraken: {text}")
    if starts(_INVALID_NONCE):
        return NonceRefused(f"kraken: {text}")
    if starts(_TRANSIENT):
        return TransientError(f"kraken: {text}")
    if starts(_UNKNOWN):
        return UnknownOutcome(f"kraken: {text}")
    return PermanentError(f"kraken: {text}")  # EGeneral:Invalid arguments, EAPI:Invalid key, EOrder:...


class KrakenRest:
    """Signed private calls to one Kraken REST endpoint; raises arbot's exchange errors."""

    def __init__(self, base_url: str, api_key: str, api_secret_b64: str, *, timeout_s: float,
                 bucket: TokenBucket, rate_limit_pause_s: float, time_ns: Callable[[], int],
                 nonce_file: NonceFile | None = None):
        self._key = api_key
        self._secret = api_secret_b64
        self._nonces = Nonces(time_ns, nonce_file, api_key)
        self._bucket = bucket
        self._pause_s = rate_limit_pause_s
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                       headers={"User-Agent": "arbot"}, trust_env=False)
        self.requests = 0
        self._one_at_a_time = asyncio.Lock()
        """Kraken refuses a nonce lower than one it has seen: two calls in flight could arrive out of
        order, so calls go one at a time (each nonce is taken just before its request leaves)."""

    def use_credentials(self, api_key: str, api_secret_b64: str) -> None:
        """A rotated key pair: the next request is signed with it (nonces keep increasing)."""
        self._key, self._secret = api_key, api_secret_b64
        self._nonces.use_key(api_key)

    async def load_nonces(self) -> None:
        """Read the nonces earlier runs reserved for the key (off the loop); raises :class:`PermanentError` when the
        state file is unreadable. The first private call reads them too: this is for a start that must fail then."""
        await self._nonces.load()

    async def close(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:  # never show the key or the secret
        return f"KrakenRest({self._http.base_url})"

    async def private(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``/0/private/<method>``; returns ``result`` or raises an :class:`ExchangeError`."""
        await self._bucket.acquire()
        async with self._one_at_a_time:
            nonce = await self._nonces.next()
            try:
                return await self._send(method, params, nonce)
            except NonceRefused:
                pass
            # refused before anything was done: Kraken has seen a higher nonce of this key (another client of it, or
            # our state file lost after the clock went back). Once more, well past the refused one.
            self._nonces.past(nonce)
            retried = await self._nonces.next()
            try:
                return await self._send(method, params, retried)
            except NonceRefused:
                raise InvalidNonce(
                    f"kraken {method}: EAPI:Invalid nonce for {nonce} and again for {retried}: Kraken has seen a "
                    "higher nonce of this API key. Another client (or another bot) uses the key, or the nonce state "
                    "file was lost after the clock went back: give each bot its own key, or wait for the clock to "
                    "pass the key's last nonce") from None

    async def _send(self, method: str, params: dict[str, Any] | None, nonce_value: int) -> Any:
        path = f"/0/private/{method}"
        nonce = str(nonce_value)
        body = urlencode({"nonce": nonce, **{k: v for k, v in (params or {}).items() if v is not None}})
        headers = {
            "API-Key": self._key,
            "API-Sign": api_sign(self._secret, path, nonce, body),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        }
        self.requests += 1
        try:
            response = await self._http.post(path, content=body.encode(), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"kraken {method}: cannot connect: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # sent, then the connection failed or the answer was late
            raise UnknownOutcome(f"kraken {method}: {type(exc).__name__} after sending") from exc
        if response.status_code == 429:
            self._bucket.block_for(self._pause_s)
            retry = response.headers.get("Retry-After")
            raise RateLimited(f"kraken {method}: HTTP 429", retry_after_s=float(retry) if retry else self._pause_s)
        if response.status_code in (502, 503, 504):
            raise UnknownOutcome(f"kraken {method}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise (UnknownOutcome if response.status_code >= 500 else PermanentError)(
                f"kraken {method}: HTTP {response.status_code}")
        try:
            payload = json.loads(response.content, parse_float=Decimal)
            errors = payload.get("error") or []
        except (ValueError, AttributeError) as exc:
            raise UnknownOutcome(f"kraken {method}: unreadable answer") from exc
        if errors:
            error = classify([str(e) for e in errors], self._pause_s)
            if isinstance(error, RateLimited):
                self._bucket.block_for(self._pause_s)
            raise error
        if "result" not in payload:
            raise UnknownOutcome(f"kraken {method}: answer without result")
        return payload["result"]
