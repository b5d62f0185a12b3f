"""Errors the host's command-line tools raise, and their exit statuses (a leaf: the CLI and the recording and
backtest tools share it)."""

EXIT_INTERRUPTED = 128 + 2
"""What a command Ctrl-C (SIGINT) stopped ends with: what a shell shows for a program that signal ended."""


class UserError(Exception):
    """A problem the user fixes (config, arguments): printed as a paragraph, no traceback."""


class TryAgainLater(UserError):
    """Printed as a :class:`UserError`, but not the user's mistake: something outside (a database server still
    down after a reboot) may be there on a later start, so the exit status is 1, which a service manager restarts,
    not the 2 of a usage error, which it does not (``RestartPreventExitStatus=2``)."""
