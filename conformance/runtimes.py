"""Naming the implementation under test: an alias or ``module:callable``.

The callable takes the factory's root directory (str) and returns a
:class:`libcontainer.spec.Factory`.
"""

from __future__ import annotations

import importlib
from typing import Callable

from libcontainer.spec import Factory

ALIASES = {
    "reference": "libcontainer.reference:LinuxFactory",
    "runc": "libcontainer.conformance.oci:runc",
    "crun": "libcontainer.conformance.oci:crun",
}


def resolve(name: str) -> Callable[[str], Factory]:
    """The factory constructor for ``name``; raises ValueError for an unknown name."""
    target = ALIASES.get(name, name)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--runtime {name!r}: use one of {', '.join(ALIASES)} or module:callable")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--runtime {name!r}: cannot import {module_name}: {e}") from e
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"--runtime {name!r}: {module_name} has no {attr}")
    if not callable(obj):
        raise ValueError(f"--runtime {name!r}: {target} is not callable")
    return obj
