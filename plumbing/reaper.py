"""Reaps the monitors this process started, as soon as they exit (SPEC.md LC-FAULT-07).

A monitor forked (or exec'd) by ``create`` is a child of the creating process; nothing else
waits for it. One daemon thread polls a pidfd (pidfd_open(2)) per monitor and ``waitpid``s it
when it becomes readable (the process exited), so a monitor that exits when another process
destroys its container, or after this process dropped every handle, never stays a zombie. The
thread starts with the first monitor; ``reap(pid)`` reaps at once when the caller knows it exited.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading

from . import linux

_lock = threading.Lock()
_pidfds: dict[int, int] = {}
_wake: tuple[int, int] | None = None
_thread: threading.Thread | None = None
_owner = 0  # the pid that made the thread: a forked child starts its own


def add(pid: int) -> None:
    """Reap child ``pid`` once it exits."""
    global _wake, _thread, _owner
    try:
        pidfd = linux.pidfd_open(pid)
    except ProcessLookupError:
        return
    with _lock:
        if _owner != os.getpid():
            _pidfds.clear()
            _wake = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            _thread = threading.Thread(target=_run, name="lc-monitor-reaper", daemon=True)
            _owner = os.getpid()
            _thread.start()
        _pidfds[pid] = pidfd
        wake = _wake
    with contextlib.suppress(OSError):
        os.write(wake[1], b"x")


def reap(pid: int) -> bool:
    """``waitpid(pid, WNOHANG)`` if ``pid`` is a registered child; True once it is reaped (or not ours)."""
    with _lock:
        pidfd = _pidfds.get(pid)
        if pidfd is None:
            return True
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            del _pidfds[pid]
            os.close(pidfd)
        return bool(done)


def _run() -> None:
    poller = select.poll()
    watched: set[int] = set()
    wake_r = _wake[0]
    poller.register(wake_r, select.POLLIN)
    while True:
        with _lock:
            current = dict(_pidfds)
        for fd in set(current.values()) - watched:
            poller.register(fd, select.POLLIN)
        for fd in watched - set(current.values()):
            with contextlib.suppress(KeyError, ValueError):
                poller.unregister(fd)
        watched = set(current.values())
        by_fd = {fd: pid for pid, fd in current.items()}
        for fd, _events in poller.poll():
            if fd == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
            elif fd in by_fd:
                with contextlib.suppress(KeyError, ValueError):
                    poller.unregister(fd)
                watched.discard(fd)
                reap(by_fd[fd])
