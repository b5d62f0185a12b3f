"""Waiting on a condition in async tests: the public helper plugin authors use (``bot.api.testing``)."""

from bot.api.testing import wait_for

__all__ = ["wait_for"]
