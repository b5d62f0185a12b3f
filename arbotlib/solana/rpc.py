"""Solana JSON-RPC over HTTP with fallback to the next URL.

We call JSON-RPC with ``httpx`` directly rather than through solana-py's ``AsyncClient`` because
fallback needs to know *how* a call failed: a refused connection or a 5xx means "try the next URL",
a 429 means "rate limited" and a JSON-RPC error object is the node's answer (no fallback), and
``AsyncClient`` folds these into its own exception types and pydantic models (on ``httpx2``). Our
raw dicts also keep integer amounts exact. solders is still used for keys and transactions.

Fallback rule: a request is tried on each URL in order, starting with the one that last worked;
a connection error, timeout, HTTP 5xx, HTTP 429 or the node's ``-32005`` NodeUnhealthy error object (it lags the
cluster: a state of the node, not an answer to the request) moves on to the next URL. When every URL failed,
the error of the last attempt is raised (:class:`RpcRateLimited` if any said 429). Errors and log
lines name a URL by its :func:`~arbotlib.solana.urls.shown_url` only: providers put keys and
passwords in RPC URLs.

**sendTransaction is different**: a timeout there does not mean the transaction was not received.
Resending the *same signed bytes* is harmless (same signature, the cluster deduplicates), so the
caller may retry it on another URL; it must never sign again for that reason. Nor is a later URL's refusal
of the same call (its simulation failed) the final word when an earlier URL's answer was lost: that node may have
forwarded the transaction, which can still land (:attr:`RpcResponseError.after_lost_answer` says so).

**One node's view** (:meth:`SolanaRpc.pinned`): answers that prove something only together must
come from the same node. Expiry is the case: "the block height is past ``lastValidBlockHeight``
and the signature is unknown" holds only if the node that says the signature is unknown has seen
that height (a node behind it has not seen every block the transaction could have landed in). A
pinned view asks its one URL and never falls back; when that node fails, nothing is concluded.
"""

from __future__ import annotations

import base64
import itertools
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

import httpx

from .urls import shown_url

log = logging.getLogger("arbot.solana.rpc")

LAMPORTS_PER_SOL = 1_000_000_000
TOKEN_PROGRAM_ID = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM_ID = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"


NODE_UNHEALTHY = -32005
"""The JSON-RPC error code a node answers any method with while it lags the cluster ("Node is behind by N slots")."""


class RpcError(Exception):
    """Base of the RPC client's errors."""


class RpcUnavailable(RpcError):
    """No RPC URL answered (connection refused, timeout, 5xx)."""


class RpcTimeout(RpcUnavailable):
    """The last attempt timed out: a request that was sent may have been processed."""


class RpcRateLimited(RpcUnavailable):
    """Every URL tried said 429 (or the last one did)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RpcResponseError(RpcError):
    """The node answered with a JSON-RPC error object (a definite answer: no fallback).

    ``after_lost_answer``: an earlier URL of the same call may have processed the request (it timed out, dropped the
    connection or answered a 5xx after the request was written): this refusal is that URL's node's, not the call's.
    """

    def __init__(self, method: str, code: int, message: str, data: Any = None):
        super().__init__(f"{method}: RPC error {code}: {message}")
        self.method, self.code, self.rpc_message, self.data = method, code, message, data
        self.after_lost_answer = False


class MalformedReply(RpcError):
    """The reply was not the JSON-RPC shape the method documents."""


@dataclass(frozen=True, slots=True)
class Blockhash:
    blockhash: str
    last_valid_block_height: int


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """One entry of ``getSignatureStatuses``; ``err`` is the chain's error object, None on success."""

    slot: int
    confirmation_status: str | None
    err: Any


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One account as ``getAccountInfo``/``getMultipleAccounts`` return it (base64 data decoded)."""

    data: bytes
    owner: str
    lamports: int


@dataclass(frozen=True, slots=True)
class TokenBalance:
    mint: str
    amount: int
    """Raw integer amount, in the token's smallest unit."""
    decimals: int

    @property
    def ui_amount(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.decimals)


