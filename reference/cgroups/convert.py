"""Value conversions between cgroup v1 and v2, as runc converts them.

Sources: runc ``libcontainer/cgroups/utils.go`` (ConvertCPUSharesToCgroupV2Value,
ConvertBlkIOToIOWeightValue, ConvertMemorySwapToCgroupV2Value) and the
kernel's cgroup-v2.rst (cpu.weight 1..10000, io.weight 1..10000,
memory.swap.max is swap alone, not memory plus swap).
"""

from __future__ import annotations

from libcontainer.spec import ConfigInvalid


def shares_to_weight(shares: int) -> int:
    """v1 ``cpu.shares`` (2..262144) to v2 ``cpu.weight`` (1..10000).

    runc's ConvertCPUSharesToCgroupV2Value: ``1 + ((shares - 2) * 9999) // 262142``
    (2 -> 1, 1024 -> 39, 262144 -> 10000).
    """
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight: int) -> int:
    """v2 ``cpu.weight`` (1..10000) to v1 ``cpu.shares``: the inverse of :func:`shares_to_weight`.

    ``2 + ceil((weight - 1) * 262142 / 9999)``, the smallest shares that
    :func:`shares_to_weight` maps back to ``weight`` (runc has no such
    function: it ignores a weight on v1; we honour it).
    """
    return 2 + -(-((weight - 1) * 262142) // 9999)


def blkio_to_io_weight(weight: int) -> int:
    """v1 ``blkio.weight`` (10..1000) to v2 ``io.weight`` (1..10000).

    runc's ConvertBlkIOToIOWeightValue: ``1 + (weight - 10) * 9999 // 990``.
    """
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(memory_swap: int | None, memory: int | None) -> int | None:
    """A v1-style memory+swap limit to v2 ``memory.swap.max`` (swap alone), -1 for ``max``.

    runc's ConvertMemorySwapToCgroupV2Value: None stays None (unset), -1
    stays -1; memory -1 with swap unset means swap -1; otherwise
    ``memory_swap - memory`` and ConfigInvalid when there is no memory limit
    or ``memory_swap < memory``.
    """
    if memory == -1 and memory_swap is None:
        return -1
    if memory_swap is None or memory_swap == -1:
        return memory_swap
    if memory is None or memory == -1:
        raise ConfigInvalid("resources.memory_swap: a swap limit needs a memory limit")
    if memory_swap < memory:
        raise ConfigInvalid("resources.memory_swap: must be at least resources.memory")
    return memory_swap - memory


def max_or(value: int | None) -> str | None:
    """-1 as the v2 keyword ``max``, None as None, else the number as text."""
    if value is None:
        return None
    return "max" if value == -1 else str(value)


def page_size_name(kb: int) -> str:
    """A huge page size in KiB as the cgroup files name it (``2048`` -> ``2MB``, ``1048576`` -> ``1GB``)."""
    for unit, size in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kb >= size and kb % size == 0:
            return f"{kb // size}{unit}"
    return f"{kb}KB"
