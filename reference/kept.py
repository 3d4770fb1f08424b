"""One container as the supervisor keeps it: its init, the processes started in it, their exit
statuses and its socket ``monitor.sock`` (:mod:`libcontainer.plumbing.messages`).

A :class:`Kept` is made by the supervisor (:mod:`.supervisor`) in one of two ways:

* **created**: the supervisor forked the init (:class:`.monitor_startup.MonitorStartup`, the
  start-up shared with the per-container monitor of earlier versions); the init and every
  process started later are its children, so it reaps them and records each status
  (code, or 128 + signal) in ``exits/<pid>``, or in memory when that write fails (SPEC.md
  LC-FAULT-03);
* **adopted**: a supervisor started after the one that kept the container died finds the init
  still running (``init_pid`` with its start time ``init_start`` from ``state.json``, so a
  reused pid is not taken for it). The init is no child of it: it holds a pidfd (pidfd_open(2))
  to see the exit, and learns the status only from the kernel's process events
  (:mod:`.procevents`) while it runs; an init that exited while no supervisor ran, or whose
  event was missed, has no status: a wait for it is answered SystemError, saying so.

It is dropped (its socket closed and removed, DropRequest waiters answered) once its init has
exited and every child of it is reaped; the handle then reads statuses from ``exits/``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile
from libcontainer.spec import Process

from . import process as process_mod
from .monitor_startup import MonitorStartup

UNKNOWN = ("the exit status of pid {pid} is unknown: it exited while no supervisor kept the container "
           "(the supervisor that started it was killed), or its exit event was missed")


class Kept(MonitorStartup):
    """A container kept by ``supervisor`` (see the module doc)."""

    def __init__(self, state_dir: str, supervisor):
        super().__init__(state_dir)
        self.sup = supervisor
        self.listener: socket.socket | None = None
        self.pidfd: int | None = None  # adopted: the init's pidfd
        self.init_gone = False         # adopted: the pidfd turned readable
        self.leavers: list[socket.socket] = []
        self.filter = None

    # -- making ----------------------------------------------------------
    @classmethod
    def adopt(cls, state_dir: str, supervisor, state: statefile.ContainerState) -> "Kept | None":
        """Keep the running init of ``state`` again; None when it is not running (any more)."""
        try:
            pidfd = linux.pidfd_open(state.init_pid)
        except ProcessLookupError:
            return None
        if (linux.process_start_time(state.init_pid) != state.init_start
                or linux.process_state(state.init_pid) in ("Z", "X", None)):
            os.close(pidfd)
            return None
        kept = cls.__new__(cls)
        MonitorStartup.__init__(kept, state_dir)
        if kept.start_gate is not None:  # a CREATED init waits on its dead supervisor's gate: it sees EOF
            for fd in kept.start_gate:
                os.close(fd)
            kept.start_gate = None
        kept.sup, kept.leavers, kept.listener = supervisor, [], None
        kept.pidfd, kept.init_gone, kept.init_pid = pidfd, False, state.init_pid
        kept.filter = None
        if kept.config.seccomp is not None:
            from . import seccomp
            kept.filter = seccomp.compiled(kept.config.seccomp)
        return kept

    def listen(self) -> None:
        """Bind ``monitor.sock`` in the state directory (a stale one removed first)."""
        path = os.path.join(self.state_dir, statedir.SOCK)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        dfd = os.open(self.state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.bind(f"/proc/self/fd/{dfd}/{statedir.SOCK}")  # path length safe
        finally:
            os.close(dfd)
        sock.listen(64)
        self.listener = sock
        statedir.write_json(os.path.join(self.state_dir, statedir.MONITOR), self.sup.ident)

    def spawn(self, child, during=None):
        pid, err = super().spawn(child, during)
        if err is None:
            self.sup.owner[pid] = self
        return pid, err

    # -- the init --------------------------------------------------------
    def init_alive(self, settle: float = 0.0) -> bool:
        """True while init runs. With ``settle`` (seconds): after a failure an exiting init explains
        (fork into its dying pid namespace: ENOMEM; its /proc/N/ns gone), wait up to that long for
        the init to finish exiting, reaping meanwhile, so the answer is certain (LC-FAULT-06)."""
        if self.pidfd is not None:
            return not self.init_gone and not linux.wait_readable(self.pidfd, settle)
        if self.init_pid not in self.children or linux.process_state(self.init_pid) in ("Z", "X", None):
            return False
        if settle:
            try:
                pidfd = linux.pidfd_open(self.init_pid)
            except ProcessLookupError:
                return False
            try:
                deadline = time.monotonic() + settle
                while time.monotonic() < deadline:
                    self.sup.reap()
                    if self.init_pid not in self.children or linux.wait_readable(pidfd, 0.005):
                        return False
            finally:
                os.close(pidfd)
        return True

    def finished(self) -> bool:
        """The init has exited and no child is left to reap: nothing more to keep."""
        if self.pidfd is not None:
            return self.init_gone and not self.children
        return self.init_pid not in self.children and not self.children

    def kill_init(self) -> None:
        """SIGKILL the init: an unreaped child (so its pid is its own), or through the adopted pidfd."""
        with contextlib.suppress(OSError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:  # before the init is known (a failed start-up): every child of the container
                for pid in [self.init_pid] if self.init_pid else list(self.children):
                    if pid in self.children:
                        os.kill(pid, signal.SIGKILL)

    # -- statuses --------------------------------------------------------
    def record(self, pid: int, code: int | None) -> None:
        """``pid`` exited with ``code`` (None: unknown, an adopted init): record it, answer its waiters."""
        if code is not None:
            self.statuses[pid] = code
            try:
                statedir.write_exit(self.state_dir, pid, code)
            except OSError as e:
                self.log(f"cannot record the exit status {code} of pid {pid}: {e}")
        self.children.discard(pid)
        for conn in self.waiters.pop(pid, []):
            self.sup.reply(conn, self.status_reply(pid))

    def status_of(self, pid: int) -> int | None:
        code = self.statuses.get(pid)
        return code if code is not None else statedir.read_exit(self.state_dir, pid)

    def status_reply(self, pid: int):
        code = self.status_of(pid)
        if code is not None:
            return messages.StatusReply(code)
        if self.pidfd is not None and pid == self.init_pid:
            return messages.ErrorReply("SystemError", UNKNOWN.format(pid=pid))
        return messages.ErrorReply("ProcessNotFound", f"pid {pid} is not a process of the container")

    def wait(self, conn: socket.socket, pid: int) -> None:
        held = pid in self.children or (self.pidfd is not None and pid == self.init_pid and not self.init_gone)
        if self.status_of(pid) is None and held:
            self.waiters.setdefault(pid, []).append(conn)
        else:
            self.sup.reply(conn, self.status_reply(pid))

    def log(self, text: str) -> None:
        with contextlib.suppress(OSError):
            with open(os.path.join(self.state_dir, "monitor.log"), "a") as f:
                f.write(f"supervisor: {text}\n")

    # -- requests --------------------------------------------------------
    def execute(self, request, fds: list[int]):
        if isinstance(request, messages.StartRequest):
            return self.release()
        if isinstance(request, messages.ExecRequest):
            return self.exec(Process.from_dict(request.process), fds)
        return messages.ErrorReply("SystemError", f"unknown op {request.op!r}")

    def release(self):
        """StartRequest: let a CREATED container's init exec its program (SPEC.md LC-CREATED-02)."""
        if not isinstance(self.start_gate, int):
            return messages.ErrorReply("ContainerNotCreated", "the container was started already")
        gate, self.start_gate = self.start_gate, None
        try:
            os.write(gate, b"s")
        finally:
            os.close(gate)
        return messages.PidReply(self.init_pid)

    def exec(self, process: Process, fds: list[int]):
        """ExecRequest: fork a process that joins the container (born in its pid namespace)."""
        stopped = messages.ErrorReply("ContainerNotRunning", "the container's init has exited")
        if not self.init_alive():
            return stopped
        with open(os.devnull, "r+b") as null:
            stdio = [fds[i] if i < len(fds) else null.fileno() for i in range(3)]
            try:
                # v2: moved in parallel with the child's setns; v1: the child moves itself first (self_move)
                move = None if self.self_move else process_mod.CgroupMove(self.procs_files)
                try:
                    with self.sup.in_pid_namespace(self):
                        pid, err = self.spawn(lambda errfd: process_mod.run_exec(
                            self.init_pid, self.config.namespaces, self.procs_files, process, stdio, errfd,
                            self.filter, cgroup_sync=move.child_end() if move else None),
                            during=move.move if move else None)
                finally:
                    if move:
                        move.close()
            except OSError as e:
                if not self.init_alive(settle=2.0 if e.errno in (errno.ENOMEM, errno.ENOENT) else 0.0):
                    return stopped  # fork into a pid namespace whose init died: ENOMEM (LC-FAULT-06)
                raise
        if err is not None and not self.init_alive(settle=0.5 if err.get("errno") else 0.0):
            return stopped  # the init exited while the process joined it (its /proc/N/ns vanished)
        if err is not None:
            code = "ConfigInvalid" if err["kind"] == "config" else "SystemError"
            return messages.ErrorReply(code, err["message"], err["errno"])
        return messages.PidReply(pid)

    def close(self, last: bool) -> None:
        """Stop keeping: answer DropRequest waiters and held waits, close and remove the socket."""
        for conn in self.leavers:
            self.sup.reply(conn, messages.DroppedReply(last))
        for pid, conns in self.waiters.items():
            for conn in conns:
                self.sup.reply(conn, self.status_reply(pid))
        self.leavers, self.waiters = [], {}
        if self.listener is not None:
            self.sup.unregister(self.listener)
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                os.unlink(os.path.join(self.state_dir, statedir.SOCK))
            self.listener.close()
            self.listener = None
        if self.pidfd is not None:
            self.sup.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = -1  # still "adopted" for late replies
        if isinstance(self.start_gate, int):
            os.close(self.start_gate)
            self.start_gate = None
