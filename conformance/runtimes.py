"""Naming the implementation under test: an alias or ``module:callable``.

The callable takes the factory's root directory (str) and returns a
:class:`libcontainer.spec.Factory`. ``module`` is imported as Python would
from the current directory too (a runtime author's ``myruntime.py`` beside
where pytest runs), then from ``sys.path``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Callable

from libcontainer.spec import Factory

ALIASES = {
    "reference": "libcontainer.reference:LinuxFactory",
    "runc": "libcontainer.conformance.oci:runc",
    "crun": "libcontainer.conformance.oci:crun",
    "runsc": "libcontainer.conformance.oci:runsc",
}


def _import(module_name: str):
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)  # after the installed packages: the current directory never shadows them
    try:
        return importlib.import_module(module_name)
    finally:
        if added and sys.path and sys.path[-1] == cwd:
            sys.path.pop()


def resolve(name: str) -> Callable[[str], Factory]:
    """The factory constructor for ``name``; raises ValueError (saying what is wrong) for an unusable name.

    ``oci:PATH FLAGS...`` or an absolute PATH names any OCI runtime binary (the adapter,
    :func:`libcontainer.conformance.oci.oci`)."""
    if name.startswith("oci:") or name.startswith("/"):
        from .oci import oci
        return oci(name)
    target = ALIASES.get(name, name)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--runtime {name!r}: use one of {', '.join(ALIASES)}, oci:PATH or module:callable")
    try:
        obj = _import(module_name)
    except ImportError as e:
        raise ValueError(f"--runtime {name!r}: cannot import {module_name}: {e}") from e
    except Exception as e:  # noqa: BLE001 - the runtime's module failed while importing
        raise ValueError(f"--runtime {name!r}: importing {module_name} failed: {type(e).__name__}: {e}") from e
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"--runtime {name!r}: {module_name} has no {attr}")
    if not callable(obj):
        raise ValueError(f"--runtime {name!r}: {target} is not callable")
    return obj


def probe_version(factory, name: str) -> str:
    """The version of the runtime behind ``factory``: its ``version`` (attribute or method), an OCI
    runtime's ``--version`` first line, or the version of the distribution that ships its module."""
    for owner in (factory, getattr(factory, "runtime", None), getattr(factory, "inner", None)):
        v = getattr(owner, "version", None) if owner is not None else None
        try:
            v = v() if callable(v) else v
        except Exception:  # noqa: BLE001 - a probe, never fatal
            v = None
        if v:
            return str(v)
    module = type(factory).__module__.split(".")[0]
    if module == "libcontainer":
        from .report import suite_version
        return f"libcontainer {suite_version()}"
    try:
        from importlib.metadata import packages_distributions, version
        dists = packages_distributions().get(module, [])
        if dists:
            return f"{dists[0]} {version(dists[0])}"
    except Exception:  # noqa: BLE001
        pass
    return getattr(sys.modules.get(module), "__version__", "unknown")
