"""A fake Solana JSON-RPC node on 127.0.0.1 (aiohttp) with fault injection.

It keeps a block height (advanced by tests), blockhashes valid for ``validity`` blocks, SOL and
token balances, and the transactions it was sent. ``sendTransaction`` decodes the transaction,
verifies every signature with solders and rejects bad signatures and unknown or expired
blockhashes, as a node's sanitize step does. A transaction "lands" on its first good send unless
``land`` is False; landing debits the fee payer once per signature (one balance change per
signature however often it is rebroadcast), the fee the chain charges (:func:`network_fee`:
5,000 lamports per signature and the priority fee of its compute budget) unless ``fee_lamports``
says otherwise. A send with preflight of bytes that already landed is
refused as a real node's simulation refuses it (``-32002`` "Transaction simulation failed: This
transaction has already been processed", ``data.err == "AlreadyProcessed"``); with
``skipPreflight`` it is accepted and changes nothing. ``getSignatureStatuses`` reports landed signatures
with ``confirmation`` (``processed``/``confirmed``/``finalized``) and ``landed_err``, unless
``statuses`` overrides a signature.

Faults: ``faults[method]`` is a list consumed one per call: ``"429"``, ``"500"``, ``"drop"``
(connection closed without an answer), ``"timeout"`` (answer after ``slow_s``, the request not
processed), ``"timeout_lands"`` (processed, then answered after ``slow_s``), ``"unhealthy"`` (the node's
``-32005`` NodeUnhealthy error object, "Node is behind by 42 slots", nothing processed), ``"internal"``
(JSON-RPC's ``-32603`` Internal error, nothing processed) or ``"ok"``
(answered as usual: a place holder, to fault a later call). ``fault_if[method]``, when set, is asked
with a call's params and only a call it accepts takes the next fault (e.g. only a send of a new
signature, not a rebroadcast). ``faulted`` lists the index in ``calls`` of every call a fault answered.
Each of ``calls`` is the method's name (a :class:`Call`, compared as the string) with ``at_s``, when the node took
it: :meth:`FakeSolanaRpc.next_call_after` measures a client's wait on the node's side, as a node sees it.

Accounts: :meth:`FakeSolanaRpc.put_account` stores an account (bytes, owner, lamports) and
:meth:`FakeSolanaRpc.set_account` also notifies its WebSocket subscribers; every write moves the
slot on by one. ``getAccountInfo``/``getMultipleAccounts`` answer with ``context.slot`` and
``data: [base64, "base64"]`` (other encodings are refused), a missing account is ``null``; a
``getMultipleAccounts`` of more than 100 keys is refused as the real node does.

WebSocket (``ws_url``, the same port): ``accountSubscribe``/``accountUnsubscribe`` and
``accountNotification`` in the documented shapes. Faults: :meth:`drop_ws` closes every connection,
``ws_refuse`` answers that many connection attempts with HTTP 503, ``ws_silent`` makes the node
answer and notify nothing (the connection stays open), :meth:`send_malformed` pushes a
notification that is not the documented shape, :meth:`notify` a late one (data at a slot of the
test's choosing, not stored).

Transfers: a landed transaction's System Program ``Transfer`` moves lamports between the two
accounts, and a ``TransferChecked`` (under the program owning the mint: the Token Program or Token-2022, else
``IncorrectProgramId``) takes the amount from the signer's associated token account of the mint (refused as
custom error 1 when short, decimals checked) and records it in ``token_transfers`` (mint, amount, destination
token account), crediting the receiver's account when the node has it. An Associated Token Account
``CreateIdempotent`` checks the address is derived with the mint's own program (else ``InvalidSeeds``) and,
when the account does not exist yet, creates it, the payer depositing its rent (of the size the mint's program
makes it). An instruction of any other program (the Memo program's: a transfer's id) changes nothing, so two
transfers alike but for their memo are two transactions, two signatures; the same bytes sent again are one (refused
"already processed" with preflight, as above). ``getMinimumBalanceForRentExemption``
answers with the cluster's rent parameters (2,039,280 lamports for a 165-byte token account), and ``getTransaction`` of
a transfer gives each of its account keys' lamports before and after it (``preBalances``/``postBalances``: the payer's
fee, the SOL it sent, the rent it deposited, which stays in the new token account), ``meta.fee`` what the chain charged.

Swaps: the fake Jupiter API registers what a swap transaction does (``swap_effects``, by message
bytes); when such a transaction lands, the owner's SOL and token balances change by those
amounts and ``getTransaction`` (json encoding, ``maxSupportedTransactionVersion: 0``) reports
``meta.fee``, ``preBalances``/``postBalances`` and ``preTokenBalances``/``postTokenBalances`` (the
owner's token accounts, its associated ones, listed after the message's keys as
``loadedAddresses.writable``, each with its lamports). A swap paying out a token the owner has no
account for creates its associated token account, as Jupiter's ``CreateIdempotent`` setup
instruction does: the fee payer deposits the rent (``getMinimumBalanceForRentExemption(165)``,
2,039,280 lamports), which stays in the account (its ``preBalances`` 0, ``postBalances`` the rent).
Native SOL out needs none (Jupiter's wrapped-SOL account is closed in the same transaction, its
deposit refunded: nothing is kept, so nothing is modelled). The owner has an account for every mint
of its ``token_accounts`` (at zero too), and ``getAccountInfo`` of one's associated address
answers a token account.

Mints: ``getAccountInfo`` of a mint the node knows (:attr:`FakeSolanaRpc.mints`: USDC and USDT under the classic Token
Program by default; :meth:`FakeSolanaRpc.add_mint` adds one, e.g. a Token-2022 mint with extensions) answers the mint
account, owned by its token program, in its layout (82 bytes; with extensions padded to 165, the account type 1 and
the TLV entries). A Token-2022 mint's token accounts live at the associated address derived with the Token-2022
program id, and are as large as the ATA program makes them (``GetAccountDataSize``: 165 bytes, the account type, and
``ImmutableOwner`` plus what the mint's extensions require: ``TransferFeeAmount`` for ``TransferFeeConfig``,
``NonTransferableAccount`` for ``NonTransferable``, ``TransferHookAccount`` for ``TransferHook``, ``PausableAccount``
for ``Pausable``); a swap creating one deposits the rent of that size.
A swap whose effect carries the program's error (its slippage check failed) is refused by a send
with preflight, as the node's simulation does, and otherwise lands failed: nothing moves but the fee.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

NATIVE_MINT = "So11111111111111111111111111111111111111112"
ACCOUNT_STORAGE_OVERHEAD = 128
LAMPORTS_PER_BYTE_YEAR = 3480
EXEMPTION_YEARS = 2
"""Solana's rent parameters: ``getMinimumBalanceForRentExemption(165)`` (a token account) is 2,039,280 lamports."""
SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
TOKEN_ACCOUNT_BYTES = 165
LAMPORTS_PER_SIGNATURE = 5_000


