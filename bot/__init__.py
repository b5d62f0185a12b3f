"""arbot: a small plugin host for crypto trading bots.

Plugins mark their hook implementations with :data:`hookimpl`.
"""

import pluggy

__version__ = "0.1.0"

PROJECT = "arbot"

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorator for plugin hook implementations: ``@hookimpl def register_exchanges(register): ...``"""

__all__ = ["PROJECT", "__version__", "hookimpl"]
