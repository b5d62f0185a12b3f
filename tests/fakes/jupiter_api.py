"""A fake Jupiter Swap API (``/quote``, ``/swap``) on 127.0.0.1, in the documented response shapes.

``/swap`` returns a real unsigned ``VersionedTransaction`` (v0 message: the compute budget, i.e.
``SetComputeUnitLimit`` (``compute_unit_limit`` with ``dynamicComputeUnitLimit``, else 1,400,000) and
``SetComputeUnitPrice`` (``computeUnitPriceMicroLamports``), then a system transfer paid by
``userPublicKey``, with the fake RPC's latest blockhash and its ``lastValidBlockHeight``; the answer's
``computeUnitLimit`` and ``prioritizationFeeLamports`` say the same), so the
plugin's signing is real and the fake RPC verifies it. ``price`` is output units per input unit
(raw integers), ``error`` makes the next call answer 400 with Jupiter's error shape, ``quotes``
and ``swaps`` keep every call's parameters.

``dexes`` (comma-separated labels, as Jupiter documents it) is honoured: the route uses the first
requested label the fake knows (``labels``), and no known label answers Jupiter's "no route"
error. Each ``/swap`` registers its effect with the fake node (input debited, output credited when
the transaction lands); ``fill_slippage_bps`` makes the landed amounts worse than the quote (less
out for ExactIn, more in for ExactOut), as a moving pool would. The bound is the program's: its
swap instruction takes the quoted amount and the ``quoteResponse``'s ``slippageBps`` (minimum out
``outAmount * (10000 - bps) // 10000``, maximum in ``inAmount * (10000 + bps) // 10000``), and a
swap that would land beyond it fails with ``SlippageToleranceExceeded`` (custom error 6001).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from aiohttp import web
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from .solana_rpc import FakeSolanaRpc, SwapEffect

POOL = Pubkey.from_string("9W959DqEETiGZocYWCQPaJ6sBmUzgfxXfqGeTEdp3aQP")


class FakeJupiterApi:
    def __init__(self, rpc: FakeSolanaRpc, *, price: Decimal = Decimal("0.15")):
        self.rpc = rpc
        self.price = price
        self.error: tuple[int, dict | str] | None = None
        """The next call's answer instead: (status, JSON body), or (status, text) for a body that is not JSON (an
        HTML error page of a gateway in front of the API)."""
        self.quotes: list[dict[str, str]] = []
        self.swaps: list[dict[str, Any]] = []
        self.labels = ["Whirlpool", "Raydium CLMM", "Meteora DLMM"]
        self.decimals = {"So11111111111111111111111111111111111111112": 9,
                         "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": 6}
        self.fill_slippage_bps = 0
        self.compute_unit_limit = 58_800
        """The limit ``dynamicComputeUnitLimit`` sets (Jupiter's simulation: 140% of the 42,000 units the fake node
        reports consumed); without it a swap gets the largest, 1,400,000."""
        self.url = ""

    async def start(self) -> FakeJupiterApi:
        app = web.Application()
        app.router.add_get("/quote", self._quote)
        app.router.add_post("/swap", self._swap)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        await self._runner.cleanup()

    def _fail(self) -> web.Response | None:
        if self.error is None:
            return None
        status, body = self.error
        self.error = None
        if isinstance(body, str):
            return web.Response(text=body, status=status, content_type="text/html")
        return web.json_response(body, status=status)

    async def _quote(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.quotes.append(params)
        if (failed := self._fail()) is not None:
            return failed
        label = self.labels[0]
        if "dexes" in params:
            wanted = [d.strip() for d in params["dexes"].split(",")]
            usable = [d for d in wanted if d in self.labels]
            if not usable:
                return web.json_response({"error": "Could not find any route",
                                          "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}, status=400)
            label = usable[0]
        amount = int(params["amount"])
        slippage = int(params.get("slippageBps", "50"))
        mode = params.get("swapMode", "ExactIn")
        if mode == "ExactIn":
            in_amount, out_amount = amount, int(amount * self.price)
            threshold = out_amount * (10_000 - slippage) // 10_000
        else:
            in_amount, out_amount = int(amount / self.price) + 1, amount
            threshold = in_amount * (10_000 + slippage) // 10_000
        return web.json_response({
            "inputMint": params["inputMint"], "inAmount": str(in_amount), "outputMint": params["outputMint"],
            "outAmount": str(out_amount), "otherAmountThreshold": str(threshold), "swapMode": mode,
            "slippageBps": slippage, "platformFee": None, "priceImpactPct": "0.0001",
            "routePlan": [{"swapInfo": {"ammKey": str(POOL), "label": label, "inputMint": params["inputMint"],
                                        "outputMint": params["outputMint"], "inAmount": str(in_amount),
                                        "outAmount": str(out_amount), "feeAmount": "0",
                                        "feeMint": params["inputMint"]}, "percent": 100}],
            "contextSlot": self.rpc.block_height + 100, "timeTaken": 0.01,
        })

    async def _swap(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.swaps.append(body)
        if (failed := self._fail()) is not None:
            return failed
        user = Pubkey.from_string(body["userPublicKey"])
        # a distinct lamport amount per swap keeps every unsigned transaction (and signature) distinct
        instruction = transfer(TransferParams(from_pubkey=user, to_pubkey=POOL, lamports=len(self.swaps)))
        # the compute budget Jupiter writes in: the limit (its simulation's with dynamicComputeUnitLimit) and the price
        limit = self.compute_unit_limit if body.get("dynamicComputeUnitLimit") else 1_400_000
        cu_price = int(body.get("computeUnitPriceMicroLamports") or 0)
        budget = [set_compute_unit_limit(limit), set_compute_unit_price(cu_price)]
        blockhash = self.rpc.latest
        message = MessageV0.try_compile(user, [*budget, instruction], [], _hash(blockhash))
        unsigned = VersionedTransaction.populate(message, [Signature.default()])
        quote = body["quoteResponse"]
        in_amount, out_amount = int(quote["inAmount"]), int(quote["outAmount"])
        slippage_bps = int(quote["slippageBps"])
        if quote["swapMode"] == "ExactIn":
            landed_out = out_amount * (10_000 - self.fill_slippage_bps) // 10_000
            bound_ok = landed_out >= out_amount * (10_000 - slippage_bps) // 10_000
            out_amount = landed_out
        else:
            landed_in = -(-in_amount * (10_000 + self.fill_slippage_bps) // 10_000)
            bound_ok = landed_in <= in_amount * (10_000 + slippage_bps) // 10_000
            in_amount = landed_in
        self.rpc.swap_effects[bytes(message)] = SwapEffect(
            owner=str(user), deltas={quote["inputMint"]: -in_amount, quote["outputMint"]: out_amount},
            decimals={m: self.decimals.get(m, 6) for m in (quote["inputMint"], quote["outputMint"])},
            err=None if bound_ok else {"InstructionError": [0, {"Custom": 6001}]},
            logs=[] if bound_ok else ["Program log: Error: SlippageToleranceExceeded"])
        return web.json_response({
            "swapTransaction": base64.b64encode(bytes(unsigned)).decode(),
            "lastValidBlockHeight": self.rpc.blockhashes[blockhash],
            "prioritizationFeeLamports": -(-cu_price * limit // 1_000_000), "computeUnitLimit": limit,
        })


def _hash(text: str):
    from solders.hash import Hash

    return Hash.from_string(text)
