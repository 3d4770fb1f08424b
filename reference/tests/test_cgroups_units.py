"""Unit tests of the cgroup drivers that need no cgroup: conversions, file formats, write order, parsers."""

from __future__ import annotations

import pytest

from libcontainer.reference import netdev
import struct

from libcontainer.reference.cgroups import convert, devicefilter, driver as drv_mod, v1, v2
from libcontainer.spec import (Config, ConfigInvalid, DeviceRule, HugepageLimit, NotSupported, Process, Resources,
                               ThrottleDevice)
from libcontainer.spec.config import validate_resources

MiB = 1 << 20


def test_runc_conversions():
    assert [convert.shares_to_weight(s) for s in (2, 1024, 262144)] == [1, 39, 10000]
    assert [convert.weight_to_shares(w) for w in (1, 10000)] == [2, 262144]
    assert convert.shares_to_weight(convert.weight_to_shares(100)) == 100
    assert [convert.blkio_to_io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]
    assert convert.swap_to_v2(96 * MiB, 64 * MiB) == 32 * MiB
    assert convert.swap_to_v2(-1, 64 * MiB) == -1
    assert convert.swap_to_v2(None, -1) == -1
    assert convert.swap_to_v2(None, 64 * MiB) is None
    with pytest.raises(ConfigInvalid):
        convert.swap_to_v2(64 * MiB, None)
    with pytest.raises(ConfigInvalid):
        convert.swap_to_v2(32 * MiB, 64 * MiB)
    assert [convert.page_size_name(kb) for kb in (64, 2048, 1048576)] == ["64KB", "2MB", "1GB"]


@pytest.fixture
def writes(monkeypatch):
    """Record every cgroup file write (name, value) and still write the (fake) file."""
    log: list[tuple[str, str]] = []
    real = drv_mod.write

    def record(path, value):
        log.append((path.rsplit("/", 1)[-1], str(value)))
        real(path, value)
    for mod in (drv_mod, v1, v2):
        monkeypatch.setattr(mod, "write", record)
    return log


def _fake_dir(path, names):
    path.mkdir(parents=True, exist_ok=True)
    for n in names:
        (path / n).write_text("max\n" if n.endswith(".max") else "0\n")
    return str(path)


V2_FILES = ["memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
            "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "cgroup.freeze", "cgroup.events"]


def _v2(tmp_path, files=V2_FILES):
    d = v2.CgroupV2("libcontainer", "c", root=str(tmp_path))
    _fake_dir(tmp_path / "libcontainer" / "c", files)
    return d


def test_v2_writes_converted_values(tmp_path, writes):
    d = _v2(tmp_path)
    d._apply(Resources(memory=64 * MiB, memory_reservation=32 * MiB, memory_swap=96 * MiB, cpu_shares=1024,
                       cpu_quota=20000, cpu_period=100000, cpuset_cpus="0-1", pids_limit=-1, blkio_weight=500,
                       blkio_throttle_read_bps_device=[ThrottleDevice(8, 0, 1000)],
                       blkio_throttle_write_iops_device=[ThrottleDevice(8, 16, 50)],
                       hugetlb_limits=[HugepageLimit("2MB", 4 * MiB)]))
    assert writes == [("memory.max", str(64 * MiB)), ("memory.low", str(32 * MiB)),
                      ("memory.swap.max", str(32 * MiB)), ("cpu.weight", "39"), ("cpu.max", "20000 100000"),
                      ("cpuset.cpus", "0-1"), ("pids.max", "max"), ("io.weight", "default 4950"),
                      ("io.max", "8:0 rbps=1000"), ("io.max", "8:16 wiops=50"), ("hugetlb.2MB.max", str(4 * MiB))]


def test_v2_cpu_max_keeps_the_other_half_as_runc(tmp_path, writes):
    _v2(tmp_path)._apply(Resources(cpu_quota=5000))
    _v2(tmp_path)._apply(Resources(cpu_period=20000))
    _v2(tmp_path)._apply(Resources(cpu_weight=300, cpu_shares=1024))
    assert writes == [("cpu.max", "5000"), ("cpu.max", "max 20000"), ("cpu.weight", "300")]


def test_v2_pids_zero_is_literal_and_none_untouched(tmp_path, writes):
    _v2(tmp_path)._apply(Resources(pids_limit=0))
    _v2(tmp_path)._apply(Resources())
    assert writes == [("pids.max", "0")]


def test_v2_missing_file_is_not_supported(tmp_path, writes):
    d = _v2(tmp_path, files=["memory.max"])
    with pytest.raises(NotSupported, match="resources.pids_limit"):
        d._apply(Resources(pids_limit=5))
    d._apply(Resources(memory=-1))  # unlimited swap without swap accounting: nothing to write
    assert writes == [("memory.max", "max")]


V1_FILES = {
    "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"],
    "cpu": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
    "pids": ["pids.max"], "devices": ["devices.allow", "devices.deny"],
    "blkio": ["blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"],
    "hugetlb": ["hugetlb.2MB.limit_in_bytes"], "freezer": ["freezer.state"],
}


