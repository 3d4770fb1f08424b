"""cgroup v2 driver: the unified hierarchy (Documentation/admin-guide/cgroup-v2.rst).

Controllers are enabled for the container through every ancestor's
``cgroup.subtree_control``. Pause uses ``cgroup.freeze`` and reads
``cgroup.events`` (``frozen 1``); destroy kills through ``cgroup.kill``
(kernel 5.14+) when present.
"""

from __future__ import annotations

import os

from libcontainer.spec import (ContainerStats, HugetlbStats, IoDeviceStats, MemoryStats, NotSupported, PidsStats,
                               Resources)

from . import devicefilter
from .convert import blkio_to_io_weight, max_or, shares_to_weight, swap_to_v2
from .driver import (FREEZING, FROZEN, THAWED, CgroupDriver, huge_page_sizes, read_int, read_keyed, read_text,
                     retry_vanishing, write, write_needed)

WANTED = ("cpu", "cpuset", "io", "memory", "pids", "hugetlb")

_IO_KEYS = {"rbytes": "read_bytes", "wbytes": "write_bytes", "rios": "read_ops", "wios": "write_ops"}
_IO_MAX_KEYS = {"blkio_throttle_read_bps_device": "rbps", "blkio_throttle_write_bps_device": "wbps",
                "blkio_throttle_read_iops_device": "riops", "blkio_throttle_write_iops_device": "wiops"}


def mount_point(mounts_file: str = "/proc/self/mounts") -> str | None:
    """Where cgroup2 is mounted (``/sys/fs/cgroup`` on a pure v2 host), or None."""
    with open(mounts_file) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "cgroup2":
                return fields[1]
    return None


