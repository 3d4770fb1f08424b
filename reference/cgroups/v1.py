"""cgroup v1 driver: one hierarchy per controller (also on hybrid hosts).

Files follow the kernel's Documentation/admin-guide/cgroup-v1/ (memory.rst,
cpuacct.rst, pids.rst, freezer-subsystem.rst, cpusets.rst).
"""

from __future__ import annotations

import os

from libcontainer.spec import ContainerStats, CpuStats, MemoryStats, PidsStats, Resources

from .driver import FROZEN, FREEZING, THAWED, CgroupDriver, read_int, read_keyed, write

# controllers a container's cgroup is made in, when the host mounts them
CONTROLLERS = ("freezer", "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "blkio")


def mounts(mounts_file: str = "/proc/self/mounts") -> dict[str, str]:
    """Controller name -> mount point of every v1 hierarchy the host mounts."""
    found: dict[str, str] = {}
    with open(mounts_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4 or fields[2] != "cgroup":
                continue
            for opt in fields[3].split(","):
                if opt in CONTROLLERS and opt not in found:
                    found[opt] = fields[1]
    return found


class CgroupV1(CgroupDriver):
    """The container's cgroup in every v1 hierarchy of :data:`CONTROLLERS` the host has."""

    version = 1

    def __init__(self, parent: str, name: str, hierarchies: dict[str, str] | None = None):
        super().__init__(parent, name)
        self.hierarchies = hierarchies if hierarchies is not None else mounts()
        self._dirs = {c: os.path.join(m, self.parent, name) for c, m in self.hierarchies.items()}
        if "freezer" not in self._dirs:
            raise OSError("no cgroup v1 freezer hierarchy is mounted")

    def paths(self) -> list[str]:
        # freezer first: pids() reads it, and it holds every process
        ordered = [self._dirs["freezer"]] + [d for c, d in self._dirs.items() if c != "freezer"]
        return list(dict.fromkeys(ordered))

    def path(self, controller: str) -> str | None:
        return self._dirs.get(controller)

    def create(self, resources: Resources) -> None:
        try:
            for controller in self._dirs:
                self._make(controller)
            self._apply(resources)
        except BaseException:
            self.destroy()
            raise

    def _make(self, controller: str) -> None:
        path = self._dirs[controller]
        if controller != "cpuset":
            os.makedirs(path, exist_ok=True)
            return
        # a cpuset cgroup takes no task until cpus and mems are set: copy them down from the root
        root = self.hierarchies["cpuset"]
        cur = root
        for part in [*self.parent.split("/"), self.name]:
            parent_dir, cur = cur, os.path.join(cur, part)
            os.makedirs(cur, exist_ok=True)
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not _read(os.path.join(cur, key)):
                    write(os.path.join(cur, key), _read(os.path.join(parent_dir, key)))

    def _apply(self, r: Resources) -> None:
        mem = self._dirs.get("memory")
        if mem:
            if r.memory is not None:
                write(os.path.join(mem, "memory.limit_in_bytes"), r.memory)
            if r.memory_reservation is not None:
                write(os.path.join(mem, "memory.soft_limit_in_bytes"), r.memory_reservation)
            if r.memory_swap is not None and os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes")):
                write(os.path.join(mem, "memory.memsw.limit_in_bytes"), r.memory_swap)
        cpu = self._dirs.get("cpu")
        if cpu:
            if r.cpu_shares is not None:
                write(os.path.join(cpu, "cpu.shares"), r.cpu_shares)
            if r.cpu_period is not None:
                write(os.path.join(cpu, "cpu.cfs_period_us"), r.cpu_period)
            if r.cpu_quota is not None:
                write(os.path.join(cpu, "cpu.cfs_quota_us"), r.cpu_quota)
        cpuset = self._dirs.get("cpuset")
        if cpuset:
            if r.cpuset_cpus is not None:
                write(os.path.join(cpuset, "cpuset.cpus"), r.cpuset_cpus)
            if r.cpuset_mems is not None:
                write(os.path.join(cpuset, "cpuset.mems"), r.cpuset_mems)
        pids = self._dirs.get("pids")
        if pids and r.pids_limit is not None:
            write(os.path.join(pids, "pids.max"), "max" if r.pids_limit == -1 else r.pids_limit)

    def freezer_state(self) -> str:
        state = _read(os.path.join(self._dirs["freezer"], "freezer.state"))
        return state if state in (THAWED, FREEZING, FROZEN) else THAWED

    def _write_freeze(self, frozen: bool) -> None:
        write(os.path.join(self._dirs["freezer"], "freezer.state"), FROZEN if frozen else THAWED)

    def stats(self) -> ContainerStats:
        s = ContainerStats()
        acct = self._dirs.get("cpuacct")
        if acct:
            s.cpu.total_ns = read_int(os.path.join(acct, "cpuacct.usage"))
            s.cpu.user_ns = read_int(os.path.join(acct, "cpuacct.usage_user"))
            s.cpu.system_ns = read_int(os.path.join(acct, "cpuacct.usage_sys"))
        cpu = self._dirs.get("cpu")
        if cpu:
            st = read_keyed(os.path.join(cpu, "cpu.stat"))
            s.cpu.throttled_periods = st.get("nr_throttled")
            s.cpu.throttled_ns = st.get("throttled_time")
        mem = self._dirs.get("memory")
        if mem:
            s.memory = MemoryStats(
                usage_bytes=read_int(os.path.join(mem, "memory.usage_in_bytes")),
                max_usage_bytes=read_int(os.path.join(mem, "memory.max_usage_in_bytes")),
                limit_bytes=read_int(os.path.join(mem, "memory.limit_in_bytes")),
                cache_bytes=read_keyed(os.path.join(mem, "memory.stat")).get("cache"),
                failcnt=read_int(os.path.join(mem, "memory.failcnt")),
                oom_kill=read_keyed(os.path.join(mem, "memory.oom_control")).get("oom_kill"),
            )
        pids = self._dirs.get("pids")
        if pids:
            s.pids = PidsStats(current=read_int(os.path.join(pids, "pids.current")),
                               limit=read_int(os.path.join(pids, "pids.max")))
        return s


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


__all__ = ["CgroupV1", "mounts", "CONTROLLERS", "CpuStats"]
