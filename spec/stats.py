"""Statistics of a container (seed: ``ContainerStats``), one shape for cgroup v1 and v2.

A field the running kernel or cgroup version cannot give is None, never 0.
Sources: the kernel's cgroup-v1 (memory.txt, cpuacct.txt, pids.txt) and
cgroup-v2.rst documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CpuStats:
    """CPU time in nanoseconds; throttling as counts and nanoseconds."""

    total_ns: int | None = None
    user_ns: int | None = None
    system_ns: int | None = None
    throttled_periods: int | None = None
    throttled_ns: int | None = None


@dataclass
class MemoryStats:
    """Memory in bytes; ``failcnt`` (v1) and ``oom_kill`` are counts."""

    usage_bytes: int | None = None
    max_usage_bytes: int | None = None
    limit_bytes: int | None = None
    cache_bytes: int | None = None
    failcnt: int | None = None
    oom_kill: int | None = None


@dataclass
class PidsStats:
    """Number of tasks now, and the limit (None: unlimited)."""

    current: int | None = None
    limit: int | None = None


@dataclass
class ContainerStats:
    """What :meth:`Container.stats` returns."""

    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids: PidsStats = field(default_factory=PidsStats)
