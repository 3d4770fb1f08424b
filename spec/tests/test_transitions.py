"""SPEC.md's transition table, one test per cell: ``test_cell[STATE-operation]``.

Each cell creates a container, starts two processes in it (one that exits
with status 7 and a ``sleep`` that keeps running), brings it to STATE, then
calls the operation and checks the outcome the table gives. The PAUSING
state is entered by calling ``pause()`` in another thread and issuing the
operation as soon as ``status()`` reports PAUSING or PAUSED (SPEC.md,
"Testing PAUSING"); the status met is recorded as the user property ``met``.
The frame (the registry, the subject, entering a state) is ``transition_cells.py``.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from libcontainer.spec import ContainerDestroyed, ContainerNotRunning, ContainerPaused, ContainerStats, Process, Status

from .helpers import SIGKILLED, Call, eventually, exec_probe, is_live, wait_status
from .transition_cells import CELLS, FROZEN, cell, enter, params, refused

# -- DESTROYED: every operation but config and destroy raises ContainerDestroyed ---------------------

for _operation, _clause in (("status", "LC-STATUS-02"), ("processes", "LC-PROCS-02"), ("stats", "LC-STATS-02"),
                            ("start_process", "LC-EXEC-02"), ("pause", "LC-PAUSE-02"), ("resume", "LC-RESUME-02"),
                            ("signal", "LC-SIGNAL-02"), ("wait", "LC-WAIT-03"), ("wait_process", "LC-WAITPROC-02")):
    refused("DESTROYED", _operation, ContainerDestroyed, _clause)


# -- STOPPED: what needs a live init raises ContainerNotRunning and changes nothing -------------------

def _stays_stopped(s):
    assert s.c.status() == Status.STOPPED


def _stopped_and_empty(s):
    _stays_stopped(s)
    assert eventually(lambda: s.c.processes() == [], timeout=5)


def _init_status_kept(s):
    _stays_stopped(s)
    assert s.c.wait() == SIGKILLED


refused("STOPPED", "start_process", ContainerNotRunning, "LC-EXEC-04", then=_stopped_and_empty)
refused("STOPPED", "pause", ContainerNotRunning, "LC-PAUSE-05", then=_stays_stopped)
refused("STOPPED", "resume", ContainerNotRunning, "LC-RESUME-05", then=_stays_stopped)
refused("STOPPED", "signal", ContainerNotRunning, "LC-SIGNAL-04", then=_init_status_kept)


# -- status ------------------------------------------------------------------

@cell("RUNNING PAUSED STOPPED", "status", "LC-STATUS-01")
def _status_settled(s):
    assert s.c.status() == Status[s.state]
    assert s.c.status() == Status[s.state]


@cell("PAUSING", "status", "LC-STATUS-01", "LC-PAUSE-01")
def _status_pausing(s):
    assert s.c.status() in FROZEN
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED


# -- config ------------------------------------------------------------------

@cell("RUNNING PAUSING PAUSED STOPPED DESTROYED", "config", "LC-CONFIG-01")
def _config(s):
    got = s.c.config()
    assert got.rootfs == s.config.rootfs
    assert got.process.args == s.config.process.args
    assert got.hostname == s.config.hostname
    assert got.namespaces == s.config.namespaces


# -- processes ---------------------------------------------------------------

@cell("RUNNING", "processes", "LC-PROCS-01")
def _processes_running(s):
    pids = s.c.processes()
    assert {s.init, s.sleeper} <= set(pids)
    assert all(isinstance(p, int) and p > 0 for p in pids)


@cell("PAUSING", "processes", "LC-PROCS-01")
def _processes_pausing(s):
    assert {s.init, s.sleeper} <= set(s.c.processes())


@cell("PAUSED", "processes", "LC-PROCS-03")
def _processes_paused(s):
    pids = s.c.processes()
    assert {s.init, s.sleeper} <= set(pids)
    dead = [p for p in pids if not is_live(p)]
    assert not dead, f"pids listed while PAUSED but not live: {dead}"


@cell("STOPPED", "processes", "LC-PROCS-04")
def _processes_stopped(s):
    assert isinstance(s.c.processes(), list)
    assert eventually(lambda: s.c.processes() == [], timeout=5), \
        f"with a pid namespace nothing survives init, still listed: {s.c.processes()}"
    assert not is_live(s.sleeper)


# -- stats -------------------------------------------------------------------

@cell("RUNNING", "stats", "LC-STATS-01")
def _stats_running(s):
    assert isinstance(s.c.stats(), ContainerStats)
    assert s.c.status() == Status.RUNNING


@cell("PAUSING PAUSED STOPPED", "stats", "LC-STATS-03")
def _stats_other(s):
    before = s.c.status()
    assert isinstance(s.c.stats(), ContainerStats)
    after = s.c.status()
    if s.state == "PAUSING":
        assert before in FROZEN and after in FROZEN
    else:
        assert before == after == Status[s.state]


# -- start_process -----------------------------------------------------------

@cell("RUNNING", "start_process", "LC-EXEC-01")
def _exec_running(s):
    pid, out, status = exec_probe(s.c, "echo hi")
    assert (out, status) == ("hi\n", 0)
    assert pid > 0
    assert s.c.status() == Status.RUNNING


@cell("PAUSING PAUSED", "start_process", "LC-EXEC-03")
def _exec_paused(s):
    before = sorted(s.c.processes())
    call = Call(s.c.start_process, Process(args=["sleep", "86400"]))
    assert call.join(5), "start_process on a paused container blocked (it must fail at once)"
    assert isinstance(call.error, ContainerPaused), f"got {call.result!r} / {call.error!r}"
    s.finish_pause()
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED
    s.c.resume()
    time.sleep(0.1)
    assert sorted(s.c.processes()) == before, "start_process on a paused container started something"


# -- destroy -----------------------------------------------------------------

def _gone(s):
    with pytest.raises(ContainerDestroyed):
        s.c.status()
    with pytest.raises(ContainerDestroyed):
        s.factory.load(s.c.id)
    assert not is_live(s.init) and not is_live(s.sleeper)


@cell("RUNNING", "destroy", "LC-DESTROY-01")
def _destroy_running(s):
    s.c.destroy()
    _gone(s)


@cell("PAUSING PAUSED", "destroy", "LC-DESTROY-03")
def _destroy_paused(s):
    Call(s.c.destroy).get(10)
    s.finish_pause(may_be_destroyed=True)
    _gone(s)


@cell("STOPPED", "destroy", "LC-DESTROY-04")
def _destroy_stopped(s):
    s.c.destroy()
    _gone(s)
    with pytest.raises(ContainerDestroyed):
        s.c.wait()


@cell("DESTROYED", "destroy", "LC-DESTROY-02")
def _destroy_destroyed(s):
    assert s.c.destroy() is None
    s.c.destroy()
    _gone(s)


# -- pause -------------------------------------------------------------------

@cell("RUNNING", "pause", "LC-PAUSE-01")
def _pause_running(s):
    s.c.pause()
    assert s.c.status() in FROZEN
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED


@cell("PAUSING", "pause", "LC-PAUSE-04")
def _pause_pausing(s):
    s.c.pause()
    s.finish_pause()
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED


@cell("PAUSED", "pause", "LC-PAUSE-03")
def _pause_paused(s):
    before = sorted(s.c.processes())
    assert s.c.pause() is None
    assert s.c.status() == Status.PAUSED
    assert sorted(s.c.processes()) == before


# -- resume ------------------------------------------------------------------

@cell("RUNNING", "resume", "LC-RESUME-03")
def _resume_running(s):
    assert s.c.resume() is None
    assert s.c.status() == Status.RUNNING
    assert is_live(s.init) and is_live(s.sleeper)


@cell("PAUSING", "resume", "LC-RESUME-04")
def _resume_pausing(s):
    s.c.resume()
    s.finish_pause()
    assert s.c.status() == Status.RUNNING
    _, out, status = exec_probe(s.c, "echo thawed")
    assert (out, status) == ("thawed\n", 0)


@cell("PAUSED", "resume", "LC-RESUME-01")
def _resume_paused(s):
    s.c.resume()
    assert s.c.status() == Status.RUNNING
    assert is_live(s.init) and is_live(s.sleeper)
    _, out, status = exec_probe(s.c, "echo thawed")
    assert (out, status) == ("thawed\n", 0)


# -- signal ------------------------------------------------------------------

@cell("RUNNING", "signal", "LC-SIGNAL-01", "LC-WAIT-02")
def _signal_running(s):
    s.c.signal(s.sleeper, signal.SIGTERM)
    assert s.c.wait_process(s.sleeper) == 128 + signal.SIGTERM
    assert s.c.status() == Status.RUNNING
    s.c.signal(s.init, signal.SIGKILL)
    assert s.c.wait() == SIGKILLED
    assert s.c.status() == Status.STOPPED


@cell("PAUSING PAUSED", "signal", "LC-SIGNAL-03")
def _signal_paused(s):
    with pytest.raises(ContainerPaused):
        s.c.signal(s.sleeper, signal.SIGKILL)
    with pytest.raises(ContainerPaused):
        s.c.signal(s.init, signal.SIGKILL)
    s.finish_pause()
    s.c.resume()
    time.sleep(0.3)
    assert is_live(s.sleeper) and is_live(s.init), "a refused signal was delivered"
    assert s.c.status() == Status.RUNNING


# -- wait --------------------------------------------------------------------

@cell("RUNNING", "wait", "LC-WAIT-01")
def _wait_running(s):
    waiter = Call(s.c.wait)
    assert not waiter.join(0.3), "wait() returned while init lives"
    s.c.signal(s.init, signal.SIGKILL)
    assert waiter.get(10) == SIGKILLED
    assert s.c.status() == Status.STOPPED


@cell("PAUSING PAUSED", "wait", "LC-WAIT-05")
def _wait_paused(s):
    waiter = Call(s.c.wait)
    assert not waiter.join(0.5), "wait() returned while init is frozen"
    s.finish_pause()
    s.c.resume()
    assert not waiter.join(0.2), "wait() returned while init lives"
    s.c.signal(s.init, signal.SIGKILL)
    assert waiter.get(10) == SIGKILLED


@cell("STOPPED", "wait", "LC-WAIT-04")
def _wait_stopped(s):
    assert Call(s.c.wait).get(5) == SIGKILLED
    assert Call(s.c.wait).get(5) == SIGKILLED


# -- wait_process ------------------------------------------------------------

@cell("RUNNING", "wait_process", "LC-WAITPROC-01")
def _waitproc_running(s):
    # the process exits when told (a file in the root), not after a sleep a slow start_process may outlast
    go = os.path.join(s.config.rootfs, f"go-waitproc-{os.getpid()}")
    script = f"while [ ! -e /{os.path.basename(go)} ]; do sleep 0.05; done; exit 4"
    pid = s.c.start_process(Process(args=["sh", "-c", script]))
    waiter = Call(s.c.wait_process, pid)
    try:
        assert not waiter.join(0.2), "wait_process returned while the process lives"
        open(go, "w").close()
        assert waiter.get(10) == 4
    finally:
        if os.path.exists(go):
            os.unlink(go)
    assert s.c.wait_process(s.exited) == 7


@cell("PAUSING PAUSED", "wait_process", "LC-WAITPROC-04")
def _waitproc_paused(s):
    assert Call(s.c.wait_process, s.exited).get(5) == 7
    s.finish_pause()
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED


@cell("STOPPED", "wait_process", "LC-WAITPROC-04")
def _waitproc_stopped(s):
    assert s.c.wait_process(s.exited) == 7
    assert s.c.wait_process(s.init) == s.c.wait() == SIGKILLED
    assert s.c.wait_process(s.sleeper) == SIGKILLED, "the kernel kills the rest of the pid namespace"


# -- the test ----------------------------------------------------------------

from . import transitions_created  # noqa: E402,F401 - registers the CREATED column and the start row in CELLS


@pytest.mark.parametrize("state,operation", params())
def test_cell(factory, config, request, state, operation):
    _clauses, check = CELLS[(state, operation)]
    s = enter(factory, config, state)
    try:
        if s.met is not None:
            request.node.user_properties.append(("met", s.met.name))
        check(s)
    finally:
        if s.pauser is not None:
            s.pauser.join(15)
        s.c.destroy()
        if s.ran and os.path.exists(s.ran):
            os.unlink(s.ran)
