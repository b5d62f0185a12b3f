"""arbot's test suite: a package, so helpers and fakes import as ``tests.helpers`` and ``tests.fakes``."""
