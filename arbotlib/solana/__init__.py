"""Solana wallet, RPC and account subscriptions, shared by the DEX plugins (jupiter, orca).

Import the module you need; this package imports none of them (each has its own dependencies):

* :mod:`.wallet`: a keypair from a solana-keygen JSON file or a base58 secret, behind ``Secret``
  references; shows its public key only; key files open to group/others are refused (solders);
* :mod:`.rpc`: JSON-RPC over httpx with fallback to the next URL; balances, accounts
  (``getAccountInfo``/``getMultipleAccounts``), blockhashes, sends, signature statuses, landed
  transactions, recent prioritization fees;
* :mod:`.ws`: ``accountSubscribe`` for pool accounts with reconnect, resubscribe and silence timeout
  (websockets);
* :mod:`.transactions`: what a landed transaction did to one owner's balances;
* :mod:`.urls`: a node URL as it may be shown (scheme, host and port: no key or password).
"""
