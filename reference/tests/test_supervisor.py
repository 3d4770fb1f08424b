"""The supervisor: both start modes, one process for all containers of a root, its exit and reaping,
create from several threads, its exit against a create at the same moment (it never exits keeping
a container, so no init is left without a parent that records its status)."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import signal
import socket
import termios
import threading
import time

import psutil
import pytest

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.reference import LinuxFactory
from libcontainer.reference import supervisor as supervisor_mod
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


# -- its exit against a create at the same moment ---------------------------------------------

DEADLINE = 8.0  # seconds for each observed step; under messages.REQUEST_TIMEOUT, which ends the hold


def _pipe_bytes(pid: int) -> int:
    """Bytes waiting in the pipes open in process ``pid`` (FIONREAD, ioctl_tty(2), through a new
    open of /proc/PID/fd/N): the supervisor's only pipe is its signal wake-up pipe."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if not os.readlink(path).startswith("pipe:"):
                continue
            mine = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            total += int.from_bytes(fcntl.ioctl(mine, termios.FIONREAD, b"\0\0\0\0"), "little")
        finally:
            os.close(mine)
    return total


def _unread(sock: socket.socket) -> int:
    """Bytes ``sock`` sent that its peer has not read yet (SIOCOUTQ of a unix stream socket, unix(7))."""
    return int.from_bytes(fcntl.ioctl(sock, termios.TIOCOUTQ, b"\0\0\0\0"), "little")


def _until(what: str, done) -> None:
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"never observed: {what}"
        time.sleep(0.001)


def _accepted(supervisor: int, sock: socket.socket, address) -> socket.socket:
    before = _sockets(supervisor)
    sock.connect(address)
    _until("the supervisor accepting the connection", lambda: _sockets(supervisor) - before)
    return sock


def test_create_in_the_round_that_drops_the_last_container_goes_to_the_next_supervisor(factory, config,
                                                                                       monkeypatch):
    """Forced, not hoped for: the supervisor is held inside one request (a line begun on a
    container's socket: it reads until the newline) while the last container's init dies and a
    CreateRequest arrives on a connection it accepted before; its next round of events holds
    both, the exit first. Once the supervisor has let its last container go it exits after the current round of
    events; a CreateRequest read later in that round is closed unanswered (the creator starts the
    next supervisor). It was kept: the supervisor exited with it and its init had no parent to
    record its status ('t2''s init was never recorded', 1 run in 15 of
    test_supervisor.py::test_create_from_several_threads_at_once)."""
    assert isinstance(factory, LinuxFactory)
    last = factory.create("last", config)
    supervisor = psutil.Process(last.init_pid).ppid()
    supervisor_fd = os.pidfd_open(supervisor)
    stdin_r, stdin_w = os.pipe()
    new_config = dataclasses.replace(config, process=dataclasses.replace(
        config.process, args=["sh", "-c", "read x; exit 7"], stdin=stdin_r))
    created: dict = {}
    creator = None
    try:
        root_conn = _accepted(supervisor, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC),
                              supervisor_mod.address(factory.root))
        root_conn.settimeout(DEADLINE)
        held = _accepted(supervisor, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC),
                         os.path.join(factory.state_dir("last"), statedir.SOCK))
        held.settimeout(DEADLINE)
        with held:
            line = messages.encode(messages.WaitRequest(last.init_pid, last._state.incarnation))
            held.sendall(line[:-1])  # the supervisor reads it, then waits for the newline
            _until("the supervisor reading the begun request", lambda: _unread(held) == 0)
            last.signal(last.init_pid, signal.SIGKILL)  # the last container's init exits: SIGCHLD
            _until("the supervisor's SIGCHLD on its wake-up pipe", lambda: _pipe_bytes(supervisor) > 0)
            connect = factory.supervision.connect
            conns = iter([root_conn])
            monkeypatch.setattr(factory.supervision, "connect", lambda: next(conns, None) or connect())

            def create():
                try:
                    created["container"] = factory.create("next", new_config)
                except Exception as e:  # noqa: BLE001 - asserted below
                    created["error"] = e
            creator = threading.Thread(target=create)
            creator.start()
            _until("the CreateRequest queued", lambda: _unread(root_conn) > 0)
            held.sendall(b"\n")  # next round: the init's exit, then the create
            assert messages.recv_reply(held) == messages.StatusReply(128 + signal.SIGKILL)
        creator.join(DEADLINE)
        assert "error" not in created, created
        new = created["container"]
        # the supervisor that let "last" go exits; the new container's init has a live parent that keeps it
        assert linux.wait_readable(supervisor_fd, DEADLINE), "the supervisor of no container did not exit"
        keeper = psutil.Process(new.init_pid).ppid()
        assert keeper != supervisor and keeper == new._state.monitor_pid, \
            f"init of 'next' is kept by {new._state.monitor_pid}, its parent is {keeper}"
        os.close(stdin_w)
        stdin_w = -1
        assert new.wait() == 7
    finally:
        if creator is not None:
            creator.join(DEADLINE)
        for fd in (stdin_r, stdin_w, supervisor_fd):
            if fd >= 0:
                os.close(fd)
        if "container" in created:
            created["container"].destroy()
        last.destroy()
