"""Benchmark of ``LinuxContainer.stats()`` (run by hand, not a test): prints the median and spread.

    sudo .venv/bin/python reference/tests/bench_stats.py [N]

Creates one busybox container (init ``sleep``) under the cgroup parent
``libcontainer/bench-<pid>``, calls stats() N times (default 2000) after a
warm-up, prints the median, 10th and 90th percentiles in microseconds, and
destroys the container. The target is a median under 1 ms: stats() is a few
cgroup file reads plus ``/proc/<init>/net/dev``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from libcontainer.conformance.rootfs import build_busybox_rootfs
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Config, Process


def main(n: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = build_busybox_rootfs(os.path.join(tmp, "rootfs"))
        factory = LinuxFactory(os.path.join(tmp, "state"))
        config = Config(rootfs=rootfs, process=Process(args=["sleep", "3600"]),
                        cgroup_parent=f"libcontainer/bench-{os.getpid()}")
        c = factory.create("bench", config)
        try:
            for _ in range(100):
                c.stats()
            times = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                c.stats()
                times.append(time.perf_counter_ns() - t0)
            q = statistics.quantiles(times, n=10)
            print(f"stats() over {n} calls, cgroup v{c._cgroup.version}: median {statistics.median(times) / 1000:.0f} us,"
                  f" p10 {q[0] / 1000:.0f} us, p90 {q[-1] / 1000:.0f} us")
        finally:
            c.destroy()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
