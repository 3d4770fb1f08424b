"""Prototype measurement: moving a process into its cgroups one hierarchy after another, or all at once.

As root: ``.venv/bin/python bench/cgmove.py [--runs 30]``. The reference's monitor moves the init
into the container's cgroups with one write to ``cgroup.procs`` per hierarchy, in turn
(reference/process.py ``join_cgroup``); bench/phases.py measures it at about as long as the init's
whole set-up, on the critical path of create. On cgroup v1 a migration waits for the kernel's
cgroup threadgroup rwsem and RCU (``cgroup_attach_lock``, kernel/cgroup/cgroup.c), so the writes
of different hierarchies may overlap if issued from several threads. This measures, for a ``sleep``
child of this process, the median time to move it into a fresh cgroup in every v1 hierarchy
(and cgroup2's unified one) (a) sequentially, (b) from one thread per hierarchy at once. Cgroups
under ``libcontainer/cgmove-<pid>``, removed afterwards; the children are killed by pid.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import threading
import time

import housekeeping  # noqa: E402  (bench/ is the script's directory)

ROOT = "/sys/fs/cgroup"


def hierarchies() -> list[str]:
    return sorted(d for d in glob.glob(os.path.join(ROOT, "*")) if os.path.isfile(os.path.join(d, "cgroup.procs")))


def write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def inherit_cpuset(path: str) -> None:
    """Copy cpuset.cpus and cpuset.mems down from the nearest ancestor that has them, to ``path``."""
    chain = []
    d = path
    while d != os.path.join(ROOT, "cpuset"):
        chain.append(d)
        d = os.path.dirname(d)
    for d in reversed(chain):
        for name in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(d, name)) as f:
                if f.read().strip():
                    continue
            with open(os.path.join(os.path.dirname(d), name)) as f:
                value = f.read().strip()
            write(os.path.join(d, name), value.encode())


def move_sequential(files: list[str], pid: int) -> None:
    """As the reference does: reference/process.py join_cgroup."""
    from libcontainer.reference.process import join_cgroup
    join_cgroup(files, pid)


def move_parallel(files: list[str], pid: int) -> None:
    threads = [threading.Thread(target=write, args=(path, str(pid).encode())) for path in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--gap", type=float, default=0.05,
                   help="idle seconds before each measured move (default 0.05, about one create's spacing): "
                        "back-to-back moves keep the kernel's rcu_sync warm and hide the grace period")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    parent = f"libcontainer/cgmove-{os.getpid()}"
    tops = [os.path.join(h, parent) for h in hierarchies()]
    times = {"sequential": [], "parallel": []}
    made = []
    load = os.getloadavg()[0]
    try:
        for i in range(args.runs):
            for mode, move in (("sequential", move_sequential), ("parallel", move_parallel)):
                dirs = [os.path.join(top, f"{mode}{i}") for top in tops]
                for d in dirs:
                    os.makedirs(d)
                    made.append(d)
                    if "/cpuset/" in d:  # an empty cpuset refuses tasks (ENOSPC): inherit the parent's
                        inherit_cpuset(d)
                child = subprocess.Popen(["sleep", "60"])
                try:
                    time.sleep(args.gap)  # spacing between migrations, as between creates (not a synchronisation)
                    t = time.perf_counter()
                    move([os.path.join(d, "cgroup.procs") for d in dirs], child.pid)
                    times[mode].append(time.perf_counter() - t)
                finally:
                    child.kill()
                    child.wait()
    finally:
        for d in reversed(made):
            try:
                os.rmdir(d)
            except OSError as e:
                print(f"left {d}: {e}", file=sys.stderr)
        housekeeping.remove_cgroup_parent(parent)
    print(f"{len(tops)} hierarchies ({', '.join(os.path.basename(h) for h in hierarchies())}); {args.runs} runs, "
          f"{args.gap * 1000:.0f} ms apart; "
          f"load {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    for mode, values in times.items():
        ms = sorted(v * 1000 for v in values)
        print(f"  {mode:10} median {statistics.median(ms):6.2f} ms  (min {ms[0]:.2f}, max {ms[-1]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
