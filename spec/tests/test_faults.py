"""Faults: a killed creator, a lost keeper, stale handles, races with destroy, zombies, id aliases.

SPEC.md "Faults: lost processes and stale state" (LC-FAULT-01..03, 05..07, 09). Runtime-neutral:
each test drives the public interface only, and kills processes it finds from outside (the
creator it started, the parent of the container's init); kill points are things the test
observes (an entry in the factory root, a cgroup directory, a pid in cgroup.procs), never sleeps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import os
import signal
import threading
import time

import psutil
import pytest

from libcontainer.conformance import leaks as leakcheck
from libcontainer.spec import (Config, ContainerDestroyed, ContainerNotRunning, IdInUse, LibcontainerError, NotSupported,
                               Process, Status)

from .helpers import Call, is_live
from .test_cross_process import _run


@pytest.fixture
def adopt_orphans():
    """Make this test process a child subreaper while the test kills a creator or a keeper, so the
    processes those leave are reparented here (not to an ancestor of the test run, which may not
    expect children it did not start), and reap every adopted child that has exited at the end."""
    from libcontainer.plumbing import linux
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 0)
        for child in psutil.Process().children():
            with contextlib.suppress(ChildProcessError, psutil.Error):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)


def _until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` (every ms) until it returns something true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.001)
    pytest.fail(f"timed out waiting for {what}")


# -- LC-FAULT-01: a handle is bound to one incarnation ---------------------------------------------

@pytest.mark.clause("LC-FAULT-01")
def test_stale_handle_never_touches_the_recreated_container(factory, factory_root, runtime_name, config):
    """Issue 13 case 2, exact input: A holds ``h``; B loads ``h``, destroys it and creates a new ``h``;
    A's destroy() must not destroy B's container, and A's calls raise ContainerDestroyed."""
    a = factory.create("h", config)
    try:
        init_a = a.processes()[0]
        _run(runtime_name, factory_root, f"""
            from libcontainer.spec import Config, Process
            factory.load("h").destroy()
            c = factory.create("h", Config(rootfs={config.rootfs!r}, process=Process(args=["sleep", "86400"]),
                                           cgroup_parent={config.cgroup_parent!r}))
            print(c.status().name)
        """)
        b = factory.load("h")
        assert b.status() == Status.RUNNING
        init_b = b.processes()[0]
        with pytest.raises(ContainerDestroyed):
            a.status()
        for call in (a.processes, a.stats, a.pause, a.resume, a.wait,
                     lambda: a.start_process(Process(args=["true"])), lambda: a.signal(init_b, signal.SIGKILL),
                     lambda: a.wait_process(init_a)):
            with pytest.raises(ContainerDestroyed):
                call()
        assert a.destroy() is None
        assert b.status() == Status.RUNNING, "a stale handle's destroy() destroyed the new container"
        assert is_live(init_b)
        b.destroy()
    finally:
        a.destroy()
        try:
            factory.load("h").destroy()
        except ContainerDestroyed:
            pass


# -- LC-FAULT-02: a creator killed during create ---------------------------------------------------

def _cgroup_children(parent: str) -> list[str]:
    out = []
    for top in leakcheck.cgroup_dirs(parent):
        out += [os.path.join(top, d) for d in os.listdir(top) if os.path.isdir(os.path.join(top, d))]
    return out


def _cgroup_has_pid(parent: str) -> bool:
    for path in _cgroup_children(parent):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                if f.read().strip():
                    return True
        except OSError:
            pass
    return False


# fixed kill points, in the order create reaches them: each is something this test observes
KILL_POINTS = {
    "root-entry": lambda root, parent, out: bool(os.listdir(root)),
    "cgroup-made": lambda root, parent, out: bool(_cgroup_children(parent)),
    "pid-in-cgroup": lambda root, parent, out: _cgroup_has_pid(parent),
    "create-returned": lambda root, parent, out: out.is_set(),
}


def _marker_procs(marker: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline", "status"])
            if marker in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE]


