"""Benchmark of the command line's lifecycle: ``lcrun`` beside ``runc run`` and ``crun run``.

One command (as root, after ``./ci/setup.sh``)::

    .venv/bin/python bench/cli.py [--runs 20] [--out reports/bench]

Each run, the runtimes in turn on the same bundle (busybox rootfs, init ``true``, no terminal,
stdio /dev/null), interleaved so that a change of the host's load hits them all:

* ``lcrun run``: one process creates, starts, waits for the exit and deletes;
* ``lcrun create+start+delete``: three processes, as OCI tools drive it: ``create``, ``start``,
  a wait for init's exit (polling ``/proc/PID`` of the state's pid), ``delete``;
* ``runc run`` and ``crun run`` (each deletes the container when it exits). crun runs in a
  private mount namespace with an empty file over ``/sys/fs/cgroup/unified/cgroup.controllers``
  (a hybrid host: see host-facts.md); the wrapper alone (``unshare ... true``) is measured apart.

Prints a table (median, interquartile range, min, max in ms) and writes ``OUT/cli.json``,
``OUT/cli.md``. Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from libcontainer.busybox import build_busybox_rootfs

LCRUN = os.path.join(os.path.dirname(sys.executable), "lcrun")
CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"


def summary(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {"n": len(ms), "median_ms": statistics.median(ms), "q1_ms": q[0], "q3_ms": q[2],
            "min_ms": ms[0], "max_ms": ms[-1]}


class Cases:
    def __init__(self, work: str):
        self.work = work
        self.bundle = os.path.join(work, "bundle")
        build_busybox_rootfs(os.path.join(self.bundle, "rootfs"))
        subprocess.run([LCRUN, "spec", "--bundle", self.bundle], check=True)
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            spec = json.load(f)
        spec["process"].update(terminal=False, args=["true"])
        spec["linux"]["cgroupsPath"] = f"/libcontainer/bench-cli-{os.getpid()}/c"
        with open(path, "w") as f:
            json.dump(spec, f)
        self.empty = os.path.join(work, "empty")
        open(self.empty, "w").close()
        self.serial = 0

    def _id(self) -> str:
        self.serial += 1
        return f"b{self.serial}"

    def _call(self, argv: list[str]) -> None:
        with open(os.devnull, "r+b") as null:
            subprocess.run(argv, stdin=null, stdout=null, stderr=null, cwd=self.bundle, check=True)

    def lcrun_run(self) -> None:
        self._call([LCRUN, "--root", f"{self.work}/lcrun", "run", "--bundle", self.bundle, self._id()])

    def lcrun_split(self) -> None:
        cid, root = self._id(), f"{self.work}/lcrun"
        self._call([LCRUN, "--root", root, "create", "--bundle", self.bundle, cid])
        state = json.loads(subprocess.run([LCRUN, "--root", root, "state", cid], capture_output=True, text=True,
                                          check=True).stdout)
        self._call([LCRUN, "--root", root, "start", cid])
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{state['pid']}/stat") and _alive(state["pid"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cid}: init {state['pid']} did not exit")
            time.sleep(0.0005)
        self._call([LCRUN, "--root", root, "delete", cid])

    def runc_run(self) -> None:
        self._call(["runc", "--root", f"{self.work}/runc", "run", "--bundle", self.bundle, self._id()])

    def _crun_wrapper(self, inner: str) -> list[str]:
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                f"mount --bind {self.empty} {CONTROLLERS} && exec {inner}"]

    def crun_run(self) -> None:
        self._call(self._crun_wrapper(f"crun --root {self.work}/crun run --bundle {self.bundle} {self._id()}"))

    def crun_wrapper_alone(self) -> None:
        self._call(self._crun_wrapper("true"))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


CASES = {"lcrun run": "lcrun_run", "lcrun create+start+delete": "lcrun_split", "runc run": "runc_run",
         "crun run (in its wrapper)": "crun_run", "crun wrapper alone": "crun_wrapper_alone"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--out", default="reports/bench")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/cli.py needs root", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="bench-cli-")
    cases = Cases(work)
    names = [n for n in CASES if ("runc" not in n or shutil.which("runc")) and ("crun" not in n or shutil.which("crun"))]
    samples: dict[str, list[float]] = {n: [] for n in names}
    try:
        for name in names:  # one warm-up each
            getattr(cases, CASES[name])()
        for _ in range(args.runs):
            for name in names:
                start = time.perf_counter()
                getattr(cases, CASES[name])()
                samples[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{hierarchy}/libcontainer/bench-cli-{os.getpid()}"
            if os.path.isdir(path):
                os.rmdir(path)
    results = {"load_before_after": os.getloadavg(), "runs": args.runs,
               "cases": {n: summary(s) for n, s in samples.items()}}
    lines = ["| lifecycle of `true` | median ms | IQR ms | min | max |", "|---|---|---|---|---|"]
    for name, s in results["cases"].items():
        lines.append(f"| {name} | {s['median_ms']:.1f} | {s['q1_ms']:.1f}-{s['q3_ms']:.1f} | "
                     f"{s['min_ms']:.1f} | {s['max_ms']:.1f} |")
    lines.append(f"\n{args.runs} runs each, interleaved; load average at the end {os.getloadavg()[0]:.2f}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cli.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, "cli.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
