"""Killing and removing what a container holds: its cgroup's processes, its state directory.

Every kill goes through a pidfd after checking the target is (still) in the cgroup, so a pid
reused by another process is never hit (SPEC.md "Faults").
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile

from .cgroups import THAWED, CgroupDriver, CgroupV1, CgroupV2


def driver_from_info(info: dict) -> CgroupDriver:
    """The driver recorded in a state file's (validated) ``cgroup`` entry."""
    if info["version"] == 1:
        driver: CgroupDriver = CgroupV1(info["parent"], info["name"], info["hierarchies"])
    else:
        driver = CgroupV2(info["parent"], info["name"], info["root"])
    driver.made = list(info.get("made", []))  # the parents create made: only those are removed
    return driver


def kill_cgroup(cgroup: CgroupDriver) -> None:
    """SIGKILL every process in the cgroup, then thaw it, and wait until it is empty.

    v2 with ``cgroup.kill`` kills all at once. Otherwise the cgroup is
    frozen first so none can fork; a paused container is killed while
    frozen and thawed after, so the kills take effect. The thaw is in a
    ``finally``: an interrupted destroy never leaves the cgroup frozen.
    An empty cgroup (the container has exited: the common case of
    destroy) is not frozen.
    """
    if not cgroup.exists():
        return
    if cgroup.kill():
        cgroup.thaw()
    frozen = False
    if not cgroup.pids():
        return
    try:
        try:
            cgroup.freeze(timeout=2.0)
            frozen = True
        except OSError:
            pass
        for _ in range(1000):
            pids = cgroup.pids()
            if not pids:
                break
            kill_members(cgroup, pids)
            if frozen:
                cgroup.thaw()
                frozen = False
            time.sleep(0.001)
    finally:
        if frozen or cgroup.freezer_state() != THAWED:
            with contextlib.suppress(FileNotFoundError):
                cgroup.thaw()


def kill_members(cgroup: CgroupDriver, pids: list[int], sig: int = signal.SIGKILL, batch: int = 256) -> int:
    """Send ``sig`` to each of ``pids`` that is (still) in ``cgroup``: a pidfd is opened to every one
    of a batch first, then the cgroup's processes are read once, and only a pid held and found there
    is signalled, so a pid reused by another process meanwhile is never hit (its pidfd names the old
    process: ESRCH). One read of the cgroup per ``batch`` processes (at most that many fds open at
    once), where one read per process made destroying n processes O(n^2). The number signalled."""
    sent = 0
    for first in range(0, len(pids), batch):
        held = []
        try:
            for pid in pids[first:first + batch]:
                try:
                    held.append((pid, linux.pidfd_open(pid)))
                except ProcessLookupError:
                    continue
            members = set(cgroup.pids()) if held else set()
            for pid, pidfd in held:
                if pid in members:
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(pidfd, sig)
                        sent += 1
        finally:
            for _pid, pidfd in held:
                os.close(pidfd)
    return sent


def force_remove(state_dir: str) -> None:
    """Kill and remove what a state directory names, trusting no more of it than it must: the
    cgroup from ``state.json`` or ``cgroup.json`` (validated); the supervisor, which other
    containers share, is not killed but waited for until it lets this one go."""
    from .supervision import drop
    info = None
    for name in (statedir.STATE, statedir.CGROUP):
        try:
            data = statedir.read_json(os.path.join(state_dir, name))
            info = statefile.validate_cgroup(data.get("cgroup") if name == statedir.STATE else data)
            break
        except (OSError, ValueError, AttributeError, statefile.StateCorrupt):
            continue
    cgroup = driver_from_info(info) if info is not None else None
    if cgroup is not None:
        kill_cgroup(cgroup)
    with contextlib.suppress(OSError):
        drop(state_dir)
    if cgroup is not None:
        cgroup.destroy()
    statedir.remove_state_dir(state_dir)