def fork_call(fn):
    """(pid, line reader) of a child forked from this process (its modules imported already: no interpreter
    start-up, which costs seconds of an emulated guest's CPU) that calls ``fn()``, writes one line, ``returned``
    or ``raised: ERROR``, and then waits until it is killed (after an error it exits 1)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported on the pipe
                os.write(w, f"raised: {e!r}\n".encode())
                os._exit(1)
            os.write(w, b"returned\n")
            while True:
                signal.pause()
        finally:
            os._exit(1)
    os.close(w)
    return pid, os.fdopen(r, "rb")


@pytest.mark.clause("LC-FAULT-02")
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_creator_killed_during_create_leaves_an_id_that_works(factory, factory_root, runtime_name, config, point,
                                                             adopt_orphans):
    """Issue 13 case 3: SIGKILL the creating process at an observed point of create; then the id
    either loads as a working container or is free: load raises ContainerDestroyed and create
    works. Nothing of the dead create survives (no process, cgroup or state: the leak check)."""
    marker = f"8640{os.getpid() % 1000}{list(KILL_POINTS).index(point)}"

    def create():  # in the creator: a factory of its own on the same root
        from libcontainer.conformance.runtimes import resolve
        resolve(runtime_name)(factory_root).create("k", Config(
            rootfs=config.rootfs, process=Process(args=["sleep", marker]), cgroup_parent=config.cgroup_parent))
    creator, told = fork_call(create)
    said: list[bytes] = []
    returned = threading.Event()

    def listen():
        said.append(told.readline())
        if said[0].startswith(b"returned"):
            returned.set()
    threading.Thread(target=listen, daemon=True).start()
    ended = False
    try:
        _until(lambda: KILL_POINTS[point](factory_root, config.cgroup_parent, returned)
               or (said and not returned.is_set()), what=f"kill point {point}")
        ended = os.waitpid(creator, os.WNOHANG)[0] == creator
        assert not ended, f"the creator ended before the kill: {said}"
    finally:
        if not ended:
            os.kill(creator, signal.SIGKILL)
            os.waitpid(creator, 0)
        told.close()
    try:
        left = factory.load("k")
    except ContainerDestroyed:
        left = None
    if left is not None:  # create had finished: an ordinary container
        assert left.status() in (Status.RUNNING, Status.STOPPED)
        left.destroy()
    c = factory.create("k", dataclasses.replace(config, process=Process(args=["sleep", "86400"])))
    try:
        assert c.status() == Status.RUNNING
    finally:
        c.destroy()
    with pytest.raises(ContainerDestroyed):
        factory.load("k")
    # whatever process the dead create started is gone (its keeper may take a moment to finish it)
    _until(lambda: not _marker_procs(marker), timeout=20, what=f"the dead create's init (sleep {marker}) to go")


# -- LC-FAULT-03: the keeper is lost ----------------------------------------------------------------

def _keeper(c) -> int:
    """The parent of the container's init: the process that reaps it."""
    pids = set(c.processes())
    init = next(p for p in pids if psutil.Process(p).ppid() not in pids)
    return psutil.Process(init).ppid()


@pytest.mark.clause("LC-FAULT-03")
def test_lost_keeper_leaves_no_unkept_init_and_consistent_answers(factory, config, adopt_orphans):
    """Issue 13 case 4, exact input: SIGKILL the process that keeps the container (its init's
    parent) while init runs, with a wait() already blocked. Then the blocked wait() and a new one
    return an exit status (not ProcessNotFound); status() is RUNNING with a working start_process,
    or STOPPED with no live init and start_process raising ContainerNotRunning; destroy works."""
    c = factory.create("keeper", config)
    try:
        init = next(p for p in c.processes())
        keeper = _keeper(c)
        if keeper in (os.getpid(), 1):
            pytest.skip("the runtime's init is a child of the caller or of pid 1: no separate keeper to kill")
        blocked = Call(c.wait)
        assert not blocked.join(0.2)
        kp = psutil.Process(keeper)
        os.kill(keeper, signal.SIGKILL)
        kp.wait(10)
        status = c.status()
        assert status in (Status.RUNNING, Status.STOPPED)
        if status == Status.RUNNING:
            pid = c.start_process(Process(args=["true"]))
            assert Call(c.wait_process, pid).get(10) == 0
            c.signal(init, signal.SIGKILL)
        else:
            assert not is_live(init), "STOPPED while its init still runs, unkept"
            with pytest.raises(ContainerNotRunning):
                c.start_process(Process(args=["true"]))
        assert blocked.join(10), "a wait() blocked when the keeper died never returned"
        assert blocked.error is None, repr(blocked.error)
        assert isinstance(blocked.result, int)
        assert Call(c.wait).get(10) == blocked.result
        assert c.status() == Status.STOPPED
        assert not is_live(init)
    finally:
        c.destroy()


# -- LC-FAULT-05: destroy racing other calls --------------------------------------------------------

