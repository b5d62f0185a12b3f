"""The one thing pyproject.toml cannot declare without an "experimental" warning: the C extension.

The Kraken book's update fast path is built from ``plugins/kraken/_fastbook.c`` (needs a C compiler
and zlib headers). It is optional: when the build fails or is skipped, the same path runs in Python,
exact either way and about half as fast.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("plugins.kraken._fastbook", sources=["plugins/kraken/_fastbook.c"],
                             libraries=["z"], optional=True)])
