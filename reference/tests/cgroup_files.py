"""Test helper: read a container's cgroup files, whichever cgroup version the reference uses."""

from __future__ import annotations

import os

from libcontainer.reference.cgroups import CgroupV1


def driver(container):
    return container._cgroup  # the reference's driver (tests of the reference may look inside)


def version(container) -> int:
    return driver(container).version


def path(container, v1: tuple[str, str] | None, v2: str | None) -> str | None:
    """The file ``v1 = (controller, name)`` on v1 or ``v2`` on v2; None if this version has no such file."""
    d = driver(container)
    if isinstance(d, CgroupV1):
        if v1 is None or d.path(v1[0]) is None:
            return None
        return os.path.join(d.path(v1[0]), v1[1])
    return None if v2 is None else os.path.join(d.dir, v2)


def read(container, v1: tuple[str, str] | None, v2: str | None) -> str:
    """The stripped text of the cgroup file for this version."""
    p = path(container, v1, v2)
    assert p is not None, f"no cgroup file {v1 or v2} for this version"
    with open(p) as f:
        return f.read().strip()
