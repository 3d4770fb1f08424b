"""Unit tests of the OCI adapter's pure parts and of the deviations table (no container is started)."""

import os
import re
import types

import pytest

from libcontainer.conformance import deviations, plugin, runtimes
from libcontainer.conformance.oci import bundle, cli
from libcontainer.conformance.oci.container import is_config_error, is_not_supported, stats_from_events
from libcontainer.conformance.report import clause_titles, spec_path
from libcontainer.plumbing import statedir
from libcontainer.spec import Config, Mount, Process, Resources


def test_aliases_resolve_to_the_adapters():
    assert runtimes.resolve("runc").__name__ == "runc"
    assert runtimes.resolve("crun").__name__ == "crun"


def test_config_json_follows_the_config(tmp_path):
    cfg = Config(rootfs=str(tmp_path), process=Process(args=["sh", "-c", "true"], env=["A=1"], cwd="/tmp", uid=5,
                                                        gid=6, additional_gids=[7], rlimits={"RLIMIT_NOFILE": (10, 20)}),
                 hostname="h", namespaces=["mnt", "pid", "net"], readonly_rootfs=True,
                 resources=Resources(memory=64 << 20, pids_limit=10, cpu_shares=512),
                 mounts=[Mount(destination="/data", source=str(tmp_path), options=["rbind", "ro"])])
    data = bundle.config_json(cfg, "/libcontainer/x/c1")
    assert data["root"] == {"path": str(tmp_path), "readonly": True}
    assert data["hostname"] == "h"
    assert [n["type"] for n in data["linux"]["namespaces"]] == ["mount", "pid", "network"]
    assert data["linux"]["cgroupsPath"] == "/libcontainer/x/c1"
    res = data["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20} and res["pids"] == {"limit": 10} and res["cpu"] == {"shares": 512}
    p = data["process"]
    assert p["args"] == ["sh", "-c", "true"] and p["env"] == ["A=1"] and p["cwd"] == "/tmp"
    assert p["user"] == {"uid": 5, "gid": 6, "additionalGids": [7], "umask": 0o022}
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert p["terminal"] is False
    assert {"destination": "/data", "type": "bind", "source": str(tmp_path), "options": ["rbind", "ro"]} \
        in data["mounts"]
    assert [m["destination"] for m in data["mounts"][:2]] == ["/proc", "/dev"]


def test_config_json_carries_sysctl_propagation_and_device_rules(tmp_path):
    from libcontainer.spec import Device
    cfg = Config(rootfs=str(tmp_path), process=Process(args=["true"]), namespaces=["mnt", "net", "ipc"],
                 sysctl={"net.ipv4.ip_forward": "1"}, rootfs_propagation="slave",
                 devices=[Device("/dev/a", "c", 1, 3), Device("/dev/b", "b", 7, 0), Device("/dev/p", "p"),
                          Device("/dev/u", "u", 1, 5)])
    linux = bundle.config_json(cfg, "/libcontainer/x")["linux"]
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"} and linux["rootfsPropagation"] == "slave"
    rules = [(r["type"], r["major"], r["minor"]) for r in linux["resources"]["devices"] if r["allow"]]
    assert rules == [("c", 1, 3), ("b", 7, 0), ("c", 1, 5)], "no cgroup rule for a fifo; u is a character device"
    plain = bundle.config_json(Config(rootfs=str(tmp_path), process=Process(args=["true"])), "/x")["linux"]
    assert "sysctl" not in plain and "rootfsPropagation" not in plain


def test_resources_json_carries_every_limit(tmp_path):
    from libcontainer.spec import DeviceRule, HugepageLimit, ThrottleDevice
    r = Resources(memory_reservation=1 << 20, memory_swap=-1, cpu_quota=1000, cpu_period=50000, cpuset_cpus="0",
                  cpuset_mems="0", cpu_weight=100, blkio_weight=500, devices=[DeviceRule(False, "c", 1, -1, "w")],
                  blkio_throttle_read_bps_device=[ThrottleDevice(8, 0, 99)], hugetlb_limits=[HugepageLimit("2MB", 4)])
    res = bundle.resources_json(Config(rootfs=str(tmp_path), process=Process(args=["true"]), resources=r))
    assert res["memory"] == {"reservation": 1 << 20, "swap": -1}
    # runc's v2 conversion of these shares gives the weight back: 1 + (shares - 2) * 9999 // 262142 == 100
    assert res["cpu"]["shares"] == 2598 and 1 + (2598 - 2) * 9999 // 262142 == 100
    assert {k: res["cpu"][k] for k in ("quota", "period", "cpus", "mems")} == \
        {"quota": 1000, "period": 50000, "cpus": "0", "mems": "0"}
    assert res["devices"] == [{"allow": False, "access": "rwm"},
                              {"allow": False, "type": "c", "access": "w", "major": 1}]
    assert res["blockIO"] == {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 99}]}
    assert res["hugepageLimits"] == [{"pageSize": "2MB", "limit": 4}]


