"""The supervisor's exit against a create arriving at the same moment: it never exits keeping a
container (reference/supervisor.py), so no init is left without a parent that records its status.

The interleaving is forced, not hoped for: the supervisor is held inside one request (a line
begun on a container's socket and not finished: it reads until the newline) while the last
container's init dies and a CreateRequest arrives on a connection it accepted before, so that
its next round of events holds both, the exit first.
"""

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

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.reference import LinuxFactory
from libcontainer.reference import supervisor as supervisor_mod

DEADLINE = 8.0  # seconds for each observed step; under messages.REQUEST_TIMEOUT, which ends the hold


def _sockets(pid: int) -> set[str]:
    """The sockets (``socket:[inode]``) open in process ``pid``."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:"):
            found.add(link)
    return found


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
    """Once the supervisor has let its last container go it exits after the current round of
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
