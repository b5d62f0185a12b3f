"""Orca Whirlpool support: exact concentrated-liquidity maths and account decoding.

Not a registered plugin yet (no hooks, no entry point): the exchange class comes later.
"""
