"""The v2 driver's freezer, kill and stats on a real cgroup2 mount.

On this hybrid host the cgroup2 mount (``/sys/fs/cgroup/unified``) has no
controllers enabled, but ``cgroup.freeze``, ``cgroup.events``,
``cgroup.kill`` and the core ``cpu.stat`` work in any non-root cgroup, so
the v2 freezer is tested here. On a pure v2 host (the VM matrix) the same
test runs on ``/sys/fs/cgroup``. Cgroups are made under ``libcontainer/``.
"""

from __future__ import annotations

import os
import random
import subprocess
import time

import pytest

from libcontainer.reference.cgroups import FROZEN, THAWED, CgroupV2, v2_mount_point
from libcontainer.spec import DeviceRule, NotSupported, Resources

from .interrupts import call_interrupted

pytestmark = pytest.mark.root  # cgroups under the host hierarchies (conformance/rootmark.py)


def _v2_driver(name: str) -> CgroupV2:
    root = v2_mount_point()
    if root is None or os.geteuid() != 0:
        pytest.skip("no cgroup2 mount, or not root")
    # no controllers: enabling one in the mount's root would change the host (hybrid hosts list hugetlb)
    return CgroupV2(f"libcontainer/pytest-v2-{os.getpid()}", name, root=root, controllers=())


@pytest.fixture
def v2cg():
    drv = _v2_driver("unit")
    drv.create(Resources())
    if not os.path.exists(os.path.join(drv.dir, "cgroup.freeze")):
        drv.destroy()
        pytest.skip("this kernel's cgroup2 has no cgroup.freeze (needs 5.2)")
    procs = []

    def spawn(args):
        cgroup_procs = os.path.join(drv.dir, "cgroup.procs")

        def join():
            with open(cgroup_procs, "w") as f:
                f.write("0")
        p = subprocess.Popen(args, preexec_fn=join, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        return p

    drv.spawn = spawn
    yield drv
    drv.thaw()
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()
    drv.destroy()
    assert not drv.exists()


def _cpu_usec(drv) -> int:
    with open(os.path.join(drv.dir, "cpu.stat")) as f:
        return int(f.readline().split()[1])


def test_v2_freeze_stops_a_busy_process_and_thaw_restarts_it(v2cg):
    v2cg.spawn(["sh", "-c", "while :; do :; done"])
    time.sleep(0.05)
    v2cg.freeze()
    assert v2cg.freezer_state() == FROZEN
    with open(os.path.join(v2cg.dir, "cgroup.events")) as f:
        assert "frozen 1" in f.read()
    before = _cpu_usec(v2cg)
    time.sleep(0.2)
    assert _cpu_usec(v2cg) - before < 3000  # no CPU while frozen
    v2cg.thaw()
    assert v2cg.freezer_state() == THAWED
    before, deadline = _cpu_usec(v2cg), time.monotonic() + 30
    while _cpu_usec(v2cg) - before <= 10000:  # running again: observed, however loaded the host or slow the guest
        assert time.monotonic() < deadline, "no CPU used in 30 s after thaw"
        time.sleep(0.01)


def test_v2_freeze_interrupted_at_random_points_is_thawed_or_fully_frozen(v2cg):
    v2cg.spawn(["sh", "-c", "while :; do (:); done"])
    v2cg.spawn(["sh", "-c", "while :; do (:); done"])
    rng = random.Random(3)
    for _ in range(60):
        completed = call_interrupted(v2cg.freeze, rng.uniform(0.00002, 0.001))
        assert v2cg.freezer_state() == (FROZEN if completed else THAWED)
        v2cg.thaw()


def test_v2_kill_empties_a_frozen_cgroup(v2cg):
    for _ in range(3):
        v2cg.spawn(["sleep", "100"])
    v2cg.freeze()
    assert len(v2cg.pids()) == 3
    if not v2cg.kill():
        pytest.skip("no cgroup.kill (needs kernel 5.14)")
    deadline = time.monotonic() + 5
    while v2cg.pids() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert v2cg.pids() == []


def test_v2_stats_give_cpu_and_none_for_disabled_controllers(v2cg):
    v2cg.spawn(["sh", "-c", "while :; do :; done"])
    deadline = time.monotonic() + 30
    while _cpu_usec(v2cg) == 0:  # the loop has run (observed: a slow guest may not schedule it in 0.1 s)
        assert time.monotonic() < deadline, "no CPU used in 30 s"
        time.sleep(0.01)
    s = v2cg.stats()
    assert s.cpu.total_ns > 0 and s.cpu.user_ns is not None and s.cpu.total_ns % 1000 == 0
    enabled = open(os.path.join(v2cg.dir, "cgroup.controllers")).read().split()
    if "memory" not in enabled:
        assert s.memory.usage_bytes is None and s.memory.limit_bytes is None
    if "pids" not in enabled:
        assert s.pids.current is None
    if "io" not in enabled:
        assert s.io is None


def test_v2_device_rules_are_enforced_by_the_ebpf_program():
    drv = _v2_driver("devices")
    # deny all; then /dev/null fully, /dev/zero read-only
    drv.create(Resources(devices=[DeviceRule(False, "a"), DeviceRule(True, "c", 1, 3, "rwm"),
                                  DeviceRule(True, "c", 1, 5, "r")]))
    try:
        def join():
            with open(os.path.join(drv.dir, "cgroup.procs"), "w") as f:
                f.write("0")

        def sh(cmd):
            r = subprocess.run(["sh", "-c", cmd], preexec_fn=join, capture_output=True, text=True, timeout=10)
            return r.returncode, r.stdout.strip(), r.stderr
        assert sh("echo x > /dev/null && echo ok")[1] == "ok"
        assert sh("head -c 3 /dev/zero | wc -c")[1] == "3"
        code, _, err = sh("echo x > /dev/zero")
        assert code != 0 and "Operation not permitted" in err
        code, _, err = sh("echo x > /dev/full")
        assert code != 0 and "Operation not permitted" in err
    finally:
        drv.destroy()
    assert not drv.exists()


def test_v2_limit_without_its_controller_is_not_supported():
    drv = _v2_driver("nomem")
    with pytest.raises(NotSupported, match="memory"):
        drv.create(Resources(memory=64 << 20))
    assert not drv.exists()
