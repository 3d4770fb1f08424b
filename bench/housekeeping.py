"""What the bench scripts share: removing their cgroups, finding what a run left, saving results.

Helpers of the scripts in bench/ (imported with bench/ on sys.path, as a script's own directory is).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import time

import psutil

CGROUP_ROOT = "/sys/fs/cgroup"


def _procs(top: str) -> int:
    count = 0
    for dirpath, _dirs, _files in os.walk(top):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                count += len(f.read().split())
        except OSError:
            pass
    return count


def rmdir_empty(top: str, wait: float = 0.0) -> None:
    """Remove the empty directories under ``top`` (deepest first), after waiting up to ``wait``
    seconds for its processes to leave (conmon outlives ``podman rm`` briefly)."""
    deadline = time.monotonic() + wait
    while _procs(top) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling an observable: the cgroup's process lists, with a deadline
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass  # not empty: something else uses it


def remove_cgroup_parent(parent: str, wait: float = 0.0) -> None:
    """Remove ``parent`` (relative to each hierarchy, e.g. ``libcontainer/bench-1``) and what is
    empty under it, in every hierarchy."""
    for top in glob.glob(os.path.join(CGROUP_ROOT, "*", parent)):
        rmdir_empty(top, wait)


def end_run(parent: str, top: str, *closers) -> None:
    """The end of a measuring run: call each closer (None: skipped) in order, then remove the cgroup
    parent and the run's temporary directory ``top``."""
    try:
        for close in closers:
            if close is not None:
                close()
    finally:
        remove_cgroup_parent(parent)
        shutil.rmtree(top, ignore_errors=True)


def leftovers(work: str, parent: str) -> dict:
    """What a run left: supervisor processes (``lc-supervisor``, forked, or ``-m
    libcontainer.reference.supervisor``) with their cwd under ``work``, cgroup dirs under
    ``parent``, entries of the factory roots ``work/ref-*``."""
    monitors = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            supervisor = proc.info["name"] == "lc-supervisor" or "libcontainer.reference.supervisor" in (
                proc.info["cmdline"] or [])
            if supervisor and proc.cwd().startswith(work):
                monitors.append(proc.pid)
        except psutil.Error:
            pass
    cgroups = [d for top in glob.glob(os.path.join(CGROUP_ROOT, "*", parent))
               for d, _dirs, _files in os.walk(top) if d != top]
    states = [os.path.join(root, e) for root in glob.glob(os.path.join(work, "ref-*")) for e in os.listdir(root)]
    return {"monitors": monitors, "cgroups": cgroups, "state_dirs": states}


def require_root() -> bool:
    """True as root; otherwise says why on stderr."""
    if os.geteuid() == 0:
        return True
    print("benchmarks create containers and cgroups: run as root", file=sys.stderr)
    return False


def save(out_dir: str, name: str, data) -> str:
    """Write ``data`` as JSON to ``out_dir/name``; the path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    return path
