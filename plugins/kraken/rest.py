"""Kraken's private REST API: signing, nonces, pacing, and its errors mapped to arbot's.

Every private call is ``POST /0/private/<Method>`` with a form body that starts with ``nonce``,
an ``API-Key`` header and an ``API-Sign`` header: HMAC-SHA512, keyed with the base64-decoded
secret, of the URI path followed by SHA256(nonce + body), base64-encoded (:func:`api_sign`).
Nonces strictly increase for the life of the process (:class:`Nonces`), and calls go one at a
time so they reach Kraken in nonce order. Calls pass through a
token bucket; a rate-limit answer blocks that bucket for ``rate_limit_pause_s`` so a storm of
errors never turns into a storm of requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from decimal import Decimal
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


class Nonces:
    """Strictly increasing nonces from a clock in ns: microseconds, or last + 1 if the clock lags."""

    def __init__(self, time_ns: Callable[[], int]):
        self._time_ns = time_ns
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, self._time_ns() // 1000)
        return self._last


# Kraken's error strings, by what they tell the executor (documented under "API error messages").
# A lockout is paced like a rate limit: every call refused meanwhile still counts and keeps the key locked.
_RATE_LIMITED = ("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded", "EGeneral:Too many requests",
                 "EGeneral:Temporary lockout")
_TRANSIENT = ("EService:Unavailable", "EService:Busy", "EService:Market in cancel_only mode",
              "EService:Market in limit_only mode", "EService:Deadline elapsed", "EAPI:Invalid nonce",
              "EAPI:Feature disabled")
_INSUFFICIENT = ("EOrder:Insufficient funds", "EOrder:Insufficient margin", "EFunding:Insufficient funds")
_POST_ONLY = ("EOrder:Post only order",)
_NOT_FOUND = ("EOrder:Unknown order",)
_DUPLICATE = ("EOrder:Duplicate",)
_UNKNOWN = ("EGeneral:Internal error", "EService:Timeout")


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
    if starts(_TRANSIENT):
        return TransientError(f"kraken: {text}")
    if starts(_UNKNOWN):
        return UnknownOutcome(f"kraken: {text}")
    return PermanentError(f"kraken: {text}")  # EGeneral:Invalid arguments, EAPI:Invalid key, EOrder:...


class KrakenRest:
    """Signed private calls to one Kraken REST endpoint; raises arbot's exchange errors."""

    def __init__(self, base_url: str, api_key: str, api_secret_b64: str, *, timeout_s: float,
                 bucket: TokenBucket, rate_limit_pause_s: float, time_ns: Callable[[], int]):
        self._key = api_key
        self._secret = api_secret_b64
        self._nonces = Nonces(time_ns)
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

    async def close(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:  # never show the key or the secret
        return f"KrakenRest({self._http.base_url})"

    async def private(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``/0/private/<method>``; returns ``result`` or raises an :class:`ExchangeError`."""
        await self._bucket.acquire()
        async with self._one_at_a_time:
            return await self._send(method, params)

    async def _send(self, method: str, params: dict[str, Any] | None) -> Any:
        path = f"/0/private/{method}"
        nonce = str(self._nonces.next())
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
