"""Faithful fakes of the outside services, on 127.0.0.1, speaking their real protocols."""

SHUTDOWN_TIMEOUT_S = 1.0
"""How long a fake's HTTP server waits, when it closes, for requests still being answered before it cancels them.
aiohttp waits 60 s by default, so a request a test made hang (an answer that never comes before a SIGKILL) held
every such test's teardown for the rest of its hang."""
