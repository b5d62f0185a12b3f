"""arbotlib: libraries several plugins share. Not plugins: nothing here registers anything.

* :mod:`arbotlib.amm`: exact pool maths: constant product (:mod:`.amm.constant_product`,
  :mod:`.amm.model`) and Orca Whirlpool concentrated liquidity (:mod:`.amm.whirlpool`);
* :mod:`arbotlib.solana`: a Solana wallet, JSON-RPC and account subscriptions.

arbotlib may import the host's public types (``bot.*``) but never a plugin (``plugins.*``), so a
plugin that needs pool maths does not drag in another plugin's exchange. Package ``__init__``
modules here import nothing: import the module you use (``arbotlib.solana.rpc``), and pay only for
its dependencies (the maths is pure Python; ``arbotlib.solana.wallet`` needs solders, ``.rpc``
httpx, ``.ws`` websockets).
"""
