"""The caller's side of the supervisor (:mod:`.supervisor`): reach the one of a factory root,
starting it on first need, ask it to start an init, and wait until it lets a container go.

The supervisor starts in one of two modes (``LinuxFactory(monitor=...)``):

* ``"fork"`` (default): forked from the caller, which has every module imported already, so the
  first create waits for a fork, not for an interpreter's start-up and imports (tens of ms);
  the child detaches (new session) and runs :func:`.supervisor.run_forked`. Its heap is the
  caller's, shared copy-on-write while the caller lives (``gc.freeze()`` keeps the collector
  from copying it).
* ``"exec"``: ``python -I -m libcontainer.reference.supervisor``, a fresh interpreter that owes
  nothing to the caller (for callers whose other threads hold locks across fork, or whose heap
  is large), slower to start by its start-up.

Either way it is started once per root and then serves every create as one request; while this
process lives it is its child, reaped from :mod:`libcontainer.plumbing.reaper` when it exits
(SPEC.md LC-FAULT-07); when this process exits it is reparented and goes on.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import reaper
from libcontainer.plumbing import statedir
from libcontainer.spec import SystemFailure

from . import supervisor as supervisor_mod

START_TIMEOUT = 120.0  # seconds; generous: emulated (TCG) guests under load are 15-45x slower


class Supervision:
    """The supervisor of factory root ``root`` as the caller sees it.

    ``mode``: ``"fork"`` or ``"exec"`` (see the module doc); ``idle``: seconds a supervisor keeping
    no container waits before it exits (0: at once); ``timeout``: seconds to wait for it to start
    and for an init to exec."""

    MODES = ("fork", "exec")

    def __init__(self, root: str, mode: str = "fork", idle: float = 0.0, timeout: float = START_TIMEOUT):
        self.root = root
        self.mode = mode
        self.idle = idle
        self.timeout = timeout

    def connect(self) -> socket.socket:
        """A connection to the running supervisor; one is started when none runs. SystemFailure."""
        for _attempt in range(5):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.settimeout(self.timeout)
            try:
                sock.connect(supervisor_mod.address(self.root))
                return sock
            except ConnectionRefusedError:
                sock.close()
            except OSError as e:
                sock.close()
                raise SystemFailure(f"connect to the supervisor of {self.root}: {e}", errno=e.errno) from e
            self.start()
        raise SystemFailure(f"the supervisor of {self.root} exits whenever it starts")

    def ensure(self) -> None:
        """Make sure a supervisor runs and has adopted the containers a killed one left (it answers
        HelloRequest once it serves; a dying one, whose socket is not closed yet, does not)."""
        for _attempt in range(5):
            with self.connect() as sock:
                try:
                    messages.send_msg(sock, messages.HelloRequest())
                    if isinstance(messages.recv_reply(sock), messages.PidReply):
                        return
                except (ConnectionResetError, BrokenPipeError):
                    pass
                except OSError as e:
                    raise SystemFailure(f"the supervisor of {self.root}: {e}", errno=e.errno) from e
        raise SystemFailure(f"the supervisor of {self.root} does not answer")

    def start(self) -> None:
        """Start a supervisor and wait until it is ready (or finds another one running)."""
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            if self.mode == "fork":
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        os.close(r)
                        code = supervisor_mod.run_forked(self.root, w, self.idle)
                    finally:
                        os._exit(code)
            else:
                pid = subprocess.Popen(
                    [sys.executable, "-I", "-m", "libcontainer.reference.supervisor", self.root, str(w), repr(self.idle)],
                    pass_fds=[w], close_fds=True, start_new_session=True, cwd="/", stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        reaper.add(pid)  # reaped by this process whenever it exits (LC-FAULT-07)
        try:
            data = statedir.read_all(r, self.timeout, "the supervisor to start")
        finally:
            os.close(r)
        if not data:
            raise SystemFailure(f"the supervisor of {self.root} exited before it was ready")

    def create(self, state_dir: str, fds: list[int]) -> tuple[socket.socket, messages.InitReply]:
        """Ask for the init of the container in ``state_dir`` (its ``state.json`` written with
        ``creating``), ``fds`` its stdio. Returns the connection, on which the caller commits
        ("c" once ``state.json`` is complete; closing it without that kills the init), and the
        reply. ConfigInvalid, SystemFailure.

        A supervisor that is exiting (it let its last container go) closes the request unanswered
        and makes nothing for it; it is sent again, to the next supervisor, for up to ``timeout``
        seconds (while other threads or processes create and destroy, several may exit in turn)."""
        deadline = time.monotonic() + self.timeout
        while True:
            sock = self.connect()
            try:
                messages.send_msg(sock, messages.CreateRequest(state_dir), fds)
                reply = messages.recv_reply(sock)
            except (ConnectionResetError, BrokenPipeError):
                reply = None
            except TimeoutError:
                sock.close()
                raise SystemFailure("timed out waiting for the container's init to start") from None
            except BaseException:
                sock.close()
                raise
            if isinstance(reply, messages.InitReply):
                return sock, reply
            if isinstance(reply, messages.ErrorReply):
                try:
                    drop(state_dir, self.timeout)  # it exits when this was its last: wait for that
                finally:
                    sock.close()
                raise reply.exception()
            sock.close()
            if os.path.lexists(os.path.join(state_dir, statedir.SOCK)):
                raise SystemFailure("the supervisor exited while starting the container's init")
            # it was exiting (its last container dropped) and did not take the request: the next one
            if time.monotonic() >= deadline:
                raise SystemFailure(f"the supervisor of {self.root} exited before it took the create")


def drop(state_dir: str, timeout: float = 10.0) -> None:
    """Wait (up to ``timeout`` s) until the supervisor keeps the container in ``state_dir`` no more:
    every process of it reaped, its statuses written. The caller killed them first. When it was
    the supervisor's last container and the supervisor exits, wait for that too, so nothing is
    left when destroy returns."""
    try:
        keeper = statedir.read_json(os.path.join(state_dir, statedir.MONITOR))
    except (OSError, ValueError):
        keeper = None
    try:
        sock = statedir.connect(state_dir, timeout)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        _wait_exiting(keeper, os.path.dirname(state_dir), timeout)  # it let the container go already
        return
    except OSError as e:
        raise SystemFailure(f"connect to the supervisor: {e}", errno=e.errno) from e
    pidfd = None
    with sock:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pidfd = linux.pidfd_open(struct.unpack("3i", creds)[0])
            messages.send_msg(sock, messages.DropRequest())
            reply = messages.recv_reply(sock)
        except OSError:
            reply = None
    try:
        if reply is None:
            # reset (or EOF): it let the container go while the connection waited to be accepted
            # (closing monitor.sock resets those), and may be exiting with its last one; or it died
            _wait_exiting(keeper, os.path.dirname(state_dir), timeout)
        elif isinstance(reply, messages.DroppedReply) and reply.dropped and pidfd is not None:
            linux.wait_readable(pidfd, timeout)
            reaper.reap(struct.unpack("3i", creds)[0])
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _wait_exiting(keeper, root: str, timeout: float) -> None:
    """When the supervisor named by ``keeper`` (``monitor.json``) lives but no longer listens on the
    root's address, it is exiting (it dropped its last container by itself, when that container's
    processes exited): wait for it."""
    if not supervisor_mod.keeper_alive(keeper):
        return
    pid = keeper["monitor_pid"]
    try:
        pidfd = linux.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if linux.process_start_time(pid) != keeper["monitor_start"]:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as probe:
            try:
                probe.connect(supervisor_mod.address(root))
                return  # it serves: nothing to wait for
            except OSError:
                pass
        linux.wait_readable(pidfd, timeout)
        reaper.reap(pid)
    finally:
        os.close(pidfd)