def _v1(tmp_path, memory_limit=9223372036854771712, without=()):
    hierarchies = {c: str(tmp_path / c) for c in V1_FILES if c not in without}
    d = v1.CgroupV1("libcontainer", "c", hierarchies)
    for c in hierarchies:
        _fake_dir(tmp_path / c / "libcontainer" / "c", V1_FILES[c])
    if "memory" in hierarchies:
        (tmp_path / "memory/libcontainer/c/memory.limit_in_bytes").write_text(f"{memory_limit}\n")
    return d


def test_v1_raises_memsw_before_a_larger_limit_and_after_a_smaller_one(tmp_path, writes):
    _v1(tmp_path)._apply(Resources(memory=64 * MiB, memory_swap=96 * MiB))
    assert writes == [("memory.limit_in_bytes", str(64 * MiB)), ("memory.memsw.limit_in_bytes", str(96 * MiB))]
    writes.clear()
    _v1(tmp_path, memory_limit=32 * MiB)._apply(Resources(memory=64 * MiB, memory_swap=96 * MiB))
    assert writes == [("memory.memsw.limit_in_bytes", str(96 * MiB)), ("memory.limit_in_bytes", str(64 * MiB))]
    writes.clear()
    _v1(tmp_path)._apply(Resources(memory=-1))
    assert writes == [("memory.memsw.limit_in_bytes", "-1"), ("memory.limit_in_bytes", "-1")]


def test_v1_writes_each_resource(tmp_path, writes):
    _v1(tmp_path)._apply(Resources(cpu_weight=39, cpu_quota=10000, cpu_period=50000, pids_limit=0,
                                   blkio_throttle_read_bps_device=[ThrottleDevice(8, 0, 1 << 20)],
                                   blkio_throttle_write_iops_device=[ThrottleDevice(8, 0, 10)],
                                   devices=[DeviceRule(False, "a"), DeviceRule(True, "c", 1, 3, "rw"),
                                            DeviceRule(True, "b", -1, -1, "m"), DeviceRule(False, "c", 136, -1, "w")],
                                   hugetlb_limits=[HugepageLimit("2MB", 2 * MiB)]))
    assert writes == [("cpu.shares", str(convert.weight_to_shares(39))), ("cpu.cfs_period_us", "50000"),
                      ("cpu.cfs_quota_us", "10000"), ("pids.max", "0"),
                      ("blkio.throttle.read_bps_device", "8:0 1048576"), ("blkio.throttle.write_iops_device", "8:0 10"),
                      ("devices.deny", "a"), ("devices.allow", "c 1:3 rw"), ("devices.allow", "b *:* m"),
                      ("devices.deny", "c 136:* w"), ("hugetlb.2MB.limit_in_bytes", str(2 * MiB))]


def test_v1_missing_controller_or_file_is_not_supported(tmp_path, writes):
    with pytest.raises(NotSupported, match="hugetlb"):
        _v1(tmp_path, without=("hugetlb",))._apply(Resources(hugetlb_limits=[HugepageLimit("2MB", 2 * MiB)]))
    with pytest.raises(NotSupported, match="blkio_weight"):
        _v1(tmp_path)._apply(Resources(blkio_weight=100))
    d = _v1(tmp_path)
    (tmp_path / "memory/libcontainer/c/memory.memsw.limit_in_bytes").unlink()
    with pytest.raises(NotSupported, match="swap accounting"):
        d._apply(Resources(memory=64 * MiB, memory_swap=128 * MiB))
    assert writes == []


