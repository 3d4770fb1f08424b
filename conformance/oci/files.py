"""The adapter's clean-up and what it reads from a runtime: the container's cgroup path, removal
(``delete --force``, the monitor, the directory), and runc's ``events --stats`` as ContainerStats.
The state directory itself is :mod:`libcontainer.plumbing.statedir`'s."""

from __future__ import annotations

import contextlib
import os
import re

from libcontainer.plumbing import statedir
from libcontainer.spec import ContainerStats
from libcontainer.spec.stats import CpuStats, MemoryStats, PidsStats

from .cli import CliError, Runtime

# "container does not exist" (runc); crun: "error opening file `ROOT/ID/status`: No such file or directory"
_GONE = re.compile(r"container.* does not exist|no such container|opening file .*/status.*no such file", re.I)


def cgroup_path(parent: str, container_id: str) -> str:
    """The container's ``cgroupsPath``: ``/PARENT/oci-ID`` (the prefix keeps ids such as "tasks" or
    "cgroup.procs" from meeting the parent's interface files)."""
    return "/" + "/".join([parent.strip("/"), "oci-" + statedir.dir_name(container_id)])


def remove_empty_cgroup(path: str) -> None:
    """rmdir ``path`` (absolute within each hierarchy) in every cgroup mount; a cgroup with processes stays."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[2:3] in (["cgroup"], ["cgroup2"])]
    for mount in mounts:
        with contextlib.suppress(OSError):
            os.rmdir(mount + path)


def remove(runtime: Runtime, container_id: str, state_dir: str, monitor_pid: int | None,
           monitor_start: int | None, cgroup: str | None = None) -> None:
    """``delete --force`` the container, wait for its monitor, remove its directory (``state.json``
    and the lock last: :func:`libcontainer.plumbing.statedir.remove_state_dir`) and an empty runtime root.

    ``cgroup`` (the container's cgroupsPath) is removed if the runtime left it empty: in cgroup v1 a
    killed init that the monitor has not reaped yet keeps its cgroup busy, and crun 1.8.1's ``delete``
    gives up on the rmdir (EBUSY) instead of waiting.
    """
    try:
        runtime.run("delete", "--force", container_id)
    except CliError as e:
        if not _GONE.search(e.message):
            raise
    statedir.end_process(monitor_pid, monitor_start)
    if cgroup:
        remove_empty_cgroup(cgroup)
    statedir.remove_state_dir(state_dir)
    with contextlib.suppress(OSError):
        os.rmdir(runtime.root)


def stats_from_events(data: dict) -> ContainerStats:
    """runc's ``events --stats`` data (runc's types.Stats) as ContainerStats; units as runc gives them (ns, bytes)."""
    cpu = data.get("cpu") or {}
    usage, thr = cpu.get("usage") or {}, cpu.get("throttling") or {}
    mem = data.get("memory") or {}
    mu = mem.get("usage") or {}
    pids = data.get("pids") or {}
    return ContainerStats(
        cpu=CpuStats(total_ns=usage.get("total"), user_ns=usage.get("user"), system_ns=usage.get("kernel"),
                     throttled_periods=thr.get("throttledPeriods"), throttled_ns=thr.get("throttledTime")),
        memory=MemoryStats(usage_bytes=mu.get("usage"), max_usage_bytes=mu.get("max"), limit_bytes=mu.get("limit"),
                           cache_bytes=mem.get("cache"), failcnt=mu.get("failcnt")),
        pids=PidsStats(current=pids.get("current"), limit=pids.get("limit") or None),
    )