@dataclass
class SentTransaction:
    signature: str
    raw: bytes
    skip_preflight: bool


@dataclass
class Account:
    data: bytes
    owner: str
    lamports: int


@dataclass
class Mint:
    """A mint the node knows: its token program and (Token-2022) its extension types, ``(type, value length)``."""

    program: str = TOKEN_PROGRAM
    decimals: int = 6
    extensions: tuple[tuple[int, int], ...] = ()

    def data(self) -> bytes:
        base = bytes(36) + (10**15).to_bytes(8, "little") + bytes([self.decimals, 1]) + bytes(36)
        if not self.extensions:
            return base
        tlv = b"".join(kind.to_bytes(2, "little") + length.to_bytes(2, "little") + bytes(length)
                       for kind, length in self.extensions)
        return base.ljust(TOKEN_ACCOUNT_BYTES, b"\0") + bytes([1]) + tlv

    def token_account_bytes(self) -> int:
        """What the ATA program allocates for a token account of this mint (spl-token-2022 ``GetAccountDataSize``
        with ``ImmutableOwner``)."""
        if self.program == TOKEN_PROGRAM:
            return TOKEN_ACCOUNT_BYTES
        required = {7: 0}  # ImmutableOwner, always asked for by the ATA program
        for kind, _ in self.extensions:
            required.update(_ACCOUNT_EXTENSIONS_OF.get(kind, {}))
        size = TOKEN_ACCOUNT_BYTES + 1 + sum(4 + length for length in required.values())
        return size + 1 if size == 355 else size  # never the size of a multisig


_ACCOUNT_EXTENSIONS_OF: dict[int, dict[int, int]] = {
    1: {2: 8},  # TransferFeeConfig -> TransferFeeAmount (withheld u64)
    9: {13: 0, 7: 0},  # NonTransferable -> NonTransferableAccount, ImmutableOwner
    14: {15: 1},  # TransferHook -> TransferHookAccount (transferring flag)
    26: {27: 0},  # Pausable -> PausableAccount
}