def test_v1_stats_parse_fake_files(tmp_path):
    d = _v1(tmp_path)
    root = tmp_path
    acct = _fake_dir(root / "cpuacct/libcontainer/c", [])
    d._dirs["cpuacct"] = acct
    for name, text in {"cpuacct.usage": "3000", "cpuacct.usage_user": "2000", "cpuacct.usage_sys": "1000"}.items():
        (root / "cpuacct/libcontainer/c" / name).write_text(text + "\n")
    (root / "cpu/libcontainer/c/cpu.stat").write_text("nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n")
    mem = root / "memory/libcontainer/c"
    for name, text in {"memory.usage_in_bytes": "4096", "memory.max_usage_in_bytes": "8192",
                       "memory.failcnt": "2", "memory.stat": "cache 1024\nrss 2048\n",
                       "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"}.items():
        (mem / name).write_text(text)
    (root / "pids/libcontainer/c/pids.current").write_text("3\n")
    blk = root / "blkio/libcontainer/c"
    (blk / "blkio.throttle.io_service_bytes_recursive").write_text(
        "8:0 Read 100\n8:0 Write 200\n8:0 Sync 0\n8:0 Total 300\n253:1 Read 5\n253:1 Write 0\nTotal 305\n")
    (blk / "blkio.throttle.io_serviced_recursive").write_text("8:0 Read 1\n8:0 Write 2\n253:1 Read 1\n")
    d._files = d._stat_files()
    s = d.stats()
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.system_ns) == (3000, 2000, 1000)
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_ns) == (10, 4, 123456)
    m = s.memory
    assert (m.usage_bytes, m.max_usage_bytes, m.limit_bytes, m.cache_bytes, m.failcnt, m.oom_kill, m.oom_events) \
        == (4096, 8192, None, 1024, 2, 1, None)  # the unlimited v1 value is None, not a number
    assert (s.pids.current, s.pids.limit) == (3, None)
    assert [(e.major, e.minor, e.read_bytes, e.write_bytes, e.read_ops, e.write_ops) for e in s.io] \
        == [(8, 0, 100, 200, 1, 2), (253, 1, 5, 0, 1, None)]


def test_v2_stats_parse_fake_files(tmp_path):
    d = _v2(tmp_path, files=[])
    c = tmp_path / "libcontainer" / "c"
    files = {"cpu.stat": "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 5\nnr_throttled 2\n"
                         "throttled_usec 7\n",
             "memory.current": "4096\n", "memory.max": "max\n", "memory.stat": "anon 1\nfile 512\n",
             "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", "pids.current": "2\n", "pids.max": "9\n",
             "io.stat": "8:16 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=0 rios=1 wios=0\n"}
    for name, text in files.items():
        (c / name).write_text(text)
    s = d.stats()
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.system_ns, s.cpu.throttled_ns) == (30000, 20000, 10000, 7000)
    assert (s.memory.usage_bytes, s.memory.limit_bytes, s.memory.cache_bytes) == (4096, None, 512)
    assert (s.memory.max_usage_bytes, s.memory.failcnt, s.memory.oom_events, s.memory.oom_kill) == (None, None, 1, 1)
    assert (s.pids.current, s.pids.limit) == (2, 9)
    assert [(e.major, e.minor, e.read_bytes, e.write_bytes) for e in s.io] == [(8, 0, 1, 0), (8, 16, 10, 20)]
    assert s.hugetlb is None


def test_netdev_parse():
    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
            "carrier compressed\n"
            "    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0 "
            "      0          0\n"
            "  eth0: 1000 5 1 2 0 0 0 0 2000 6 3 4 0 0 0 0\n")
    lo, eth = netdev.parse(text)
    assert (lo.name, lo.rx_bytes, lo.rx_packets, lo.tx_bytes) == ("lo", 840, 10, 840)
    assert (eth.rx_errors, eth.rx_dropped, eth.tx_packets, eth.tx_errors, eth.tx_dropped) == (1, 2, 6, 3, 4)


