"""The adapter's files and clean-up: state directory names, the container's cgroup path, removal
(``delete --force``, the monitor, the directory), and runc's ``events --stats`` as ContainerStats."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import select
import signal as _signal

from libcontainer.spec import ContainerStats
from libcontainer.spec.stats import CpuStats, MemoryStats, PidsStats

from .cli import CliError, Runtime

# "container does not exist" (runc); crun: "error opening file `ROOT/ID/status`: No such file or directory"
_GONE = re.compile(r"container.* does not exist|no such container|opening file .*/status.*no such file", re.I)


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


MAX_NAME = 200


def dir_name(container_id: str) -> str:
    """The directory name for an id: the id, or for ids over 200 bytes a prefix, ``=`` (no id
    character, so no other id has this name: LC-FAULT-09) and its SHA-256."""
    if len(container_id) <= MAX_NAME:
        return container_id
    return container_id[:64] + "=" + hashlib.sha256(container_id.encode()).hexdigest()


def cgroup_path(parent: str, container_id: str) -> str:
    """The container's ``cgroupsPath``: ``/PARENT/oci-ID`` (the prefix keeps ids such as "tasks" or
    "cgroup.procs" from meeting the parent's interface files)."""
    return "/" + "/".join([parent.strip("/"), "oci-" + dir_name(container_id)])


def remove_empty_cgroup(path: str) -> None:
    """rmdir ``path`` (absolute within each hierarchy) in every cgroup mount; a cgroup with processes stays."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[2:3] in (["cgroup"], ["cgroup2"])]
    for mount in mounts:
        with contextlib.suppress(OSError):
            os.rmdir(mount + path)


def remove(runtime: Runtime, container_id: str, state_dir: str, monitor_pid: int | None,
           monitor_start: int | None, cgroup: str | None = None) -> None:
    """``delete --force`` the container, wait for its monitor, remove its directory (and an empty runtime root).

    ``cgroup`` (the container's cgroupsPath) is removed if the runtime left it empty: in cgroup v1 a
    killed init that the monitor has not reaped yet keeps its cgroup busy, and crun 1.8.1's ``delete``
    gives up on the rmdir (EBUSY) instead of waiting.
    """
    try:
        runtime.run("delete", "--force", container_id)
    except CliError as e:
        if not _GONE.search(e.message):
            raise
    if monitor_pid:
        wait_monitor(monitor_pid, monitor_start)
    if cgroup:
        remove_empty_cgroup(cgroup)
    rmtree(state_dir)
    with contextlib.suppress(OSError):
        os.rmdir(runtime.root)


def wait_monitor(pid: int, start: int | None, timeout: float = 10.0) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if start is not None and start_time(pid) != start:
            return
        if not select.select([pidfd], [], [], timeout)[0]:
            _signal.pidfd_send_signal(pidfd, _signal.SIGKILL)
            select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)


def rmtree(path: str) -> None:
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            rmtree(entry.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


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
