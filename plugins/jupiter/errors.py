"""Jupiter and Solana failures mapped onto the executor's error classes (bot.api)."""

from __future__ import annotations

from typing import Any

from bot.api import InsufficientFunds, PermanentError, RateLimited, TransientError

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
