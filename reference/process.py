"""The child side of starting a process: runs after fork, ends in exec or _exit.

:func:`run_init` becomes the container's init (new namespaces, rootfs,
pivot_root); :func:`run_exec` joins a running container's namespaces
(setns(2)) and cgroup. Both report a failure before exec as one JSON line on
``errfd`` (close-on-exec, so a successful exec closes it with no data).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket

from libcontainer.spec import Config, Process

from . import linux as L
from . import rootfs

# joined in this order; mnt last, since it changes what paths mean
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "mnt")


def _report(errfd: int, exc: BaseException, kind: str = "system") -> None:
    if isinstance(exc, OSError) and exc.errno is not None:
        msg = {"kind": kind, "errno": exc.errno, "message": str(exc)}
    else:
        msg = {"kind": kind, "errno": None, "message": f"{type(exc).__name__}: {exc}"}
    try:
        os.write(errfd, json.dumps(msg).encode())
    except OSError:
        pass


def _reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _join_cgroup(procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as f:
            f.write("0")


def _exec(process: Process, errfd: int, keep: tuple[int, ...] = ()) -> None:
    """Apply the process's identity and limits, then execvpe; never returns."""
    for name, (soft, hard) in process.rlimits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    try:
        os.chdir(process.cwd)
    except OSError as e:
        raise _ConfigError(f"process.cwd {process.cwd!r}: {e.strerror}") from None
    os.setgroups(process.additional_gids)
    os.setgid(process.gid)
    os.setuid(process.uid)
    if process.no_new_privileges:
        L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)
    os.closerange(3, errfd)
    os.closerange(errfd + 1, 1 << 20)
    env = dict(e.split("=", 1) for e in process.env)
    try:
        os.execvpe(process.args[0], process.args, env)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
        raise _ConfigError(f"process.args[0] {process.args[0]!r}: {e.strerror}") from None


class _ConfigError(Exception):
    pass


def _child(errfd: int, body) -> None:
    try:
        _reset_signals()
        body()
    except _ConfigError as e:
        _report(errfd, e, "config")
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent
        _report(errfd, e)
    finally:
        os._exit(127)


def run_init(config: Config, procs_files: list[str], errfd: int) -> None:
    """The container's init, forked by the monitor (already in the new pid namespace)."""
    def body():
        os.setsid()
        _join_cgroup(procs_files)
        flags = 0
        for ns in config.namespaces:
            if ns not in ("pid", "user"):
                flags |= L.NAMESPACE_FLAGS[ns]
        L.unshare(flags)
        if config.hostname is not None:
            socket.sethostname(config.hostname)
        rootfs.setup(config)
        _exec(config.process, errfd)
    _child(errfd, body)


def run_exec(init_pid: int, namespaces: list[str], procs_files: list[str], process: Process,
             stdio: list[int], errfd: int) -> None:
    """A process joining a running container: cgroup, then setns into each namespace of init."""
    def body():
        os.setsid()
        ns_fds = [(ns, os.open(f"/proc/{init_pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
                  for ns in JOIN_ORDER if ns in namespaces and ns != "pid"]
        _join_cgroup(procs_files)
        for ns, fd in ns_fds:
            L.setns(fd, 0)
            os.close(fd)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        _exec(process, errfd)
    _child(errfd, body)
