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
            for pid in pids:
                # through a pidfd, after checking that the pid is (still) in the cgroup
                linux.kill_verified(pid, None, signal.SIGKILL, check=lambda p: p in cgroup.pids())
            if frozen:
                cgroup.thaw()
                frozen = False
            time.sleep(0.001)
    finally:
        if frozen or cgroup.freezer_state() != THAWED:
            with contextlib.suppress(FileNotFoundError):
                cgroup.thaw()


def _identity(data) -> dict | None:
    """``{"monitor_pid", "monitor_start"}`` from untrusted data, or None."""
    if not isinstance(data, dict):
        return None
    pid, start = data.get("monitor_pid"), data.get("monitor_start")
    if type(pid) is int and type(start) is int and pid > 1 and start > 0:
        return {"monitor_pid": pid, "monitor_start": start}
    return None


def stop_monitor(ident: dict | None) -> None:
    """SIGKILL the monitor named by ``{"monitor_pid", "monitor_start"}`` (verified) and wait for it."""
    if not ident or not ident.get("monitor_pid") or ident.get("monitor_start") is None:
        return
    statedir.end_process(ident["monitor_pid"], ident["monitor_start"], grace=0)


def force_remove(state_dir: str) -> None:
    """Kill and remove what a state directory names, trusting no more of it than it must: the
    cgroup from ``state.json`` or ``cgroup.json`` (validated), the monitor when identified."""
    with contextlib.suppress(OSError, ValueError):
        stop_monitor(_identity(statedir.read_json(os.path.join(state_dir, statedir.MONITOR))))
    info = state = None
    for name in (statedir.STATE, statedir.CGROUP):
        try:
            data = statedir.read_json(os.path.join(state_dir, name))
            info = statefile.validate_cgroup(data.get("cgroup") if name == statedir.STATE else data)
            state = data if name == statedir.STATE else state
            break
        except (OSError, ValueError, AttributeError, statefile.StateCorrupt):
            continue
    cgroup = driver_from_info(info) if info is not None else None
    if cgroup is not None:
        kill_cgroup(cgroup)
    stop_monitor(_identity(state))
    if cgroup is not None:
        cgroup.destroy()
    statedir.remove_state_dir(state_dir)
