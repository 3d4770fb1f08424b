"""What the conformance suite needs before it can test anything, checked once at session start.

A run that can test nothing must not be green: when a need is missing the
plugin stops the session with one usage line (pytest's ``ERROR: ...``) and
exit status 4, instead of skipping every test. What one host lacks beyond
these (a controller, a kernel feature) stays a skip with its reason.

Needs: root (namespaces, mounts and cgroups; namespaces(7)), the namespaces
of a container (``/proc/self/ns``: mnt, pid, uts, ipc, net), a cgroup
hierarchy (v1 or v2 mounted, cgroups(7)), Debian's busybox-static for the
test root filesystem, and the runtime under test importable and
constructible on a scratch root directory, making something with the Factory's
``create`` and ``load``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from . import rootfs as rootfs_mod
from . import runtimes
from .report import cgroup_mode

NAMESPACES = ("mnt", "pid", "uts", "ipc", "net")


class PreflightError(Exception):
    """A need of the suite is missing; the message is the one line to show."""


def check(runtime: str) -> str:
    """Check every need for ``runtime``; return the runtime's probed version. Raises PreflightError."""
    if os.geteuid() != 0:
        raise PreflightError("the libcontainer conformance suite must run as root (namespaces, mounts and cgroups "
                             "need it): run pytest as root")
    missing = [n for n in NAMESPACES if not os.path.exists(f"/proc/self/ns/{n}")]
    if missing:
        raise PreflightError(f"the kernel lacks namespaces the suite needs: {', '.join(missing)}")
    if cgroup_mode() == "none":
        raise PreflightError("no cgroup hierarchy is mounted (cgroup v1 or cgroup2 under /sys/fs/cgroup)")
    if rootfs_mod.find_busybox() is None:
        raise PreflightError("no static busybox for the test root filesystem: apt-get install busybox-static")
    try:
        make = runtimes.resolve(runtime)
    except ValueError as e:
        raise PreflightError(str(e)) from None
    scratch = tempfile.mkdtemp(prefix="libcontainer-preflight-")
    try:
        try:
            factory = make(os.path.join(scratch, "root"))
        except Exception as e:  # noqa: BLE001 - whatever the runtime raises, it cannot run the suite
            raise PreflightError(f"--runtime {runtime!r}: making a factory failed: {type(e).__name__}: {e}") from None
        lacking = [m for m in ("create", "load") if not callable(getattr(factory, m, None))]
        if lacking:
            raise PreflightError(f"--runtime {runtime!r}: the callable returned {type(factory).__name__}, not a "
                                 f"libcontainer.spec.Factory (no {' or '.join(lacking)} method)")
        return runtimes.probe_version(factory, runtime)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
