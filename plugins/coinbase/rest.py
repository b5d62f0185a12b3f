"""Coinbase Advanced Trade REST: CDP API-key JWTs (ES256), pacing, and its errors mapped to arbot's.

**Authentication.** Each request carries ``Authorization: Bearer <JWT>``, a JWT made for that one
request and valid for two minutes, as Coinbase documents for CDP API keys: header
``{"alg": "ES256", "kid": <key name>, "nonce": <random hex>, "typ": "JWT"}``, claims
``{"sub": <key name>, "iss": "cdp", "nbf": now, "exp": now + 120, "uri": "<METHOD> <host><path>"}``,
signed with the key's EC P-256 private key (ECDSA over SHA-256, the signature as the 64-byte
``r || s`` JOSE form). WebSocket subscriptions take the same JWT without ``uri``. The signing is
done by ``cryptography``: ECDSA needs a constant-time, well-reviewed implementation with sound
nonce generation, which is not something to write ourselves.

**Pacing and errors.** Calls pass through a token bucket; an HTTP 429 blocks it for
``rate_limit_pause_s`` (or the venue's ``Retry-After``) so a storm of 429s never becomes a storm
of requests. A request that never left is a ``TransientError``; one that left and got no answer
is an ``UnknownOutcome`` (a create-order is then looked up by ``client_order_id``).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

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
from bot.api.kit import REDACTOR, TokenBucket

log = logging.getLogger("arbot.coinbase.rest")

JWT_LIFETIME_S = 120


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JwtSigner:
    """Makes CDP API-key JWTs. ``repr`` never shows the key."""

    def __init__(self, key_name: str, private_key_pem: str, time_s: Callable[[], float]):
        self.use_key(key_name, private_key_pem)
        self._time_s = time_s

    def use_key(self, key_name: str, private_key_pem: str) -> None:
        """Sign with this key from now on (a rotated key: every holder of this signer uses it)."""
        key = serialization.load_pem_private_key(private_key_pem.replace("\\n", "\n").encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the Coinbase API private key must be an EC P-256 (ES256) key")
        self._key = key
        self.key_name = key_name

    def __repr__(self) -> str:
        return "JwtSigner(<key hidden>)"

    def token(self, uri: str | None = None) -> str:
        """A fresh JWT; ``uri`` is ``"GET api.coinbase.com/api/v3/brokerage/accounts"`` for REST, None for WebSocket."""
        now = int(self._time_s())
        header = {"alg": "ES256", "kid": self.key_name, "nonce": secrets.token_hex(16), "typ": "JWT"}
        claims: dict[str, Any] = {"sub": self.key_name, "iss": "cdp", "nbf": now, "exp": now + JWT_LIFETIME_S}
        if uri is not None:
            claims["uri"] = uri
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def websocket_token(self) -> str:
        """A fresh WebSocket JWT, known to the redactor for as long as it is valid: it travels in a subscription's
        text, which a venue's error or a log line may quote. (A REST JWT travels in a header only, and one per
        request would grow the redactor by one each call.)"""
        token = self.token()
        REDACTOR.add(token, ttl_s=JWT_LIFETIME_S)
        return token


# Create-order failure reasons (``error_response.error``, ``preview_failure_reason``, ...), by class.
_INSUFFICIENT = ("INSUFFICIENT_FUND",)
_POST_ONLY = ("POST_ONLY",)


def classify_order_failure(error: dict[str, Any]) -> ExchangeError:
    """Map a create-order ``error_response`` (``success: false``) to the executor's error classes."""
    reasons = " ".join(str(error.get(k) or "") for k in ("error", "preview_failure_reason",
                                                          "new_order_failure_reason", "failure_reason"))
    text = f"coinbase: {reasons.strip()}: {error.get('message') or error.get('error_details') or ''}".rstrip(": ")
    if any(r in reasons for r in _INSUFFICIENT):
        return InsufficientFunds(text)
    if any(r in reasons for r in _POST_ONLY):
        return PostOnlyWouldCross(text)
    return PermanentError(text)


class CoinbaseRest:
    """Authenticated (or public) calls to one Advanced Trade REST endpoint; raises arbot's exchange errors."""

    def __init__(self, base_url: str, signer: JwtSigner | None, *, timeout_s: float, bucket: TokenBucket,
                 rate_limit_pause_s: float):
        self._signer = signer
        self._bucket = bucket
        self._pause_s = rate_limit_pause_s
        self._host = urlsplit(base_url).netloc
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                       headers={"User-Agent": "arbot"}, trust_env=False)
        self.requests = 0

    async def close(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"CoinbaseRest({self._http.base_url})"

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   body: dict[str, Any] | None = None, public: bool = False) -> Any:
        """One request to ``path``; returns the decoded JSON (numbers as Decimal) or raises an ExchangeError."""
        signer = None if public else self._signer
        if not public and signer is None:
            raise PermanentError("coinbase: no api_key_name/api_private_key configured: market data only")
        await self._bucket.acquire()
        headers = {"Content-Type": "application/json"}
        if signer is not None:
            headers["Authorization"] = f"Bearer {signer.token(f'{method} {self._host}{path}')}"
        content = json.dumps(body).encode() if body is not None else None
        self.requests += 1
        what = f"coinbase {method} {path}"
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"{what}: cannot connect: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # sent, then the connection failed or the answer was late
            if method == "GET":
                raise TransientError(f"{what}: {type(exc).__name__}") from exc
            raise UnknownOutcome(f"{what}: {type(exc).__name__} after sending") from exc
        status = response.status_code
        if status == 429:
            retry = response.headers.get("Retry-After")
            pause = float(retry) if retry and retry.replace(".", "", 1).isdigit() else self._pause_s
            self._bucket.block_for(pause)
            raise RateLimited(f"{what}: HTTP 429", retry_after_s=pause)
        if status >= 500:
            raise (TransientError if method == "GET" else UnknownOutcome)(f"{what}: HTTP {status}")
        try:
            payload = json.loads(response.content, parse_float=Decimal) if response.content else {}
        except ValueError as exc:
            if status >= 400:
                raise PermanentError(f"{what}: HTTP {status}") from exc
            raise (TransientError if method == "GET" else UnknownOutcome)(f"{what}: unreadable answer") from exc
        if status >= 400:
            message = payload.get("message") or payload.get("error") or "" if isinstance(payload, dict) else ""
            if status == 404:
                raise OrderNotFound(f"{what}: HTTP 404 {message}".rstrip())
            if "INSUFFICIENT" in str(message).upper():
                raise InsufficientFunds(f"{what}: {message}")
            raise PermanentError(f"{what}: HTTP {status} {message}".rstrip())
        return payload
