"""The bot's data files are private to the user running it: 0600 files in a 0700 data directory.

New files get that from the process umask (``arbot`` sets 0077 before doing anything). Files made
by an older arbot, or under a looser umask, are tightened at start by :func:`make_private`: the
store (SQLite creates its WAL and shared-memory files with the database file's mode), the identity
sidecar, paper venue state files, recordings and reports.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DATA_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal", ".sqlite", ".identity", ".jsonl", ".html", ".png")
"""Files in the data directory that hold orders, fills, balances, audit or market data."""


def make_private(data_dir: Path, created_dir: bool) -> list[Path]:
    """Remove group and other access from the data files directly in ``data_dir`` (and from the
    directory itself when arbot created it; an existing directory such as the working directory is
    the operator's). Returns the paths changed."""
    changed = []
    if created_dir:
        changed += _restrict(data_dir)
    try:
        entries = list(os.scandir(data_dir))
    except OSError:
        return changed
    for entry in entries:
        if entry.name.endswith(DATA_SUFFIXES) and entry.is_file(follow_symlinks=False):
            changed += _restrict(Path(entry.path))
    return changed


def _restrict(path: Path) -> list[Path]:
    try:
        info = path.lstat()
        if info.st_uid != os.getuid() or not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            return []
        path.chmod(stat.S_IMODE(info.st_mode) & ~(stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return []
    return [path]
