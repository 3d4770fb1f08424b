"""The hot-path benchmark: create + wait + destroy of a /bin/true container, beside ``runc run``.

``.venv/bin/python bench/hotpath.py [-n 50]`` (as root) builds a
busybox rootfs, then alternates, N times each: the reference
(``LinuxFactory.create`` of /bin/true with the default config, ``wait()``,
``destroy()``) and ``runc run`` of a bundle on the same rootfs (``runc
spec``'s config, terminal off, args /bin/true), and ``crun run`` of it
(wrapped as host-facts.md describes; the wrapper alone is timed too). Runs
alternate, so all see the same load on the machine. Prints the median and 90th percentile, in
milliseconds, of each, and of each phase of the reference. Leaves nothing
behind: cgroups under ``libcontainer/bench-<pid>``, state in temporary dirs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import bare  # noqa: E402  (bench/ is the script's directory)
import housekeeping  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="runs of each (default 50)")
    parser.add_argument("--no-runc", action="store_true", help="only the reference")
    parser.add_argument("--monitor", choices=("fork", "exec"), default="fork",
                        help="the reference's monitor start mode (default fork)")
    args = parser.parse_args(argv)

    from libcontainer.busybox import build_busybox_rootfs
    from libcontainer.reference import LinuxFactory
    from libcontainer.spec import Config, Process

    top = tempfile.mkdtemp(prefix="libcontainer-bench-")
    parent = f"libcontainer/bench-{os.getpid()}"
    runc = None if args.no_runc else shutil.which("runc")
    crun = None if args.no_runc else shutil.which("crun")
    times: dict[str, list[float]] = {"reference": [], "create": [], "wait": [], "destroy": [], "runc run": [],
                                     "crun run": [], "unshare+sh": []}
    try:
        rootfs = build_busybox_rootfs(os.path.join(top, "rootfs"))
        factory = LinuxFactory(os.path.join(top, "state"), monitor=args.monitor)
        bundle = bare.bundle(top, "bundle", rootfs, ["/bin/true"], f"/{parent}/runc") if runc else None
        runc_root = os.path.join(top, "runc-root")
        crun_root = os.path.join(top, "crun-root")
        # crun 1.8 refuses this hybrid host unless cgroup2 lists no controllers (host-facts.md);
        # "unshare+sh" times that wrapper
        wrap = bare.crun_wrapper(top)
        config = Config(rootfs=rootfs, process=Process(args=["/bin/true"]), cgroup_parent=parent,
                        readonly_rootfs=True)
        for i in range(args.n):
            t0 = time.perf_counter()
            c = factory.create(f"bench{i}", config)
            t1 = time.perf_counter()
            status = c.wait()
            t2 = time.perf_counter()
            c.destroy()
            t3 = time.perf_counter()
            if status != 0:
                raise SystemExit(f"/bin/true exited {status}")
            times["reference"].append(t3 - t0)
            times["create"].append(t1 - t0)
            times["wait"].append(t2 - t1)
            times["destroy"].append(t3 - t2)
            if bundle:
                t0 = time.perf_counter()
                subprocess.run([runc, "--root", runc_root, "run", "--bundle", bundle, f"bench{i}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
                times["runc run"].append(time.perf_counter() - t0)
            if crun and bundle:
                t0 = time.perf_counter()
                subprocess.run(wrap + [crun, "--root", crun_root, "run", "--bundle", bundle, f"bench{i}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
                times["crun run"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                subprocess.run(wrap + ["true"], check=True)
                times["unshare+sh"].append(time.perf_counter() - t0)
    finally:
        housekeeping.remove_cgroup_parent(parent)
        shutil.rmtree(top, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"{args.n} runs each; monitor mode {args.monitor}; load average {load:.2f} on {os.cpu_count()} cpus")
    for name, values in times.items():
        if values:
            print(f"  {name:10} median {statistics.median(values) * 1000:7.1f} ms   "
                  f"p90 {_pct(values, 0.9) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
