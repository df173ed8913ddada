"""Which compiled twin to use: the optional C modules setup.py builds where it can.

The record codec and murmur2 each have a pure-Python twin; the compiled one is used when
it was built, unless PYBROKER_PURE_PYTHON is set (to compare the two, or to rule the C
out). This module must never fail an import: a missing module means the pure twin.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def compiled(name: str) -> ModuleType | None:
    """The compiled module `name`, or None where it was not built or is refused."""
    if os.environ.get("PYBROKER_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
