"""The matrix as data: ``matrix.toml`` beside this file (kernels, cgroup modes, runtimes, which tests).

:func:`load` returns one :class:`VMSpec` per ``[[vm]]`` entry, defaults filled in; :func:`load_matrix`
returns the whole :class:`Matrix` (VMs and the default and full runtime lists). :func:`units` lists the
matrix's work as (VM or ``host``, runtime) pairs and :func:`shard` splits them for ``run --shard I/N``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib

MATRIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matrix.toml")
CGROUP_MODES = ("v1", "hybrid", "v2")
HOST = "host"


@dataclasses.dataclass(frozen=True)
class VMSpec:
    """One VM of the matrix: a Debian kernel ``package`` booted in ``cgroup`` mode (v1, hybrid or v2) with
    ``cmdline``; ``suite`` are the pytest arguments the reference runs there, ``peer_suite`` those of any other
    runtime; ``timeout_s`` (seconds) bounds the whole boot-to-power-off. ``enabled``: in the default matrix.
    ``cannot_boot``: why this cell has no VM (never booted, reported as a cell with that reason).
    ``kernel_only``: only the kernel-dependent tests run in this VM (:mod:`libcontainer.vm.selection`); the
    clauses of the others are ``host-only`` in its cells."""

    name: str
    package: str
    cgroup: str
    cmdline: str = ""
    cpus: int = 2
    memory_mb: int = 2048
    timeout_s: float = 1200
    suite: tuple[str, ...] = ("--pyargs", "libcontainer.spec.tests")
    peer_suite: tuple[str, ...] = ("--pyargs", "libcontainer.spec.tests")
    box: str = ""
    enabled: bool = True
    workers: int = 1  # pytest-xdist workers inside the guest (-n); 1 runs the tests in the guest's pytest
    cannot_boot: str = ""
    kernel_only: bool = True  # run only the kernel-dependent tests here; the rest are host-only cells (selection.py)
    parts: tuple[tuple[str, int], ...] = ()  # (runtime, N): the full matrix runs its suite here as N units

    def parts_for(self, runtime: str) -> int:
        """Into how many units (each every N-th kernel-dependent test) the full matrix splits ``runtime`` here."""
        return dict(self.parts).get(runtime, 1)

    def suite_for(self, runtime: str) -> tuple[str, ...]:
        """The pytest arguments ``runtime`` runs in this VM (the reference's own tests only for the reference)."""
        return self.suite if runtime == "reference" else self.peer_suite


@dataclasses.dataclass(frozen=True)
class Matrix:
    """The whole matrix file: its VMs, the runtimes of the default matrix and of the full one."""

    vms: list[VMSpec]
    default_runtimes: tuple[str, ...] = ("reference",)
    full_runtimes: tuple[str, ...] = ("reference",)


def load_matrix(path: str = MATRIX) -> Matrix:
    """The matrix file at ``path``. Raises ValueError on an unknown key, cgroup mode or duplicate name."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    top = data.get("matrix", {})
    unknown = set(top) - {"default_runtimes", "full_runtimes", "host"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in [matrix]")
    defaults = data.get("defaults", {})
    fields = {f.name for f in dataclasses.fields(VMSpec)}
    vms, names = [], {HOST}
    for entry in data.get("vm", []):
        merged = {**defaults, **entry}
        unknown = set(merged) - fields
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in vm {entry.get('name')!r}")
        if merged.get("cgroup") not in CGROUP_MODES:
            raise ValueError(f"{path}: vm {merged.get('name')!r}: cgroup must be one of {CGROUP_MODES}")
        if merged["name"] in names:
            raise ValueError(f"{path}: duplicate or reserved vm name {merged['name']!r}")
        names.add(merged["name"])
        for key in ("suite", "peer_suite"):
            if key in merged:
                merged[key] = tuple(merged[key])
        if "parts" in merged:
            bad = {k: v for k, v in merged["parts"].items() if not isinstance(v, int) or v < 1}
            if bad:
                raise ValueError(f"{path}: vm {merged['name']!r}: parts must be integers >= 1, not {bad}")
            merged["parts"] = tuple(sorted(merged["parts"].items()))
        if merged.get("cannot_boot"):
            merged["enabled"] = False
        vms.append(VMSpec(**merged))
    default = tuple(top.get("default_runtimes", ("reference",)))
    return Matrix(vms, default, tuple(top.get("full_runtimes", default)))


def load(path: str = MATRIX) -> list[VMSpec]:
    """The VMs of the matrix file at ``path`` (see :func:`load_matrix`)."""
    return load_matrix(path).vms


def select(vms: list[VMSpec], names: list[str] | None, full: bool = False) -> list[VMSpec]:
    """The VMs named in ``names`` (in matrix order), or every enabled one when ``names`` is empty (every one
    that can boot with ``full``). Raises ValueError for a name the matrix does not have or a VM that cannot boot."""
    if not names:
        return [v for v in vms if (v.enabled or full) and not v.cannot_boot]
    known = {v.name: v for v in vms}
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"no vm {missing} in the matrix (have {sorted(known)})")
    unbootable = [f"{n}: {known[n].cannot_boot}" for n in names if known[n].cannot_boot]
    if unbootable:
        raise ValueError(f"cannot boot {unbootable}")
    return [v for v in vms if v.name in names]


def units(vms: list[VMSpec], runtimes: list[str] | tuple[str, ...], host: bool = True) -> list[tuple[str, str]]:
    """The matrix's work as (VM name or ``host``, runtime) pairs, in a fixed order: the host first, then VM by
    VM. One unit is one suite run; a shard boots each of its VMs once for all of its runtimes there. A runtime
    that the VM splits into N parts (``parts``) is N units ``runtime@I/N`` (:func:`split_part`)."""
    out = [(HOST, rt) for rt in runtimes] if host else []
    for v in vms:
        for rt in runtimes:
            n = v.parts_for(rt)
            out += [(v.name, rt)] if n == 1 else [(v.name, f"{rt}@{i}/{n}") for i in range(1, n + 1)]
    return out


def split_part(label: str) -> tuple[str, str]:
    """``"runc@2/6"`` -> ("runc", "2/6"); a plain runtime -> (runtime, "")."""
    rt, _, part = label.rpartition("@") if "@" in label else (label, "", "")
    return rt, part


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), 1 <= I <= N. Raises ValueError otherwise."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be I/N (e.g. 2/5), not {text!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text}: need 1 <= I <= N")
    return i, n


def shard(work: list[tuple[str, str]], i: int, n: int) -> list[tuple[str, str]]:
    """Shard ``i`` of ``n`` (1-based) of ``work``: the longest units (guest suites of the reference) spread first,
    then round-robin, so every unit is in exactly one shard and the shards' sizes differ by at most one."""
    ordered = sorted(work, key=lambda u: (u[0] == HOST, u[1] != "reference"))
    return [u for k, u in enumerate(ordered) if k % n == i - 1]