class CgroupV2(CgroupDriver):
    """The container's cgroup ``<root>/<parent>/<name>`` in the unified hierarchy.

    Resources, converted as runc converts them (see :mod:`.convert`):
    memory -> ``memory.max``, reservation -> ``memory.low``, swap ->
    ``memory.swap.max`` (memory_swap minus memory); cpu weight (or shares
    converted by ``1 + ((shares - 2) * 9999) // 262142``) -> ``cpu.weight``,
    quota/period -> ``cpu.max`` (``$MAX $PERIOD``); cpuset ->
    ``cpuset.cpus``/``cpuset.mems``; ``pids.max``; blkio weight ->
    ``io.bfq.weight`` (raw) or ``io.weight`` (``1 + (w - 10) * 9999 // 990``);
    throttles -> ``io.max`` (``MAJ:MIN rbps= wbps= riops= wiops=``); hugetlb
    -> ``hugetlb.<size>.max``.

    Device rules: v2 has no devices files; the rules become an eBPF program
    (BPF_PROG_TYPE_CGROUP_DEVICE, see :mod:`.devicefilter`) attached to the
    cgroup with BPF_F_ALLOW_MULTI, with v1 semantics (last matching rule
    wins, allow needs all requested access, deny matches any of it, no match
    allows). Programs attached to ancestors still apply. Loading needs
    CAP_BPF or CAP_SYS_ADMIN; without it create raises NotSupported. A limit
    whose controller is not enabled for the cgroup raises NotSupported.

    ``controllers``: those enabled in the ancestors' ``cgroup.subtree_control``
    when available (default :data:`WANTED`).
    """

    version = 2

    def __init__(self, parent: str, name: str, root: str | None = None, controllers: tuple[str, ...] = WANTED):
        super().__init__(parent, name)
        self.root = root or mount_point() or "/sys/fs/cgroup"
        self.dir = os.path.join(self.root, self.parent, name)
        self.controllers = tuple(controllers)

    def paths(self) -> list[str]:
        return [self.dir]

    def create(self, resources: Resources) -> None:
        try:
            retry_vanishing(self._make)
            self._apply(resources)
            if resources.devices:
                try:
                    devicefilter.attach(self.dir, resources.devices)
                except PermissionError as e:
                    raise NotSupported(f"resources.devices: cgroup v2 device rules need an eBPF program, "
                                       f"and this process may not load one: {e}") from e
        except BaseException:
            self.destroy()
            raise

    def _make(self) -> None:
        cur = self.root
        parts = [*self.parent.split("/"), self.name]
        for i, part in enumerate(parts):
            self._enable(cur)
            cur = os.path.join(cur, part)
            self._mkdir(cur, own=i == len(parts) - 1)

    def _enable(self, path: str) -> None:
        available = (read_text(os.path.join(path, "cgroup.controllers")) or "").split()
        enabled = (read_text(os.path.join(path, "cgroup.subtree_control")) or "").split()
        want = [c for c in self.controllers if c in available and c not in enabled]
        if want:
            try:
                write(os.path.join(path, "cgroup.subtree_control"), " ".join("+" + c for c in want))
            except OSError:
                pass  # e.g. a parent with processes of its own: a limit needing it raises NotSupported

    def _file(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _put(self, name: str, value, what: str) -> None:
        if value is not None:
            write_needed(self._file(name), value, what)

    def _apply(self, r: Resources) -> None:
        self._put("memory.max", max_or(r.memory), "resources.memory")
        self._put("memory.low", max_or(r.memory_reservation), "resources.memory_reservation")
        swap = swap_to_v2(r.memory_swap, r.memory)
        if swap == -1 and not os.path.exists(self._file("memory.swap.max")):
            swap = None  # unlimited swap on a kernel without swap accounting: nothing to do
        self._put("memory.swap.max", max_or(swap), "resources.memory_swap")
        weight = r.cpu_weight if r.cpu_weight is not None else (
            None if r.cpu_shares is None else shares_to_weight(r.cpu_shares))
        self._put("cpu.weight", weight, "resources.cpu_shares")
        if r.cpu_quota is not None or r.cpu_period is not None:
            # runc: "$MAX" alone keeps the period; "max $PERIOD" when only the period is given
            text = "max" if r.cpu_quota in (None, -1) else str(r.cpu_quota)
            if r.cpu_period is not None:
                text += f" {r.cpu_period}"
            self._put("cpu.max", text, "resources.cpu_quota")
        self._put("cpuset.cpus", r.cpuset_cpus, "resources.cpuset_cpus")
        self._put("cpuset.mems", r.cpuset_mems, "resources.cpuset_mems")
        self._put("pids.max", max_or(r.pids_limit), "resources.pids_limit")
        if r.blkio_weight is not None:
            if os.path.exists(self._file("io.bfq.weight")):
                write(self._file("io.bfq.weight"), r.blkio_weight)
            else:
                self._put("io.weight", f"default {blkio_to_io_weight(r.blkio_weight)}", "resources.blkio_weight")
        for field_name, key in _IO_MAX_KEYS.items():
            for t in getattr(r, field_name):
                self._put("io.max", f"{t.major}:{t.minor} {key}={t.rate}", f"resources.{field_name}")
        for h in r.hugetlb_limits:
            self._put(f"hugetlb.{h.page_size}.max", h.limit, f"resources.hugetlb_limits {h.page_size}")

    # -- freezer --------------------------------------------------------
    def freezer_state(self) -> str:
        wanted = read_text(self._file("cgroup.freeze"))
        if wanted is None:
            return THAWED
        if read_keyed(self._file("cgroup.events")).get("frozen") == 1:
            return FROZEN
        return FREEZING if wanted.strip() == "1" else THAWED

    def _write_freeze(self, frozen: bool) -> None:
        write(self._file("cgroup.freeze"), "1" if frozen else "0")

    def _thaw_dir(self, path: str) -> None:
        write(os.path.join(path, "cgroup.freeze"), "0")

    def kill(self) -> bool:
        path = self._file("cgroup.kill")
        if not os.path.exists(path):
            return False
        write(path, "1")
        return True

    # -- stats ----------------------------------------------------------
    def stats(self) -> ContainerStats:
        """cpu.stat (usec converted to ns), memory.*, pids.*, io.stat, hugetlb.<size>.*.

        None where a controller is not enabled for the cgroup, and for what
        v2 does not count (memory failcnt, hugetlb peak); ``memory.peak``
        needs kernel 5.19.
        """
        s = ContainerStats()
        cpu = read_keyed(self._file("cpu.stat"))
        if "usage_usec" in cpu:
            s.cpu.total_ns = cpu["usage_usec"] * 1000
            s.cpu.user_ns = _ns(cpu.get("user_usec"))
            s.cpu.system_ns = _ns(cpu.get("system_usec"))
        if "nr_throttled" in cpu:
            s.cpu.periods = cpu.get("nr_periods")
            s.cpu.throttled_periods = cpu["nr_throttled"]
            s.cpu.throttled_ns = _ns(cpu.get("throttled_usec"))
        usage = read_int(self._file("memory.current"))
        if usage is not None:
            events = read_keyed(self._file("memory.events"))
            s.memory = MemoryStats(
                usage_bytes=usage,
                max_usage_bytes=read_int(self._file("memory.peak")),
                limit_bytes=read_int(self._file("memory.max")),
                cache_bytes=read_keyed(self._file("memory.stat")).get("file"),
                failcnt=None,
                oom_kill=events.get("oom_kill"),
                oom_events=events.get("oom"),
            )
        current = read_int(self._file("pids.current"))
        if current is not None:
            s.pids = PidsStats(current=current, limit=read_int(self._file("pids.max")))
        s.io = _io_stat(read_text(self._file("io.stat")))
        sizes = huge_page_sizes()
        if sizes and os.path.exists(self._file(f"hugetlb.{sizes[0]}.current")):
            s.hugetlb = {size: HugetlbStats(
                usage_bytes=read_int(self._file(f"hugetlb.{size}.current")),
                max_usage_bytes=None,
                failcnt=read_keyed(self._file(f"hugetlb.{size}.events")).get("max")) for size in sizes}
        return s


def _ns(usec: int | None) -> int | None:
    return None if usec is None else usec * 1000


def _io_stat(text: str | None) -> list[IoDeviceStats] | None:
    """Parse io.stat lines ``MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...``."""
    if text is None:
        return None
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        entry = IoDeviceStats(major, minor, 0, 0, 0, 0)
        for kv in parts[1:]:
            key, _, value = kv.partition("=")
            if key in _IO_KEYS:
                setattr(entry, _IO_KEYS[key], int(value))
        out.append(entry)
    return sorted(out, key=lambda e: (e.major, e.minor))
