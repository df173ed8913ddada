"""Builds the optional compiled parts: the record codec (client/protocol/_records_c.c) and
the partitioner's murmur2 (client/_murmur2_c.c).

Everything else about the package is in pyproject.toml. The extensions are optional: where
no C compiler works, the build warns and goes on, and client.protocol.records and
client.partitioner use their pure-Python twins. This file must never make an install fail
for want of a compiler.
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that skips, with a warning, any extension it cannot compile."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - no compiler shows up as several error types
            self._skip("the build", exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._skip(ext.name, exc)

    @staticmethod
    def _skip(what: str, exc: Exception) -> None:
        print(f"WARNING: {what} was not compiled ({exc}); pybroker uses its pure-Python twin", file=sys.stderr)


setup(
    ext_modules=[
        Extension("client.protocol._records_c", ["client/protocol/_records_c.c"], optional=True),
        Extension("client._murmur2_c", ["client/_murmur2_c.c"], optional=True),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
