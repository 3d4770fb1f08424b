"""The per-container monitor: parent and child subreaper of every container process.

This module is its request server and its life (:func:`run`); the start-up half, with the
protocol to the creator drawn, is :mod:`.monitor_startup`.

Started by ``LinuxFactory.create``, forked from the caller (:func:`run_forked`,
the default) or as ``python -m libcontainer.reference.monitor STATE_DIR
SYNC_FD`` (:func:`main`), with the init's stdio as its own. It compiles the
seccomp filter, creates the pid namespace (or, with a user namespace, has an
intermediate child make the user and pid namespaces while it writes the id
maps), forks the init, makes the veth pair when asked, reports
``{"init_pid", "init_start"}`` (or an error) on SYNC_FD, then serves its unix
socket (:mod:`libcontainer.plumbing.messages`, :mod:`libcontainer.plumbing.server`):

* ExecRequest with stdin/stdout/stderr passed as SCM_RIGHTS fds: start a
  process in the container, answer PidReply.
* WaitRequest: answer StatusReply when the pid is reaped.
* StartRequest: release a CREATED container's init (``create(start=False)``), answer
  PidReply (the init's pid), or ErrorReply ContainerNotCreated when it was started already.

Every reaped process's exit status (code, or 128+signal) goes to
``exits/<pid>``; when the file cannot be written (a full or read-only factory
root) the monitor keeps it in memory for its waiters and logs the failure
(SPEC.md LC-FAULT-03). When init exits the kernel kills the rest of the pid
namespace; the monitor reaps them all and exits, so no zombie remains.

Start-up is crash-safe (LC-FAULT-02): the monitor writes its identity (pid,
start time) to ``monitor.json`` and as the first line on SYNC_FD, and after reporting the init waits for EOF on
COMMIT_FD, which the creator closes once ``state.json`` is complete. If the
creator died first (the report cannot be written, or the state is not
complete at EOF), the monitor kills its init and exits.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.plumbing.server import MonitorServer
from libcontainer.spec import Process

from . import process as process_mod
from .monitor_startup import MonitorStartup, committed


class Monitor(MonitorStartup, MonitorServer):
    """The request server on ``monitor.sock`` (:class:`libcontainer.plumbing.server.MonitorServer`:
    wait, reaping, shutdown) with exec, and the monitor's life."""

    def execute(self, request, fds: list[int]):
        if isinstance(request, messages.StartRequest):
            return self.release()
        if not isinstance(request, messages.ExecRequest):
            return super().execute(request, fds)
        return self.exec(Process.from_dict(request.process), fds)

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
        stopped = messages.ErrorReply("ContainerNotRunning", "the container's init has exited")
        if not self._init_alive():
            return stopped
        with open(os.devnull, "r+b") as null:
            stdio = [fds[i] if i < len(fds) else null.fileno() for i in range(3)]
            try:
                move = process_mod.CgroupMove(self.procs_files)  # in parallel with the child's setns
                try:
                    pid, err = self.spawn(lambda errfd: process_mod.run_exec(
                        self.init_pid, self.config.namespaces, self.procs_files, process, stdio, errfd, self.filter,
                        cgroup_sync=move.child_end()), during=move.move)
                finally:
                    move.close()
            except OSError as e:
                if not self._init_alive(settle=2.0 if e.errno == errno.ENOMEM else 0.0):
                    return stopped  # fork into a pid namespace whose init died: ENOMEM (LC-FAULT-06)
                raise
        if err is not None and not self._init_alive(settle=0.5 if err.get("errno") else 0.0):
            return stopped  # the init exited while the process joined it (its /proc/N/ns vanished)
        if err is not None:
            code = "ConfigInvalid" if err["kind"] == "config" else "SystemError"
            return messages.ErrorReply(code, err["message"], err["errno"])
        return messages.PidReply(pid)

    def _init_alive(self, settle: float = 0.0) -> bool:
        """True while init runs. With ``settle`` (seconds): after a failure that an exiting init
        explains (fork into its dying pid namespace: ENOMEM; its /proc/N/ns gone), wait up to that
        long for the init to finish exiting (its pidfd turns readable), so the answer is certain."""
        if self.init_pid not in self.children or linux.process_state(self.init_pid) in ("Z", "X", None):
            return False
        if settle:
            # an init exiting in its pid namespace waits until every other process of it is reaped,
            # and those are this monitor's children: reap them while waiting
            try:
                pidfd = os.pidfd_open(self.init_pid)
            except ProcessLookupError:
                return False
            try:
                deadline = time.monotonic() + settle
                while time.monotonic() < deadline:
                    self.reap()
                    if self.init_pid not in self.children or linux.wait_readable(pidfd, 0.005):
                        return False
            finally:
                os.close(pidfd)
        return True

    def abandon(self) -> None:
        """The creator died before create finished: kill the init (an unreaped child of this
        process, so its pid cannot have been reused) and reap every child."""
        if self.init_pid:
            with contextlib.suppress(OSError):
                os.kill(self.init_pid, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:
                continue


def run(state_dir: str, sync_fd: int, commit_fd: int = -1) -> int:
    """The monitor's life, in either start mode: start init, report on ``sync_fd``, wait for the
    creator's commit (EOF on ``commit_fd``), serve; the exit code."""
    os.chdir(state_dir)
    monitor = None
    try:
        ident = {"monitor_pid": os.getpid(), "monitor_start": linux.process_start_time(os.getpid())}
        statedir.write_json(statedir.MONITOR, ident)
        os.write(sync_fd, json.dumps(ident).encode() + b"\n")
        monitor = Monitor(state_dir)
        ok = monitor.start_init(sync_fd)
    except BaseException as e:  # noqa: BLE001
        try:
            os.write(sync_fd, json.dumps({"error": {"kind": "system", "errno": getattr(e, "errno", None),
                                                    "message": f"monitor: {e}"}}).encode())
        except OSError:
            pass
        if monitor is not None:
            monitor.abandon()  # the creator is gone (EPIPE) or gave up: nothing may run unkept
        return 1
    os.close(sync_fd)
    # the init has its stdio; the monitor keeps none, so readers see EOF when the container's copies close
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    if not ok:
        return 1
    if commit_fd >= 0 and not committed(commit_fd, monitor.init_pid):
        monitor.abandon()
        return 1
    log = os.open("monitor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    try:
        monitor.serve()
    except Exception as e:  # noqa: BLE001
        os.write(2, f"monitor failed: {e!r}\n".encode())
        return 1
    return 0


def main(argv: list[str]) -> int:
    """``python -m libcontainer.reference.monitor STATE_DIR SYNC_FD [COMMIT_FD]`` (the "exec" start mode)."""
    return run(argv[1], int(argv[2]), int(argv[3]) if len(argv) > 3 else -1)


def run_forked(state_dir: str, stdio: list[int], sync_fd: int, commit_fd: int = -1) -> int:
    """The "fork" start mode: called in a child forked from the caller of ``create``, which has every
    module imported already, so no interpreter starts on the hot path. Detaches from the caller
    (new session, default signal dispositions, only the init's stdio and ``sync_fd`` kept open)."""
    os.setsid()
    linux.set_name(b"lc-monitor")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in a fresh interpreter
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    high = [os.dup(fd) for fd in stdio]  # out of the way of 0..2 before they are replaced
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    linux.close_fds_except((0, 1, 2, sync_fd, commit_fd))
    return run(state_dir, sync_fd, commit_fd)


if __name__ == "__main__":
    # os._exit: the state is on disk; skipping the interpreter's teardown lets destroy(), which
    # waits for the monitor to exit, return sooner
    os._exit(main(sys.argv))
