"""Jupiter as an arbot Exchange: an order is one swap, signed once per blockhash lifetime.

**Mapping.** ``place_order`` is a market swap with a minimum out: a SELL of ``qty`` base is an
``ExactIn`` quote of base -> quote, a BUY is an ``ExactOut`` quote of quote -> base; Jupiter writes
the bound (the quoted amount and ``slippage_bps``) into the transaction. A limit price, when the
order has one, refuses a quote worse than it before anything is signed, and is the bound on chain
when it is tighter than the slippage's: a SELL's minimum out is at least ``ceil(limit x qty)``, a
BUY's maximum in at most ``floor(limit x qty)`` (quote units, exact), so the swap fails on chain
rather than land worse than the limit. A quantity that is
not a whole number of the base token's unit (``10**-decimals``; a token with 0 decimals swaps whole tokens only) is
refused by name before anything is quoted or signed, never truncated. ``fetch_order`` answers
from the persisted swap and the chain, ``cancel_order`` raises :class:`PermanentError` (a swap
cannot be cancelled), ``balances`` are the wallet's SOL and SPL tokens.

**One intent, one landed swap.** The signed transaction, its signature and the blockhash's ``lastValidBlockHeight``
are stored under the client order id *before* the first send. Until the swap is confirmed, the *same* bytes are
rebroadcast every ``rebroadcast_s`` while ``getSignatureStatuses`` is polled (every ``poll_s``; after a 429 with
``Retry-After``, to a look-up or to a send (the first, a rebroadcast, a re-signed swap's: not taken, sent again
after), the node is asked nothing, look-up or rebroadcast, until then, but no longer than the blockhash's
remaining blocks take at :data:`.errors.SLOT_S` each, so that its expiry is seen in time). A rebroadcast refused by
the node's simulation (the pool moved, a balance changed) does not end the swap: a copy sent before may still land, so
the status look-ups go on (so does a first send that a fallback URL refused after an earlier URL's answer was lost), and
the refusal is the swap's error only once the signature provably expired (then it is not re-signed). A new signature
for the intent (a fresh quote) is made only once the old one provably expired: the block height is past
``lastValidBlockHeight`` *and* a status look-up made after seeing that height, on the same node, does not know the
signature (a fallback node behind that height proves nothing; when the node fails, nothing is concluded). A restart
resumes confirming the stored transaction. At most ``max_sign_attempts`` signatures are made per intent, and one
signer at a time: signing takes the intent's lock and signs only the attempt after the stored one, and while the
intent's confirmation task runs (it re-signs an expired swap itself) ``place_order`` joins it instead.

**The store, off the loop.** Swap rows are read and written on the store writer's thread (``ctx.read_later``,
``ctx.write_later``), each awaited, so a database that stops answering holds that swap, never the event loop (every
other venue, the kill switch, chat): the signed row is committed before the first send (it may wait, the send waits
with it), an outcome is stored before it is reported, and a read comes after the writes handed over before it. The
outcome a confirmation task ends with is the row it stored last, reported without a read; at start the swaps still in
flight are read on the store's own read threads (``Store.read_off_loop``).

``place_order`` waits up to ``place_wait_s`` for the confirmation and returns FILLED (with the
fill) when it came in time, else OPEN; the swap keeps being confirmed in the background and its
outcome is then published as a ``Fill`` and an ``OrderReport``.

**Realized fills.** Once a swap is confirmed, its transaction is read back (``getTransaction``,
json encoding, ``maxSupportedTransactionVersion: 0``) and the fill reports what it really did:
the wallet's base and quote changes from ``meta.preTokenBalances``/``postTokenBalances`` (native
SOL from its lamport balance, the network fee added back), price = quote / base, and ``fee`` =
``meta.fee`` (signature + priority fee) in SOL. The pool's fee is inside the price, as on chain.
These are persisted with the swap before it is marked landed. If its balances make no sense for the
swap's direction, the fill shows the quoted amounts and ``meta.fee``, with a warning. A 429 while reading it back is
followed too (read again once its ``Retry-After`` is over, within ``fill_lookup_s``). If the node has no
transaction within ``fill_lookup_s``, the fill shows the quoted amounts and the fee the signed bytes pay
(:func:`~arbotlib.solana.transactions.charged_fee_lamports`: the signature and the compute-unit price times the
limit the transaction sets, what ``meta.fee`` would have said), with a warning. The rent a swap deposited into a token
account it created and kept (its output token's, when the wallet had none) is a cost too: it is part of the
fill's ``fee`` (and ``fee_lamports``), not of the SOL swapped.

**A swap that landed failed paid its fee** (the program refused, e.g. its slippage bound: nothing moved but
``meta.fee``). A failure, like a success, is the outcome only at ``commitment``: one seen at ``processed`` alone may
be in a block that is dropped, and the same bytes may then land, and succeed, so the swap is confirmed on. The fee
is read back the same way (the signed bytes' own when the node has no transaction), stored with the FAILED row, and
the REJECTED state carries it as a fill of no quantity (``qty`` 0, ``fee`` in SOL, the quoted price, ``trade_id``
the signature): the executor applies it once like any fill, so the order's fee, the ledger's fees and the SOL
position show what the wallet paid. It is published before ``place_order`` raises the swap's error, and with the
``OrderReport`` when no call waits.

``dexes`` (Jupiter's labels, e.g. ``["Whirlpool"]``) restricts the routes, e.g. to swap on the
Orca pools the ``orca`` exchange publishes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from arbotlib.solana.rpc import (
    MalformedReply,
    RpcError,
    RpcRateLimited,
    RpcResponseError,
    RpcUnavailable,
    SolanaRpc,
)
from arbotlib.solana.transactions import (
    LAMPORTS_PER_SIGNATURE,
    MAX_COMPUTE_UNIT_LIMIT,
    NATIVE_MINT,
    balance_changes,
    charged_fee_lamports,
    created_account_rent_lamports,
    fee_lamports,
)
from arbotlib.solana.urls import shown_url
from arbotlib.solana.wallet import Wallet
from bot.api import (
    Balance,
    Context,
    Exchange,
    Fill,
    Liquidity,
    MarketInfo,
    Order,
    OrderReport,
    OrderState,
    OrderStatus,
    PermanentError,
    Side,
    SwapFee,
    TransientError,
    split_symbol,
)
from bot.api.kit import add_url
from bot.api.storage import free_text

from .api import JupiterApi, NothingToSwap, Quote
from .errors import (
    BLOCKHASH_VALIDITY_BLOCKS,
    BlockhashExpired,
    SlippageExceeded,
    SolanaInsufficientFunds,
    SwapFailed,
    classify_chain_error,
    rate_limited_wait_s,
    rpc_error,
)
from .records import (
    EXPIRED,
    FAILED,
    IN_FLIGHT,
    LANDED,
    JupiterSwapRow,
    in_flight_swaps,
    load_swap,
    save_swap,
)
from .settings import JupiterSettings
from .transfers import JupiterTransfers, associated_token_account

_COMMITMENT_RANK = {"processed": 1, "confirmed": 2, "finalized": 3}
# MAX_COMPUTE_UNIT_LIMIT (a transaction's largest compute-unit limit): the priority fee of a route is predicted on it
# until Jupiter's simulation of a swap on that route (``dynamicComputeUnitLimit``) has told a smaller one: a bound,
# never less than the route will be signed with. A swap is signed by the wallet alone: one LAMPORTS_PER_SIGNATURE.


class PriceLimitExceeded(SlippageExceeded):
    """The quote is worse than the order's limit price: nothing was signed."""


