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


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``text`` (an exec'd monitor names its state dir)
    or whose working directory lies under it (a forked monitor's cwd is its state dir)."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if p.pid == os.getpid():
                continue
            cwd = p.info["cwd"] or ""
            if (p.info["cmdline"] and any(text in a for a in p.info["cmdline"])) or cwd == text \
                    or cwd.startswith(text.rstrip("/") + "/"):
                found.append(p)
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


def reap_zombie_children() -> None:
    """Reap zombie children of this process (orphans reparented here as a child subreaper)."""
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass


def find_leaks(root: str, cgroup_parent: str, rootfs: str) -> Leaks:
    """What is left of a test that used factory ``root``, cgroups under ``cgroup_parent`` and ``rootfs``."""
    leaks = Leaks()
    reap_zombie_children()
    pids = cgroup_pids(cgroup_parent)
    for p in processes_mentioning(root):
        pids.add(p.pid)
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
        except psutil.Error:
            pass
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
