"""The matrix as data: ``matrix.toml`` beside this file (kernels, cgroup modes, which tests).

:func:`load` returns one :class:`VMSpec` per ``[[vm]]`` entry, defaults filled in.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib

MATRIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matrix.toml")
CGROUP_MODES = ("v1", "v2")


@dataclasses.dataclass(frozen=True)
class VMSpec:
    """One VM of the matrix: a Debian kernel ``package`` booted in ``cgroup`` mode (v1 or v2) with ``cmdline``;
    ``suite`` are the pytest arguments it runs; ``timeout_s`` (seconds) bounds the whole boot-to-power-off."""

    name: str
    package: str
    cgroup: str
    cmdline: str = ""
    cpus: int = 2
    memory_mb: int = 2048
    timeout_s: float = 1200
    suite: tuple[str, ...] = ("--pyargs", "libcontainer.spec.tests")
    box: str = ""
    enabled: bool = True
    workers: int = 1  # pytest-xdist workers inside the guest (-n); 1 runs the tests in the guest's pytest


def load(path: str = MATRIX) -> list[VMSpec]:
    """The VMs of the matrix file at ``path``. Raises ValueError on an unknown key, cgroup mode or duplicate name."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    defaults = data.get("defaults", {})
    fields = {f.name for f in dataclasses.fields(VMSpec)}
    vms, names = [], set()
    for entry in data.get("vm", []):
        merged = {**defaults, **entry}
        unknown = set(merged) - fields
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in vm {entry.get('name')!r}")
        if merged.get("cgroup") not in CGROUP_MODES:
            raise ValueError(f"{path}: vm {merged.get('name')!r}: cgroup must be one of {CGROUP_MODES}")
        if merged["name"] in names:
            raise ValueError(f"{path}: duplicate vm name {merged['name']!r}")
        names.add(merged["name"])
        merged["suite"] = tuple(merged.get("suite", ()))
        vms.append(VMSpec(**merged))
    return vms


def select(vms: list[VMSpec], names: list[str] | None) -> list[VMSpec]:
    """The VMs named in ``names`` (in matrix order), or every enabled one when ``names`` is empty.
    Raises ValueError for a name the matrix does not have."""
    if not names:
        return [v for v in vms if v.enabled]
    known = {v.name for v in vms}
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"no vm {missing} in the matrix (have {sorted(known)})")
    return [v for v in vms if v.name in names]
