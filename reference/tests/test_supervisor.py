"""The supervisor: both start modes, one process for all containers of a root, its exit and reaping,
create from several threads."""

from __future__ import annotations

import os
import signal
import threading

import psutil
import pytest

from libcontainer.reference import LinuxFactory
from libcontainer.spec.tests.helpers import exec_probe, run_init


@pytest.mark.parametrize("mode", ["fork", "exec"])
def test_both_supervisor_modes_keep_every_container_in_one_process(factory_root, config, mode):
    """One supervisor is the parent of every init of the root; it exits with the last destroy."""
    f = LinuxFactory(factory_root, monitor=mode)
    first = f.create(f"m-{mode}", config)
    second = f.create(f"n-{mode}", config)
    try:
        supervisor = psutil.Process(psutil.Process(first.init_pid).ppid())
        assert psutil.Process(second.init_pid).ppid() == supervisor.pid
        if mode == "fork":
            assert supervisor.name() == "lc-supervisor"
        else:
            assert "libcontainer.reference.supervisor" in supervisor.cmdline()
        # nothing of the caller's: no regular file open
        assert not supervisor.open_files()
        for c in (first, second):
            _pid, out, status = exec_probe(c, "echo hi; probe keyctl")
            assert (out.split(), status) == (["hi", "EPERM"], 1)
        first.destroy()
        assert supervisor.is_running() and supervisor.status() != psutil.STATUS_ZOMBIE
    finally:
        first.destroy()
        second.destroy()
    assert not psutil.pid_exists(supervisor.pid) or supervisor.status() == psutil.STATUS_ZOMBIE


def test_idle_supervisor_serves_the_next_create_then_exits(factory_root, config):
    """``supervisor_idle``: the supervisor outlives its last container by that long and serves the next."""
    f = LinuxFactory(factory_root, supervisor_idle=30.0)
    c = f.create("idle", config)
    supervisor = psutil.Process(c.init_pid).ppid()
    c.destroy()
    assert psutil.pid_exists(supervisor)
    c = f.create("idle", config)
    try:
        assert psutil.Process(c.init_pid).ppid() == supervisor
    finally:
        c.destroy()
    handle = psutil.Process(supervisor)  # before the kill: it may exit and be reaped at once
    os.kill(supervisor, signal.SIGTERM)  # this test's own supervisor: not left for its idle time
    handle.wait(10)


def test_unknown_monitor_mode_is_refused(factory_root):
    with pytest.raises(ValueError):
        LinuxFactory(factory_root, monitor="spawn")


def test_supervisor_exits_and_is_reaped_after_destroy(factory, config):
    c, _out, status = run_init(factory, "reap", config, "exit 5")
    assert status == 5
    supervisor_pid = c._state.monitor_pid
    c.destroy()
    assert not psutil.pid_exists(supervisor_pid) or psutil.Process(supervisor_pid).status() != psutil.STATUS_ZOMBIE


def test_create_from_several_threads_at_once(factory, config):
    """The fork start mode forks a multi-threaded caller (the first create); creates wait for each other: every container still starts and runs."""
    results, errors = {}, []

    def make(i):
        try:
            c, out, status = run_init(factory, f"t{i}", config, f"echo {i}")
            results[i] = (out.strip(), status)
            c.destroy()
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=make, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == {i: (str(i), 0) for i in range(6)}


@pytest.mark.parametrize("userns", [False, True])
@pytest.mark.parametrize("bad", [{"args": ["/nonexistent"]}, {"cwd": "/etc/passwd/x"},
                                 {"rlimits": {"RLIMIT_NOPE": (1, 1)}}])
def test_failed_init_is_config_invalid_and_leaves_nothing(factory, config, bad, userns):
    """create is atomic: the leak check of the ``factory`` fixture fails the test if anything is left
    (a cwd under a file cannot be made, unlike a missing one: LC-FAULT-12)."""
    import dataclasses

    from libcontainer.spec import ConfigInvalid, IDMap
    cfg = dataclasses.replace(config, process=dataclasses.replace(config.process, **bad))
    if userns:
        cfg = dataclasses.replace(cfg, namespaces=cfg.namespaces + ["user"], uid_mappings=[IDMap(0, 100000, 65536)],
                                  gid_mappings=[IDMap(0, 100000, 65536)])
    with pytest.raises(ConfigInvalid, match="process"):
        factory.create("bad", cfg)


def test_leak_check_finds_a_forked_supervisor(factory_root, factory, config):
    """The harness's leak check finds a live forked supervisor (its cwd is the factory root)."""
    from libcontainer.conformance.leaks import processes_mentioning
    c = factory.create("seen", config)
    try:
        supervisor_pid = psutil.Process(c.init_pid).ppid()
        assert supervisor_pid in {p.pid for p in processes_mentioning(factory_root)}
    finally:
        c.destroy()


def _sockets(pid: int) -> set[str]:
    """The sockets (``socket:[inode]``) open in process ``pid``."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        if link.startswith("socket:"):
            found.add(link)
    return found


def test_drop_request_accepted_before_the_drop_is_answered(factory, config):
    """A DropRequest on a connection the supervisor accepted before it let the container go (its
    init exited meanwhile) is still answered: destroy once waited its whole timeout for it."""
    import time

    from libcontainer.plumbing import messages, statedir
    other = factory.create("other", config)  # the supervisor keeps this one: it does not exit
    c = factory.create("dropped", config)
    try:
        supervisor = psutil.Process(c.init_pid).ppid()
        before = _sockets(supervisor)
        sock = statedir.connect(factory.state_dir("dropped"), timeout=5.0)
        with sock:
            deadline = time.monotonic() + 10
            while not _sockets(supervisor) - before:  # a new socket: the connection accepted
                assert time.monotonic() < deadline, "the supervisor never accepted the connection"
                time.sleep(0.001)
            c.signal(c.init_pid, signal.SIGKILL)
            sock_path = os.path.join(factory.state_dir("dropped"), statedir.SOCK)
            while os.path.exists(sock_path):  # the container is let go
                assert time.monotonic() < deadline, "the supervisor never let the container go"
                time.sleep(0.001)
            messages.send_msg(sock, messages.DropRequest())
            reply = messages.recv_reply(sock)  # within the socket's 5 s timeout, else socket.timeout
        assert isinstance(reply, messages.DroppedReply)
    finally:
        c.destroy()
        other.destroy()
