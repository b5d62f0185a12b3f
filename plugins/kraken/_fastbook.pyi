# Types of the optional C fast path (_fastbook.c); the module is absent when the build was skipped.
from typing import Any

from .book import SymbolBook

def update(frame: bytes | str, live: dict[bytes, list[Any]], /) -> tuple[SymbolBook, int | None] | None: ...

VERSION: int
