"""The ``arbot`` console script's entry point: :func:`bot.cli.main`, with a Ctrl-C while that module and the host's
modules import (about 0.2 s at start, before ``main()`` can catch it) ending as one line and status 130, not a
traceback. Only ``bot`` itself (pluggy) and :mod:`bot.errors` are imported before the handler is in place."""

from __future__ import annotations

import sys

from .errors import EXIT_INTERRUPTED  # a leaf: nothing else is imported with it


def main() -> int:
    """Import the command line, then run it; a Ctrl-C during the import is ``arbot: interrupted (Ctrl-C)``, 130."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("arbot: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run()
