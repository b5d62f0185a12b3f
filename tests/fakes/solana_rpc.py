"""A fake Solana JSON-RPC node on 127.0.0.1 (aiohttp) with fault injection.

It keeps a block height (advanced by tests), blockhashes valid for ``validity`` blocks, SOL and
token balances, and the transactions it was sent. ``sendTransaction`` decodes the transaction,
verifies every signature with solders and rejects bad signatures and unknown or expired
blockhashes, as a node's sanitize step does. A transaction "lands" on its first good send unless
``land`` is False; landing debits the fee payer once per signature (one balance change per
signature however often it is rebroadcast). ``getSignatureStatuses`` reports landed signatures
with ``confirmation`` (``processed``/``confirmed``/``finalized``) and ``landed_err``, unless
``statuses`` overrides a signature.

Faults: ``faults[method]`` is a list consumed one per call: ``"429"``, ``"500"``, ``"drop"``
(connection closed without an answer), ``"timeout"`` (answer after ``slow_s``, the request not
processed) or ``"timeout_lands"`` (processed, then answered after ``slow_s``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from solders.hash import Hash
from solders.transaction import VersionedTransaction


@dataclass
class SentTransaction:
    signature: str
    raw: bytes
    skip_preflight: bool


class FakeSolanaRpc:
    def __init__(self, *, block_height: int = 1_000, validity: int = 150):
        self.block_height = block_height
        self.validity = validity
        self._counter = itertools.count(1)
        self.blockhashes: dict[str, int] = {}
        self.latest = self._new_blockhash()
        self.lamports: dict[str, int] = {}
        self.token_accounts: dict[str, list[tuple[str, int, int]]] = {}
        """owner -> [(mint, raw amount, decimals)]"""
        self.prioritization_fees: list[int] = [0, 100, 2_000, 5_000]
        self.land = True
        self.confirmation = "confirmed"
        self.landed_err: Any = None
        self.preflight_err: dict[str, Any] | None = None
        """A JSON-RPC error object returned by a send with preflight (skipPreflight false)."""
        self.fee_lamports = 5_000
        self.landed: dict[str, int] = {}
        """signature -> slot it landed in"""
        self.statuses: dict[str, dict | None] = {}
        self.sent: list[SentTransaction] = []
        self.rejected: list[str] = []
        self.calls: list[str] = []
        self.faults: dict[str, list[str]] = {}
        self.slow_s = 1.0
        self.url = ""

    # --- control -------------------------------------------------------------------------

    def _new_blockhash(self) -> str:
        blockhash = str(Hash(hashlib.sha256(f"block-{next(self._counter)}".encode()).digest()))
        self.blockhashes[blockhash] = self.block_height + self.validity
        return blockhash

    def advance(self, blocks: int = 1) -> None:
        """Move the chain on; a fresh blockhash becomes the latest."""
        self.block_height += blocks
        self.latest = self._new_blockhash()

    def expire_all(self) -> None:
        """Advance past every blockhash issued so far."""
        self.advance(max(self.blockhashes.values()) - self.block_height + 1)

    def signatures_sent(self) -> list[str]:
        return [s.signature for s in self.sent]

    async def start(self) -> FakeSolanaRpc:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        await self._runner.cleanup()

    # --- server ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        method, params = body["method"], body.get("params", [])
        self.calls.append(method)
        fault = self.faults.get(method, []).pop(0) if self.faults.get(method) else None
        if fault == "429":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="Too many requests")
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "drop":
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=200)
        if fault == "timeout":
            await asyncio.sleep(self.slow_s)
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": None})
        try:
            result = getattr(self, "_" + method)(*params)
            reply = {"jsonrpc": "2.0", "id": body["id"], "result": result}
        except RpcFault as exc:
            reply = {"jsonrpc": "2.0", "id": body["id"], "error": exc.error}
        except AttributeError:
            reply = {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32601, "message": "Method not found"}}
        if fault == "timeout_lands":
            await asyncio.sleep(self.slow_s)
        return web.json_response(reply)

    def _context(self) -> dict:
        return {"slot": self.block_height + 100, "apiVersion": "2.1.0"}

    def _getLatestBlockhash(self, *_: Any) -> dict:
        return {"context": self._context(),
                "value": {"blockhash": self.latest, "lastValidBlockHeight": self.blockhashes[self.latest]}}

    def _getBlockHeight(self, *_: Any) -> int:
        return self.block_height

    def _getBalance(self, pubkey: str, *_: Any) -> dict:
        return {"context": self._context(), "value": self.lamports.get(pubkey, 0)}

    def _getTokenAccountsByOwner(self, owner: str, filt: dict, *_: Any) -> dict:
        if filt.get("programId") != "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA":
            return {"context": self._context(), "value": []}
        value = []
        for n, (mint, amount, decimals) in enumerate(self.token_accounts.get(owner, [])):
            ui = amount / 10**decimals
            value.append({"pubkey": f"TokenAccount{n}", "account": {
                "data": {"program": "spl-token", "space": 165, "parsed": {"type": "account", "info": {
                    "isNative": False, "mint": mint, "owner": owner, "state": "initialized",
                    "tokenAmount": {"amount": str(amount), "decimals": decimals, "uiAmount": ui,
                                    "uiAmountString": str(ui)}}}},
                "executable": False, "lamports": 2039280, "owner": filt["programId"], "rentEpoch": 0,
                "space": 165}})
        return {"context": self._context(), "value": value}

    def _getRecentPrioritizationFees(self, *_: Any) -> list:
        return [{"slot": self.block_height + n, "prioritizationFee": fee}
                for n, fee in enumerate(self.prioritization_fees)]

    def _sendTransaction(self, encoded: str, opts: dict | None = None) -> str:
        opts = opts or {}
        try:
            raw = base64.b64decode(encoded)
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError:
            raise RpcFault(-32602, "invalid transaction: failed to deserialize") from None
        signature = str(tx.signatures[0])
        if not all(tx.verify_with_results()):
            self.rejected.append(signature)
            raise RpcFault(-32003, "Transaction signature verification failure")
        blockhash = str(tx.message.recent_blockhash)
        if blockhash not in self.blockhashes or self.block_height > self.blockhashes[blockhash]:
            self.rejected.append(signature)
            raise RpcFault(-32002, "Transaction simulation failed: Blockhash not found",
                           {"err": "BlockhashNotFound", "logs": []})
        skip = bool(opts.get("skipPreflight", False))
        if not skip and self.preflight_err is not None:
            self.rejected.append(signature)
            raise RpcFault(**self.preflight_err)
        self.sent.append(SentTransaction(signature, raw, skip))
        if self.land and signature not in self.landed:
            self.landed[signature] = self.block_height + 100
            payer = str(tx.message.account_keys[0])
            self.lamports[payer] = self.lamports.get(payer, 0) - self.fee_lamports
        return signature

    def _getSignatureStatuses(self, signatures: list[str], *_: Any) -> dict:
        value = []
        for signature in signatures:
            if signature in self.statuses:
                value.append(self.statuses[signature])
            elif signature in self.landed:
                value.append({"slot": self.landed[signature], "confirmations": None, "err": self.landed_err,
                              "status": {"Ok": None} if self.landed_err is None else {"Err": self.landed_err},
                              "confirmationStatus": self.confirmation})
            else:
                value.append(None)
        return {"context": self._context(), "value": value}


class RpcFault(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.error = {"code": code, "message": message, **({"data": data} if data is not None else {})}
