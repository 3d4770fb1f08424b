"""The freezer: interrupted pauses never leave a frozen cgroup, destroy of a paused container, frozen cgroups at create.

Each test runs with the host's own driver (v1 freezer.state here, v2
cgroup.freeze in the VM matrix) and, on a hybrid host, once more with the
v2 driver on the cgroup2 mount (no controllers there, but cgroup.freeze,
cgroup.events and cgroup.kill work), so the v2 freezer path of the
container is exercised here too.
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
import time

import pytest

from libcontainer.reference import linux as L
from libcontainer.reference import factory as factory_mod
from libcontainer.reference.cgroups import (FREEZING, FROZEN, THAWED, CgroupV2, driver_for, host_version,
                                           v2_mount_point)
from libcontainer.spec import Resources, Status, SystemFailure
from libcontainer.spec.tests.helpers import wait_status

from . import cgroup_files as cg
from .interrupts import call_interrupted

# a workload that forks all the time, so freezing takes a while and can be caught half-way
FORKER = ["sh", "-c", "while :; do (:); done"]


@pytest.fixture(params=["host", "v2-on-hybrid"])
def make_driver(request, monkeypatch):
    """The cgroup driver the factory uses in this test: the host's, or v2 on a hybrid host's cgroup2 mount."""
    if request.param == "host":
        return driver_for
    root = v2_mount_point()
    if host_version() == 2 or root is None:
        pytest.skip("not a hybrid host: the host driver is already v2, or there is no cgroup2 mount")

    def v2_driver(parent, name):
        return CgroupV2(parent, name, root=root, controllers=())
    monkeypatch.setattr(factory_mod, "driver_for", v2_driver)
    return v2_driver


@pytest.fixture
def forker(factory, config, make_driver):
    c = factory.create("frz", dataclasses.replace(config, process=dataclasses.replace(config.process, args=FORKER)))
    if make_driver is not driver_for:
        assert isinstance(cg.driver(c), CgroupV2)
    yield c
    c.destroy()


def test_freeze_interrupted_at_random_points_is_thawed_or_fully_frozen(forker):
    drv = cg.driver(forker)
    rng = random.Random(5)
    outcomes = {True: 0, False: 0}
    for _ in range(60):
        completed = call_interrupted(drv.freeze, rng.uniform(0.00005, 0.003))
        outcomes[completed] += 1
        # a freeze that did not complete was undone: never half-frozen (FREEZING) nor left FROZEN
        assert drv.freezer_state() == (FROZEN if completed else THAWED), completed
        drv.thaw()
        assert drv.freezer_state() == THAWED
    assert outcomes[False] > 0, outcomes  # the test did interrupt freezes
    assert forker.status() == Status.RUNNING


PAUSER = """
import sys
import time
from libcontainer.reference import LinuxFactory
c = LinuxFactory(sys.argv[1]).load(sys.argv[2])
print("ready", flush=True)
while True:
    c.pause()
    time.sleep(0.001)  # widen the paused window, so random kills also land there in slow (emulated) guests
    c.resume()
"""


def test_pause_resume_caller_killed_at_random_points_leaves_a_resumable_container(forker, factory):
    rng = random.Random(7)
    seen = set()
    # at least 8 kills; more (up to 40) until one has landed while paused, which takes longer in a slow VM
    for attempt in range(40):
        if attempt >= 8 and seen & {Status.PAUSED, Status.PAUSING}:
            break
        child = subprocess.Popen([sys.executable, "-c", PAUSER, factory.root, forker.id], stdout=subprocess.PIPE)
        try:
            assert child.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0, 0.02))
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        status = forker.status()
        seen.add(status)
        # the kernel finishes a freeze that was asked for: PAUSING settles into PAUSED
        if status == Status.PAUSING:
            status = wait_status(forker, Status.PAUSED, timeout=5)
        assert status in (Status.RUNNING, Status.PAUSED), status
        forker.resume()
        assert forker.status() == Status.RUNNING
        assert cg.driver(forker).freezer_state() == THAWED
    assert seen & {Status.PAUSED, Status.PAUSING}, f"no kill landed while paused: {seen}"


def test_destroy_of_a_paused_container_kills_thaws_and_removes_the_cgroup(forker):
    drv = cg.driver(forker)
    forker.pause()
    assert forker.status() == Status.PAUSED
    init = forker.init_pid
    forker.destroy()
    assert not drv.exists()
    assert not os.path.exists(f"/proc/{init}") or L.process_state(init) in ("Z", "X", None)


DESTROYER = """
import sys
from libcontainer.reference import LinuxFactory
c = LinuxFactory(sys.argv[1]).load(sys.argv[2])
print("ready", flush=True)
c.destroy()
"""


@pytest.mark.parametrize("paused", [False, True])
def test_destroy_killed_half_way_is_completed_by_the_next_destroy(factory, config, paused, make_driver):
    rng = random.Random(11 + paused)
    for i in range(3):
        c = factory.create(f"d{i}", dataclasses.replace(config, process=dataclasses.replace(config.process,
                                                                                            args=FORKER)))
        drv = cg.driver(c)
        if paused:
            c.pause()
        child = subprocess.Popen([sys.executable, "-c", DESTROYER, factory.root, c.id], stdout=subprocess.PIPE)
        try:
            assert child.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0, 0.01))
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        c.destroy()
        assert not drv.exists()


def _frozen_parent(cgroup_parent: str, make_driver):
    top, _, leaf = cgroup_parent.rpartition("/")
    parent = make_driver(top, leaf)
    parent.create(Resources())
    parent.freeze()
    return parent


def test_create_refuses_a_cgroup_whose_parent_is_frozen(factory, config, cgroup_parent, make_driver):
    parent = _frozen_parent(cgroup_parent, make_driver)
    try:
        with pytest.raises(SystemFailure, match="frozen"):
            factory.create("cold", config)
        assert factory_left_nothing(factory)
    finally:
        # the failed create removed the empty parents it would have made; thaw and remove what is left
        if parent.exists():
            parent.thaw()
            parent.destroy()


def test_create_refuses_an_existing_frozen_cgroup_and_leaves_it(factory, config, cgroup_parent, make_driver):
    existing = make_driver(cgroup_parent, "cold")
    existing.create(Resources())
    existing.freeze()
    try:
        with pytest.raises(SystemFailure, match="frozen"):
            factory.create("cold", config)
        assert existing.exists() and existing.freezer_state() == FROZEN  # not ours to remove or thaw
    finally:
        existing.thaw()
        existing.destroy()


def factory_left_nothing(factory) -> bool:
    return not os.listdir(factory.root) if os.path.isdir(factory.root) else True


def test_status_shows_pausing_while_freezing(forker):
    drv = cg.driver(forker)
    # ask for the freeze without waiting for it: the first reads may see FREEZING (PAUSING)
    drv._write_freeze(True)
    try:
        seen = [forker.status() for _ in range(3)]
        assert set(seen) <= {Status.PAUSING, Status.PAUSED}
        assert wait_status(forker, Status.PAUSED, timeout=5) == Status.PAUSED
    finally:
        drv.thaw()
    assert drv.freezer_state() != FREEZING