@dataclass
class SwapEffect:
    """What a swap transaction does to its owner's balances when it lands (raw units by mint)."""

    owner: str
    deltas: dict[str, int]
    decimals: dict[str, int]
    err: Any = None
    """The program's error when it runs (e.g. the slippage check), None when it succeeds."""
    logs: list[str] = field(default_factory=list)


@dataclass
class LandedTransaction:
    slot: int
    raw: bytes
    fee: int
    err: Any
    pre_lamports: int
    post_lamports: int
    pre_tokens: dict[str, int] = field(default_factory=dict)
    post_tokens: dict[str, int] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    owner: str = ""
    created: dict[str, int] = field(default_factory=dict)
    """mint -> the rent deposited into the owner's token account for it that this transaction created."""
    key_balances: tuple[list[int], list[int]] | None = None
    """A transfer's (not a swap's) lamports of each of the message's account keys before and after it landed."""


@dataclass
class _WsConnection:
    ws: web.WebSocketResponse
    subscriptions: dict[int, str] = field(default_factory=dict)


class Call(str):
    """A method the node was asked (equal to its name) and ``at_s``, the monotonic time the node took the call."""

    at_s: float

    def __new__(cls, method: str, at_s: float) -> Call:
        call = super().__new__(cls, method)
        call.at_s = at_s
        return call


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
        self.fee_lamports: int | None = None
        """The fee every landed transaction pays; None: as the chain charges it (:func:`network_fee`)."""
        self.landed: dict[str, int] = {}
        """signature -> slot it landed in"""
        self.statuses: dict[str, dict | None] = {}
        self.sent: list[SentTransaction] = []
        self.rejected: list[str] = []
        self.calls: list[Call] = []
        self.faults: dict[str, list[str]] = {}
        self.fault_if: dict[str, Callable[[list[Any]], bool]] = {}
        self.faulted: list[int] = []
        self.slow_s = 1.0
        self.url = ""
        self.ws_url = ""
        self.accounts: dict[str, Account] = {}
        self.mints: dict[str, Mint] = {USDC: Mint(), USDT: Mint()}
        self.slot_writes = 0
        self.epoch = 700
        """What ``getEpochInfo`` answers."""
        self.swap_effects: dict[bytes, SwapEffect] = {}
        self.token_transfers: list[tuple[str, int, str]] = []
        """(mint, raw amount, destination token account) of every TransferChecked that landed."""
        self.transactions: dict[str, LandedTransaction] = {}
        self.ws_connections: list[_WsConnection] = []
        self.ws_connects = 0
        self.ws_calls: list[tuple[str, list]] = []
        self.ws_silent = False
        self.ws_refuse = 0
        self.ws_refuse_subscribe = 0
        """That many ``accountSubscribe`` requests are answered with a JSON-RPC error object (``-32603`` Internal
        error, as a node at its subscription limit answers) instead of a subscription id; nothing is subscribed."""
        self._subscription_ids = itertools.count(1000)

    # --- control -------------------------------------------------------------------------

    def _new_blockhash(self) -> str:
        blockhash = str(Hash(hashlib.sha256(f"block-{next(self._counter)}".encode()).digest()))
        self.blockhashes[blockhash] = self.block_height + self.validity
        return blockhash

    async def next_call_after(self, index: int, timeout_s: float) -> tuple[float, list[str]]:
        """Seconds from the call at ``index`` of ``calls`` to the next one, both as the node took them (the client's
        wait, however late the test looks: a loaded machine delays the test's own polling, not these times), and
        the methods asked since; when none comes within ``timeout_s``, the seconds since that call."""
        deadline = time.monotonic() + timeout_s
        while len(self.calls) <= index + 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        after = self.calls[index + 1:]
        waited_s = (after[0] if after else Call("", time.monotonic())).at_s - self.calls[index].at_s
        return waited_s, list(after)

    def advance(self, blocks: int = 1) -> None:
        """Move the chain on; a fresh blockhash becomes the latest."""
        self.block_height += blocks
        self.latest = self._new_blockhash()

    def expire_all(self) -> None:
        """Advance past every blockhash issued so far."""
        self.advance(max(self.blockhashes.values()) - self.block_height + 1)

    @property
    def slot(self) -> int:
        return self.block_height + 100 + self.slot_writes

    def put_account(self, pubkey: str, data: bytes, *, owner: str = "11111111111111111111111111111111",
                    lamports: int | None = None) -> int:
        """Store an account (no notification); returns the slot of the write."""
        self.slot_writes += 1
        self.accounts[pubkey] = Account(data, owner, 1_000_000 + len(data) if lamports is None else lamports)
        return self.slot

    def add_mint(self, mint: str, *, program: str = TOKEN_2022_PROGRAM, decimals: int = 6,
                 extensions: tuple[tuple[int, int], ...] = ()) -> None:
        """Make ``mint`` known to the node (a Token-2022 mint unless ``program`` says otherwise)."""
        self.mints[mint] = Mint(program, decimals, extensions)

    def token_program_of(self, mint: str) -> str:
        known = self.mints.get(mint)
        return known.program if known is not None else TOKEN_PROGRAM

    def token_account_rent(self, mint: str) -> int:
        """The rent-exempt deposit of a token account of ``mint`` as the ATA program creates it."""
        known = self.mints.get(mint) or Mint()
        return self._getMinimumBalanceForRentExemption(known.token_account_bytes())

    async def set_account(self, pubkey: str, data: bytes, **kwargs: Any) -> int:
        """Store an account and notify its subscribers; returns the slot of the write."""
        slot = self.put_account(pubkey, data, **kwargs)
        if not self.ws_silent:
            for conn in list(self.ws_connections):
                for subscription, account in list(conn.subscriptions.items()):
                    if account == pubkey:
                        await self._send_ws(conn, {"jsonrpc": "2.0", "method": "accountNotification", "params": {
                            "result": {"context": {"slot": slot}, "value": self._account_value(pubkey)},
                            "subscription": subscription}})
        return slot

    async def notify(self, pubkey: str, data: bytes, slot: int) -> None:
        """Push a notification of ``pubkey`` holding ``data`` at ``slot`` without storing it: a node's late
        notification (from a slot older than what a read already answered)."""
        value = {"data": [base64.b64encode(data).decode(), "base64"], "executable": False, "lamports": 1_000_000,
                 "owner": "11111111111111111111111111111111", "rentEpoch": 18446744073709551615, "space": len(data)}
        for conn in list(self.ws_connections):
            for subscription, account in list(conn.subscriptions.items()):
                if account == pubkey:
                    await self._send_ws(conn, {"jsonrpc": "2.0", "method": "accountNotification", "params": {
                        "result": {"context": {"slot": slot}, "value": value}, "subscription": subscription}})

    def subscribed(self) -> set[str]:
        """Accounts some connection is subscribed to now."""
        return {a for conn in self.ws_connections for a in conn.subscriptions.values()}

    async def drop_ws(self) -> None:
        """Close every WebSocket connection (their subscriptions end with them)."""
        for conn in list(self.ws_connections):
            await conn.ws.close(code=1011, message=b"node restarting")

    async def send_malformed(self, kind: str = "shape") -> None:
        """Push a malformed notification: ``"json"`` (not JSON), ``"shape"`` (no value), ``"base64"``."""
        for conn in list(self.ws_connections):
            subscription = next(iter(conn.subscriptions), 0)
            if kind == "json":
                await conn.ws.send_str('{"jsonrpc": "2.0", "method": "accountNotification", "params": {')
                continue
            value: Any = {"lamports": 1} if kind == "shape" else {"data": ["%%% not base64 %%%", "base64"],
                                                                  "lamports": 1, "owner": "x"}
            await self._send_ws(conn, {"jsonrpc": "2.0", "method": "accountNotification", "params": {
                "result": {"context": {"slot": self.slot}, "value": value}, "subscription": subscription}})

    def signatures_sent(self) -> list[str]:
        return [s.signature for s in self.sent]

    async def start(self) -> FakeSolanaRpc:
        app = web.Application()
        app.router.add_post("/", self._handle)
        app.router.add_get("/", self._ws_handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        self.ws_url = f"ws://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        for conn in list(self.ws_connections):
            await conn.ws.close()
        await self._runner.cleanup()

    # --- WebSocket -------------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if self.ws_refuse > 0:
            self.ws_refuse -= 1
            return web.Response(status=503, text="unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _WsConnection(ws)
        self.ws_connections.append(conn)
        self.ws_connects += 1
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                body = json.loads(msg.data)
                method, params = body.get("method"), body.get("params", [])
                self.ws_calls.append((method, params))
                if self.ws_silent:
                    continue
                if method == "accountSubscribe":
                    options = params[1] if len(params) > 1 else {}
                    if options.get("encoding") != "base64":
                        await self._send_ws(conn, {"jsonrpc": "2.0", "id": body["id"], "error": {
                            "code": -32602, "message": "this fake serves base64 encoding only"}})
                        continue
                    if self.ws_refuse_subscribe > 0:
                        self.ws_refuse_subscribe -= 1
                        await self._send_ws(conn, {"jsonrpc": "2.0", "id": body["id"], "error": {
                            "code": -32603, "message": "Internal error"}})
                        continue
                    subscription = next(self._subscription_ids)
                    conn.subscriptions[subscription] = params[0]
                    await self._send_ws(conn, {"jsonrpc": "2.0", "result": subscription, "id": body["id"]})
                elif method == "accountUnsubscribe":
                    found = conn.subscriptions.pop(params[0], None) is not None
                    await self._send_ws(conn, {"jsonrpc": "2.0", "result": found, "id": body["id"]})
                else:
                    await self._send_ws(conn, {"jsonrpc": "2.0", "id": body.get("id"), "error": {
                        "code": -32601, "message": "Method not found"}})
        finally:
            self.ws_connections.remove(conn)
        return ws

    async def _send_ws(self, conn: _WsConnection, message: dict) -> None:
        if not conn.ws.closed:
            try:
                await conn.ws.send_str(json.dumps(message))
            except ConnectionError:
                pass

    # --- server ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        method, params = body["method"], body.get("params", [])
        self.calls.append(Call(method, time.monotonic()))
        fault = None
        if self.faults.get(method) and self.fault_if.get(method, lambda _params: True)(params):
            fault = self.faults[method].pop(0)
            self.faulted.append(len(self.calls) - 1)
        if fault == "429":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="Too many requests")
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "drop":
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=200)
        if fault == "unhealthy":  # the node's own error object (-32005 NodeUnhealthy) for any method while it lags
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": {
                "code": -32005, "message": "Node is behind by 42 slots", "data": {"numSlotsBehind": 42}}})
        if fault == "internal":  # JSON-RPC's own -32603 for a request the node failed to serve
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": {
                "code": -32603, "message": "Internal error"}})
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
        return {"slot": self.slot, "apiVersion": "2.1.0"}

    def _account_value(self, pubkey: str) -> dict | None:
        account = self.accounts.get(pubkey) or self._token_account(pubkey) or self._mint_account(pubkey)
        if account is None:
            return None
        return {"data": [base64.b64encode(account.data).decode(), "base64"], "executable": False,
                "lamports": account.lamports, "owner": account.owner, "rentEpoch": 18446744073709551615,
                "space": len(account.data)}

    def _token_account(self, pubkey: str) -> Account | None:
        """The SPL token account at ``pubkey`` when it is the associated account of an owner's mint (its layout: mint,
        owner, amount; the rest zero), holding its rent."""
        for owner, held in self.token_accounts.items():
            for mint, amount, _ in held:
                program = self.token_program_of(mint)
                if associated_token_account(owner, mint, program) == pubkey:
                    data = bytes(Pubkey.from_string(mint)) + bytes(Pubkey.from_string(owner))
                    data += amount.to_bytes(8, "little")
                    size = (self.mints.get(mint) or Mint()).token_account_bytes()
                    return Account(data.ljust(size, b"\0"), program, self.token_account_rent(mint))
        return None

    def _mint_account(self, pubkey: str) -> Account | None:
        known = self.mints.get(pubkey)
        if known is None:
            return None
        data = known.data()
        return Account(data, known.program, self._getMinimumBalanceForRentExemption(len(data)))

    @staticmethod
    def _check_base64(config: dict | None) -> None:
        if (config or {}).get("encoding") != "base64":
            raise RpcFault(-32602, "this fake serves base64 encoding only")

    def _getAccountInfo(self, pubkey: str, config: dict | None = None) -> dict:
        self._check_base64(config)
        return {"context": self._context(), "value": self._account_value(pubkey)}

    def _getMultipleAccounts(self, pubkeys: list[str], config: dict | None = None) -> dict:
        self._check_base64(config)
        if len(pubkeys) > 100:
            raise RpcFault(-32602, "Too many inputs provided; max 100")
        return {"context": self._context(), "value": [self._account_value(p) for p in pubkeys]}

    def _getTransaction(self, signature: str, config: dict | None = None) -> dict | None:
        config = config or {}
        if config.get("commitment") == "processed":
            raise RpcFault(-32602, "Method does not support commitment below `confirmed`")
        landed = self.transactions.get(signature)
        if landed is None:
            return None
        tx = VersionedTransaction.from_bytes(landed.raw)
        if config.get("maxSupportedTransactionVersion") is None:
            raise RpcFault(-32015, "Transaction version (0) is not supported by the requesting client. "
                                   "Please try the request again with the following configuration parameter: "
                                   '"maxSupportedTransactionVersion": 0')
        message = tx.message
        keys = [str(k) for k in message.account_keys]
        # the owner's token accounts the transaction touched, after the message's keys (as address-table ones)
        mints = sorted(set(landed.pre_tokens) | set(landed.post_tokens))
        index = {mint: len(keys) + n for n, mint in enumerate(mints)}

        def balances(tokens: dict[str, int]) -> list[dict]:
            out = []
            for mint, amount in sorted(tokens.items()):
                decimals = landed.decimals.get(mint, 6)
                ui = amount / 10**decimals
                out.append({"accountIndex": index[mint], "mint": mint, "owner": landed.owner,
                            "programId": self.token_program_of(mint),
                            "uiTokenAmount": {"amount": str(amount), "decimals": decimals, "uiAmount": ui,
                                              "uiAmountString": str(ui)}})
            return out

        others = [self.lamports.get(k, 0) for k in keys[1:]]
        pre_keys, post_keys = landed.key_balances or ([landed.pre_lamports, *others], [landed.post_lamports, *others])
        pre_accounts = [0 if mint in landed.created or mint not in landed.pre_tokens else self.token_account_rent(mint)
                        for mint in mints]
        post_accounts = [landed.created.get(mint, self.token_account_rent(mint)) if mint in landed.post_tokens else 0
                         for mint in mints]
        return {
            "slot": landed.slot, "blockTime": 1_700_000_000, "version": 0,
            "meta": {"err": landed.err, "fee": landed.fee, "status": {"Ok": None} if landed.err is None
                     else {"Err": landed.err}, "innerInstructions": [], "logMessages": [], "rewards": [],
                     "preBalances": [*pre_keys, *pre_accounts],
                     "postBalances": [*post_keys, *post_accounts],
                     "preTokenBalances": balances(landed.pre_tokens), "postTokenBalances": balances(landed.post_tokens),
                     "loadedAddresses": {"writable": [
                         associated_token_account(landed.owner, m, self.token_program_of(m)) for m in mints],
                                         "readonly": []}, "computeUnitsConsumed": 42_000},
            "transaction": {"signatures": [str(s) for s in tx.signatures], "message": {
                "accountKeys": keys, "recentBlockhash": str(message.recent_blockhash),
                "header": {"numRequiredSignatures": message.header.num_required_signatures,
                           "numReadonlySignedAccounts": message.header.num_readonly_signed_accounts,
                           "numReadonlyUnsignedAccounts": message.header.num_readonly_unsigned_accounts},
                "instructions": [], "addressTableLookups": []}},
        }

    def _land(self, signature: str, tx: VersionedTransaction, raw: bytes) -> None:
        """The transaction lands: the fee payer pays the fee once; a registered swap moves balances."""
        slot = self.slot
        self.landed[signature] = slot
        payer = str(tx.message.account_keys[0])
        effect = self.swap_effects.get(bytes(tx.message))
        owner = effect.owner if effect is not None else payer
        held = {mint: amount for mint, amount, _ in self.token_accounts.get(owner, [])}
        decimals = {mint: d for mint, _, d in self.token_accounts.get(owner, [])}
        pre_lamports = self.lamports.get(payer, 0)
        keys = [str(k) for k in tx.message.account_keys]
        pre_keys = [self.lamports.get(k, 0) for k in keys]
        fee = network_fee(tx) if self.fee_lamports is None else self.fee_lamports
        landed = LandedTransaction(slot, raw, fee, self.landed_err, pre_lamports, 0,
                                   pre_tokens=dict(held), decimals=decimals, owner=owner)
        self.lamports[payer] = pre_lamports - fee
        if effect is not None and effect.err is not None and self.landed_err is None:
            landed.err = effect.err  # the program refused: nothing moves, the fee is paid all the same
            self.statuses[signature] = {"slot": slot, "confirmations": None, "err": landed.err,
                                        "status": {"Err": landed.err}, "confirmationStatus": self.confirmation}
        elif effect is not None and self.landed_err is None:
            decimals.update(effect.decimals)
            for mint, delta in effect.deltas.items():
                if mint == NATIVE_MINT:
                    self.lamports[owner] = self.lamports.get(owner, 0) + delta
                    continue
                if mint not in held:  # Jupiter's CreateIdempotent makes the owner's account, the payer its deposit
                    landed.created[mint] = self.token_account_rent(mint)
                    self.lamports[payer] -= landed.created[mint]
                held[mint] = held.get(mint, 0) + delta
            self.token_accounts[owner] = [(mint, amount, decimals.get(mint, 6)) for mint, amount in held.items()]
        if effect is None and self.landed_err is None:
            landed.err, after, sent_tokens = self._transfers(tx, held, decimals)
            if landed.err is None:
                held = after
                self.token_transfers.extend(sent_tokens)
                self.token_accounts[owner] = [(mint, amount, decimals.get(mint, 6)) for mint, amount in held.items()]
            else:  # this transaction failed on chain (the fee is paid all the same)
                self.statuses[signature] = {"slot": slot, "confirmations": None, "err": landed.err,
                                            "status": {"Err": landed.err}, "confirmationStatus": self.confirmation}
        landed.post_lamports = self.lamports[payer]
        landed.post_tokens = dict(held)
        if effect is None:
            landed.key_balances = (pre_keys, [self.lamports.get(k, 0) for k in keys])
        self.transactions[signature] = landed

    def _transfers(self, tx: VersionedTransaction, held: dict[str, int], decimals: dict[str, int]
                   ) -> tuple[Any, dict[str, int], list[tuple[str, int, str]]]:
        """The System transfers, ATA ``CreateIdempotent`` and ``TransferChecked`` of a landed transaction: (the chain's
        error or None, the signer's token balances after, the token transfers made); lamports and the receivers' token
        accounts change only without an error. As the programs do, a token instruction is refused under a program
        that does not own the mint (``IncorrectProgramId``), and an associated account not derived from the owner,
        the mint's own program and the mint (``InvalidSeeds``); a created account takes its rent from the payer."""
        keys = [str(k) for k in tx.message.account_keys]
        signer = keys[0]
        after = dict(held)
        sent: list[tuple[str, int, str]] = []
        lamports = dict(self.lamports)
        receivers = {owner: list(accounts) for owner, accounts in self.token_accounts.items() if owner != signer}
        for n, ix in enumerate(tx.message.instructions):
            program, data, accounts = keys[ix.program_id_index], bytes(ix.data), [keys[i] for i in bytes(ix.accounts)]
            if program == SYSTEM_PROGRAM and data[:4] == (2).to_bytes(4, "little"):
                amount = int.from_bytes(data[4:12], "little")
                if lamports.get(accounts[0], 0) < amount:
                    return {"InstructionError": [n, {"Custom": 1}]}, held, []
                lamports[accounts[0]] -= amount
                lamports[accounts[1]] = lamports.get(accounts[1], 0) + amount
            elif program == ATA_PROGRAM and data[:1] in (b"", bytes([0]), bytes([1])):
                payer, ata, wallet, mint, token_program = (accounts[i] for i in (0, 1, 2, 3, 5))
                if token_program != self.token_program_of(mint):
                    return {"InstructionError": [n, "IncorrectProgramId"]}, held, []
                if associated_token_account(wallet, mint, token_program) != ata:
                    return {"InstructionError": [n, "InvalidSeeds"]}, held, []
                exists = ata in self.accounts or (wallet == signer and mint in after) or any(
                    m == mint for m, _, _ in receivers.get(wallet, []))
                if not exists:
                    rent = self.token_account_rent(mint)
                    if lamports.get(payer, 0) < rent:
                        return {"InstructionError": [n, {"Custom": 1}]}, held, []
                    lamports[payer] -= rent
                    lamports[ata] = lamports.get(ata, 0) + rent  # the deposit stays in the new account
                    places = (self.mints.get(mint) or Mint()).decimals
                    if wallet == signer:
                        after[mint] = 0
                    else:
                        receivers.setdefault(wallet, []).append((mint, 0, places))
            elif program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM) and data[:1] == bytes([12]):
                amount, places, mint = int.from_bytes(data[1:9], "little"), data[9], accounts[1]
                source, destination, authority = accounts[0], accounts[2], accounts[3]
                if program != self.token_program_of(mint):
                    return {"InstructionError": [n, "IncorrectProgramId"]}, held, []
                if source != associated_token_account(authority, mint, program):
                    return {"InstructionError": [n, "InvalidAccountData"]}, held, []
                if decimals.get(mint, places) != places:
                    return {"InstructionError": [n, {"Custom": 18}]}, held, []  # MintDecimalsMismatch
                if after.get(mint, 0) < amount:
                    return {"InstructionError": [n, {"Custom": 1}]}, held, []  # InsufficientFunds
                after[mint] -= amount
                sent.append((mint, amount, destination))
                for wallet, owned in receivers.items():  # credited to the receiver's account when the node has it
                    if associated_token_account(wallet, mint, program) == destination:
                        owned[:] = [(m, a + amount if m == mint else a, d) for m, a, d in owned]
        self.lamports = lamports
        self.token_accounts.update(receivers)
        return None, after, sent

    def _getLatestBlockhash(self, *_: Any) -> dict:
        return {"context": self._context(),
                "value": {"blockhash": self.latest, "lastValidBlockHeight": self.blockhashes[self.latest]}}

    def _getBlockHeight(self, *_: Any) -> int:
        return self.block_height

    def _getEpochInfo(self, *_: Any) -> dict:
        return {"epoch": self.epoch, "absoluteSlot": self.slot, "blockHeight": self.block_height, "slotIndex": 0,
                "slotsInEpoch": 432_000}

    @staticmethod
    def _getMinimumBalanceForRentExemption(data_length: int, *_: Any) -> int:
        # the cluster's rent: 3480 lamports per byte-year, two years, for the data and 128 bytes of account overhead
        return (ACCOUNT_STORAGE_OVERHEAD + data_length) * LAMPORTS_PER_BYTE_YEAR * EXEMPTION_YEARS

    def _getBalance(self, pubkey: str, *_: Any) -> dict:
        return {"context": self._context(), "value": self.lamports.get(pubkey, 0)}

    def _getTokenAccountsByOwner(self, owner: str, filt: dict, *_: Any) -> dict:
        """The owner's token accounts of the mints ``filt["programId"]`` owns (the Token Program or Token-2022; any
        other program id is refused as a real node refuses it)."""
        if filt.get("programId") not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
            raise RpcFault(-32602, "Invalid param: unrecognized Token program id")
        value = []
        for n, (mint, amount, decimals) in enumerate(self.token_accounts.get(owner, [])):
            if self.token_program_of(mint) != filt["programId"]:
                continue
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
        if not skip and signature in self.landed:  # the simulation finds it in the status cache
            self.rejected.append(signature)
            raise RpcFault(-32002, "Transaction simulation failed: This transaction has already been processed",
                           {"err": "AlreadyProcessed", "logs": []})
        if not skip and self.preflight_err is not None:
            self.rejected.append(signature)
            raise RpcFault(**self.preflight_err)
        effect = self.swap_effects.get(bytes(tx.message))
        if not skip and effect is not None and effect.err is not None:
            self.rejected.append(signature)
            raise RpcFault(-32002, "Transaction simulation failed: Error processing Instruction 0",
                           {"err": effect.err, "logs": effect.logs})
        self.sent.append(SentTransaction(signature, raw, skip))
        if self.land and signature not in self.landed:
            self._land(signature, tx, raw)
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


