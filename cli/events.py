"""``lcrun events``: the reference's ContainerStats in runc's layout (runc 1.1 ``events --stats``,
its ``types.Stats`` JSON: what containerd's shim, podman and the suite's adapter parse).

runc's names: ``cpu.usage`` {total, kernel, user} and ``cpu.throttling`` {periods,
throttledPeriods, throttledTime} (ns); ``memory.usage`` {usage, max, limit, failcnt} (bytes),
``memory.cache``; ``pids`` {current, limit}; ``blkio.ioServiceBytesRecursive`` and
``ioServicedRecursive`` entries {major, minor, op: Read|Write, value}; ``hugetlb`` {size: {usage,
max, failcnt}}; ``network_interfaces`` [{name, rx_bytes, rx_packets, rx_errors, rx_dropped,
tx_...}]. One difference, on purpose: runc omits a zero (Go's ``omitempty``) and prints an
unlimited memory limit as a page-rounded 2^63; here a value is omitted only when the reference
does not know it (None: SPEC.md "a field the kernel cannot give is None, never 0"), so a reader
of runc's layout tells 0 from unknown.
"""

from __future__ import annotations

import dataclasses
import json
import time

from libcontainer.spec import ContainerDestroyed, ContainerStats


def _known(**fields) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _blkio(stats: ContainerStats) -> dict:
    if stats.io is None:
        return {}
    service_bytes, serviced = [], []
    for dev in stats.io:
        for op, nbytes, ops in (("Read", dev.read_bytes, dev.read_ops), ("Write", dev.write_bytes, dev.write_ops)):
            if nbytes is not None:
                service_bytes.append({"major": dev.major, "minor": dev.minor, "op": op, "value": nbytes})
            if ops is not None:
                serviced.append({"major": dev.major, "minor": dev.minor, "op": op, "value": ops})
    return {"ioServiceBytesRecursive": service_bytes, "ioServicedRecursive": serviced}


def runc_stats(stats: ContainerStats) -> dict:
    """``stats`` as runc's ``types.Stats`` (see the module doc)."""
    cpu, mem, pids = stats.cpu, stats.memory, stats.pids
    return {
        "cpu": {"usage": _known(total=cpu.total_ns, kernel=cpu.system_ns, user=cpu.user_ns),
                "throttling": _known(periods=cpu.periods, throttledPeriods=cpu.throttled_periods,
                                     throttledTime=cpu.throttled_ns)},
        "memory": _known(usage=_known(usage=mem.usage_bytes, max=mem.max_usage_bytes, limit=mem.limit_bytes,
                                      failcnt=mem.failcnt), cache=mem.cache_bytes),
        "pids": _known(current=pids.current, limit=pids.limit),
        "blkio": _blkio(stats),
        "hugetlb": {size: _known(usage=h.usage_bytes, max=h.max_usage_bytes, failcnt=h.failcnt)
                    for size, h in (stats.hugetlb or {}).items()},
        "intel_rdt": {},
        "network_interfaces": None if stats.network is None else [dataclasses.asdict(n) for n in stats.network],
    }


def stats_event(container_id: str, container) -> dict:
    return {"type": "stats", "id": container_id, "data": runc_stats(container.stats())}


def cmd_events(store, args) -> int:
    """``--stats``: one stats event and exit; else one every ``--interval`` seconds until the
    container is gone (runc also reports OOM events, which the reference does not)."""
    container = store.load(args.id)
    if args.stats:
        print(json.dumps(stats_event(args.id, container)))
        return 0
    interval = float(args.interval.rstrip("s"))
    while True:
        try:
            print(json.dumps(stats_event(args.id, container)), flush=True)
        except ContainerDestroyed:
            return 0
        time.sleep(interval)
