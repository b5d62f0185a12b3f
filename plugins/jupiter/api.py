"""Jupiter Swap API client: ``GET /quote`` and ``POST /swap`` (the base URL comes from config)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

import httpx
from solders.transaction import VersionedTransaction

from bot.api import TransientError

from .errors import JupiterRateLimited, SwapFailed


class MalformedJupiterReply(SwapFailed):
    """Jupiter answered something that is not the documented shape."""


class NothingToSwap(SwapFailed):
    """The quote moves nothing on one side (0 raw units in or out): the quantity is too small for the route."""

    def __init__(self, in_amount: int, out_amount: int, swap_mode: str, message: str = ""):
        super().__init__(message or f"jupiter /quote: {in_amount} raw units in, {out_amount} out ({swap_mode})")
        self.in_amount, self.out_amount, self.swap_mode = in_amount, out_amount, swap_mode


@dataclass(frozen=True, slots=True)
class Quote:
    raw: dict[str, Any]
    """The quote as Jupiter sent it: ``/swap`` wants it back unchanged."""
    in_amount: int
    out_amount: int
    other_amount_threshold: int
    swap_mode: str

    def with_slippage_bps(self, slippage_bps: int) -> Quote:
        """This quote for ``/swap`` with another slippage: ``slippageBps`` and ``otherAmountThreshold`` rewritten.

        The program's swap instruction carries the quoted amount and ``slippage_bps``, not a threshold: the
        bound on chain is derived from those two, so both fields are set and agree. Minimum out (ExactIn)
        ``outAmount * (10000 - bps) // 10000``, maximum in (ExactOut) ``inAmount * (10000 + bps) // 10000``.
        """
        if self.swap_mode == "ExactIn":
            threshold = self.out_amount * (10_000 - slippage_bps) // 10_000
        else:
            threshold = self.in_amount * (10_000 + slippage_bps) // 10_000
        raw = {**self.raw, "slippageBps": slippage_bps, "otherAmountThreshold": str(threshold)}
        return replace(self, raw=raw, other_amount_threshold=threshold)


@dataclass(frozen=True, slots=True)
class SwapTransaction:
    unsigned: VersionedTransaction
    last_valid_block_height: int
    prioritization_fee_lamports: int
    compute_unit_limit: int | None = None
    """The compute-unit limit Jupiter set (``computeUnitLimit``; with ``dynamicComputeUnitLimit`` it simulated the
    swap for it); None when the answer does not say."""


class JupiterApi:
    def __init__(self, base_url: str, *, timeout_s: float = 5.0, client: httpx.AsyncClient | None = None):
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, f"{self.base_url}{path}", **kwargs)
        except httpx.TimeoutException:
            # neither /quote nor /swap changes anything on chain: nothing was executed, a retry is safe
            raise TransientError(f"jupiter {path}: timed out") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"jupiter {path}: {type(exc).__name__}") from None
        if response.status_code == 429:
            retry = response.headers.get("retry-after")
            raise JupiterRateLimited(f"jupiter {path}: rate limited",
                                     float(retry) if retry and retry.isdigit() else None)
        if response.status_code >= 500:
            # an outage of the API or of a gateway before it (often an HTML page): neither endpoint changed anything
            # on chain and nothing was signed, so the same request later is safe
            raise TransientError(f"jupiter {path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise MalformedJupiterReply(f"jupiter {path}: HTTP {response.status_code}, not JSON") from None
        if response.status_code != 200:
            message = body.get("error") or body.get("message") if isinstance(body, dict) else body
            code = body.get("errorCode", "") if isinstance(body, dict) else ""
            raise SwapFailed(f"jupiter {path}: HTTP {response.status_code} {code}: {message}".replace("  ", " "))
        if not isinstance(body, dict):
            raise MalformedJupiterReply(f"jupiter {path}: reply is not an object")
        return body

    async def quote(self, *, input_mint: str, output_mint: str, amount: int, swap_mode: str, slippage_bps: int,
                    only_direct_routes: bool, restrict_intermediate_tokens: bool,
                    dexes: list[str] | None = None) -> Quote:
        """``GET /quote``; ``dexes`` restricts the route to those DEX labels (comma-separated on the wire)."""
        params = {"inputMint": input_mint, "outputMint": output_mint, "amount": str(amount), "swapMode": swap_mode,
                  "slippageBps": str(slippage_bps), "onlyDirectRoutes": str(only_direct_routes).lower(),
                  "restrictIntermediateTokens": str(restrict_intermediate_tokens).lower()}
        if dexes:
            params["dexes"] = ",".join(dexes)
        body = await self._request("GET", "/quote", params=params)
        try:
            quote = Quote(body, int(body["inAmount"]), int(body["outAmount"]), int(body["otherAmountThreshold"]),
                          str(body["swapMode"]))
        except (KeyError, TypeError, ValueError):
            raise MalformedJupiterReply("jupiter /quote: missing or malformed amounts") from None
        if quote.in_amount < 0 or quote.out_amount < 0:
            raise MalformedJupiterReply("jupiter /quote: negative amounts")
        if quote.in_amount == 0 or quote.out_amount == 0:
            raise NothingToSwap(quote.in_amount, quote.out_amount, quote.swap_mode)
        return quote

    async def swap(self, quote: Quote, *, user_public_key: str,
                   compute_unit_price_micro_lamports: int) -> SwapTransaction:
        payload = {"quoteResponse": quote.raw, "userPublicKey": user_public_key, "wrapAndUnwrapSol": True,
                   "dynamicComputeUnitLimit": True,
                   "computeUnitPriceMicroLamports": compute_unit_price_micro_lamports}
        body = await self._request("POST", "/swap", json=payload)
        try:
            unsigned = VersionedTransaction.from_bytes(base64.b64decode(body["swapTransaction"], validate=True))
            limit = body.get("computeUnitLimit")
            return SwapTransaction(unsigned, int(body["lastValidBlockHeight"]),
                                   int(body.get("prioritizationFeeLamports") or 0),
                                   int(limit) if limit is not None else None)
        except (KeyError, TypeError, ValueError):
            raise MalformedJupiterReply("jupiter /swap: missing or malformed swapTransaction") from None
