"""What a test leaves on the host: processes, cgroups, mounts and state.

A snapshot is taken from outside (psutil, /proc/self/mountinfo, the cgroup
filesystems); :func:`find_leaks` compares the host after a test with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_dirs(parent: str) -> list[str]:
    """Every directory named ``parent`` (relative path) in every cgroup hierarchy of the host."""
    found = []
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                path = os.path.join(fields[1], parent)
                if os.path.isdir(path):
                    found.append(path)
    return found


def mounts_under(*prefixes: str) -> list[str]:
    """Mount points in this process's mount namespace under any of ``prefixes``."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if any(point == p or point.startswith(p.rstrip("/") + "/") for p in prefixes):
                out.append(point)
    return out


@dataclass
class Leaks:
    processes: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processes or self.cgroups or self.mounts or self.state)

    def __str__(self) -> str:
        parts = [f"{k}: {v}" for k, v in vars(self).items() if v]
        return "; ".join(parts)


#: the flags bit of a kernel thread (include/linux/sched.h), field 9 of /proc/<pid>/stat (proc(5))
PF_KTHREAD = 0x00200000


@dataclass
class ProcEntry:
    """One process of a /proc scan: its parent, state letter (proc(5): R, S, D, Z, ...) and whether it is a
    kernel thread (which has no command line or working directory to mention anything)."""
    pid: int
    ppid: int
    state: str
    kernel: bool


def scan_proc() -> dict[int, ProcEntry]:
    """pid -> :class:`ProcEntry` of every process, one read of /proc/<pid>/stat each.

    Read directly rather than through psutil: the leak check runs after every test, and in an emulated
    guest psutil's per-process objects cost a third of a second a test (vm/README.md)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
            fields = data[data.rindex(b")") + 2:].split()
            found[int(name)] = ProcEntry(int(name), int(fields[1]), fields[0].decode(),
                                         bool(int(fields[6]) & PF_KTHREAD))
        except (OSError, ValueError, IndexError):
            pass  # gone meanwhile
    return found


def _mentions(pid: int, text: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    if any(text in a for a in args):
        return True
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == text or cwd.startswith(text.rstrip("/") + "/")


def processes_mentioning(text: str, procs: dict[int, ProcEntry] | None = None) -> list[psutil.Process]:
    """Live processes whose command line contains ``text`` (an exec'd monitor names its state dir)
    or whose working directory lies under it (a forked monitor's cwd is its state dir); ``procs``: a
    :func:`scan_proc` to reuse."""
    procs = scan_proc() if procs is None else procs
    found = []
    for pid, entry in procs.items():
        if entry.kernel or pid == os.getpid() or not _mentions(pid, text):
            continue
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return found


def cgroup_pids(parent: str) -> set[int]:
    pids = set()
    for top in cgroup_dirs(parent):
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return pids


def reap_zombie_children(procs: dict[int, ProcEntry] | None = None) -> set[int]:
    """Reap zombie children of this process (orphans reparented here as a child subreaper); returns their pids."""
    procs = scan_proc() if procs is None else procs
    me, reaped = os.getpid(), set()
    for pid, entry in procs.items():
        if entry.ppid == me and entry.state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
                reaped.add(pid)
            except ChildProcessError:
                pass
    return reaped


def zombie_descendants(procs: dict[int, ProcEntry]) -> set[int]:
    """Zombies among the descendants of this process in ``procs``."""
    children: dict[int, list[int]] = {}
    for pid, entry in procs.items():
        children.setdefault(entry.ppid, []).append(pid)
    found, todo = set(), list(children.get(os.getpid(), ()))
    while todo:
        pid = todo.pop()
        if procs[pid].state == "Z":
            found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def find_leaks(root: str, cgroup_parent: str, rootfs: str) -> Leaks:
    """What is left of a test that used factory ``root``, cgroups under ``cgroup_parent`` and ``rootfs``."""
    leaks = Leaks()
    procs = scan_proc()
    for pid in reap_zombie_children(procs):
        procs.pop(pid, None)
    pids = cgroup_pids(cgroup_parent)
    for p in processes_mentioning(root, procs):
        pids.add(p.pid)
    pids |= zombie_descendants(procs)
    for pid in sorted(pids):
        try:
            p = psutil.Process(pid)
            leaks.processes.append(f"{pid} {' '.join(p.cmdline()) or p.name()} ({p.status()})")
        except psutil.Error:
            pass
    for top in cgroup_dirs(cgroup_parent):
        leaks.cgroups.extend(os.path.join(top, d) for d in sorted(os.listdir(top))
                             if os.path.isdir(os.path.join(top, d)))
    leaks.mounts = mounts_under(root, rootfs)
    if os.path.isdir(root):
        leaks.state = [os.path.join(root, d) for d in sorted(os.listdir(root))]
    return leaks


def clean(root: str, cgroup_parent: str) -> None:
    """Remove what a test left: kill its processes (by pid, only those in its cgroups or naming its root),
    then remove its cgroups. Best effort; :func:`find_leaks` reports what remains."""
    import signal
    import time
    for _ in range(50):
        pids = cgroup_pids(cgroup_parent) | {p.pid for p in processes_mentioning(root)}
        if not pids:
            break
        for top in cgroup_dirs(cgroup_parent):
            for dirpath, _d, files in os.walk(top):
                if "freezer.state" in files:
                    _write(os.path.join(dirpath, "freezer.state"), "THAWED")
                if "cgroup.freeze" in files:
                    _write(os.path.join(dirpath, "cgroup.freeze"), "0")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
        reap_zombie_children()
    for top in cgroup_dirs(cgroup_parent):
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass
