"""Solana wallet and RPC, shared by the DEX plugins (it registers nothing: not a plugin).

* :mod:`.wallet`: a keypair from a solana-keygen JSON file or a base58 secret, behind ``Secret``
  references; shows its public key only; key files open to group/others are refused;
* :mod:`.rpc`: JSON-RPC over httpx with fallback to the next URL; balances, accounts
  (``getAccountInfo``/``getMultipleAccounts``), blockhashes, sends, signature statuses, landed
  transactions, recent prioritization fees;
* :mod:`.ws`: ``accountSubscribe`` for pool accounts with reconnect, resubscribe and silence timeout;
* :mod:`.transactions`: what a landed transaction did to one owner's balances.
"""

from .rpc import AccountInfo, Blockhash, SignatureStatus, SolanaRpc, TokenBalance
from .wallet import Wallet, WalletError

__all__ = ["AccountInfo", "Blockhash", "SignatureStatus", "SolanaRpc", "TokenBalance", "Wallet", "WalletError"]