def test_capabilities_are_the_callers_bounding_set():
    caps = bundle.known_capabilities()
    assert "CAP_KILL" in caps or caps == []
    assert all(c in bundle.CAPABILITIES for c in caps)


def test_error_text_reads_logrus_json_and_plain_lines():
    assert cli.error_text('time="x" level=error msg="container not running"\n') == "container not running"
    assert cli.error_text('{"level":"error","msg":"exec: \\"x\\": not found","time":"t"}\n') == 'exec: "x": not found'
    assert cli.error_text("cannot create state directory\n") == "cannot create state directory"
    assert cli.exit_text(-11) == "crashed: killed by signal 11"


@pytest.mark.parametrize("message, config", [
    ('runc create failed: unable to start container process: exec: "/no/x": stat /no/x: no such file or directory',
     True),
    ("executable file `/no/x` not found in $PATH: No such file or directory", True),
    ("starting container: starting root container: starting sandbox: creating process: failed to load /no/x: "
     "no such file or directory", True),
    ('failed to write "4194305": write /sys/fs/cgroup/pids/x/pids.max: invalid argument', True),
    ("container not running", False),
    ("container does not exist", False),
    ("invalid configuration: process.args[0] '/no/x': No such file or directory", True),  # lcrun's ConfigInvalid
    ("not supported: resources.hugetlb_limits: no hugetlb hierarchy", False),
])
def test_config_errors_are_told_apart(message, config):
    assert is_config_error(message) is config
    assert is_not_supported(message) is message.startswith("not supported: ")  # lcrun's NotSupported


def test_stats_from_runc_events():
    s = stats_from_events({"cpu": {"usage": {"total": 5, "user": 3, "kernel": 2},
                                   "throttling": {"throttledPeriods": 1, "throttledTime": 9}},
                           "memory": {"usage": {"usage": 100, "max": 200, "limit": 300, "failcnt": 0}, "cache": 7},
                           "pids": {"current": 2, "limit": 0}})
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.system_ns) == (5, 3, 2)
    assert (s.cpu.throttled_periods, s.cpu.throttled_ns) == (1, 9)
    assert (s.memory.usage_bytes, s.memory.max_usage_bytes, s.memory.limit_bytes, s.memory.cache_bytes) == \
        (100, 200, 300, 7)
    assert (s.pids.current, s.pids.limit) == (2, None), "runc's pids limit 0 means unlimited"


def test_long_ids_get_short_directory_names():
    assert statedir.dir_name("abc") == "abc"
    assert len(statedir.dir_name("x" * 1024)) < 255


def test_deviation_patterns_match_node_id_tails():
    d = deviations.Deviation("D-X", ("runc",), ("LC-ID-01",), ("test_t.py::test_cell[PAUSED-*]",), "why")
    assert d.matches("spec/tests/test_t.py::test_cell[PAUSED-pause]")
    assert not d.matches("spec/tests/test_t.py::test_cell[RUNNING-pause]")
    assert not d.matches("spec/tests/other_test_t.py::test_cell[PAUSED-pause]")
    assert deviations.for_test("spec/tests/test_factory.py::test_valid_ids_are_accepted[...]", "crun")
    assert not deviations.for_test("spec/tests/test_factory.py::test_valid_ids_are_accepted[...]", "runc")


def test_no_deviation_names_the_reference_and_each_is_explained_in_spec_md():
    import libcontainer.spec.tests as spec_tests
    with open(spec_path()) as f:
        spec = f.read()
    assert "## Deviations of peer runtimes" in spec
    section = spec.split("## Deviations of peer runtimes", 1)[1]
    known = set(clause_titles())
    here = os.path.dirname(spec_tests.__file__)

    def in_suite(pattern: str) -> bool:
        module, _, name = pattern.partition("::")
        path = os.path.join(here, module)
        return os.path.exists(path) and f"def {name.split('[')[0]}(" in open(path).read()

    for d in deviations.DEVIATIONS:
        assert "reference" not in d.runtimes
        assert re.search(rf"\*\*{re.escape(d.key)}\*\*", section), f"{d.key} is not explained in SPEC.md"
        assert all(re.fullmatch(r"LC-[A-Z]+(-[A-Z]+)*-\d\d", c) for c in d.clauses), d.clauses
        # clauses are checked once the tests they concern are in the suite (the table may run ahead of it)
        if all(in_suite(t) for t in d.tests):
            assert set(d.clauses) <= known, f"{d.key} names unknown clauses {set(d.clauses) - known}"


