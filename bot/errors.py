"""Errors the host's command-line tools raise (a leaf: the CLI and the recording tools share it)."""


class UserError(Exception):
    """A problem the user fixes (config, arguments): printed as a paragraph, no traceback."""
