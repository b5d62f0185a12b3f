"""A plugin that terminates the sweep worker process it runs in (SIGTERM, as ``kill`` or a pool's ``terminate()``
sends it) once the bot has started, its data dir made and its identity written: a worker killed mid-run, which never
reaches its own clean-up. Outside a worker process (a sweep of one, run in the caller's process) it raises instead."""

from __future__ import annotations

import multiprocessing
import os
import signal

from bot import hookimpl


@hookimpl
def startup(operator, bot):
    if multiprocessing.parent_process() is None:
        raise RuntimeError("not in a sweep worker: the test's own process is not terminated")
    os.kill(os.getpid(), signal.SIGTERM)