def _item(nodeid, *marks):
    return types.SimpleNamespace(nodeid=nodeid, iter_markers=lambda name: [m for m in marks if m.name == name])


def test_deviation_marker_is_a_strict_xfail_only_under_its_runtime():
    mark = pytest.mark.deviation("runc", reason="because").mark
    item = _item("spec/tests/test_x.py::test_y", mark)
    [xfail] = plugin.deviation_marks(item, "runc")
    assert xfail.mark.name == "xfail" and xfail.mark.kwargs["strict"] is True
    assert "because" in xfail.mark.kwargs["reason"]
    assert plugin.deviation_marks(item, "crun") == []
    assert plugin.deviation_marks(item, "reference") == []


def test_deviation_marker_may_not_name_the_reference():
    item = _item("spec/tests/test_x.py::test_y", pytest.mark.deviation("reference", reason="no").mark)
    with pytest.raises(pytest.UsageError):
        plugin.deviation_marks(item, "reference")


def test_monitor_works_in_the_directory_it_was_handed_not_the_path(tmp_path):
    """A monitor started late (its creator killed before it recorded the monitor; the id's directory
    removed and made anew by the next create) must stay in its own directory: seen as crun's
    "create: monitor: OSError: [Errno 98] Address already in use" in test_creator_killed_during_create
    [root-entry] (LC-FAULT-02), the late monitor had bound monitor.sock in the new directory."""
    import json
    import subprocess

    from libcontainer.conformance.oci import monitor
    old, new = tmp_path / "old", tmp_path / "new"
    for d in (old, new):
        d.mkdir()
    (old / "monitor.json").write_text(json.dumps({"create": ["false"], "pid_file": str(old / "pid"),
                                                 "hide_unified_controllers": None}))
    dir_fd = os.open(old, os.O_RDONLY | os.O_DIRECTORY)
    r, w = os.pipe()
    try:
        # argv names "new" (the path, now another directory); the fd is the directory it was made for
        proc = subprocess.run(monitor.argv(str(new), w, dir_fd), pass_fds=[w, dir_fd], timeout=60)
    finally:
        os.close(w)
        os.close(dir_fd)
    with os.fdopen(r) as f:
        result = json.loads(f.read())
    assert result == {"error": "create failed", "rc": 1}
    assert proc.returncode == 1
    assert os.listdir(new) == [], "the monitor touched the directory now at the path"
    assert (old / "monitor.sock").exists() and (old / "exits").is_dir()


def test_monitor_waits_for_the_stand_in_a_pid_file_names(tmp_path):
    """A runtime whose ``--pid-file`` names a stand-in of its init (lcrun's keeper) and whose OCI
    state names the init: the monitor reports the state's pid and records the stand-in's exit
    status as the init's too (conformance/oci/monitor.py ``Monitor.state_pid``)."""
    import json
    import subprocess

    from libcontainer.conformance.oci import monitor
    pid_file, go = tmp_path / "pid", tmp_path / "go"
    os.mkfifo(go)
    init = os.getpid()  # any live pid other than the stand-in's
    # the stand-in outlives the create command (as a keeper does), so the monitor, not that shell, reaps it
    (tmp_path / "monitor.json").write_text(json.dumps({
        "create": ["sh", "-c", f"sh -c 'read x < {go}; exit 3' & echo $! > {pid_file}"], "pid_file": str(pid_file),
        "hide_unified_controllers": None, "state": ["echo", json.dumps({"pid": init})]}))
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(monitor.argv(str(tmp_path), w), pass_fds=[w])
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        result = json.loads(f.read())
    with open(go, "w") as f:
        f.write("go\n")
    assert proc.wait(60) == 0
    stand_in = int(pid_file.read_text())
    assert result == {"init_pid": init}
    assert statedir.read_exit(str(tmp_path), stand_in) == statedir.read_exit(str(tmp_path), init) == 3
