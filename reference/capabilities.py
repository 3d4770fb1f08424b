"""Applying a process's capability sets (capabilities(7)), in runc's order.

:func:`drop_bounding` runs before the process changes its uid (dropping
from the bounding set needs CAP_SETPCAP); :func:`apply` runs after it,
with PR_SET_KEEPCAPS having kept the permitted set across setuid(2).
Capabilities this kernel does not know (above cap_last_cap) are skipped, as
runc skips them; one that the runtime itself lacks (this host's runtime has
no CAP_SYS_RESOURCE) cannot be granted and is left out of every set.
"""

from __future__ import annotations

from libcontainer.plumbing import linux
from libcontainer.spec.security import CAPABILITIES, Capabilities


_BIT = {name: i for i, name in enumerate(CAPABILITIES)}
linux.cap_last_cap()  # read once here, in the process that imports this; its forked children inherit it


def mask(names: list[str], last: int) -> int:
    """A bit mask of ``names`` (CAP_* strings), keeping only capabilities 0..``last``."""
    m = 0
    for name in names:
        bit = _BIT[name]
        if bit <= last:
            m |= 1 << bit
    return m


def names(m: int) -> list[str]:
    """The CAP_* names of a bit mask, in bit order."""
    return [name for i, name in enumerate(CAPABILITIES) if m >> i & 1]


def drop_bounding(caps: Capabilities) -> None:
    """Drop every capability outside ``caps.bounding`` from the bounding set (PR_CAPBSET_DROP)."""
    last = linux.cap_last_cap()
    keep = mask(caps.bounding, last)
    for bit in range(last + 1):
        if not keep >> bit & 1:
            linux.prctl(linux.PR_CAPBSET_DROP, bit)


def apply(caps: Capabilities) -> None:
    """Set effective, permitted and inheritable (capset(2)), then raise the ambient ones."""
    last = linux.cap_last_cap()
    _eff, have, old_inheritable = linux.capget()
    permitted = mask(caps.permitted, last) & have
    effective = mask(caps.effective, last) & permitted
    # after setuid to a non-root uid the effective set is empty (no CAP_SETPCAP): capset(2) then
    # only lets the inheritable set grow within the permitted set
    inheritable = mask(caps.inheritable, last) & (have | old_inheritable)
    linux.capset(effective, permitted, inheritable)
    linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = mask(caps.ambient, last) & permitted & inheritable
    for bit in range(last + 1):
        if ambient >> bit & 1:
            linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_RAISE, bit)


def read_status(pid: int | str = "self") -> dict[str, int]:
    """The capability masks of /proc/<pid>/status: {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":")
                out[key] = int(value, 16)
    return out
