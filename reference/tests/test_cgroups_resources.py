"""Each resource is written to the cgroup, read back from its file, and observed inside the container.

Runs on whichever cgroup version the host has (v1 here, v2 in the VM matrix);
a resource the host lacks is checked to raise NotSupported instead.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from libcontainer.reference.cgroups import convert
from libcontainer.spec import DeviceRule, HugepageLimit, NotSupported, Process, Resources, ThrottleDevice
from libcontainer.spec.tests.helpers import exec_probe, read_all

from . import cgroup_files as cg

MiB = 1024 * 1024


def make(factory, config, resources: Resources, args=None, cid="res"):
    process = config.process if args is None else dataclasses.replace(config.process, args=args)
    return factory.create(cid, dataclasses.replace(config, resources=resources, process=process))


def test_memory_limit_and_reservation_read_back(factory, config):
    c = make(factory, config, Resources(memory=64 * MiB, memory_reservation=32 * MiB))
    try:
        assert int(cg.read(c, ("memory", "memory.limit_in_bytes"), "memory.max")) == 64 * MiB
        assert int(cg.read(c, ("memory", "memory.soft_limit_in_bytes"), "memory.low")) == 32 * MiB
        assert c.stats().memory.limit_bytes == 64 * MiB
    finally:
        c.destroy()


def test_memory_swap_read_back_or_refused_without_swap_accounting(factory, config):
    try:
        c = make(factory, config, Resources(memory=64 * MiB, memory_swap=96 * MiB))
    except NotSupported as e:
        assert "memory_swap" in str(e)
        pytest.skip(f"no swap accounting on this kernel: {e}")
    try:
        # v1 keeps memory+swap, v2 swap alone (runc's conversion)
        want = 96 * MiB if cg.version(c) == 1 else 32 * MiB
        assert int(cg.read(c, ("memory", "memory.memsw.limit_in_bytes"), "memory.swap.max")) == want
    finally:
        c.destroy()


def _no_swap_limit(memory: int) -> Resources:
    """A memory limit that cannot be dodged by swapping: memory+swap = memory when the host has swap."""
    with open("/proc/swaps") as f:
        has_swap = len(f.read().splitlines()) > 1
    return Resources(memory=memory, memory_swap=memory if has_swap else None)


def test_memory_limit_kills_with_oom_and_stats_show_it(factory, config):
    # dd's 64 MiB buffer is faulted in by read(2) from /dev/zero: over the 16 MiB limit
    c = make(factory, config, _no_swap_limit(16 * MiB),
             args=["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
    try:
        assert c.wait() == 137
        stats = c.stats()
        assert stats.memory.oom_kill is not None and stats.memory.oom_kill >= 1
        assert stats.memory.limit_bytes == 16 * MiB
        if stats.memory.max_usage_bytes is not None:  # v2 memory.peak needs kernel 5.19
            assert stats.memory.max_usage_bytes >= 15 * MiB  # the peak reached the limit
        if cg.version(c) == 2:
            assert stats.memory.oom_events >= 1
        else:
            assert stats.memory.oom_events is None  # v1 counts no OOM events
    finally:
        c.destroy()


def test_cpu_shares_read_back_and_converted_on_v2(factory, config):
    c = make(factory, config, Resources(cpu_shares=512))
    try:
        got = int(cg.read(c, ("cpu", "cpu.shares"), "cpu.weight"))
        assert got == (512 if cg.version(c) == 1 else convert.shares_to_weight(512))
    finally:
        c.destroy()


def test_cpu_quota_throttles_a_busy_loop(factory, config):
    # 1 ms per 50 ms period (2% of a CPU): exceeded every period even on a busy shared host
    c = make(factory, config, Resources(cpu_quota=1000, cpu_period=50000),
             args=["sh", "-c", "while :; do :; done"])
    try:
        if cg.version(c) == 1:
            assert cg.read(c, ("cpu", "cpu.cfs_quota_us"), None) == "1000"
            assert cg.read(c, ("cpu", "cpu.cfs_period_us"), None) == "50000"
        else:
            assert cg.read(c, None, "cpu.max") == "1000 50000"
        before, t0 = c.stats().cpu.total_ns, time.monotonic()
        time.sleep(0.6)
        # at least 0.6 s, and until the kernel shows 3 throttled periods (observed, not assumed to fit in 0.6 s)
        while c.stats().cpu.throttled_periods < 3 and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        after, wall = c.stats(), time.monotonic() - t0
        used = (after.cpu.total_ns - before) / 1e9
        assert used < 0.02 * wall + 0.03, f"{used:.3f}s of CPU in {wall:.3f}s"
        assert after.cpu.throttled_periods >= 3  # the kernel's own evidence of throttling
        assert after.cpu.throttled_ns > 0
        assert after.cpu.periods >= after.cpu.throttled_periods
    finally:
        c.destroy()


def test_cpuset_read_back_and_seen_by_the_container(factory, config):
    c = make(factory, config, Resources(cpuset_cpus="0", cpuset_mems="0"))
    try:
        assert cg.read(c, ("cpuset", "cpuset.cpus"), "cpuset.cpus") == "0"
        assert cg.read(c, ("cpuset", "cpuset.mems"), "cpuset.mems") == "0"
        _, out, status = exec_probe(c, "grep Cpus_allowed_list /proc/self/status")
        assert status == 0 and out.split() == ["Cpus_allowed_list:", "0"]
    finally:
        c.destroy()


@pytest.mark.parametrize("limit,text", [(2, "2"), (0, "0"), (-1, "max")])
def test_pids_limit_read_back_and_stops_a_fork(factory, config, limit, text):
    c = make(factory, config, Resources(pids_limit=limit))
    try:
        assert cg.read(c, ("pids", "pids.max"), "pids.max") == text
        # init plus this sh make 2 tasks: the fork of a third fails unless unlimited
        _, out, status = exec_probe(c, "sleep 0 & wait $! 2>&1 && echo forked; true")
        if limit == -1:
            assert "forked" in out
            assert c.stats().pids.limit is None
        else:
            assert "forked" not in out
            assert c.stats().pids.limit == limit
    finally:
        c.destroy()


def test_pids_limit_none_leaves_the_kernel_default(factory, config):
    c = make(factory, config, Resources())
    try:
        assert cg.read(c, ("pids", "pids.max"), "pids.max") == "max"
    finally:
        c.destroy()


def _root_disk(rootfs: str) -> tuple[int, int]:
    st = os.stat(rootfs)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    if not os.path.exists(f"/sys/dev/block/{major}:{minor}/queue"):
        pytest.skip(f"{rootfs} is not on a whole block device ({major}:{minor}): blk-throttle needs one")
    return major, minor


def test_io_throttle_read_back_slows_direct_writes_and_stats_count_them(factory, config, rootfs):
    major, minor = _root_disk(rootfs)
    rate = 2 * MiB
    c = make(factory, config, Resources(blkio_throttle_write_bps_device=[ThrottleDevice(major, minor, rate)],
                                        blkio_throttle_read_iops_device=[ThrottleDevice(major, minor, 1000)]))
    name = f"/io-test-{os.getpid()}"
    try:
        if cg.version(c) == 1:
            assert cg.read(c, ("blkio", "blkio.throttle.write_bps_device"), None) == f"{major}:{minor} {rate}"
            assert cg.read(c, ("blkio", "blkio.throttle.read_iops_device"), None) == f"{major}:{minor} 1000"
        else:
            line = cg.read(c, None, "io.max")
            assert f"{major}:{minor} " in line and f"wbps={rate}" in line and "riops=1000" in line
        t0 = time.monotonic()
        _, out, status = exec_probe(c, f"dd if=/dev/zero of={name} bs=512k count=8 oflag=direct 2>&1")
        took = time.monotonic() - t0
        assert status == 0, out
        # 4 MiB at 2 MiB/s: about 2 s (the first slice may pass at once); unthrottled it is milliseconds
        assert took > 1.0, f"4 MiB of direct writes took {took:.2f}s"
        io = {(d.major, d.minor): d for d in c.stats().io}
        assert io[(major, minor)].write_bytes >= 4 * MiB
        assert io[(major, minor)].write_ops >= 8
    finally:
        c.destroy()
        os.unlink(os.path.join(rootfs, name.lstrip("/")))


def test_blkio_weight_written_or_refused_clearly(factory, config):
    try:
        c = make(factory, config, Resources(blkio_weight=500))
    except NotSupported as e:
        assert "blkio_weight" in str(e)
        return
    try:
        if cg.version(c) == 1:
            p = cg.path(c, ("blkio", "blkio.weight"), None)
            p = p if os.path.exists(p) else cg.path(c, ("blkio", "blkio.bfq.weight"), None)
            assert open(p).read().split()[-1] == "500"
        else:
            bfq = cg.path(c, None, "io.bfq.weight")
            if os.path.exists(bfq):
                assert "500" in open(bfq).read()
            else:
                assert cg.read(c, None, "io.weight").splitlines()[0] == f"default {convert.blkio_to_io_weight(500)}"
    finally:
        c.destroy()


# deny everything, allow mknod (rootfs makes /dev nodes) and the standard devices, but only mknod /dev/full
DEVICE_RULES = [DeviceRule(False, "a"), DeviceRule(True, "c", -1, -1, "m"), DeviceRule(True, "b", -1, -1, "m"),
                *(DeviceRule(True, "c", 1, minor, "rwm") for minor in (3, 5, 8, 9)),
                DeviceRule(True, "c", 5, 0, "rwm"), DeviceRule(True, "c", 5, 2, "rwm"),
                DeviceRule(True, "c", 136, -1, "rwm")]


def test_device_rules_written_and_enforced(factory, config):
    c = make(factory, config, Resources(devices=DEVICE_RULES))
    try:
        if cg.version(c) == 1:
            rules = cg.read(c, ("devices", "devices.list"), None).splitlines()
            assert "c 1:5 rwm" in rules and "c *:* m" in rules
            assert not any(r.startswith("c 1:7 ") or r.startswith("a ") for r in rules)
        # v2 has no file to read back (the rules are an eBPF program): only the effect is checked
        _, out, _ = exec_probe(c, "exec 2>&1; head -c 4 /dev/zero | wc -c; echo x > /dev/full; echo x > /dev/null && echo ok")
        assert out.split()[0] == "4"
        assert "Operation not permitted" in out   # not ENOSPC: the device cgroup refused the open
        assert out.rstrip().endswith("ok")
    finally:
        c.destroy()


def test_hugetlb_limit_written_or_refused_clearly(factory, config):
    try:
        c = make(factory, config, Resources(hugetlb_limits=[HugepageLimit("2MB", 4 * MiB)]))
    except NotSupported as e:
        assert "hugetlb" in str(e)
        return
    try:
        got = cg.read(c, ("hugetlb", "hugetlb.2MB.limit_in_bytes"), "hugetlb.2MB.max")
        assert int(got) == 4 * MiB
        assert "2MB" in c.stats().hugetlb
    finally:
        c.destroy()


def test_stats_network_counts_loopback_traffic_in_the_container(factory, config):
    c = factory.create("net", config)
    try:
        _, out, status = exec_probe(c, "ip link set lo up && ping -c 3 -i 0.2 127.0.0.1 >/dev/null; echo $?")
        if out.strip() != "0":
            pytest.skip(f"busybox ip/ping cannot bring up and ping loopback here: {out!r}")
        lo = {i.name: i for i in c.stats().network}["lo"]
        assert lo.rx_packets >= 3 and lo.tx_packets >= 3 and lo.rx_bytes > 0
        host_lo = open("/proc/net/dev").read()
        assert "lo:" in host_lo  # the host's counters are another namespace's
    finally:
        c.destroy()


def test_stats_after_init_exits_keep_cgroup_values_and_drop_network(factory, config):
    r, w = os.pipe()
    proc = Process(args=["true"], stdout=w)
    try:
        c = factory.create("gone", dataclasses.replace(config, process=proc))
    finally:
        os.close(w)
    read_all(r)
    os.close(r)
    try:
        assert c.wait() == 0
        s = c.stats()
        assert s.network is None
        assert s.cpu.total_ns is None or s.cpu.total_ns > 0
    finally:
        c.destroy()
