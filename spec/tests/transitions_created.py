"""The CREATED column and the ``start`` row of SPEC.md's transition table (extension, "The
create/start split"), registered into :data:`test_transitions.CELLS` and run by its ``test_cell``.

A CREATED subject is made by ``create("cell", config, start=False)`` whose program first makes a
file in the root filesystem (``Subject.ran``), then sleeps: the file tells whether the program ran.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal

import pytest

from libcontainer.spec import (Config, ContainerDestroyed, ContainerNotCreated, ContainerNotRunning, ContainerPaused,
                               ContainerStats, Factory, Status)

from .helpers import Call, create_unstarted, eventually, exec_probe, is_live, wait_status
from .helpers import SIGKILLED
from .test_transitions import _config, _gone
from .transition_cells import Subject, cell

_serial = itertools.count()


def enter_created(factory: Factory, config: Config) -> Subject:
    name = f"ran-{os.getpid()}-{next(_serial)}"
    script = f"echo ran > /{name}; exec sleep 86400"
    config = dataclasses.replace(config, process=dataclasses.replace(config.process, args=["sh", "-c", script]))
    c = create_unstarted(factory, "cell", config)
    pids = c.processes()
    assert len(pids) == 1, f"a CREATED container has its init only: {pids}"
    return Subject(factory, config, c, "CREATED", pids[0], 0, 0, ran=os.path.join(config.rootfs, name))


def _not_ran(s: Subject) -> None:
    assert not os.path.exists(s.ran), "the config's program ran before start()"


# -- the CREATED column --------------------------------------------------------

@cell("CREATED", "status", "LC-CREATED-01")
def _status_created(s):
    assert s.c.status() == Status.CREATED
    assert s.c.status() == Status.CREATED
    assert s.factory.load(s.c.id).status() == Status.CREATED
    _not_ran(s)


cell("CREATED", "config", "LC-CONFIG-01")(_config)


@cell("CREATED", "processes", "LC-CREATED-01")
def _processes_created(s):
    assert s.c.processes() == [s.init]
    assert is_live(s.init)
    _not_ran(s)


@cell("CREATED", "stats", "LC-CREATED-01")
def _stats_created(s):
    assert isinstance(s.c.stats(), ContainerStats)
    assert s.c.status() == Status.CREATED
    _not_ran(s)


@cell("CREATED", "start_process", "LC-CREATED-04")
def _exec_created(s):
    pid, out, status = exec_probe(s.c, "echo hi; cat /proc/1/cmdline | tr '\\0' ' '")
    assert status == 0 and out.startswith("hi\n"), (out, status)
    assert pid > 0
    assert s.c.status() == Status.CREATED
    _not_ran(s)


@cell("CREATED", "destroy", "LC-CREATED-07")
def _destroy_created(s):
    s.c.destroy()
    _gone(s)
    _not_ran(s)


@cell("CREATED", "pause", "LC-CREATED-05")
def _pause_created(s):
    with pytest.raises(ContainerNotRunning):
        s.c.pause()
    assert s.c.status() == Status.CREATED
    s.c.start()  # not frozen: the program runs
    assert eventually(lambda: os.path.exists(s.ran), timeout=10), "the program did not run after start()"


@cell("CREATED", "resume", "LC-CREATED-05")
def _resume_created(s):
    with pytest.raises(ContainerNotRunning):
        s.c.resume()
    assert s.c.status() == Status.CREATED
    _not_ran(s)


@cell("CREATED", "signal", "LC-CREATED-06")
def _signal_created(s):
    s.c.signal(s.init, signal.SIGKILL)
    assert s.c.wait() == SIGKILLED
    assert s.c.status() == Status.STOPPED
    _not_ran(s)


@cell("CREATED", "wait", "LC-CREATED-06")
def _wait_created(s):
    waiter = Call(s.c.wait)
    assert not waiter.join(0.3), "wait() returned while init waits for start()"
    s.c.signal(s.init, signal.SIGKILL)
    assert waiter.get(10) == SIGKILLED


@cell("CREATED", "wait_process", "LC-CREATED-06")
def _waitproc_created(s):
    waiter = Call(s.c.wait_process, s.init)
    assert not waiter.join(0.3), "wait_process(init) returned while init waits for start()"
    s.c.signal(s.init, signal.SIGKILL)
    assert waiter.get(10) == SIGKILLED


# -- the start row -------------------------------------------------------------

@cell("CREATED", "start", "LC-CREATED-02")
def _start_created(s):
    s.c.start()
    assert s.c.status() == Status.RUNNING
    assert eventually(lambda: os.path.exists(s.ran), timeout=10), "the program did not run after start()"
    assert s.init in s.c.processes(), "start() ran the program in another process than the created init"
    s.c.signal(s.init, signal.SIGKILL)
    assert s.c.wait() == SIGKILLED


@cell("RUNNING", "start", "LC-CREATED-03")
def _start_running(s):
    with pytest.raises(ContainerNotCreated):
        s.c.start()
    assert s.c.status() == Status.RUNNING
    assert is_live(s.init) and is_live(s.sleeper)


@cell("PAUSING PAUSED", "start", "LC-CREATED-03")
def _start_paused(s):
    with pytest.raises(ContainerPaused):
        s.c.start()
    s.finish_pause()
    assert wait_status(s.c, Status.PAUSED) == Status.PAUSED


@cell("STOPPED", "start", "LC-CREATED-03")
def _start_stopped(s):
    with pytest.raises(ContainerNotRunning):
        s.c.start()
    assert s.c.status() == Status.STOPPED
    assert s.c.wait() == SIGKILLED


@cell("DESTROYED", "start", "LC-CREATED-03")
def _start_destroyed(s):
    with pytest.raises(ContainerDestroyed):
        s.c.start()
