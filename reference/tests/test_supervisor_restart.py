"""The supervisor's restart protocol (reference/supervisor.py ``adopt_all``, SPEC.md LC-FAULT-03):
SIGKILL the one supervisor of a root while several containers run and one init exits meanwhile;
the next operation starts a new supervisor that finds the running ones again.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from libcontainer.plumbing import linux
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Process, Status, SystemFailure
from libcontainer.spec.tests.helpers import Call, is_live
from libcontainer.spec.tests.test_faults import adopt_orphans  # noqa: F401 - the fixture: this process adopts the inits


def _until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.002)
    pytest.fail(f"timed out waiting for {what}")


def _supervisor_of(c) -> int:
    return psutil.Process(c.init_pid).ppid()


@pytest.mark.clause("LC-FAULT-03")
def test_killed_supervisor_is_restarted_and_adopts_running_containers(factory_root, config, adopt_orphans):
    factory = LinuxFactory(factory_root)
    running = [factory.create(f"run{i}", config) for i in range(3)]
    exiting = factory.create("exits", config)
    old = _supervisor_of(running[0])
    assert {_supervisor_of(c) for c in running + [exiting]} == {old}
    inits = {c.id: c.init_pid for c in running + [exiting]}
    try:
        os.kill(old, signal.SIGKILL)  # this test's own supervisor (its pid is the inits' parent)
        _until(lambda: not is_live(old), what="the supervisor to die")
        # one init exits while no supervisor runs: its status reaches nobody that records it
        os.kill(exiting.init_pid, signal.SIGKILL)  # an init takes only SIGKILL from outside
        _until(lambda: not is_live(inits["exits"]), what="the init to exit")

        parents = set()
        for c in running:
            loaded = factory.load(c.id)
            assert loaded.status() == Status.RUNNING  # the first call starts a new supervisor
            pid = loaded.start_process(Process(args=["sleep", "100"]))
            parents.add(psutil.Process(pid).ppid())
            loaded.signal(pid, signal.SIGTERM)
            assert Call(loaded.wait_process, pid).get(20) == 128 + signal.SIGTERM
            pid = loaded.start_process(Process(args=["sh", "-c", "exit 3"]))
            assert Call(loaded.wait_process, pid).get(20) == 3
        assert len(parents) == 1 and old not in parents  # one new supervisor keeps them all

        # a wait blocked on an adopted init returns its status, which the new supervisor learns
        # from the kernel's process events (it is no child of it)
        blocked = Call(running[0].wait)
        assert not blocked.join(0.2)
        running[0].signal(inits["run0"], signal.SIGKILL)
        assert blocked.get(20) == 128 + signal.SIGKILL
        assert running[0].status() == Status.STOPPED

        # the init that exited while no supervisor ran: STOPPED; its status reached no supervisor,
        # and wait says so (SystemFailure, LC-FAULT-03), never ProcessNotFound or a made-up status
        assert exiting.status() == Status.STOPPED
        with pytest.raises(SystemFailure, match="never recorded"):
            Call(exiting.wait).get(20)
    finally:
        for c in running + [exiting]:
            c.destroy()
    for pid in inits.values():
        assert not is_live(pid)
    # the new supervisor exited with the last destroy (the ``factory`` leak check is not used
    # here: this test's factory is its own; look directly)
    assert not os.listdir(factory_root)
    from libcontainer.conformance.leaks import processes_mentioning
    _until(lambda: not processes_mentioning(factory_root), what="no process left under the root")


def test_process_events_give_the_wait_status_of_any_process():
    """reference/procevents.py: an exit event carries the wait status (what an adopted init's
    supervisor records, as it is not its parent)."""
    import subprocess

    from libcontainer.reference import procevents
    events = procevents.open_events()
    if events is None:
        pytest.skip("the kernel refuses process events here (not root, or not the initial network namespace)")
    with events:
        child = subprocess.Popen(["sh", "-c", "exit 7"])
        child.wait()
        found = {}
        deadline = time.monotonic() + 10
        while child.pid not in found and time.monotonic() < deadline:
            if linux.wait_readable(events.fileno(), 0.1):
                found.update(procevents.read_exits(events))
    assert linux.exit_status(found[child.pid]) == 7
