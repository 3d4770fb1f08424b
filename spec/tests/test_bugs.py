"""Cases from public bug reports of other runtimes, each a test (SPEC.md cites the report in the clause)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time

import pytest

from libcontainer.spec import (ContainerDestroyed, ContainerNotRunning, ContainerPaused, InvalidIdFormat, Process,
                               ProcessNotFound, Status)

from .helpers import Call, eventually, is_live, stop_by_sigkill, wait_status


@pytest.mark.clause("LC-DESTROY-03")
def test_destroy_of_paused_container_completes_and_leaves_nothing(factory, factory_root, config):
    """opencontainers/runc#3134: `runc delete -f` of a paused container timed out on cgroup v1."""
    c = factory.create("paused-destroy", config)
    workers = [c.start_process(Process(args=["sh", "-c", "while :; do sleep 0.01; done"])) for _ in range(3)]
    c.pause()
    assert wait_status(c, Status.PAUSED) == Status.PAUSED
    pids = c.processes()
    assert set(workers) <= set(pids)
    t0 = time.monotonic()
    Call(c.destroy).get(10)
    assert time.monotonic() - t0 < 10
    assert not any(is_live(p) for p in pids)
    assert os.listdir(factory_root) == []
    with pytest.raises(ContainerDestroyed):
        factory.load("paused-destroy")
    # the factory fixture fails the test if a process, cgroup or mount is left


@pytest.mark.clause("LC-EXEC-03")
def test_start_process_on_paused_fails_at_once_and_never_hangs(container):
    """opencontainers/runc#3223, containers/crun#727: exec into a paused container hung silently."""
    container.pause()
    assert wait_status(container, Status.PAUSED) == Status.PAUSED
    for _ in range(5):
        t0 = time.monotonic()
        call = Call(container.start_process, Process(args=["echo", "hi"]))
        assert call.join(3), "start_process on a paused container hung"
        assert isinstance(call.error, ContainerPaused), (call.result, call.error)
        assert time.monotonic() - t0 < 3
    assert container.status() == Status.PAUSED
    container.resume()
    assert container.status() == Status.RUNNING


@pytest.mark.clause("LC-SIGNAL-04")
def test_signal_to_exited_init_is_refused_and_affects_nothing(factory, config):
    """opencontainers/runc#1934: `runc kill` of a stopped container killed whatever reused init's pid.

    Without a pid namespace the container's other processes outlive init, so
    a wrongly delivered signal would be seen."""
    cfg = dataclasses.replace(config, namespaces=[n for n in config.namespaces if n != "pid"])
    c = factory.create("exited-init", cfg)
    try:
        init = c.processes()[0]
        survivor = c.start_process(Process(args=["sleep", "86400"]))
        stop_by_sigkill(c, init)
        assert c.status() == Status.STOPPED
        for pid in (init, survivor):
            for sig in (signal.SIGKILL, signal.SIGTERM):
                with pytest.raises(ContainerNotRunning):
                    c.signal(pid, sig)
        time.sleep(0.2)
        assert is_live(survivor), "a refused signal reached a process of the stopped container"
        assert c.status() == Status.STOPPED
        assert c.wait() == 128 + signal.SIGKILL
    finally:
        c.destroy()
    assert not is_live(survivor), "destroy kills what outlived init"


@pytest.mark.clause("LC-WAIT-02")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
def test_signal_killed_init_gives_128_plus_signal(factory, config, sig):
    """The shell's and runc's convention; a wait() returning 0 or the raw wait status would be wrong.

    Init is not a pid-namespace init here (such an init ignores signals it
    has no handler for, see pid_namespaces(7)), so every signal can kill it."""
    cfg = dataclasses.replace(config, namespaces=[n for n in config.namespaces if n != "pid"])
    c = factory.create("killed-init", cfg)
    try:
        c.signal(c.processes()[0], sig)
        assert c.wait() == 128 + sig
        assert c.wait() == 128 + sig
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-02", "LC-WAITPROC-01")
def test_signal_killed_process_gives_128_plus_signal(container):
    pid = container.start_process(Process(args=["sleep", "86400"]))
    container.signal(pid, signal.SIGUSR1)
    assert container.wait_process(pid) == 128 + signal.SIGUSR1
    container.signal(container.processes()[0], signal.SIGKILL)
    assert container.wait() == 137


HOSTILE_IDS = ["..", ".", "../x", "../../x", "x/..", "a/b", "/abs", "x\0y", "..\0", "./x", "x/", "~", "*", "$HOME"]


@pytest.mark.clause("LC-ID-02", "LC-ID-03")
@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_hostile_ids_touch_nothing_outside_the_root(factory, factory_root, config, tmp_path, bad):
    """opencontainers/runc#1883 and containers/crun#2074: an id of `..` let delete remove the parent directory."""
    sentinel = tmp_path / "x"
    sentinel.mkdir(exist_ok=True)
    (sentinel / "state.json").write_text("{}")
    outside = sorted(os.listdir(tmp_path))
    with pytest.raises(InvalidIdFormat):
        factory.load(bad)
    with pytest.raises(InvalidIdFormat):
        factory.create(bad, config)
    assert sorted(os.listdir(tmp_path)) == outside
    assert (sentinel / "state.json").read_text() == "{}"
    assert os.listdir(factory_root) == []


@pytest.mark.clause("LC-SIGNAL-05")
def test_signal_never_reaches_a_pid_outside_the_container(container, tmp_path):
    """opencontainers/runc#3217 review: a kill must not be a way to signal an arbitrary host process."""
    mark = tmp_path / "got-signal"
    ready = tmp_path / "trap-set"
    host = subprocess.Popen(["sh", "-c", f"trap 'touch {mark}' USR1 TERM; touch {ready}; while :; do sleep 0.05; done"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        assert eventually(ready.exists, timeout=30), "the host shell never set its trap"
        for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGKILL):
            with pytest.raises(ProcessNotFound):
                container.signal(host.pid, sig)
        assert not eventually(mark.exists, timeout=0.5)
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()