def limit_quote_units(limit: Decimal, qty: Decimal, quote_decimals: int, side: Side) -> int:
    """``limit x qty`` in quote units, exact: rounded up for a SELL (its minimum out), down for a BUY (maximum in)."""
    limit_num, limit_den = limit.as_integer_ratio()
    qty_num, qty_den = qty.as_integer_ratio()
    num, den = limit_num * qty_num * 10**quote_decimals, limit_den * qty_den
    return -(-num // den) if side is Side.SELL else num // den


def percentile(values: list[int], pct: int) -> int:
    """The ``pct``-th percentile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


class JupiterExchange(Exchange, JupiterTransfers):
    """Swaps through Jupiter, signed by a local wallet (real transactions: live mode only)."""

    Settings = JupiterSettings

    @classmethod
    def markets_of(cls, settings: JupiterSettings) -> list[str]:
        """The symbols it swaps."""
        return settings.symbols
    simulated = False
    venue_kind = "pool"
    place_wait_s: float = 3.0

    def __init__(self, name: str, settings: JupiterSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.wallet: Wallet | None = None
        self.rpc: SolanaRpc | None = None
        self.api: JupiterApi | None = None
        self._confirming: dict[str, asyncio.Task[JupiterSwapRow]] = {}
        self._awaited: set[str] = set()
        """Client ids whose place_order call is waiting for the outcome (it reports it, not us)."""
        self._sign_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._quiet_s: dict[str, float] = {}
        """Client id -> how long its confirmation asks the node nothing before its next call: what a send outside the
        confirmation loop (the first send, a re-signed swap's) was told by a 429 (``Retry-After``, bounded)."""
        """Client id -> (its signing lock, how many hold or wait for it): one signer per intent."""
        self.signatures_made = 0
        self.compute_unit_limits: dict[tuple[str, Side], int] = {}
        """(symbol, side) -> the compute-unit limit Jupiter set for the last swap on that route (its simulation's):
        the next one's expected limit (a route is its input and output tokens and swap mode, which the symbol and
        side decide; this run's swaps only)."""
        self._mints: dict[str, tuple[Pubkey, int, tuple[int, ...]]] = {}
        """Mint -> (the token program owning it, the size of its associated token accounts, its extension types), read
        once (:meth:`~plugins.jupiter.transfers.JupiterTransfers.token_accounts_of`)."""
        self._unsendable_logged: set[str] = set()

    @property
    def account(self) -> str:
        """The wallet's address once started (two venues signing with one key spend one wallet's funds)."""
        return f"solana:{self.wallet.pubkey}" if self.wallet is not None else self.name

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        for url in (*s.rpc_urls, s.api_url):  # providers put keys and passwords in these: masked in every log line
            add_url(url)
        self.wallet = Wallet.load(s.keypair if s.keypair is not None else s.keypair_file)
        self.rpc = SolanaRpc(s.rpc_urls, timeout_s=s.request_timeout_s, commitment=s.commitment)
        self.api = JupiterApi(s.api_url, timeout_s=s.request_timeout_s)
        self.ctx.log.info("jupiter: wallet %s, rpc %s", self.wallet.pubkey, shown_url(s.rpc_urls[0]))
        # read on the store's own read threads: the loop never waits on the database (this run wrote nothing yet)
        for row in await self.ctx.store.read_off_loop(in_flight_swaps, self.ctx.store, self.name):
            self.ctx.log.info("jupiter: resuming confirmation of %s (%s)", row.client_order_id, row.signature)
            self._ensure_confirming(row.client_order_id)

    async def stop(self) -> None:
        tasks = list(self._confirming.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._confirming.clear()
        if self.rpc is not None:
            await self.rpc.close()
        if self.api is not None:
            await self.api.close()

    # --- Exchange ----------------------------------------------------------------------------

    def market(self, symbol: str) -> MarketInfo:
        if symbol not in self.settings.symbols:
            raise KeyError(symbol)
        base, quote = split_symbol(symbol)
        _, base_decimals = self.settings.token(base)
        _, quote_decimals = self.settings.token(quote)
        return MarketInfo(symbol=symbol, base=base, quote=quote, tick_size=Decimal(1).scaleb(-quote_decimals),
                          lot_size=Decimal(1).scaleb(-base_decimals))

    async def place_order(self, order: Order) -> OrderState:
        cid = order.client_order_id
        if self._confirmation_running(cid):  # it confirms the swap, and re-signs it if it expires: join it
            return await self._wait(cid)
        async with self._signing(cid):
            row = await self._load(cid)
            if self._confirmation_running(cid) or (row is not None and row.status == IN_FLIGHT):
                pass  # someone signed while we waited for the lock: wait for that swap
            elif row is not None and (row.status != EXPIRED or row.attempt >= self.settings.max_sign_attempts):
                return self._state(row)
            else:
                attempt = 1 if row is None else row.attempt + 1
                row = await self._sign_new(order.symbol, order.side, order.qty, order.price, cid, attempt)
                await self._first_send(row)
        return await self._wait(cid)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        row = await self._load(client_order_id)
        if row is None:
            return None
        if row.status == IN_FLIGHT:
            self._ensure_confirming(client_order_id)
        if row.status == EXPIRED and self._confirmation_running(client_order_id):
            return OrderState(client_order_id, OrderStatus.OPEN, exchange_order_id=row.signature)  # being re-signed
        if row.status == EXPIRED and row.attempt < self.settings.max_sign_attempts:
            return None  # provably never landed: the executor may place it again (a fresh signature)
        return self._state(row)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        raise PermanentError("a Jupiter swap cannot be cancelled: it lands whole or not at all")

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [self._state(r) for r in await self.ctx.read_later(in_flight_swaps, self.ctx.store, self.name)
                if symbol is None or r.symbol == symbol]

    async def balances(self) -> dict[str, Balance]:
        assert self.rpc is not None and self.wallet is not None
        owner = str(self.wallet.pubkey)
        try:
            lamports = await self.rpc.get_balance_lamports(owner)
            tokens = await self.rpc.get_token_balances(owner)
        except RpcError as exc:
            raise rpc_error(exc, otherwise=SwapFailed) from None
        by_mint = {self.settings.token(a)[0]: a for a in self.settings.tokens}
        sol = Decimal(lamports).scaleb(-9)
        out: dict[str, Balance] = {"SOL": Balance("SOL", sol, sol)}
        for mint, held in tokens.items():
            asset = by_mint.get(mint, mint)
            amount = held.ui_amount
            if asset in out:
                amount += out[asset].total  # wrapped SOL joins native SOL
            out[asset] = Balance(asset, amount, amount)
        return out

    # --- signing -----------------------------------------------------------------------------

    async def compute_unit_price(self) -> int:
        """Priority fee in micro-lamports per compute unit: fixed or a percentile of recent fees, capped."""
        s = self.settings
        if s.compute_unit_price_micro_lamports is not None:
            price = s.compute_unit_price_micro_lamports
        else:
            assert self.rpc is not None
            price = percentile(await self.rpc.get_recent_prioritization_fees(), s.priority_fee_percentile)
        return min(price, s.max_compute_unit_price_micro_lamports)

    async def swap_fee_lamports(self, symbol: str, side: Side | None = None) -> SwapFee | None:
        """What the next swap of ``symbol`` on ``side`` costs the wallet: one signature; the priority fee at
        :meth:`compute_unit_price` (what it will be signed with) on the compute-unit limit Jupiter set for the last
        swap on that route (:attr:`compute_unit_limits`; a transaction's largest, :data:`MAX_COMPUTE_UNIT_LIMIT`,
        for a route not swapped yet); and the rent of the output token account when the wallet has none yet (the
        swap's ``CreateIdempotent`` makes it: ``getMinimumBalanceForRentExemption`` of its size, 165 bytes for a
        Token Program mint, more for a Token-2022 mint with extensions; none for native SOL out,
        whose wrapped account the swap closes again). ``side`` None: the dearer side. Raises
        :class:`ExchangeError` when the node cannot tell recent fees or the account."""
        try:
            price = await self.compute_unit_price()
            fees = [SwapFee(LAMPORTS_PER_SIGNATURE,
                            -(-price * self.compute_unit_limits.get((symbol, s), MAX_COMPUTE_UNIT_LIMIT) // 1_000_000),
                            await self._output_account_rent(symbol, s))
                    for s in ((side,) if side is not None else tuple(Side))]
        except RpcError as exc:
            raise rpc_error(exc, otherwise=SwapFailed) from None
        return max(fees, key=lambda fee: fee.total_lamports)

    async def _output_account_rent(self, symbol: str, side: Side) -> int:
        """Lamports a swap on ``side`` would deposit into the output token's account it creates (0: it exists, or
        the output is native SOL). The account is the wallet's associated one for the mint's own token program (the
        mint account's owner: the Token Program or Token-2022), as large as that program makes it for the mint."""
        assert self.rpc is not None and self.wallet is not None
        base, quote = split_symbol(symbol)
        asset = quote if side is Side.SELL else base
        if self.settings.token(asset)[0] == NATIVE_MINT:
            return 0
        mint, program, size = await self.token_accounts_of(asset)
        _, account = await self.rpc.get_account_info(str(associated_token_account(self.wallet.pubkey, mint, program)))
        if account is not None:
            return 0
        return await self.rpc.get_minimum_balance_for_rent_exemption(size)

    async def _quote(self, symbol: str, side: Side, qty: Decimal, limit: Decimal | None) -> tuple[Quote, str, str]:
        assert self.api is not None
        s = self.settings
        base, quote_asset = split_symbol(symbol)
        base_mint, base_decimals = s.token(base)
        quote_mint, quote_decimals = s.token(quote_asset)
        exact_units = qty.scaleb(base_decimals)
        unit = Decimal(1).scaleb(-base_decimals)
        if exact_units != exact_units.to_integral_value():
            # truncated, the swap would fill another quantity than the order's (a 0-decimal token: 1 of 1.5)
            raise PermanentError(f"quantity {qty:f} {base} is not a whole number of {base}'s unit, {unit:f} {base} "
                                 f"({base_decimals} decimals): size the order in multiples of {unit:f}")
        base_units = int(exact_units)
        if base_units <= 0:
            raise PermanentError(f"quantity {qty:f} {base} is below one base unit ({unit:f} {base})")
        if side is Side.SELL:
            input_mint, output_mint, mode = base_mint, quote_mint, "ExactIn"
        else:
            input_mint, output_mint, mode = quote_mint, base_mint, "ExactOut"
        try:
            quote = await self.api.quote(input_mint=input_mint, output_mint=output_mint, amount=base_units,
                                         swap_mode=mode, slippage_bps=s.slippage_bps,
                                         only_direct_routes=s.only_direct_routes,
                                         restrict_intermediate_tokens=s.restrict_intermediate_tokens,
                                         dexes=s.dexes)
        except NothingToSwap as exc:
            paid, got = (base, quote_asset) if side is Side.SELL else (quote_asset, base)
            raise NothingToSwap(exc.in_amount, exc.out_amount, exc.swap_mode,
                                f"jupiter /quote: {exc.in_amount} raw units of {paid} in, {exc.out_amount} raw units "
                                f"of {got} out ({exc.swap_mode}): {qty:f} {base} is too small for the route"
                                ) from None
        if limit is not None:
            bound = limit_quote_units(limit, qty, quote_decimals, side)
            quoted = quote.out_amount if side is Side.SELL else quote.in_amount
            if (side is Side.SELL and quoted < bound) or (side is Side.BUY and quoted > bound):
                price = Decimal(quoted).scaleb(-quote_decimals) / qty
                raise PriceLimitExceeded(f"quoted price {price} is worse than the limit {limit} ({symbol} {side})")
            # the most slippage that keeps the bound on chain within the limit (bound and quote are integers)
            within_limit_bps = 10_000 * abs(quoted - bound) // quoted
            if within_limit_bps < s.slippage_bps:
                quote = quote.with_slippage_bps(within_limit_bps)
        return quote, input_mint, output_mint

    @asynccontextmanager
    async def _signing(self, cid: str) -> AsyncIterator[None]:
        """Hold the intent's signing lock: whoever signs re-reads the row under it (one signer per intent)."""
        lock, users = self._sign_locks.get(cid, (asyncio.Lock(), 0))
        self._sign_locks[cid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._sign_locks[cid]
            if users == 1:
                del self._sign_locks[cid]
            else:
                self._sign_locks[cid] = (lock, users - 1)

    def _confirmation_running(self, cid: str) -> bool:
        task = self._confirming.get(cid)
        return task is not None and not task.done() and task is not asyncio.current_task()

    async def _sign_new(self, symbol: str, side: Side, qty: Decimal, limit: Decimal | None, cid: str,
                        attempt: int) -> JupiterSwapRow:
        """Quote, build, sign and persist a swap; nothing is sent yet. Only under :meth:`_signing`."""
        assert self.api is not None and self.wallet is not None
        if attempt > self.settings.max_sign_attempts:
            raise PermanentError(f"{cid}: attempt {attempt} is past max_sign_attempts")
        try:
            quote, input_mint, output_mint = await self._quote(symbol, side, qty, limit)
            cu_price = await self.compute_unit_price()
            swap = await self.api.swap(quote, user_public_key=str(self.wallet.pubkey),
                                       compute_unit_price_micro_lamports=cu_price)
        except RpcError as exc:
            raise rpc_error(exc, otherwise=SwapFailed) from None
        if swap.compute_unit_limit is not None:
            self.compute_unit_limits[(symbol, side)] = swap.compute_unit_limit
        signed = self.wallet.sign(swap.unsigned)
        self.signatures_made += 1
        row = JupiterSwapRow(
            exchange=self.name, client_order_id=cid, symbol=symbol, side=str(side), qty=str(qty),
            limit_price="" if limit is None else str(limit), input_mint=input_mint, output_mint=output_mint,
            in_amount=quote.in_amount, out_amount=quote.out_amount, min_out_amount=quote.other_amount_threshold,
            attempt=attempt, signature=str(signed.signatures[0]),
            signed_tx_b64=base64.b64encode(bytes(signed)).decode(),
            last_valid_block_height=swap.last_valid_block_height, status=IN_FLIGHT,
            updated_ns=self.ctx.clock.time_ns())
        # committed before the first send (a restart resumes, never re-signs): awaited, on the store writer's thread
        row = await self.ctx.write_later(save_swap, self.ctx.store, row)
        self.ctx.log.info("jupiter %s: signed %s (attempt %d, valid to height %d, cu price %d)",
                          cid, row.signature, attempt, row.last_valid_block_height, cu_price)
        return row

    async def _first_send(self, row: JupiterSwapRow) -> None:
        """Send once; a definite refusal fails the swap, a lost answer is left to the rebroadcasts (and a refusal
        that followed a lost answer to the status look-ups: the copy whose answer was lost may land)."""
        try:
            failure, final = await self._send(row)
        except RpcRateLimited as exc:  # not taken: the confirmation sends it again once the node's wait is over
            self._rate_limited_send(row, exc)
            failure, final = None, True
        if failure is not None and final:
            await self._finish(row, FAILED, failure)
            raise failure
        self._ensure_confirming(row.client_order_id, sent=True, refused=failure)

    def _rate_limited_send(self, row: JupiterSwapRow, exc: RpcRateLimited) -> None:
        """A send outside the confirmation loop was answered 429: its confirmation asks the node nothing until the
        ``Retry-After`` is over (bounded by the blockhash's validity, :meth:`_rate_limited_wait_s`)."""
        wait_s = self._quiet_s[row.client_order_id] = self._rate_limited_wait_s(exc.retry_after_s, row, None)
        self.ctx.log.warning("jupiter %s: send of %s not taken (%s); sending again in %.1f s", row.client_order_id,
                             row.signature, exc, wait_s)

    async def _send(self, row: JupiterSwapRow) -> tuple[PermanentError | None, bool]:
        """Send the stored bytes: (the permanent error when the node refused them, whether that refusal is final).
        A refusal is not final when an earlier URL of the same send may have taken the bytes (its answer was lost):
        that node may have forwarded them, and they may land. Raises :class:`RpcRateLimited` for a 429: the caller
        asks the node nothing until its ``Retry-After`` is over (bounded by the blockhash's expiry)."""
        assert self.rpc is not None
        try:
            await self.rpc.send_transaction(base64.b64decode(row.signed_tx_b64),
                                            skip_preflight=self.settings.skip_preflight)
        except RpcResponseError as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            err = data.get("err")
            if err == "BlockhashNotFound" or "Blockhash not found" in exc.rpc_message:
                return None, True  # expired or not yet seen by this node: only the status look-ups decide
            if err == "AlreadyProcessed" or "already been processed" in exc.rpc_message:
                return None, True  # these bytes are in the node's status cache: they may have landed, look-ups decide
            failure = (classify_chain_error(err, data.get("logs")) if err is not None
                       else SwapFailed(f"sendTransaction refused: {exc.rpc_message}"))
            if exc.after_lost_answer:
                self.ctx.log.warning("jupiter %s: send of %s refused (%s) after an earlier node's answer was lost; "
                                     "confirming until it lands or its blockhash expires", row.client_order_id,
                                     row.signature, failure)
            return failure, not exc.after_lost_answer
        except RpcRateLimited:
            raise
        except RpcUnavailable as exc:
            self.ctx.log.warning("jupiter %s: send of %s not confirmed (%s); will rebroadcast",
                                 row.client_order_id, row.signature, exc)
        return None, True

    # --- confirming --------------------------------------------------------------------------

    async def _load(self, cid: str) -> JupiterSwapRow | None:
        """The intent's stored swap, read on the store writer's thread after the writes handed to it before (ours
        included): a database that does not answer holds this caller, never the loop."""
        return await self.ctx.read_later(load_swap, self.ctx.store, self.name, cid)

    def _ensure_confirming(self, cid: str, *, sent: bool = False, refused: PermanentError | None = None) -> None:
        task = self._confirming.get(cid)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._confirm(cid, sent, refused),
                                                          name=f"{self.name}:confirm {cid}")
            self._confirming[cid] = task
            task.add_done_callback(functools.partial(self._confirm_done, cid))

    def _confirm_done(self, cid: str, task: asyncio.Task[JupiterSwapRow]) -> None:
        if self._confirming.get(cid) is task:
            del self._confirming[cid]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.ctx.log.error("jupiter %s: confirmation failed: %s", cid, exc, exc_info=exc)
            return
        if cid not in self._awaited:
            row = task.result()  # the row as the task stored it last (awaited): no read on the loop
            state = self._state(row)
            for fill in state.fills:
                self.ctx.bus.publish(fill)
            self.ctx.bus.publish(OrderReport(self.name, row.symbol, state, self.ctx.clock.time_ns()))

    async def _wait(self, cid: str) -> OrderState:
        """Wait up to ``place_wait_s`` for the outcome; the state then (OPEN while still confirming)."""
        task = self._confirming.get(cid)
        if task is None:
            self._ensure_confirming(cid)
            task = self._confirming[cid]
        self._awaited.add(cid)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.place_wait_s)
        except TimeoutError:
            pass
        finally:
            self._awaited.discard(cid)
        if task.done() and not task.cancelled() and task.exception() is None:
            row: JupiterSwapRow | None = task.result()  # as it stored it last
        else:
            row = await self._load(cid)
        assert row is not None
        if row.status == EXPIRED and not task.done():  # its confirmation task is signing the next attempt
            return OrderState(cid, OrderStatus.OPEN, exchange_order_id=row.signature)
        if row.status in (FAILED, EXPIRED):
            for fill in self._state(row).fills:  # the fee of a swap that landed failed: the caller only gets the error
                self.ctx.bus.publish(fill)
            raise _error_of(row)
        return self._state(row)

    async def _confirm(self, cid: str, sent: bool, refused: PermanentError | None = None) -> JupiterSwapRow:
        """Poll until the swap is confirmed, failed, or expired with every attempt used (``refused``: a send's
        refusal that was not final, the swap's error if it provably never lands); the row as last stored."""
        assert self.rpc is not None
        s = self.settings
        row = await self._load(cid)
        assert row is not None
        last_send = time.monotonic() if sent else float("-inf")
        height_seen: int | None = None  # the chain's block height as last seen: how long the blockhash has left
        while True:
            quiet_s = self._quiet_s.pop(cid, 0.0)
            if quiet_s:  # a send made outside this loop was answered 429: the node's wait first
                await asyncio.sleep(quiet_s)
            wait_s = s.poll_s
            try:
                status = (await self.rpc.get_signature_statuses([row.signature]))[0]
                # a failure as a success counts only at the commitment: a block seen at "processed" may be dropped
                # (a minority fork), and the same bytes may then land elsewhere, and succeed
                committed = status is not None and (
                    _COMMITMENT_RANK.get(status.confirmation_status or "", 0) >= _COMMITMENT_RANK[s.commitment])
                if status is not None:
                    if status.err is not None and committed:
                        await self._realize(row, failed=True)  # it landed: its fee was paid all the same
                        await self._finish(row, FAILED, classify_chain_error(status.err))
                        return row
                    if committed:
                        await self._realize(row)
                        await self._finish(row, LANDED, "")
                        return row
                else:
                    node = self.rpc.pinned()  # expiry is proven by one node: the height and the look-up after it
                    height = height_seen = await node.get_block_height()
                    if height > row.last_valid_block_height:
                        # asked after seeing the height: a signature unknown now can never land
                        again = (await node.get_signature_statuses([row.signature]))[0]
                        if again is None and refused is not None:
                            await self._finish(row, FAILED, refused)  # never landed, and its last copies were refused
                            return row
                        if again is None:
                            row = await self._expired(row)
                            if row.status != IN_FLIGHT:
                                return row
                            last_send, refused = float("-inf"), None
                        continue
                    if time.monotonic() - last_send >= s.rebroadcast_s:
                        last_send = time.monotonic()
                        failure, _ = await self._send(row)  # a copy may be out: no rebroadcast's refusal is final
                        if failure is not None and refused is None:
                            # a copy of these bytes may be out already (an earlier send, or one whose answer was
                            # lost) and land whatever this node's simulation says now: the status or expiry decides
                            self.ctx.log.warning("jupiter %s: rebroadcast of %s refused (%s); confirming until it "
                                                 "lands or its blockhash expires", cid, row.signature, failure)
                        refused = failure or refused
            except RpcRateLimited as exc:
                # the node asked us to wait: ask it nothing (no look-up, no rebroadcast) until then, but no longer
                # than the blockhash has left, so that its expiry is still seen (and the swap re-signed) in time
                wait_s = self._rate_limited_wait_s(exc.retry_after_s, row, height_seen)
                self.ctx.log.warning("jupiter %s: %s; still confirming, asking again in %.1f s", cid, exc, wait_s)
            except (RpcUnavailable, MalformedReply, RpcResponseError) as exc:
                # a look-up's failure says nothing about the swap (its send's refusals are _send's): ask again, never
                # end the only task that confirms and reports it
                self.ctx.log.warning("jupiter %s: %s; still confirming", cid, exc)
            await asyncio.sleep(wait_s)

    def _rate_limited_wait_s(self, retry_after_s: float | None, row: JupiterSwapRow, height_seen: int | None) -> float:
        """How long a swap's confirmation asks the node nothing after a 429 (:func:`.errors.rate_limited_wait_s`): the
        node's ``Retry-After``, at most the time the blockhash's remaining blocks take (its whole validity when no
        height was seen yet), never less than ``poll_s``."""
        blocks_left = (BLOCKHASH_VALIDITY_BLOCKS if height_seen is None
                       else row.last_valid_block_height - height_seen)
        return rate_limited_wait_s(retry_after_s, self.settings.poll_s, blocks_left)

    async def _expired(self, row: JupiterSwapRow) -> JupiterSwapRow:
        """The signature provably never landed: re-quote and sign again if attempts are left."""
        self.ctx.log.warning("jupiter %s: %s expired unlanded (past height %d)", row.client_order_id,
                             row.signature, row.last_valid_block_height)
        limit = Decimal(row.limit_price) if row.limit_price else None
        async with self._signing(row.client_order_id):
            current = await self._load(row.client_order_id)
            if current is None or current.attempt != row.attempt:
                return current or row  # another caller signed the next attempt meanwhile: confirm that one
            await self._finish(row, EXPIRED, BlockhashExpired(f"blockhash expired unlanded (attempt {row.attempt})"))
            if row.attempt >= self.settings.max_sign_attempts:
                return row
            try:
                new = await self._sign_new(row.symbol, Side(row.side), Decimal(row.qty), limit, row.client_order_id,
                                           row.attempt + 1)
            except TransientError as exc:
                self.ctx.log.warning("jupiter %s: re-quote failed (%s); the executor may place it again",
                                     row.client_order_id, exc)
                return row
            except PermanentError as exc:
                await self._finish(row, FAILED, exc)
                return row
            try:
                failure, final = await self._send(new)
            except RpcRateLimited as exc:  # not taken: the confirmation sends it again once the node's wait is over
                self._rate_limited_send(new, exc)
                return new
            if failure is not None and final:
                await self._finish(new, FAILED, failure)
            return new  # a refusal not final: the rebroadcasts that follow meet it again, the look-ups decide

    async def _realize(self, row: JupiterSwapRow, *, failed: bool = False) -> None:
        """Read the landed transaction: the wallet's real base/quote changes and the fee, into ``row``
        (``failed``: it landed with an error, only its fee)."""
        assert self.rpc is not None and self.wallet is not None
        s = self.settings
        base, quote = split_symbol(row.symbol)
        base_mint, quote_mint = s.token(base)[0], s.token(quote)[0]
        deadline = time.monotonic() + s.fill_lookup_s
        while True:
            wait_s = s.poll_s
            try:
                tx = await self.rpc.get_transaction(row.signature)
                if tx is not None and failed:
                    row.fee_lamports = fee_lamports(tx)
                    return
                if tx is not None:
                    owner = str(self.wallet.pubkey)
                    changes = balance_changes(tx, owner)
                    # the rent of a token account the swap created is a cost like the fee, not SOL swapped
                    rent = created_account_rent_lamports(tx, owner)
                    if rent:
                        changes[NATIVE_MINT] = changes.get(NATIVE_MINT, 0) + rent
                    base_delta, quote_delta = changes.get(base_mint, 0), changes.get(quote_mint, 0)
                    sell = row.side == Side.SELL
                    row.fee_lamports = fee_lamports(tx) + rent
                    if (base_delta < 0 < quote_delta) if sell else (quote_delta < 0 < base_delta):
                        row.filled_base_units, row.filled_quote_units = abs(base_delta), abs(quote_delta)
                        return
                    self.ctx.log.warning("jupiter %s: %s moved %d %s and %d %s for a %s; reporting the quote",
                                         row.client_order_id, row.signature, base_delta, base, quote_delta, quote,
                                         row.side)
                    return
            except RpcRateLimited as exc:
                # the node asked us to wait: read again once its Retry-After is over, not past fill_lookup_s
                if exc.retry_after_s is not None:
                    wait_s = max(s.poll_s, min(exc.retry_after_s, deadline - time.monotonic()))
                self.ctx.log.warning("jupiter %s: reading %s: %s; reading again in %.1f s", row.client_order_id,
                                     row.signature, exc, wait_s)
            except (RpcUnavailable, MalformedReply, RpcResponseError) as exc:
                self.ctx.log.warning("jupiter %s: reading %s failed: %s", row.client_order_id, row.signature, exc)
            if time.monotonic() >= deadline:
                # the fee is the signed bytes' own (signatures, compute-unit price x limit): known without the node
                row.fee_lamports = charged_fee_lamports(VersionedTransaction.from_bytes(
                    base64.b64decode(row.signed_tx_b64)))
                fee = ("the fee it paid is not known" if row.fee_lamports is None
                       else f"the fee is the transaction's own, {row.fee_lamports} lamports")
                self.ctx.log.warning("jupiter %s: %s landed but its transaction was not readable within %gs; %s%s",
                                     row.client_order_id, row.signature, s.fill_lookup_s,
                                     "" if failed else "the fill shows the quoted amounts; ", fee)
                return
            await asyncio.sleep(wait_s)

    async def _finish(self, row: JupiterSwapRow, status: str, error: Exception | str) -> None:
        """Store ``row``'s outcome (or its expiry), awaited on the store writer's thread: the outcome is reported only
        once stored, and a database that does not answer holds this swap, never the loop."""
        text = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
        # a node's or Jupiter's text may quote a known secret or hold a NUL (PostgreSQL's text refuses it); the store
        # makes the order's reason safe, not this row
        row.status, row.error, row.updated_ns = status, free_text(text), self.ctx.clock.time_ns()
        await self.ctx.write_later(save_swap, self.ctx.store, row)

    # --- states ------------------------------------------------------------------------------

    def _state(self, row: JupiterSwapRow) -> OrderState:
        cid = row.client_order_id
        if row.status == IN_FLIGHT:
            return OrderState(cid, OrderStatus.OPEN, exchange_order_id=row.signature)
        base, quote = split_symbol(row.symbol)
        _, base_decimals = self.settings.token(base)
        _, quote_decimals = self.settings.token(quote)
        fee = Decimal(row.fee_lamports or 0).scaleb(-9)  # lamports -> SOL, exact
        if row.status in (FAILED, EXPIRED):
            fills: tuple[Fill, ...] = ()
            if row.fee_lamports:  # it landed failed: nothing moved but the fee, a fill of no quantity carries it
                quoted = row.out_amount if row.side == Side.SELL else row.in_amount
                fills = (Fill(exchange=self.name, symbol=row.symbol, client_order_id=cid, trade_id=row.signature,
                              side=Side(row.side), price=Decimal(quoted).scaleb(-quote_decimals) / Decimal(row.qty),
                              qty=Decimal(0), fee=fee, fee_asset="SOL", liquidity=Liquidity.TAKER,
                              ts_ns=row.updated_ns),)
            return OrderState(cid, OrderStatus.REJECTED, exchange_order_id=row.signature, reason=row.error,
                              fills=fills)
        if row.filled_base_units is not None and row.filled_quote_units is not None:  # read from the chain
            qty = Decimal(row.filled_base_units).scaleb(-base_decimals)
            quote_amount = row.filled_quote_units
        else:  # the quote's expected amounts
            qty = Decimal(row.qty)
            quote_amount = row.out_amount if row.side == Side.SELL else row.in_amount
        price = Decimal(quote_amount).scaleb(-quote_decimals) / qty
        fill = Fill(exchange=self.name, symbol=row.symbol, client_order_id=cid, trade_id=row.signature,
                    side=Side(row.side), price=price, qty=qty, fee=fee, fee_asset="SOL",
                    liquidity=Liquidity.TAKER, ts_ns=row.updated_ns)
        return OrderState(cid, OrderStatus.FILLED, exchange_order_id=row.signature, filled_qty=qty,
                          avg_fill_price=price, fills=(fill,))


_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (SlippageExceeded, PriceLimitExceeded, SolanaInsufficientFunds, BlockhashExpired,
                                  SwapFailed, PermanentError)}


def _error_of(row: JupiterSwapRow) -> Exception:
    """The error a failed or expired swap is reported with (its class is kept in ``row.error``)."""
    name, _, message = row.error.partition(": ")
    return _ERRORS.get(name, SwapFailed)(message or row.error)


__all__ = ["BlockhashExpired", "JupiterExchange", "PriceLimitExceeded", "limit_quote_units", "percentile"]
