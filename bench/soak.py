"""Soak: many mixed lifecycles with operations from a second process, then count what is left.

Issue 13, deliver item 5 (not run by CI). As root, from a worktree with its .venv::

    .venv/bin/python bench/soak.py [--lifecycles 1000] [--runtime reference] [--seed 13] [--out reports/soak.json]

Each lifecycle is one of four kinds, chosen by a seeded generator:

* ``here``: create (init ``true``), wait, destroy, all in this process;
* ``exec``: create (init ``sleep``), start_process + wait_process, pause, resume, then the second
  process destroys it while this one still holds the handle;
* ``killed``: create, signal SIGKILL to init, wait, stats, destroy here;
* ``dropped``: create, drop the handle, the second process loads and destroys it.

Before and after, it counts: host processes whose command line or cwd names the factory root
(keepers, inits), zombie children of this process and of the second process, mounts under the
factory root and rootfs, cgroup directories under the soak's cgroup parent, entries of the
factory root, this process's open fds and RSS. It prints a table and writes it as JSON; the exit
status is 1 if anything is left (RSS growth is reported, not judged).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from libcontainer.conformance import leaks as leakcheck  # noqa: E402
from libcontainer.conformance import rootfs as rootfs_mod  # noqa: E402
from libcontainer.conformance.runtimes import resolve  # noqa: E402
from libcontainer.spec import Config, ContainerDestroyed, Process  # noqa: E402

HELPER = textwrap.dedent("""
    import sys
    from libcontainer.conformance.runtimes import resolve
    from libcontainer.spec import ContainerDestroyed
    factory = resolve(sys.argv[1])(sys.argv[2])
    for line in sys.stdin:
        op, cid = line.split()
        try:
            c = factory.load(cid)
            if op == "destroy":
                c.destroy()
            out = c.status().name if op == "status" else "ok"
        except ContainerDestroyed:
            out = "destroyed"
        except Exception as e:  # reported, the soak goes on
            out = "error:" + type(e).__name__
        print(out, flush=True)
""")


def counts(root: str, rootfs: str, parent: str, helper: psutil.Process) -> dict:
    me = psutil.Process()
    zombies = [p.pid for proc in (me, helper) for p in proc.children() if p.status() == psutil.STATUS_ZOMBIE]
    cgroups = []
    for top in leakcheck.cgroup_dirs(parent):
        for dirpath, dirnames, _ in os.walk(top):
            cgroups += [os.path.join(dirpath, d) for d in dirnames]
    return {"processes": len(leakcheck.processes_mentioning(root)), "zombies": len(zombies),
            "mounts": len(leakcheck.mounts_under(root, os.path.join(rootfs, "proc"))), "cgroups": len(cgroups),
            "state_dirs": len(os.listdir(root)), "fds": me.num_fds(), "rss_kib": me.memory_info().rss // 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lifecycles", type=int, default=1000)
    ap.add_argument("--runtime", default="reference")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default="reports/soak.json")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lc-soak-")
    root = os.path.join(work, "root")
    os.mkdir(root)
    rootfs = rootfs_mod.build_busybox_rootfs(os.path.join(work, "rootfs"))
    parent = f"libcontainer/soak-{os.getpid()}"
    factory = resolve(args.runtime)(root)
    helper = subprocess.Popen([sys.executable, "-c", HELPER, args.runtime, root], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    hproc = psutil.Process(helper.pid)

    def ask(op: str, cid: str) -> str:
        helper.stdin.write(f"{op} {cid}\n")
        helper.stdin.flush()
        return helper.stdout.readline().strip()

    sleeper = Config(rootfs=rootfs, process=Process(args=["sleep", "86400"]), cgroup_parent=parent)
    quick = Config(rootfs=rootfs, process=Process(args=["true"]), cgroup_parent=parent)
    rng = random.Random(args.seed)
    kinds = {"here": 0, "exec": 0, "killed": 0, "dropped": 0}
    errors: list[str] = []
    # one lifecycle first, so the interpreter's caches (imports, the reaper thread) are in "before"
    c = factory.create("warm", quick)
    c.wait()
    c.destroy()
    gc.collect()
    before = counts(root, rootfs, parent, hproc)
    t0 = time.monotonic()
    for i in range(args.lifecycles):
        kind = rng.choice(list(kinds))
        kinds[kind] += 1
        cid = f"s{i}"
        try:
            if kind == "here":
                c = factory.create(cid, quick)
                c.wait()
                c.destroy()
            elif kind == "exec":
                c = factory.create(cid, sleeper)
                c.wait_process(c.start_process(Process(args=["true"])))
                c.pause()
                c.resume()
                if ask("destroy", cid) != "ok":
                    errors.append(f"{cid}: helper destroy failed")
                try:
                    c.status()
                    errors.append(f"{cid}: status after another process's destroy")
                except ContainerDestroyed:
                    pass
                c.destroy()
            elif kind == "killed":
                c = factory.create(cid, sleeper)
                c.signal(c.processes()[0], signal.SIGKILL)
                c.wait()
                c.stats()
                c.destroy()
            else:
                factory.create(cid, sleeper)
                if ask("destroy", cid) != "ok":
                    errors.append(f"{cid}: helper destroy failed")
        except Exception as e:  # noqa: BLE001 - counted; the soak goes on
            errors.append(f"{cid} ({kind}): {type(e).__name__}: {e}")
            try:
                factory.load(cid).destroy()
            except Exception:  # noqa: BLE001
                pass
        c = None
    elapsed = time.monotonic() - t0
    gc.collect()
    deadline = time.monotonic() + 10  # keepers that exited at the last destroy are reaped by then
    after = counts(root, rootfs, parent, hproc)
    while after["zombies"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = counts(root, rootfs, parent, hproc)
    helper.stdin.close()
    helper.wait(30)
    left = {k: after[k] - before[k] for k in before if k != "rss_kib"}
    result = {"runtime": args.runtime, "lifecycles": args.lifecycles, "seed": args.seed, "kinds": kinds,
              "seconds": round(elapsed, 1), "before": before, "after": after, "left": left,
              "rss_growth_kib": after["rss_kib"] - before["rss_kib"], "errors": errors[:50],
              "error_count": len(errors)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"{args.lifecycles} lifecycles ({kinds}) in {elapsed:.1f} s, {len(errors)} errors")
    print(f"{'':12} {'before':>8} {'after':>8}")
    for k in before:
        print(f"{k:12} {before[k]:>8} {after[k]:>8}")
    for e in errors[:10]:
        print("error:", e)
    for top in reversed(leakcheck.cgroup_dirs(parent)):
        with contextlib.suppress(OSError):
            os.rmdir(top)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(v > 0 for v in left.values()) or errors else 0


if __name__ == "__main__":
    sys.exit(main())
