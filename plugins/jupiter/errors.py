"""Jupiter and Solana failures mapped onto the executor's error classes (bot.api), and what a node's 429 asks for.

A 429 of the RPC node is followed the same way everywhere (a swap's sends and look-ups, a wallet transfer's): the
error it becomes carries the node's ``Retry-After`` (:func:`rpc_error`), and what waits for the node waits that long,
bounded by the blockhash's validity (:func:`rate_limited_wait_s`).
"""

from __future__ import annotations

from typing import Any

from arbotlib.solana.rpc import RpcError, RpcRateLimited, RpcUnavailable
from bot.api import ExchangeError, InsufficientFunds, PermanentError, RateLimited, TransientError

SLOT_S = 0.4
"""The chain's target time per block: a blockhash with N blocks left expires in about N x this, or later (a skipped
slot makes no block)."""
BLOCKHASH_VALIDITY_BLOCKS = 150
"""How many blocks past the one it was issued at a blockhash stays valid (what ``lastValidBlockHeight`` adds)."""
SLIPPAGE_CODES = {6001}
"""Jupiter aggregator program: 6001 SlippageToleranceExceeded (0x1771)."""
INSUFFICIENT_CODES_TOKEN = {1}
"""SPL token program: 1 InsufficientFunds."""


class SlippageExceeded(PermanentError):
    """The swap would have returned less than its minimum out: it failed on chain (or in preflight)."""


class SolanaInsufficientFunds(InsufficientFunds):
    """Not enough SOL for fees or not enough of the input token."""


class BlockhashExpired(TransientError):
    """The signed transaction provably did not land (height past lastValidBlockHeight, signature unknown).

    Transient: the intent may be re-quoted and signed again, which is safe only now.
    """


class JupiterRateLimited(RateLimited):
    """Jupiter or the RPC node answered 429."""


class SwapFailed(PermanentError):
    """The transaction landed with an error other than slippage or funds, or Jupiter refused the request."""


def classify_chain_error(err: Any, logs: list[str] | None = None) -> PermanentError:
    """The error class for a transaction error object (``{"InstructionError": [i, {"Custom": n}]}``...)."""
    text = f"{err}"
    joined = "\n".join(logs or [])
    if isinstance(err, dict) and "InstructionError" in err:
        detail = err["InstructionError"][1] if len(err["InstructionError"]) > 1 else None
        if isinstance(detail, dict) and "Custom" in detail:
            code = detail["Custom"]
            if code in SLIPPAGE_CODES or "SlippageToleranceExceeded" in joined:
                return SlippageExceeded(f"slippage tolerance exceeded (custom program error {code})")
            if code in INSUFFICIENT_CODES_TOKEN and "insufficient funds" in joined.lower():
                return SolanaInsufficientFunds(f"insufficient token balance (custom program error {code})")
    if "InsufficientFundsForFee" in text or "InsufficientFundsForRent" in text or "insufficient" in joined.lower():
        return SolanaInsufficientFunds(f"insufficient funds: {text}")
    if "SlippageToleranceExceeded" in joined or "0x1771" in joined:
        return SlippageExceeded("slippage tolerance exceeded")
    return SwapFailed(f"transaction failed: {text}")


def rpc_error(exc: RpcError, *, otherwise: type[ExchangeError], prefix: str = "") -> ExchangeError:
    """An RPC failure as the executor's classes: a 429 is :class:`JupiterRateLimited` with the node's ``Retry-After``
    (``retry_after_s``: how long the node asked to be left alone), no answer (a refused connection, a timeout, a 5xx)
    :class:`TransientError`, anything else ``otherwise`` (a swap's request before anything was signed or sent:
    :class:`SwapFailed`; a transfer's look-up, which concludes nothing: :class:`TransientError`). ``prefix`` leads
    the message (the exchange's name)."""
    text = f"{prefix}{exc}"
    if isinstance(exc, RpcRateLimited):
        return JupiterRateLimited(text, exc.retry_after_s)
    if isinstance(exc, RpcUnavailable):
        return TransientError(text)
    return otherwise(text)


def rate_limited_wait_s(retry_after_s: float | None, floor_s: float,
                        blocks_left: int = BLOCKHASH_VALIDITY_BLOCKS) -> float:
    """How long to ask the node nothing after its 429: its ``Retry-After`` (``floor_s`` without one), at most the time
    the blockhash's ``blocks_left`` remaining blocks take at :data:`SLOT_S` each (its whole validity by default: no
    height seen yet), so that its expiry is still seen in time, and never less than ``floor_s``."""
    if retry_after_s is None:
        return floor_s
    return max(floor_s, min(retry_after_s, blocks_left * SLOT_S))
