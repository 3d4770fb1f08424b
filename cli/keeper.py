"""The process ``create``'s ``--pid-file`` names (``exec``'s names the process itself: :mod:`.execproc`).

runc's pid file names the container's init, which runc leaves to its caller's subreaper (conmon,
containerd's shim): that caller reaps it and so learns its exit status. The reference's init is
the child of its monitor, which outlives the caller, so the caller could never reap it. ``lcrun``
therefore writes the pid of a *keeper*: a process forked from ``lcrun`` (so reparented to the
caller's subreaper when ``lcrun`` exits) that exits with the status of the container's process
(a code, or 128 + the signal for a signal death, as a shell reports it).

The keeper joins the container's mount namespace (setns(2)), so a tool that reads the pid's
``/proc/PID/ns/mnt`` to list the container's processes (``podman top``: it joins that namespace
and reads its /proc) sees the container. The wait itself is done by the keeper's child, which
stays in the host's mount namespace where the public API (``Container.wait_process``) reaches
the container's state; the keeper forwards the signals it gets to that child, which forwards them
to the process (``Container.signal``). ``lcrun state`` still gives the init's own pid (the OCI
adapter takes the init's pid from there, and waits for the keeper as its stand-in).

Known limit: containerd's runc shim reads a task's cgroup (its metrics) from the pid file's
process, the keeper, which is not in the container's cgroup (it would show in ``ps`` if it were).
"""

from __future__ import annotations

import os
import signal

from libcontainer.plumbing import linux
from libcontainer.spec import LibcontainerError

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def write_pid_file(path: str, pid: int) -> None:
    """Write ``pid`` to ``path`` atomically (runc writes a temporary file and renames it)."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def _join_mount_namespace(pid: int) -> None:
    """setns(2) into ``pid``'s mount namespace; nothing when it cannot be joined (it has exited)."""
    try:
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        linux.setns(fd, linux.CLONE_NEWNS)
    except OSError:
        pass  # as if it had exited: the keeper still waits and exits with the status
    finally:
        os.close(fd)


def forward_signals(container, pid: int) -> None:
    """From now on, the signals of :data:`FORWARDED` this process gets go to ``pid`` of ``container``
    (``Container.signal``; an error, the process having exited, is dropped)."""
    _forward(lambda sig: container.signal(pid, sig), LibcontainerError)


def forward_signals_to_child(pid: int) -> None:
    """From now on, the signals of :data:`FORWARDED` this process gets go to its child ``pid``
    (not reaped yet, so the pid cannot name another process)."""
    _forward(lambda sig: os.kill(pid, sig), ProcessLookupError)


def _forward(send, gone: type[BaseException]) -> None:
    """Install a handler for each of :data:`FORWARDED` that calls ``send(sig)``, dropping ``gone``."""
    def forward(sig, _frame):
        try:
            send(sig)
        except gone:
            pass
    for sig in FORWARDED:
        signal.signal(sig, forward)


def _wait(container, pid: int) -> int:
    forward_signals(container, pid)
    return container.wait_process(pid)


def spawn(container, pid: int) -> int:
    """Fork the keeper of ``pid`` (a process of ``container``); return the keeper's pid."""
    keeper = os.fork()
    if keeper:
        return keeper
    code = 255
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.setsid()
        waiter = os.fork()
        if waiter == 0:
            try:
                code = _wait(container, pid)
            finally:
                os._exit(code & 0xFF if code >= 0 else 255)

        forward_signals_to_child(waiter)
        _join_mount_namespace(pid)
        code = linux.exit_status(os.waitpid(waiter, 0)[1])
    except BaseException:  # noqa: BLE001 - a keeper has nobody to report to but its status
        pass
    finally:
        os._exit(code)
