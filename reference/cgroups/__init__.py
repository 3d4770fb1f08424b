"""cgroup drivers: :func:`driver_for` picks v1 or v2 from what the host mounts.

A host whose ``/sys/fs/cgroup`` is a cgroup2 mount gets the v2 driver; a
host with v1 hierarchies (pure v1 or hybrid, v1 controllers beside an empty
cgroup2 mount) gets the v1 driver.
"""

from __future__ import annotations

from .driver import FREEZING, FROZEN, THAWED, CgroupDriver
from .v1 import CgroupV1
from .v1 import mounts as v1_mounts
from .v2 import CgroupV2
from .v2 import mount_point as v2_mount_point


def host_version() -> int:
    """2 on a pure cgroup v2 host, else 1 (v1 or hybrid)."""
    return 1 if "freezer" in v1_mounts() else 2


def driver_for(parent: str, name: str) -> CgroupDriver:
    """The driver for the container cgroup ``<parent>/<name>`` on this host."""
    hierarchies = v1_mounts()
    if "freezer" in hierarchies:
        return CgroupV1(parent, name, hierarchies)
    return CgroupV2(parent, name)


__all__ = ["CgroupDriver", "CgroupV1", "CgroupV2", "driver_for", "host_version", "v2_mount_point",
           "THAWED", "FREEZING", "FROZEN"]
