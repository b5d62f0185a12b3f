"""arbot-example: a complete third-party arbot plugin, as the plugin guide (docs/plugins.md) describes.

arbot finds this module through the ``arbot`` entry-point group (see ``pyproject.toml``) and calls
the ``@hookimpl`` functions below. Each hook hands arbot one kind of thing; the things themselves
live in small modules:

* :mod:`.dca` -- strategy ``example-dca``: buys a fixed size every N book updates.
* :mod:`.max_price` -- risk check ``example-max-price``: vetoes buys above a price.
* :mod:`.file_notifier` -- notifier ``example-file``: appends alerts to a file as JSON lines.
* :mod:`.control` -- command ``/hello`` and job ``example-heartbeat``.

Nothing here runs at import time except definitions: arbot decides what to build from the config.
"""

from __future__ import annotations

import logging

from bot import hookimpl

from .control import HEARTBEAT, HELLO
from .dca import DcaSettings, DcaStrategy
from .file_notifier import FileNotifier, FileSettings
from .max_price import MaxPriceCheck, MaxPriceSettings

__all__ = ["DcaSettings", "DcaStrategy", "FileNotifier", "FileSettings", "MaxPriceCheck", "MaxPriceSettings"]

log = logging.getLogger("arbot.example")


@hookimpl
def register_strategies(register):
    """``[strategies.NAME] type = "example-dca"``."""
    register("example-dca", DcaStrategy)


@hookimpl
def register_risk_checks(register):
    """``[risk.NAME] type = "example-max-price"``."""
    register("example-max-price", MaxPriceCheck)


@hookimpl
def register_notifiers(register):
    """``[notifiers.NAME] type = "example-file"``."""
    register("example-file", FileNotifier)


@hookimpl
def register_commands(register):
    """``/hello``, for every role from viewer up."""
    register(HELLO)


@hookimpl
def register_jobs(register):
    """The heartbeat. (The hook also offers ``config``; an implementation takes only the arguments it needs.)"""
    register(HEARTBEAT)


@hookimpl
def startup(bot):
    """Say which of our strategies are running once the bot is up (a plain function: nothing to await)."""
    ours = [name for name, strategy in bot.strategies.items() if isinstance(strategy, DcaStrategy)]
    log.info("arbot-example ready: DCA strategies %s", ", ".join(ours) or "none")