class SolanaRpc:
    """JSON-RPC client over one or more URLs (the first that answers is used)."""

    def __init__(self, urls: list[str], *, timeout_s: float = 10.0, commitment: str = "confirmed",
                 client: httpx.AsyncClient | None = None):
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.urls = list(urls)
        self.commitment = commitment
        self._preferred = 0
        self._ids = itertools.count(1)
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def current_url(self) -> str:
        return self.urls[self._preferred]

    def pinned(self) -> SolanaRpc:
        """This client on its current URL alone, without fallback (same HTTP client; nothing to close).

        For answers that prove something only when one node gave them all (see the module docstring).
        """
        view = SolanaRpc([self.current_url], commitment=self.commitment, client=self._client)
        view._ids = self._ids
        return view

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """Call ``method`` and return its ``result``, trying each URL in turn (see the module docstring)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        last: RpcUnavailable | None = None
        rate_limited: RpcRateLimited | None = None
        lost = False  # an earlier URL may have processed the request: its answer never came
        order = [(self._preferred + i) % len(self.urls) for i in range(len(self.urls))]
        for index in order:
            url = self.urls[index]
            shown = shown_url(url)
            try:
                response = await self._client.post(url, json=body)
            except httpx.TimeoutException as exc:
                last = RpcTimeout(f"{method}: {shown} timed out")
                lost = lost or not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))  # those sent nothing
            except httpx.HTTPError as exc:
                last = RpcUnavailable(f"{method}: {shown} failed: {type(exc).__name__}")
                lost = lost or not isinstance(exc, httpx.ConnectError)
            else:
                if response.status_code == 429:
                    retry = response.headers.get("retry-after")
                    rate_limited = last = RpcRateLimited(
                        f"{method}: {shown} rate limited", float(retry) if retry and retry.isdigit() else None)
                elif response.status_code >= 500:
                    last = RpcUnavailable(f"{method}: {shown} answered HTTP {response.status_code}")
                    lost = True  # a gateway's 5xx does not say whether the node behind it took the request
                elif response.status_code != 200:
                    raise MalformedReply(f"{method}: {shown} answered HTTP {response.status_code}")
                else:
                    try:
                        result = self._result(method, response)
                    except RpcResponseError as exc:
                        if exc.code != NODE_UNHEALTHY:
                            exc.after_lost_answer = lost
                            raise
                        # the node's own state (it lags the cluster), not an answer about the request: like a 5xx
                        last = RpcUnavailable(f"{method}: {shown} unhealthy: {exc.rpc_message}")
                    else:
                        if index != self._preferred:
                            log.warning("solana rpc: falling back to %s", shown)
                            self._preferred = index
                        return result
            log.debug("solana rpc: %s", last)
        if isinstance(last, RpcRateLimited) or (rate_limited is not None and not isinstance(last, RpcTimeout)):
            raise rate_limited  # type: ignore[misc]
        assert last is not None
        raise last

    @staticmethod
    def _result(method: str, response: httpx.Response) -> Any:
        try:
            reply = response.json()
        except ValueError:
            raise MalformedReply(f"{method}: reply is not JSON") from None
        if not isinstance(reply, dict):
            raise MalformedReply(f"{method}: reply is not a JSON-RPC object")
        if "error" in reply and reply["error"] is not None:
            error = reply["error"]
            if not isinstance(error, dict):
                raise MalformedReply(f"{method}: malformed error object")
            raise RpcResponseError(method, int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
        if "result" not in reply:
            raise MalformedReply(f"{method}: reply has neither result nor error")
        return reply["result"]

    # --- typed helpers --------------------------------------------------------------------------

    def _config(self, **extra: Any) -> dict[str, Any]:
        return {"commitment": self.commitment, **extra}

    async def get_balance_lamports(self, pubkey: str) -> int:
        """Native SOL balance in lamports."""
        result = await self.call("getBalance", [pubkey, self._config()])
        value = _field(result, "value", "getBalance")
        if not isinstance(value, int):
            raise MalformedReply("getBalance: value is not an integer")
        return value

    async def get_token_balances(self, owner: str) -> dict[str, TokenBalance]:
        """SPL token balances by mint (both token programs), summed over the owner's token accounts."""
        balances: dict[str, TokenBalance] = {}
        for program in (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID):
            result = await self.call("getTokenAccountsByOwner",
                                     [owner, {"programId": program}, self._config(encoding="jsonParsed")])
            for account in _field(result, "value", "getTokenAccountsByOwner"):
                try:
                    info = account["account"]["data"]["parsed"]["info"]
                    mint = str(info["mint"])
                    amount = int(info["tokenAmount"]["amount"])
                    decimals = int(info["tokenAmount"]["decimals"])
                except (KeyError, TypeError, ValueError):
                    raise MalformedReply("getTokenAccountsByOwner: account is not a jsonParsed token account") from None
                held = balances.get(mint)
                balances[mint] = TokenBalance(mint, amount + (held.amount if held else 0), decimals)
        return balances

    async def get_latest_blockhash(self) -> Blockhash:
        result = await self.call("getLatestBlockhash", [self._config()])
        value = _field(result, "value", "getLatestBlockhash")
        try:
            return Blockhash(str(value["blockhash"]), int(value["lastValidBlockHeight"]))
        except (KeyError, TypeError, ValueError):
            raise MalformedReply("getLatestBlockhash: malformed value") from None

    async def get_minimum_balance_for_rent_exemption(self, data_length: int) -> int:
        """Lamports an account of ``data_length`` bytes must hold to be rent-exempt (what creating it deposits)."""
        result = await self.call("getMinimumBalanceForRentExemption", [data_length, self._config()])
        if not isinstance(result, int) or isinstance(result, bool) or result < 0:
            raise MalformedReply("getMinimumBalanceForRentExemption: result is not a lamport amount")
        return result

    async def get_block_height(self) -> int:
        result = await self.call("getBlockHeight", [self._config()])
        if not isinstance(result, int):
            raise MalformedReply("getBlockHeight: result is not an integer")
        return result

    async def get_epoch(self) -> int:
        """The current epoch (``getEpochInfo``): what selects a Token-2022 mint's transfer fee."""
        result = await self.call("getEpochInfo", [self._config()])
        epoch = result.get("epoch") if isinstance(result, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise MalformedReply("getEpochInfo: result has no epoch")
        return epoch

    async def send_transaction(self, signed: bytes, *, skip_preflight: bool = False) -> str:
        """Send signed transaction bytes (base64); returns the signature the node reports."""
        opts = {"encoding": "base64", "skipPreflight": skip_preflight, "preflightCommitment": self.commitment,
                "maxRetries": 0}
        result = await self.call("sendTransaction", [base64.b64encode(signed).decode(), opts])
        if not isinstance(result, str):
            raise MalformedReply("sendTransaction: result is not a signature")
        return result

    async def get_signature_statuses(self, signatures: list[str]) -> list[SignatureStatus | None]:
        result = await self.call("getSignatureStatuses", [signatures, {"searchTransactionHistory": True}])
        value = _field(result, "value", "getSignatureStatuses")
        if not isinstance(value, list) or len(value) != len(signatures):
            raise MalformedReply("getSignatureStatuses: value does not match the signatures asked")
        out: list[SignatureStatus | None] = []
        for item in value:
            if item is None:
                out.append(None)
                continue
            try:
                out.append(SignatureStatus(int(item["slot"]), item.get("confirmationStatus"), item.get("err")))
            except (KeyError, TypeError, ValueError):
                raise MalformedReply("getSignatureStatuses: malformed status") from None
        return out

    async def get_account_info(self, pubkey: str) -> tuple[int, AccountInfo | None]:
        """``(context slot, account)``; the account is None when it does not exist."""
        result = await self.call("getAccountInfo", [pubkey, self._config(encoding="base64")])
        slot = _slot(result, "getAccountInfo")
        return slot, _account(_field(result, "value", "getAccountInfo"), "getAccountInfo")

    async def get_multiple_accounts(self, pubkeys: list[str]) -> tuple[int, list[AccountInfo | None]]:
        """``(lowest context slot, accounts in the order asked)``, in requests of at most 100 keys.

        A missing account is None. With more than 100 keys the answers come from several requests;
        the slot returned is the oldest of their context slots.
        """
        slot: int | None = None
        accounts: list[AccountInfo | None] = []
        for start in range(0, len(pubkeys), MAX_MULTIPLE_ACCOUNTS):
            chunk = pubkeys[start : start + MAX_MULTIPLE_ACCOUNTS]
            result = await self.call("getMultipleAccounts", [chunk, self._config(encoding="base64")])
            chunk_slot = _slot(result, "getMultipleAccounts")
            slot = chunk_slot if slot is None else min(slot, chunk_slot)
            value = _field(result, "value", "getMultipleAccounts")
            if not isinstance(value, list) or len(value) != len(chunk):
                raise MalformedReply("getMultipleAccounts: value does not match the accounts asked")
            accounts.extend(_account(item, "getMultipleAccounts") for item in value)
        return (slot or 0), accounts

    async def get_transaction(self, signature: str, *, commitment: str | None = None) -> dict[str, Any] | None:
        """A landed transaction (``json`` encoding, v0 supported), or None while the node has none.

        ``processed`` is not a commitment ``getTransaction`` accepts: it is asked at ``confirmed``.
        """
        level = commitment or self.commitment
        if level == "processed":
            level = "confirmed"
        result = await self.call("getTransaction", [signature, {"commitment": level, "encoding": "json",
                                                                "maxSupportedTransactionVersion": 0}])
        if result is None:
            return None
        if not isinstance(result, dict) or not isinstance(result.get("meta"), dict):
            raise MalformedReply("getTransaction: result has no meta")
        return result

    async def get_recent_prioritization_fees(self, accounts: list[str] | None = None) -> list[int]:
        """Recent compute-unit prices (micro-lamports) of the slots the node remembers."""
        result = await self.call("getRecentPrioritizationFees", [accounts] if accounts else [])
        if not isinstance(result, list):
            raise MalformedReply("getRecentPrioritizationFees: result is not a list")
        try:
            return [int(item["prioritizationFee"]) for item in result]
        except (KeyError, TypeError, ValueError):
            raise MalformedReply("getRecentPrioritizationFees: malformed entry") from None


MAX_MULTIPLE_ACCOUNTS = 100
"""``getMultipleAccounts`` takes at most 100 keys per request."""


def _slot(result: Any, method: str) -> int:
    context = _field(result, "context", method)
    slot = context.get("slot") if isinstance(context, dict) else None
    if not isinstance(slot, int):
        raise MalformedReply(f"{method}: context has no integer slot")
    return slot


def _account(value: Any, method: str) -> AccountInfo | None:
    """An account object with ``data: [base64, "base64"]``; None for a missing account."""
    if value is None:
        return None
    try:
        data, encoding = value["data"]
        if encoding != "base64":
            raise ValueError(encoding)
        return AccountInfo(base64.b64decode(data, validate=True), str(value["owner"]), int(value["lamports"]))
    except (KeyError, TypeError, ValueError):
        raise MalformedReply(f"{method}: account is not base64-encoded account data") from None


def _field(result: Any, name: str, method: str) -> Any:
    if not isinstance(result, dict) or name not in result:
        raise MalformedReply(f"{method}: result has no {name!r}")
    return result[name]
