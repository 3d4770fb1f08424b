"""Errors across the table: malformed arguments, pids outside the container, which error wins
(SPEC.md LC-GEN-03, LC-GEN-04, LC-EXEC-05, LC-EXEC-06, LC-SIGNAL-05, LC-SIGNAL-06, LC-WAITPROC-03)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time

import pytest

from libcontainer.spec import (ConfigInvalid, ContainerNotRunning, ContainerPaused, InvalidIdFormat,
                               LibcontainerError, Process, ProcessNotFound, Status, SystemFailure)

from .helpers import Call, exec_probe, is_live
from .test_transitions import enter

BAD_PROCESSES = [
    pytest.param("sh", id="a-str"),
    pytest.param(None, id="None"),
    pytest.param(Process(args=[]), id="empty-args"),
    pytest.param(Process(args="sleep 1"), id="args-str"),
    pytest.param(Process(args=[1]), id="args-int"),
    pytest.param(Process(args=["a\0b"]), id="args-nul"),
    pytest.param(Process(args=["true"], cwd="tmp"), id="relative-cwd"),
    pytest.param(Process(args=["true"], uid=-1), id="negative-uid"),
    pytest.param(Process(args=["true"], gid=2**40), id="huge-gid"),
    pytest.param(Process(args=["true"], env=["NOEQUALS"]), id="bad-env"),
    pytest.param(Process(args=["true"], stdout="out.txt"), id="stdout-str"),
    pytest.param(Process(args=["true"], rlimits={"RLIMIT_NOFILE": (-5, 1)}), id="bad-rlimit"),
]


def _host_sleeper() -> subprocess.Popen:
    """A host process that is certainly not in the container."""
    return subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _unused_pid(avoid=()) -> int:
    """The highest pid no process has, other than ``avoid``: the pids a container's start_process returned,
    which stay the container's to wait on after they exit (LC-WAITPROC-04) even if the pid is free (with
    pid_max 32768 a busy host wraps around, and a probe that exited may have had exactly pid_max - 1)."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}") or pid in avoid:
        pid -= 1
    return pid


@pytest.mark.clause("LC-EXEC-05", "LC-GEN-04")
@pytest.mark.parametrize("state", ["RUNNING", "PAUSED", "STOPPED", "DESTROYED"])
def test_invalid_process_raises_config_invalid_in_every_state(factory, config, state):
    s = enter(factory, config, state)
    try:
        before = s.c.processes() if state != "DESTROYED" else None
        for bad in [p.values[0] for p in BAD_PROCESSES]:
            with pytest.raises(ConfigInvalid):
                s.c.start_process(bad)
        if state != "DESTROYED":
            assert s.c.status() == Status[state]
            assert sorted(s.c.processes()) == sorted(before)
    finally:
        s.c.destroy()


@pytest.mark.clause("LC-EXEC-05")
@pytest.mark.parametrize("bad", BAD_PROCESSES)
def test_each_invalid_process_is_refused_on_running(container, bad):
    before = sorted(container.processes())
    with pytest.raises(ConfigInvalid):
        container.start_process(bad)
    assert sorted(container.processes()) == before
    assert container.status() == Status.RUNNING


@pytest.mark.clause("LC-EXEC-06")
def test_missing_program_raises_config_invalid_and_container_stays_usable(container):
    with pytest.raises(ConfigInvalid):
        container.start_process(Process(args=["/no/such/program"]))
    assert container.status() == Status.RUNNING
    _, out, status = exec_probe(container, "echo still")
    assert (out, status) == ("still\n", 0)


@pytest.mark.clause("LC-SIGNAL-05")
def test_signal_to_pids_outside_the_container(factory, config):
    s = enter(factory, config, "RUNNING")
    host = _host_sleeper()
    try:
        for sig in (signal.SIGKILL, signal.SIGTERM, 0):
            with pytest.raises(ProcessNotFound):
                s.c.signal(host.pid, sig)
        with pytest.raises(ProcessNotFound):
            s.c.signal(os.getpid(), 0)
        with pytest.raises(ProcessNotFound):
            s.c.signal(1, 0)  # host init; signal 0 delivers nothing even if an implementation is wrong
        with pytest.raises(ProcessNotFound):
            s.c.signal(_unused_pid(), signal.SIGKILL)
        with pytest.raises(ProcessNotFound):
            s.c.signal(s.exited, signal.SIGKILL)  # a process of the container that has exited
        time.sleep(0.2)
        assert host.poll() is None, "the signal reached a host process"
        assert s.c.status() == Status.RUNNING and is_live(s.sleeper)
    finally:
        host.kill()
        host.wait()
        s.c.destroy()


