"""The process a ``--pid-file`` names.

runc's pid file names the container's init, which runc leaves to its caller's subreaper (conmon,
containerd's shim): that caller reaps it and so learns its exit status. The reference's init is
the child of its monitor, which outlives the caller, so the caller could never reap it. ``lcrun``
therefore writes the pid of a *keeper*: a small process forked from ``lcrun`` (so reparented to
the caller's subreaper when ``lcrun`` exits) that waits for the container's process through the
public API (``Container.wait_process``), forwards the signals it gets to that process, and exits
with its status (a code, or 128 + the signal for a signal death, which a caller reads as the
shell does). ``lcrun state`` still gives the init's own pid.
"""

from __future__ import annotations

import os
import signal

from libcontainer.spec import LibcontainerError

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def write_pid_file(path: str, pid: int) -> None:
    """Write ``pid`` to ``path`` atomically (runc writes a temporary file and renames it)."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


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

        def forward(sig, _frame):
            try:
                container.signal(pid, sig)
            except LibcontainerError:
                pass
        for sig in FORWARDED:
            signal.signal(sig, forward)
        code = container.wait_process(pid)
    except BaseException:  # noqa: BLE001 - a keeper has nobody to report to but its status
        pass
    finally:
        os._exit(code & 0xFF if code >= 0 else 255)
