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
import signal
import time

import pytest

from libcontainer.plumbing import linux
from libcontainer.reference import factory as factory_mod
from libcontainer.reference.cgroups import (FREEZING, FROZEN, THAWED, CgroupV2, driver_for, host_version,
                                           v2_mount_point)
from libcontainer.spec import Resources, Status, SystemFailure
from libcontainer.spec.tests.helpers import wait_status

from . import cgroup_files as cg
from .interrupts import Interrupt, call_interrupted

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
    # first at an observed point (the freeze request written: FREEZING or FROZEN), then at random delays
    interrupted = call_interrupted_after_freeze_request(drv)
    assert interrupted and drv.freezer_state() == THAWED
    for _ in range(60):
        completed = call_interrupted(drv.freeze, rng.uniform(0.00005, 0.003))
        outcomes[completed] += 1
        # a freeze that did not complete was undone: never half-frozen (FREEZING) nor left FROZEN
        assert drv.freezer_state() == (FROZEN if completed else THAWED), completed
        drv.thaw()
        assert drv.freezer_state() == THAWED
    assert forker.status() == Status.RUNNING


def call_interrupted_after_freeze_request(drv) -> bool:
    """drv.freeze() interrupted right after it asked the kernel to freeze (observed, no timer): True if the
    interrupt landed there; the freeze must undo itself."""
    real = drv._write_freeze

    def write_then_interrupt(frozen: bool) -> None:
        real(frozen)
        if frozen:
            assert drv.freezer_state() in (FREEZING, FROZEN)
            del drv._write_freeze  # the freeze's own clean-up thaws through the real method
            raise Interrupt()
    drv._write_freeze = write_then_interrupt
    try:
        drv.freeze()
    except Interrupt:
        return True
    finally:
        drv.__dict__.pop("_write_freeze", None)
    return False


# The caller of pause()/resume() is killed at points the test observes, not after a timed sleep: a child
# forked from the test (no interpreter start-up: cheap in an emulated guest) loads the container, announces
# each step on a pipe and, at the "held" point, waits on another pipe until it is killed there.
def fork_pauser(factory_root: str, container_id: str, hold: str):
    """(pid, step reader, hold writer) of a child that pauses and resumes the container until killed."""
    steps_r, steps_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(steps_r)
            os.close(hold_w)
            c = factory_mod.LinuxFactory(factory_root).load(container_id)

            def step(name):
                os.write(steps_w, name.encode() + b"\n")
                if name == hold:
                    os.read(hold_r, 1)  # held here until the test kills this process
            step("ready")
            while True:
                step("pausing")
                c.pause()
                step("paused")
                step("resuming")
                c.resume()
                step("resumed")
        finally:
            os._exit(1)
    os.close(steps_w)
    os.close(hold_r)
    return pid, os.fdopen(steps_r, "rb"), hold_w


# (point, held): the child is killed while held at point (it is exactly there), or, not held, as soon as the
# test reads point (the child is somewhere in the call that follows it), or for "frozen-seen" as soon as the
# test itself reads FREEZING or FROZEN in the container's freezer while the child pauses and resumes
KILL_POINTS = [("pausing", True), ("paused", True), ("resuming", True), ("resumed", True),
               ("pausing", False), ("resuming", False), ("frozen-seen", False)]


@pytest.mark.parametrize("point,held", KILL_POINTS, ids=[f"{p}-{'held' if h else 'running'}" for p, h in KILL_POINTS])
def test_pause_resume_caller_killed_at_observed_points_leaves_a_resumable_container(forker, factory, point, held):
    drv = cg.driver(forker)
    for _ in range(1 if held else 3):  # a held point is exact; a running one lands somewhere in the call
        pid, steps, hold = fork_pauser(factory.root, forker.id, point if held else "-")
        try:
            assert steps.readline().strip() == b"ready"
            if point == "frozen-seen":
                deadline = time.monotonic() + 60
                while drv.freezer_state() == THAWED:
                    assert time.monotonic() < deadline, "the child never paused the container"
                    time.sleep(0.0005)
            else:
                while (line := steps.readline().strip()) != point.encode():
                    assert line, f"the child exited before {point}"
            observed = forker.status()
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            steps.close()
            os.close(hold)
        status = forker.status()
        if held:  # killed exactly there: what it had done stays done
            expected = {"pausing": Status.RUNNING, "paused": Status.PAUSED, "resuming": Status.PAUSED,
                        "resumed": Status.RUNNING}[point]
            assert observed == status == expected, (observed, status)
        # the kernel finishes a freeze that was asked for: PAUSING settles into PAUSED
        if status == Status.PAUSING:
            status = wait_status(forker, Status.PAUSED, timeout=5)
        assert status in (Status.RUNNING, Status.PAUSED), status
        forker.resume()
        assert forker.status() == Status.RUNNING
        assert drv.freezer_state() == THAWED


def test_destroy_of_a_paused_container_kills_thaws_and_removes_the_cgroup(forker):
    drv = cg.driver(forker)
    forker.pause()
    assert forker.status() == Status.PAUSED
    init = forker.init_pid
    forker.destroy()
    assert not drv.exists()
    assert not os.path.exists(f"/proc/{init}") or linux.process_state(init) in ("Z", "X", None)


def fork_destroyer(factory_root: str, container_id: str):
    """(pid, ready reader) of a child forked from the test (no interpreter start-up: one cost 4-7 s of an
    emulated guest's CPU) that loads the container with a factory of its own, writes "ready" and destroys it."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            c = factory_mod.LinuxFactory(factory_root).load(container_id)
            os.write(ready_w, b"ready\n")
            c.destroy()
        finally:
            os._exit(0)
    os.close(ready_w)
    return pid, os.fdopen(ready_r, "rb")


@pytest.mark.parametrize("paused", [False, True])
def test_destroy_killed_half_way_is_completed_by_the_next_destroy(factory, config, paused, make_driver):
    rng = random.Random(11 + paused)
    for i in range(3):
        c = factory.create(f"d{i}", dataclasses.replace(config, process=dataclasses.replace(config.process,
                                                                                            args=FORKER)))
        drv = cg.driver(c)
        if paused:
            c.pause()
        pid, ready = fork_destroyer(factory.root, c.id)
        try:
            assert ready.readline().strip() == b"ready"
            time.sleep(rng.uniform(0, 0.01))  # anywhere in destroy (or before it): every point must be completable
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            ready.close()
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