@pytest.mark.parametrize("res,field", [
    (Resources(memory_swap=64 * MiB), "memory_swap"),
    (Resources(memory=64 * MiB, memory_swap=32 * MiB), "memory_swap"),
    (Resources(cpu_weight=0), "cpu_weight"),
    (Resources(blkio_weight=5), "blkio_weight"),
    (Resources(pids_limit=-2), "pids_limit"),
    (Resources(blkio_throttle_read_bps_device=[ThrottleDevice(8, 0, -1)]), "blkio_throttle_read_bps_device"),
    (Resources(devices=[DeviceRule(True, "x")]), "devices[0].type"),
    (Resources(devices=[DeviceRule(True, "c", 1, 3, "rwx")]), "devices[0].access"),
    (Resources(hugetlb_limits=[HugepageLimit("2M", 1)]), "hugetlb_limits[0].page_size"),
])
def test_validate_resources_names_the_field(res, field):
    with pytest.raises(ConfigInvalid, match=rf"resources\.{field.replace('[', '.').replace(']', '.')}"):
        validate_resources(res)


def test_resources_round_trip_through_json(tmp_path):
    res = Resources(memory=64 * MiB, devices=[DeviceRule(False, "a")], hugetlb_limits=[HugepageLimit("2MB", 0)],
                    blkio_throttle_write_bps_device=[ThrottleDevice(8, 0, 5)])
    cfg = Config(rootfs=str(tmp_path), process=Process(args=["true"]), resources=res)
    back = Config.from_dict(cfg.to_dict())
    assert back.resources == res
    validate_resources(back.resources)


def _run_bpf(code: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """A tiny interpreter for the opcodes devicefilter emits, to check the program's decisions."""
    regs = [0] * 11
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    pc = 0
    while True:
        op, r, off, imm = struct.unpack_from("<BBhi", code, pc * 8)
        dst, src = r & 0xF, r >> 4
        pc += 1
        if op == 0x61:
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xBF:
            regs[dst] = regs[src]
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x15:
            pc += off if regs[dst] == imm else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unknown opcode {op:#x}")


def _v1_decision(rules, dev_type, access, major, minor) -> int:
    """What a v1 device cgroup decides after the rules are written in order (devices.rst)."""
    allow_default, exceptions = True, []
    t = {1: "b", 2: "c"}[dev_type]
    for rule in rules:
        if rule.type == "a":
            allow_default, exceptions = rule.allow, []
        elif rule.allow != allow_default:
            exceptions.append(rule)
        else:  # a rule like the default removes the access from matching exceptions (simplified: drop them)
            exceptions = [e for e in exceptions if (e.type, e.major, e.minor) != (rule.type, rule.major, rule.minor)]
    bits = {"m": 1, "r": 2, "w": 4}

    def match(e, full):
        if e.type != t or e.major not in (-1, major) or e.minor not in (-1, minor):
            return False
        ebits = sum(bits[a] for a in e.access)
        return (access & ~ebits) == 0 if full else (access & ebits) != 0
    if allow_default:
        return int(not any(match(e, full=False) for e in exceptions))
    return int(any(match(e, full=True) for e in exceptions))


RULESETS = [
    [],
    [DeviceRule(False, "a")],
    [DeviceRule(False, "a"), DeviceRule(True, "c", 1, 3, "rwm"), DeviceRule(True, "c", 1, 5, "r"),
     DeviceRule(True, "c", -1, -1, "m"), DeviceRule(True, "b", 8, -1, "rw")],
    [DeviceRule(False, "c", 1, 7, "w"), DeviceRule(False, "b", -1, -1, "m")],
    [DeviceRule(True, "c", 1, 3, "r"), DeviceRule(False, "a"), DeviceRule(True, "c", 136, -1, "rw")],
]


@pytest.mark.parametrize("rules", RULESETS)
def test_device_program_decides_as_v1_would(rules):
    code = devicefilter.program(rules)
    for dev_type in (1, 2):
        for major, minor in ((1, 3), (1, 5), (1, 7), (8, 0), (136, 2)):
            for access in range(1, 8):
                want = _v1_decision(rules, dev_type, access, major, minor)
                assert _run_bpf(code, dev_type, access, major, minor) == want, (dev_type, access, major, minor)
