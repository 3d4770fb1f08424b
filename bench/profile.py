"""Profile the reference's create path with py-spy, and say where the time goes.

As root, after ``.venv/bin/pip install -e '.[bench]'``::

    .venv/bin/python bench/profile.py [--runs 20] [--out reports/bench]

It runs ``py-spy record --subprocesses --idle`` (wall clock, the monitor
processes included) over ``--runs`` lifecycles (create a container whose
init is ``true``, wait, destroy) of the reference, writes the raw stacks
(``OUT/profile-reference.txt``, flamegraph.pl's input) and prints the share
of samples per place: in the caller, and in the per-container monitor
(interpreter start and imports versus its own work).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def loop(runs: int) -> None:
    from libcontainer.conformance import leaks
    from libcontainer.conformance.rootfs import build_busybox_rootfs
    from libcontainer.reference import LinuxFactory
    from libcontainer.spec import Config, Process

    work = tempfile.mkdtemp(prefix="lc-prof-")
    parent = f"libcontainer/prof-{os.getpid()}"
    try:
        rootfs = build_busybox_rootfs(os.path.join(work, "rootfs"))
        factory = LinuxFactory(os.path.join(work, "root"))
        cfg = Config(rootfs=rootfs, process=Process(args=["true"]), cgroup_parent=parent)
        phases = collections.Counter()
        for i in range(runs):
            t0 = time.perf_counter()
            c = factory.create(f"p{i}", cfg)
            t1 = time.perf_counter()
            c.wait()
            t2 = time.perf_counter()
            c.destroy()
            phases.update({"create": t1 - t0, "wait": t2 - t1, "destroy": time.perf_counter() - t2})
        print(f"{sum(phases.values()) / runs * 1000:.1f} ms per lifecycle (profiled): "
              + ", ".join(f"{k} {v / runs * 1000:.1f} ms" for k, v in phases.items()), file=sys.stderr)
    finally:
        leaks.clean(os.path.join(work, "root"), parent)
        for top in leaks.cgroup_dirs(parent):
            os.rmdir(top)
        shutil.rmtree(work, ignore_errors=True)


def _short(frame: str) -> str:
    return re.sub(r" \((.*/)?", " (", frame)


def _callee(frames: list[str], name: str) -> str | None:
    """The frame ``name`` calls next in ``frames`` (itself when innermost); None when absent."""
    for i, frame in enumerate(frames):
        if frame.startswith(name + " "):
            return _short(frames[i + 1] if i + 1 < len(frames) else frame)
    return None


def summarize(raw_path: str) -> str:
    """Shares of the samples in py-spy's raw output, per process and place: the caller's main thread
    (its other threads, the reaper, left out), the monitor (a child of the caller), the init before
    its exec (a grandchild, running the reference's set-up in Python). The caller's samples inside
    ``LinuxFactory.create`` are also shown by the call create makes (its line) and by the innermost
    frame of the project."""
    tables = {name: collections.Counter() for name in (
        "caller, main thread (wall clock)", "create (caller): the call create is in",
        "create (caller): innermost project frame", "monitor (wall clock)", "init before exec (wall clock)",
        "deeper processes")}
    threads = 0
    for line in open(raw_path):
        stack, _, count = line.rstrip().rpartition(" ")
        n, frames = int(count), stack.split(";")
        depth = 0
        while depth < len(frames) and frames[depth].startswith("process "):
            depth += 1
        rest = frames[depth:]
        key = _short(next((f for f in reversed(rest) if re.search(r"reference/|conformance/", f)),
                          rest[-1] if rest else "?"))
        if depth == 1:
            if any(f.startswith("Thread._bootstrap (") for f in rest):
                threads += n  # a thread of the caller other than the main one
                continue
            tables["caller, main thread (wall clock)"][key] += n
            callee = _callee(rest, "LinuxFactory.create")
            if callee:
                tables["create (caller): the call create is in"][callee] += n
                tables["create (caller): innermost project frame"][key] += n
        else:
            name = {2: "monitor (wall clock)", 3: "init before exec (wall clock)"}.get(depth, "deeper processes")
            tables[name][key] += n
    lines = []
    for title, counter in tables.items():
        total = sum(counter.values())
        if total:
            lines.append(f"{title}: {total} samples")
            lines += [f"  {v / total * 100:5.1f}%  {k}" for k, v in counter.most_common(8)]
    lines.append(f"(left out: {threads} samples of the caller's other threads)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    p.add_argument("--out", default="reports/bench")
    p.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)  # the profiled child
    args = p.parse_args(argv)
    if args.loop:
        loop(args.runs)
        return 0
    py_spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if py_spy is None:
        print("py-spy is missing: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    raw = os.path.join(args.out, "profile-reference.txt")
    native = ["--native"] if args.native else []
    subprocess.run([py_spy, "record", "--subprocesses", "--idle", *native, "--rate", "200", "--format", "raw", "-o", raw,
                    "--", sys.executable, os.path.abspath(__file__), "--loop", "--runs", str(args.runs)], check=True)
    print(summarize(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