@pytest.mark.clause("LC-SIGNAL-06", "LC-GEN-04")
@pytest.mark.parametrize("state", ["RUNNING", "PAUSED", "DESTROYED"])
def test_invalid_signal_number_raises_einval_first(factory, config, state):
    s = enter(factory, config, state)
    try:
        for sig in (65, -1, 1000, "TERM", 9.0, None, True):
            with pytest.raises(SystemFailure) as info:
                s.c.signal(s.sleeper, sig)
            assert info.value.errno == errno.EINVAL
        if state != "DESTROYED":
            if state == "PAUSED":
                s.c.resume()
            time.sleep(0.1)
            assert is_live(s.sleeper)
    finally:
        s.c.destroy()


@pytest.mark.clause("LC-WAITPROC-03")
def test_wait_process_on_pids_outside_the_container(factory, config):
    s = enter(factory, config, "RUNNING")
    host = _host_sleeper()
    try:
        for pid in (host.pid, _unused_pid(avoid={s.init, s.sleeper, s.exited}), os.getpid()):
            call = Call(s.c.wait_process, pid)
            assert call.join(5), f"wait_process({pid}) blocked for a pid outside the container"
            assert isinstance(call.error, ProcessNotFound), (call.result, call.error)
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()
        s.c.destroy()


@pytest.mark.clause("LC-GEN-04")
def test_which_error_wins(factory, config):
    """State errors in the order ContainerDestroyed, ContainerPaused, ContainerNotRunning, ProcessNotFound."""
    host = _host_sleeper()
    try:
        paused = enter(factory, config, "PAUSED")
        try:
            with pytest.raises(ContainerPaused):
                paused.c.signal(host.pid, signal.SIGKILL)  # paused before not-found
            with pytest.raises(ConfigInvalid):
                paused.c.start_process(Process(args=[]))  # malformed before paused
        finally:
            paused.c.destroy()
        with pytest.raises(ProcessNotFound):
            paused.c.signal(-5, signal.SIGKILL)  # a malformed pid before destroyed
        stopped = enter(factory, config, "STOPPED")
        try:
            with pytest.raises(ContainerNotRunning):
                stopped.c.signal(host.pid, signal.SIGKILL)  # not-running before not-found
        finally:
            stopped.c.destroy()
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()


WRONG_TYPED_CALLS = {
    "signal-pid-str": lambda c, f, cfg: c.signal("1", signal.SIGKILL),
    "signal-pid-none": lambda c, f, cfg: c.signal(None, signal.SIGKILL),
    "signal-pid-float": lambda c, f, cfg: c.signal(1.0, signal.SIGKILL),
    "wait_process-str": lambda c, f, cfg: c.wait_process("1"),
    "wait_process-none": lambda c, f, cfg: c.wait_process(None),
    "wait_process-negative": lambda c, f, cfg: c.wait_process(-1),
    "start_process-int": lambda c, f, cfg: c.start_process(42),
    "start_process-dict": lambda c, f, cfg: c.start_process({"args": ["true"]}),
    "create-id-int": lambda c, f, cfg: f.create(42, cfg),
    "create-config-str": lambda c, f, cfg: f.create("fine", "config"),
    "create-config-none": lambda c, f, cfg: f.create("fine", None),
    "load-id-none": lambda c, f, cfg: f.load(None),
    "load-id-bytes": lambda c, f, cfg: f.load(b"spec-c"),
}
DOCUMENTED = {
    "signal": (ProcessNotFound, SystemFailure),
    "wait_process": (ProcessNotFound,),
    "start_process": (ConfigInvalid,),
    "create-id": (InvalidIdFormat,),
    "create-config": (ConfigInvalid,),
    "load": (InvalidIdFormat,),
}


@pytest.mark.clause("LC-GEN-03")
@pytest.mark.parametrize("name", list(WRONG_TYPED_CALLS))
def test_wrong_types_raise_only_documented_errors(container, factory, config, name):
    with pytest.raises(LibcontainerError) as info:
        WRONG_TYPED_CALLS[name](container, factory, config)
    kinds = next(v for k, v in DOCUMENTED.items() if name.startswith(k))
    assert isinstance(info.value, kinds), f"{name}: {info.value!r} is not one of {kinds}"
    assert container.status() == Status.RUNNING
    with pytest.raises(LibcontainerError):
        factory.load("fine")