def associated_token_account(owner: str, mint: str, program: str = TOKEN_PROGRAM) -> str:
    """The owner's associated token account for ``mint`` (the ATA program's derivation: owner, the mint's token
    program, mint)."""
    return str(Pubkey.find_program_address(
        [bytes(Pubkey.from_string(owner)), bytes(Pubkey.from_string(program)), bytes(Pubkey.from_string(mint))],
        Pubkey.from_string(ATA_PROGRAM))[0])


def network_fee(tx: VersionedTransaction) -> int:
    """What the chain charges a transaction: 5,000 lamports per signature and the priority fee, its
    ``SetComputeUnitPrice`` (micro-lamports) times its compute-unit limit (``SetComputeUnitLimit``, else 200,000 per
    instruction outside the compute budget program, at most 1,400,000) / 10**6, rounded up."""
    keys = [str(k) for k in tx.message.account_keys]
    limit, price, others = None, 0, 0
    for ix in tx.message.instructions:
        data = bytes(ix.data)
        if keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM:
            others += 1
        elif data[:1] == bytes([2]):
            limit = int.from_bytes(data[1:5], "little")
        elif data[:1] == bytes([3]):
            price = int.from_bytes(data[1:9], "little")
    if limit is None:
        limit = min(200_000 * others, 1_400_000)
    return LAMPORTS_PER_SIGNATURE * len(tx.signatures) + -(-price * limit // 1_000_000)


class RpcFault(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.error = {"code": code, "message": message, **({"data": data} if data is not None else {})}
