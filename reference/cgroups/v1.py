"""cgroup v1 driver: one hierarchy per controller (also on hybrid hosts).

Files follow the kernel's Documentation/admin-guide/cgroup-v1/ (memory.rst,
cpuacct.rst, pids.rst, freezer-subsystem.rst, cpusets.rst, devices.rst,
blkio-controller.rst, hugetlb.rst); the write order of memory/swap and
cpu period/quota follows runc's ``libcontainer/cgroups/fs``.
"""

from __future__ import annotations

import errno
import os

from libcontainer.spec import (ContainerStats, CpuStats, HugetlbStats, IoDeviceStats, MemoryStats, NotSupported,
                               PidsStats, Resources)

from .convert import weight_to_shares
from .driver import (FREEZING, FROZEN, THAWED, CgroupDriver, device, huge_page_sizes, read_int, read_keyed,
                     read_text, retry_vanishing, write, write_needed)

# controllers a container's cgroup is made in, when the host mounts them
CONTROLLERS = ("freezer", "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "blkio", "hugetlb")

# memory.limit_in_bytes when unlimited: PAGE_COUNTER_MAX pages (the value depends on the page size)
_UNLIMITED_FLOOR = 1 << 62


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
    """The container's cgroup in every v1 hierarchy of :data:`CONTROLLERS` the host has.

    Resources (runc's v1 files): memory -> ``memory.limit_in_bytes``,
    reservation -> ``memory.soft_limit_in_bytes``, swap ->
    ``memory.memsw.limit_in_bytes`` (memory plus swap); cpu shares (or a
    weight converted by :func:`~.convert.weight_to_shares`) ->
    ``cpu.shares``, ``cpu.cfs_period_us``/``cpu.cfs_quota_us``; cpuset;
    ``pids.max``; blkio weight -> ``blkio.weight`` (or ``blkio.bfq.weight``)
    and ``blkio.throttle.*_device``; device rules -> ``devices.allow`` /
    ``devices.deny`` in order; hugetlb -> ``hugetlb.<size>.limit_in_bytes``.
    A requested limit whose file the host lacks raises NotSupported.
    """

    version = 1
    _thaw_retry = True

    def __init__(self, parent: str, name: str, hierarchies: dict[str, str] | None = None):
        super().__init__(parent, name)
        self.hierarchies = hierarchies if hierarchies is not None else mounts()
        self._dirs = {c: os.path.join(m, self.parent, name) for c, m in self.hierarchies.items()}
        if "freezer" not in self._dirs:
            raise OSError("no cgroup v1 freezer hierarchy is mounted")
        self._files = self._stat_files()

    def paths(self) -> list[str]:
        # freezer first: pids() reads it, and it holds every process
        ordered = [self._dirs["freezer"]] + [d for c, d in self._dirs.items() if c != "freezer"]
        return list(dict.fromkeys(ordered))

    def path(self, controller: str) -> str | None:
        return self._dirs.get(controller)

    def create(self, resources: Resources) -> None:
        try:
            for controller in self._dirs:
                retry_vanishing(lambda: self._make(controller))
            self._apply(resources)
        except BaseException:
            self.destroy()
            raise

    def _make(self, controller: str) -> None:
        if controller != "cpuset":
            self._mkdir_chain(self.hierarchies[controller])
            return
        # a cpuset cgroup takes no task until cpus and mems are set: copy them down from the root
        root = self.hierarchies["cpuset"]
        cur = root
        parts = [*self.parent.split("/"), self.name]
        for i, part in enumerate(parts):
            parent_dir, cur = cur, os.path.join(cur, part)
            self._mkdir(cur, own=i == len(parts) - 1)
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not _read(os.path.join(cur, key)):
                    write(os.path.join(cur, key), _read(os.path.join(parent_dir, key)))

    def _need(self, controller: str, what: str) -> str:
        path = self._dirs.get(controller)
        if path is None:
            raise NotSupported(f"{what}: this host mounts no cgroup v1 {controller} hierarchy")
        return path

    def _apply(self, r: Resources) -> None:
        self._apply_memory(r)
        self._apply_cpu(r)
        if r.cpuset_cpus is not None or r.cpuset_mems is not None:
            cpuset = self._need("cpuset", "resources.cpuset")
            if r.cpuset_cpus is not None:
                write(os.path.join(cpuset, "cpuset.cpus"), r.cpuset_cpus)
            if r.cpuset_mems is not None:
                write(os.path.join(cpuset, "cpuset.mems"), r.cpuset_mems)
        if r.pids_limit is not None:
            pids = self._need("pids", "resources.pids_limit")
            write(os.path.join(pids, "pids.max"), "max" if r.pids_limit == -1 else r.pids_limit)
        self._apply_blkio(r)
        if r.devices:
            devices = self._need("devices", "resources.devices")
            for rule in r.devices:
                line = "a" if rule.type == "a" else f"{rule.type} {device(rule.major)}:{device(rule.minor)} {rule.access}"
                write(os.path.join(devices, "devices.allow" if rule.allow else "devices.deny"), line)
        for h in r.hugetlb_limits:
            hugetlb = self._need("hugetlb", "resources.hugetlb_limits")
            write_needed(os.path.join(hugetlb, f"hugetlb.{h.page_size}.limit_in_bytes"), h.limit,
                         f"resources.hugetlb_limits {h.page_size}")

    def _apply_memory(self, r: Resources) -> None:
        memory, swap = r.memory, r.memory_swap
        if memory == -1 and swap is None:
            swap = -1  # runc: unlimited memory means unlimited memory+swap
        if memory is None and swap is None and r.memory_reservation is None:
            return
        mem = self._need("memory", "resources.memory")
        limit_file = os.path.join(mem, "memory.limit_in_bytes")
        memsw_file = os.path.join(mem, "memory.memsw.limit_in_bytes")
        if swap is not None and not os.path.exists(memsw_file):
            if swap != -1:
                raise NotSupported("resources.memory_swap: this kernel has no swap accounting (memory.memsw.*)")
            swap = None  # unlimited is what the kernel does anyway
        if memory is not None and swap is not None:
            # the kernel keeps memsw >= limit: raise the larger one first (runc's setMemoryAndSwap)
            current = read_int(limit_file) or 0
            if swap == -1 or current < swap:
                write(memsw_file, swap)
                write(limit_file, memory)
            else:
                write(limit_file, memory)
                write(memsw_file, swap)
        elif memory is not None:
            write(limit_file, memory)
        elif swap is not None:
            write(memsw_file, swap)
        if r.memory_reservation is not None:
            write(os.path.join(mem, "memory.soft_limit_in_bytes"), r.memory_reservation)

    def _apply_cpu(self, r: Resources) -> None:
        shares = r.cpu_shares if r.cpu_shares is not None else (
            None if r.cpu_weight is None else weight_to_shares(r.cpu_weight))
        if shares is None and r.cpu_quota is None and r.cpu_period is None:
            return
        cpu = self._need("cpu", "resources.cpu")
        if shares is not None:
            write(os.path.join(cpu, "cpu.shares"), shares)
        period_file, quota_file = os.path.join(cpu, "cpu.cfs_period_us"), os.path.join(cpu, "cpu.cfs_quota_us")
        retry_period = False
        if r.cpu_period is not None:
            try:
                write(period_file, r.cpu_period)
            except OSError as e:
                # a smaller period can be refused while the old quota/period exceeds the parent's: retry after quota
                if e.errno != errno.EINVAL or r.cpu_quota is None:
                    raise
                retry_period = True
        if r.cpu_quota is not None:
            write(quota_file, r.cpu_quota)
            if retry_period:
                write(period_file, r.cpu_period)

    def _apply_blkio(self, r: Resources) -> None:
        if r.blkio_weight is not None:
            blkio = self._need("blkio", "resources.blkio_weight")
            for name in ("blkio.weight", "blkio.bfq.weight"):
                if os.path.exists(os.path.join(blkio, name)):
                    write(os.path.join(blkio, name), r.blkio_weight)
                    break
            else:
                raise NotSupported("resources.blkio_weight: this host's blkio has no weight file "
                                   "(blkio.weight needs CFQ, blkio.bfq.weight needs the BFQ scheduler)")
        for field_name in Resources.THROTTLES:
            rules = getattr(r, field_name)
            if not rules:
                continue
            blkio = self._need("blkio", f"resources.{field_name}")
            path = os.path.join(blkio, field_name.replace("blkio_throttle_", "blkio.throttle."))
            for t in rules:
                write_needed(path, f"{t.major}:{t.minor} {t.rate}", f"resources.{field_name}")

    # -- freezer --------------------------------------------------------
    def freezer_state(self) -> str:
        state = (read_text(os.path.join(self._dirs["freezer"], "freezer.state")) or "").strip()
        return state if state in (THAWED, FREEZING, FROZEN) else THAWED

    def _write_freeze(self, frozen: bool) -> None:
        write(os.path.join(self._dirs["freezer"], "freezer.state"), FROZEN if frozen else THAWED)

    def _thaw_dir(self, path: str) -> None:
        write(os.path.join(path, "freezer.state"), THAWED)

    # -- stats ----------------------------------------------------------
    def _stat_files(self) -> dict[str, str]:
        files = {}
        for controller, names in (
                ("cpuacct", ("cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys")),
                ("cpu", ("cpu.stat",)),
                ("memory", ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes",
                            "memory.stat", "memory.failcnt", "memory.oom_control")),
                ("pids", ("pids.current", "pids.max")),
                ("blkio", ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"))):
            if controller in self._dirs:
                for name in names:
                    files[name] = os.path.join(self._dirs[controller], name)
        return files

    def stats(self) -> ContainerStats:
        """cpuacct (ns), cpu.stat throttling (ns), memory, pids, blkio throttle counters, hugetlb.

        None where this host has no such controller or file. ``memory.limit_bytes``
        and ``pids.limit`` are None when unlimited.
        """
        f = self._files
        s = ContainerStats()
        if "cpuacct.usage" in f:
            s.cpu.total_ns = read_int(f["cpuacct.usage"])
            s.cpu.user_ns = read_int(f["cpuacct.usage_user"])
            s.cpu.system_ns = read_int(f["cpuacct.usage_sys"])
        if "cpu.stat" in f:
            st = read_keyed(f["cpu.stat"])
            s.cpu.periods = st.get("nr_periods")
            s.cpu.throttled_periods = st.get("nr_throttled")
            s.cpu.throttled_ns = st.get("throttled_time")
        if "memory.stat" in f:
            limit = read_int(f["memory.limit_in_bytes"])
            s.memory = MemoryStats(
                usage_bytes=read_int(f["memory.usage_in_bytes"]),
                max_usage_bytes=read_int(f["memory.max_usage_in_bytes"]),
                limit_bytes=None if limit is None or limit >= _UNLIMITED_FLOOR else limit,
                cache_bytes=read_keyed(f["memory.stat"]).get("cache"),
                failcnt=read_int(f["memory.failcnt"]),
                oom_kill=read_keyed(f["memory.oom_control"]).get("oom_kill"),
            )
        if "pids.current" in f:
            s.pids = PidsStats(current=read_int(f["pids.current"]), limit=read_int(f["pids.max"]))
        if "blkio.throttle.io_service_bytes_recursive" in f:
            s.io = _blkio(read_text(f["blkio.throttle.io_service_bytes_recursive"]),
                          read_text(f["blkio.throttle.io_serviced_recursive"]))
        hugetlb = self._dirs.get("hugetlb")
        if hugetlb:
            s.hugetlb = {size: HugetlbStats(
                usage_bytes=read_int(os.path.join(hugetlb, f"hugetlb.{size}.usage_in_bytes")),
                max_usage_bytes=read_int(os.path.join(hugetlb, f"hugetlb.{size}.max_usage_in_bytes")),
                failcnt=read_int(os.path.join(hugetlb, f"hugetlb.{size}.failcnt"))) for size in huge_page_sizes()}
        return s


def _blkio(service_bytes: str | None, serviced: str | None) -> list[IoDeviceStats] | None:
    """Parse blkio ``MAJ:MIN Read|Write|... N`` lines into one entry per device."""
    if service_bytes is None and serviced is None:
        return None
    devices: dict[tuple[int, int], IoDeviceStats] = {}
    for text, suffix in ((service_bytes, "bytes"), (serviced, "ops")):
        for line in (text or "").splitlines():
            parts = line.split()
            if len(parts) != 3 or parts[1] not in ("Read", "Write"):
                continue
            major, minor = (int(x) for x in parts[0].split(":"))
            entry = devices.setdefault((major, minor), IoDeviceStats(major, minor))
            setattr(entry, f"{parts[1].lower()}_{suffix}", int(parts[2]))
    return [devices[k] for k in sorted(devices)]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


__all__ = ["CgroupV1", "mounts", "CONTROLLERS", "CpuStats"]