@pytest.mark.clause("LC-FAULT-05", "LC-STATS-02")
def test_destroy_racing_stats_resume_processes(factory, config):
    """Issue 13 case 8: stats(), resume() and processes() loop in other threads while destroy()
    runs: destroy never fails, the others raise nothing but ContainerDestroyed once it is gone
    (and, from resume, the ContainerNotRunning of the STOPPED it passes through), and the id is
    free after."""
    wrong = []
    for round_ in range(15):
        c = factory.create("race", config)
        go, stop = threading.Event(), threading.Event()

        def loop(call):
            go.wait()
            while not stop.is_set():
                try:
                    call()
                except ContainerDestroyed:
                    return
                except NotSupported:
                    return  # a runtime that gives no stats at all: not this clause's concern
                except ContainerNotRunning:
                    if call.__name__ == "stats":  # STOPPED gives stats (LC-STATS-03)
                        wrong.append("stats: ContainerNotRunning")
                        return
                    continue  # destroy kills first: resume on STOPPED (LC-RESUME-05)
                except LibcontainerError as e:
                    wrong.append(f"{call.__name__}: {e!r}")
                    return

        threads = [threading.Thread(target=loop, args=(f,), daemon=True) for f in (c.stats, c.resume, c.processes)]
        for t in threads:
            t.start()
        go.set()
        try:
            c.destroy()
        except LibcontainerError as e:
            wrong.append(f"destroy: {e!r}")
        stop.set()
        for t in threads:
            t.join(30)
        c.destroy()
        with pytest.raises(ContainerDestroyed):
            factory.load("race")
        assert not wrong, (round_, wrong)


# -- LC-FAULT-06: start_process racing init's exit --------------------------------------------------

@pytest.mark.clause("LC-FAULT-06", "LC-EXEC-04")
@pytest.mark.parametrize("delay", ["0.01", "0.02", "0.03", "0.05"])
def test_start_process_racing_init_exit_is_container_not_running(factory, config, delay):
    """Issue 13 case 9, exact input: an init that exits after ``delay`` s, start_process in a loop:
    the call that meets the exit raises ContainerNotRunning, never a SystemFailure."""
    c = factory.create("exec-race", dataclasses.replace(config, process=Process(args=["sleep", delay])))
    try:
        started = 0
        deadline = time.monotonic() + 60
        with pytest.raises(ContainerNotRunning):
            while time.monotonic() < deadline:
                c.start_process(Process(args=["true"]))
                started += 1
        assert c.status() == Status.STOPPED
    finally:
        c.destroy()


# -- LC-FAULT-07: no zombie keepers -----------------------------------------------------------------

def _zombie_children() -> list[int]:
    return [p.pid for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE]


@pytest.mark.clause("LC-FAULT-07")
def test_no_zombies_after_lifecycles_destroyed_elsewhere(factory, factory_root, runtime_name, config):
    """Issue 13 case 12: containers created here and destroyed by another process leave no zombie
    child of this process once their handles are dropped."""
    before = set(_zombie_children())
    for i in range(8):
        c = factory.create(f"z{i}", config)
        del c
    _run(runtime_name, factory_root, "for i in range(8): factory.load(f'z{i}').destroy()")
    gc.collect()
    for i in range(8):
        with pytest.raises(ContainerDestroyed):
            factory.load(f"z{i}")
    # a keeper that has just exited may take a moment to be reaped: wait for none to be left
    _until(lambda: not (set(_zombie_children()) - before), timeout=10,
           what=f"no zombie children of the creator (left: {sorted(set(_zombie_children()) - before)})")


# -- LC-FAULT-09: ids never alias --------------------------------------------------------------------

@pytest.mark.clause("LC-FAULT-09", "LC-ID-01")
def test_long_id_and_its_hashed_name_do_not_collide(factory, config):
    """Issue 13 case 13, exact input: a 201-character id and the 129-character id equal to the name
    the reference once stored it under (64 characters, '-', SHA-256 hex) are two containers."""
    long_id = "a" * 201
    alias = long_id[:64] + "-" + hashlib.sha256(long_id.encode()).hexdigest()
    assert len(alias) == 129
    first = factory.create(long_id, config)
    try:
        try:
            second = factory.create(alias, config)
        except IdInUse:
            pytest.fail(f"id {alias!r} is refused as in use by {long_id[:10]}...")
        try:
            assert first.status() == second.status() == Status.RUNNING
            assert factory.load(alias).id == alias
            assert factory.load(long_id).id == long_id
            second.destroy()
            assert first.status() == Status.RUNNING
        finally:
            second.destroy()
    finally:
        first.destroy()

