"""Statistics of a container (seed: ``ContainerStats``), one shape for cgroup v1 and v2.

A field the running kernel or cgroup version cannot give is None, never 0.
Sources: the kernel's cgroup-v1 (memory.rst, cpuacct.rst, pids.rst,
blkio-controller.rst, hugetlb.rst) and cgroup-v2.rst documents, and proc(5)
for ``/proc/<pid>/net/dev``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CpuStats:
    """CPU time in nanoseconds; throttling as counts and nanoseconds.

    ``total_ns``, ``user_ns``, ``system_ns``: CPU time of the container's
    processes. ``periods``: enforcement periods that elapsed with a quota,
    ``throttled_periods``: those in which the quota ran out,
    ``throttled_ns``: total time throttled.
    """

    total_ns: int | None = None
    user_ns: int | None = None
    system_ns: int | None = None
    throttled_periods: int | None = None
    throttled_ns: int | None = None
    periods: int | None = None


@dataclass
class MemoryStats:
    """Memory in bytes; ``failcnt``, ``oom_events`` and ``oom_kill`` are counts.

    ``limit_bytes`` is None when unlimited. ``max_usage_bytes``: the peak
    (v1 ``memory.max_usage_in_bytes``; v2 ``memory.peak``, kernel 5.19+).
    ``failcnt``: times usage hit the limit (v1 only). ``oom_events``: times
    the OOM killer was invoked for the cgroup (v2 ``memory.events`` oom; v1
    has no count: None). ``oom_kill``: processes the OOM killer killed in
    the cgroup.
    """

    usage_bytes: int | None = None
    max_usage_bytes: int | None = None
    limit_bytes: int | None = None
    cache_bytes: int | None = None
    failcnt: int | None = None
    oom_kill: int | None = None
    oom_events: int | None = None


@dataclass
class PidsStats:
    """Number of tasks now, and the limit (None: unlimited)."""

    current: int | None = None
    limit: int | None = None


@dataclass
class IoDeviceStats:
    """I/O of the container on one block device ``major``:``minor``: bytes and operations."""

    major: int
    minor: int
    read_bytes: int | None = None
    write_bytes: int | None = None
    read_ops: int | None = None
    write_ops: int | None = None


@dataclass
class HugetlbStats:
    """Huge pages of one size: usage and peak in bytes, ``failcnt`` allocations that hit the limit.

    cgroup v2 has no peak: ``max_usage_bytes`` is None there.
    """

    usage_bytes: int | None = None
    max_usage_bytes: int | None = None
    failcnt: int | None = None


@dataclass
class NetworkInterfaceStats:
    """Counters of one interface in the container's network namespace (bytes, packets)."""

    name: str
    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errors: int = 0
    rx_dropped: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    tx_dropped: int = 0


@dataclass
class ContainerStats:
    """What :meth:`Container.stats` returns.

    ``io``: one entry per block device the cgroup did I/O on (None: no I/O
    accounting). ``hugetlb``: page size (``2MB``) to stats (None: no hugetlb
    controller). ``network``: the interfaces of the container's network
    namespace (None once init has exited: the namespace is gone).
    """

    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids: PidsStats = field(default_factory=PidsStats)
    io: list[IoDeviceStats] | None = None
    hugetlb: dict[str, HugetlbStats] | None = None
    network: list[NetworkInterfaceStats] | None = None
