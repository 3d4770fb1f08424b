"""cgroup v2 driver: the unified hierarchy (Documentation/admin-guide/cgroup-v2.rst).

Controllers are enabled for the container through every ancestor's
``cgroup.subtree_control``. Pause uses ``cgroup.freeze`` and reads
``cgroup.events`` (``frozen 1``).
"""

from __future__ import annotations

import os

from libcontainer.spec import ContainerStats, MemoryStats, PidsStats, Resources

from .driver import FROZEN, FREEZING, THAWED, CgroupDriver, read_int, read_keyed, write

WANTED = ("cpu", "cpuset", "io", "memory", "pids")


def mount_point(mounts_file: str = "/proc/self/mounts") -> str | None:
    """Where cgroup2 is mounted (``/sys/fs/cgroup`` on a pure v2 host), or None."""
    with open(mounts_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "cgroup2":
                return fields[1]
    return None


class CgroupV2(CgroupDriver):
    version = 2

    def __init__(self, parent: str, name: str, root: str | None = None):
        super().__init__(parent, name)
        self.root = root or mount_point() or "/sys/fs/cgroup"
        self.dir = os.path.join(self.root, self.parent, name)

    def paths(self) -> list[str]:
        return [self.dir]

    def create(self, resources: Resources) -> None:
        try:
            cur = self.root
            for part in [*self.parent.split("/"), self.name]:
                self._enable(cur)
                cur = os.path.join(cur, part)
                os.makedirs(cur, exist_ok=True)
            self._apply(resources)
        except BaseException:
            self.destroy()
            raise

    @staticmethod
    def _enable(path: str) -> None:
        try:
            with open(os.path.join(path, "cgroup.controllers")) as f:
                available = f.read().split()
        except FileNotFoundError:
            return
        want = [c for c in WANTED if c in available]
        if want:
            try:
                write(os.path.join(path, "cgroup.subtree_control"), " ".join("+" + c for c in want))
            except OSError:
                pass  # e.g. a parent with processes of its own: run without those controllers

    def _apply(self, r: Resources) -> None:
        def put(name, value):
            path = os.path.join(self.dir, name)
            if value is not None and os.path.exists(path):
                write(path, value)
        put("memory.max", None if r.memory is None else ("max" if r.memory == -1 else r.memory))
        put("memory.low", r.memory_reservation)
        if r.memory_swap is not None and r.memory is not None:
            # runc: v2 swap limit is memory+swap minus memory
            swap = "max" if r.memory_swap == -1 else max(r.memory_swap - r.memory, 0)
            put("memory.swap.max", swap)
        if r.cpu_shares is not None:
            # runc's conversion: weight = 1 + ((shares - 2) * 9999) / 262142
            put("cpu.weight", 1 + ((r.cpu_shares - 2) * 9999) // 262142)
        if r.cpu_quota is not None or r.cpu_period is not None:
            quota = "max" if r.cpu_quota in (None, -1) else r.cpu_quota
            put("cpu.max", f"{quota} {r.cpu_period or 100000}")
        put("cpuset.cpus", r.cpuset_cpus)
        put("cpuset.mems", r.cpuset_mems)
        put("pids.max", None if r.pids_limit is None else ("max" if r.pids_limit == -1 else r.pids_limit))

    def freezer_state(self) -> str:
        try:
            with open(os.path.join(self.dir, "cgroup.freeze")) as f:
                wanted = f.read().strip() == "1"
        except FileNotFoundError:
            return THAWED
        frozen = read_keyed(os.path.join(self.dir, "cgroup.events")).get("frozen") == 1
        if frozen:
            return FROZEN
        return FREEZING if wanted else THAWED

    def _write_freeze(self, frozen: bool) -> None:
        write(os.path.join(self.dir, "cgroup.freeze"), "1" if frozen else "0")

    def stats(self) -> ContainerStats:
        s = ContainerStats()
        cpu = read_keyed(os.path.join(self.dir, "cpu.stat"))
        if "usage_usec" in cpu:
            s.cpu.total_ns = cpu["usage_usec"] * 1000
            s.cpu.user_ns = cpu.get("user_usec", 0) * 1000
            s.cpu.system_ns = cpu.get("system_usec", 0) * 1000
        if "nr_throttled" in cpu:
            s.cpu.throttled_periods = cpu["nr_throttled"]
            s.cpu.throttled_ns = cpu.get("throttled_usec", 0) * 1000
        if os.path.exists(os.path.join(self.dir, "memory.current")):
            stat = read_keyed(os.path.join(self.dir, "memory.stat"))
            events = read_keyed(os.path.join(self.dir, "memory.events"))
            s.memory = MemoryStats(
                usage_bytes=read_int(os.path.join(self.dir, "memory.current")),
                max_usage_bytes=read_int(os.path.join(self.dir, "memory.peak")),
                limit_bytes=read_int(os.path.join(self.dir, "memory.max")),
                cache_bytes=stat.get("file"),
                failcnt=None,
                oom_kill=events.get("oom_kill"),
            )
        if os.path.exists(os.path.join(self.dir, "pids.current")):
            s.pids = PidsStats(current=read_int(os.path.join(self.dir, "pids.current")),
                               limit=read_int(os.path.join(self.dir, "pids.max")))
        return s
