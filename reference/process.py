"""The child side of starting a process: runs after fork, ends in exec or _exit.

:func:`run_init` becomes the container's init (new namespaces, rootfs,
pivot_root); :func:`run_exec` joins a running container's namespaces
(setns(2)) and cgroup. Both end in :func:`finish`, which applies the
process's identity and limits in runc's order (libcontainer/init_linux.go
``finalizeNamespace``) and execs. A failure before exec is reported as one
JSON line on ``errfd`` (close-on-exec, so a successful exec closes it with
no data).

Hardening (the CVE classes named in issue 4):

* every process is made non-dumpable (PR_SET_DUMPABLE 0) before it enters
  the container, so a container process cannot open ``/proc/<pid>/exe`` of
  a process that is still the host's Python (CVE-2019-5736) nor ptrace it:
  that needs CAP_SYS_PTRACE, which the default set lacks; exec(2) makes it
  dumpable again once it runs the container's binary;
* every fd but 0, 1, 2 (and the close-on-exec error pipe) is closed before
  ``chdir(cwd)``, so ``cwd`` cannot name a host directory through
  ``/proc/self/fd`` (CVE-2024-21626), and the cwd is checked to be inside
  the container's root afterwards.
"""

from __future__ import annotations

import errno
import gc
import json
import shutil
import os
import resource
import signal
import socket

from libcontainer.plumbing import linux
from libcontainer.spec import Config, Process

from . import capabilities as caps_mod
from . import rootfs

# joined in this order: user first (it grants the capabilities to join the rest); mnt last
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "mnt")


def report_error(errfd: int, exc: BaseException, kind: str = "system") -> None:
    if isinstance(exc, OSError) and exc.errno is not None:
        msg = {"kind": kind, "errno": exc.errno, "message": str(exc)}
    elif isinstance(exc, _ConfigError):
        msg = {"kind": kind, "errno": None, "message": str(exc)}
    else:
        msg = {"kind": kind, "errno": None, "message": f"{type(exc).__name__}: {exc}"}
    try:
        os.write(errfd, json.dumps(msg).encode())
    except OSError:
        pass


def reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def join_cgroup(procs_files: list[str], pid: int = 0) -> None:
    """Move ``pid`` (0: the calling process) into the container's cgroup: one ``cgroup.procs`` file
    per hierarchy. A single-threaded caller moving itself (``pid`` 0) writes ``0`` to the v1
    hierarchies' ``tasks`` files instead (:func:`self_move_files`): the same move without the
    kernel's global threadgroup lock and the RCU grace period it waits for."""
    if pid == 0 and single_threaded():
        procs_files = self_move_files(procs_files)
    data = str(pid).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def self_move_files(procs_files: list[str]) -> list[str]:
    """For each ``cgroup.procs`` of ``procs_files``, the ``tasks`` file beside it when there is one
    (a cgroup v1 hierarchy; cgroup v2 has none), else the ``cgroup.procs`` itself.

    Why (kernel/cgroup/cgroup.c ``cgroup_procs_write_start``): a pid written to ``cgroup.procs``
    moves a thread group under ``cgroup_threadgroup_rwsem``, whose write lock begins with an RCU
    grace period (4-15 ms here, loaded); ``0`` written to ``tasks`` (the writing thread, "If the
    thread is `current`, it won't exit(2) under our hands or change PID through exec(2)") skips
    it: 0.3 ms for eight hierarchies against 8-13 ms (bench/RESULTS.md, run 6). For a
    single-threaded process the thread is the process. Kernels that take the lock cost as before."""
    out = []
    for path in procs_files:
        tasks = os.path.join(os.path.dirname(path), "tasks")
        out.append(tasks if os.path.basename(path) == "cgroup.procs" and os.path.exists(tasks) else path)
    return out


def single_threaded() -> bool:
    """True when the calling process has one thread (``/proc/self/task``, proc(5)); False when unsure."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def wait_cgroup(cgroup_sync: int) -> None:
    """Block until the monitor has moved this process into the container's cgroup: one byte ``c``
    on ``cgroup_sync`` (closed then); EOF (the move failed) raises OSError EIO."""
    if os.read(cgroup_sync, 1) != b"c":
        raise OSError(errno.EIO, "the monitor did not move the process into the container's cgroup")
    os.close(cgroup_sync)


class CgroupMove:
    """Moving a forked child into the container's cgroup from the parent, while the child goes on
    with its set-up (a cgroup v1 migration can wait for an RCU grace period: milliseconds spent in
    parallel rather than on the path); the child waits for it before exec (:func:`wait_cgroup`).

    Make it before the fork; the child takes :meth:`child_end`, the parent calls :meth:`move` with
    the child's pid, then :meth:`close` in any case."""

    def __init__(self, procs_files: list[str]):
        self.procs_files = procs_files
        self.read_end, self.write_end = os.pipe2(os.O_CLOEXEC)

    def child_end(self) -> int:
        """In the child: the fd for :func:`wait_cgroup`."""
        os.close(self.write_end)
        self.write_end = -1
        return self.read_end

    def move(self, pid: int) -> None:
        """In the parent: move ``pid``, then tell it (``c``). A child that gave up meanwhile (ESRCH,
        EPIPE) reports its own error; any other failure is raised, and the child reads EOF and gives up
        (the write end is closed here in any case: the parent may wait for the child before its close)."""
        os.close(self.read_end)
        self.read_end = -1
        try:
            join_cgroup(self.procs_files, pid)
            os.write(self.write_end, b"c")
        except (ProcessLookupError, BrokenPipeError):
            pass
        finally:
            os.close(self.write_end)
            self.write_end = -1

    def close(self) -> None:
        for fd in (self.read_end, self.write_end):
            if fd >= 0:
                os.close(fd)
        self.read_end = self.write_end = -1


class _ConfigError(Exception):
    pass


def connect_console(process: Process) -> socket.socket | None:
    """Connect to ``process.console_socket`` while its host path is still reachable (before
    pivot_root or setns into the mount namespace); None without a terminal."""
    if not process.terminal:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(process.console_socket)
    except OSError as e:
        sock.close()
        raise _ConfigError(f"process.console_socket {process.console_socket!r}: {e.strerror}") from None
    return sock


def _terminal(sock: socket.socket) -> None:
    """Make a pty in the container's devpts, send its master over ``sock``, use the slave as stdio
    and controlling terminal (runc's console-socket protocol: one SCM_RIGHTS fd)."""
    master, slave = linux.open_pty()
    try:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
    finally:
        os.close(master)
        sock.close()
    linux.set_controlling_tty(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)


def finish(process: Process, errfd: int, seccomp_filter=None, console: socket.socket | None = None,
           start_gate: int | None = None, cgroup_sync: int | None = None) -> None:
    """Apply the process's identity and limits, then execvpe; never returns.

    ``cgroup_sync``: the parent is moving this process into the container's cgroup
    (:class:`CgroupMove`); waited for after the identity is applied, before the start gate and exec.

    ``start_gate`` (a create with ``start=False``, SPEC.md LC-CREATED-*): once the program is
    found (ConfigInvalid otherwise, LC-CREATED-08), close ``errfd`` (the monitor reads the EOF
    as "ready") and block reading one byte ``s`` from the gate before the exec; EOF without it
    (the monitor is gone) exits.

    Order (runc's): close stray fds, rlimits, umask, seccomp when
    no_new_privileges is off (loading needs CAP_SYS_ADMIN then), drop the
    bounding set, keep caps across setgroups/setgid/setuid, set the other
    capability sets, chdir into cwd, no_new_privileges, seccomp when it is
    on (as late as possible), exec.
    """
    if console is not None:
        _terminal(console)
    linux.close_fds_except([0, 1, 2, errfd] + [fd for fd in (start_gate, cgroup_sync) if fd is not None])
    for name, (soft, hard) in process.rlimits.items():
        if not hasattr(resource, name):
            raise _ConfigError(f"process.rlimits: unknown limit {name!r}")
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError) as e:
            raise OSError(getattr(e, "errno", None) or 22, f"process.rlimits.{name} {(soft, hard)}: {e}") from None
    os.umask(process.umask)
    if seccomp_filter is not None and not process.no_new_privileges:
        seccomp_filter.load(no_new_privileges=False)
    caps = process.capabilities
    if caps is not None:
        caps_mod.drop_bounding(caps)
        linux.prctl(linux.PR_SET_KEEPCAPS, 1)
    os.setgroups(process.additional_gids)
    os.setgid(process.gid)
    os.setuid(process.uid)
    if caps is not None:
        linux.prctl(linux.PR_SET_KEEPCAPS, 0)
        caps_mod.apply(caps)
    try:
        os.chdir(process.cwd)
        os.getcwd()  # ENOENT when the cwd is outside this process's root
    except OSError as e:
        raise _ConfigError(f"process.cwd {process.cwd!r}: {e.strerror}") from None
    env = dict(e.split("=", 1) for e in process.env)
    if "HOME" not in env:
        env["HOME"] = home_of(process.uid)
    if cgroup_sync is not None:
        wait_cgroup(cgroup_sync)
    if start_gate is not None:
        wait_for_start(process, env, errfd, start_gate)
    if process.no_new_privileges:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    if seccomp_filter is not None and process.no_new_privileges:
        seccomp_filter.load(no_new_privileges=True)
    try:
        os.execvpe(process.args[0], process.args, env)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
        raise _ConfigError(f"process.args[0] {process.args[0]!r}: {e.strerror}") from None


def wait_for_start(process: Process, env: dict, errfd: int, start_gate: int) -> None:
    """The CREATED state's wait (see :func:`finish`): the program looked up as execvpe will
    (ConfigInvalid when absent), errfd closed, then one byte ``s`` read from ``start_gate``."""
    if shutil.which(process.args[0], path=env.get("PATH", os.defpath)) is None:
        raise _ConfigError(f"process.args[0] {process.args[0]!r}: executable file not found")
    os.close(errfd)
    try:
        go = os.read(start_gate, 1)
    except OSError:
        go = b""
    if go != b"s":
        os._exit(128 + signal.SIGKILL)  # never started: the monitor is gone or the create was undone
    os.close(start_gate)


def home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    """HOME for a process whose env has none: the home directory of ``uid`` in the container's
    /etc/passwd, or ``/`` when it has no entry (runc's rule; SPEC.md LC-FAULT-13)."""
    # bytes, os.open/os.read: a text-mode open() costs the child milliseconds (codec and buffer set-up)
    try:
        fd = os.open(passwd, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return "/"
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return "/"
    finally:
        os.close(fd)
    want = str(uid).encode()
    for line in b"".join(chunks).split(b"\n"):
        fields = line.split(b":")
        if len(fields) >= 6 and fields[2] == want and fields[5]:
            return fields[5].decode(errors="replace")
    return "/"


def _child(errfd: int, body) -> None:
    # no cycle collection before exec: a full one walks the heap inherited from the monitor (and its
    # caller) and copies every page it touches
    gc.disable()
    try:
        reset_signals()
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        body()
    except _ConfigError as e:
        report_error(errfd, e, "config")
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent
        report_error(errfd, e)
    finally:
        os._exit(127)


def init_namespaces(config: Config) -> None:
    """Make (unshare) or join (setns, by path) the namespaces other than user and pid, which the
    monitor has arranged already."""
    flags = 0
    joins = []
    for ns in config.namespaces:
        if ns in ("pid", "user"):
            continue
        if ns in config.namespace_paths:
            joins.append(ns)
        else:
            flags |= linux.NAMESPACE_FLAGS[ns]
    # join before making new ones, mnt last of the joins (it changes what paths mean)
    for ns in sorted(joins, key=JOIN_ORDER.index):
        fd = os.open(config.namespace_paths[ns], os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, linux.NAMESPACE_FLAGS[ns])
        finally:
            os.close(fd)
    if flags:
        linux.unshare(flags)


def run_init(config: Config, procs_files: list[str], errfd: int, seccomp_filter=None, network_sync=None,
             joined_cgroup: bool = False, cgroup_sync: int | None = None, start_gate: int | None = None) -> None:
    """The container's init, forked by the monitor (already in its pid and user namespaces).

    ``network_sync``: (read fd, write fd) of pipes to the monitor, which
    makes the veth pair once this process has its net namespace.
    ``cgroup_sync``: a pipe on which the monitor, which moves this process
    into the container's cgroup while it builds its namespaces and rootfs
    (a cgroup v1 migration waits for an RCU grace period: milliseconds
    spent in parallel rather than on the path), writes one byte when done;
    read just before exec (:func:`finish`), or before unsharing a cgroup namespace (whose root is
    the cgroup the process is in then). ``joined_cgroup``: already in it. ``start_gate``: wait
    there before the exec (a CREATED container; :func:`finish`).
    """
    def body():
        os.setsid()
        new_cgroupns = "cgroup" in config.namespaces and "cgroup" not in config.namespace_paths
        if cgroup_sync is not None:
            if new_cgroupns:
                wait_cgroup(cgroup_sync)
        elif not joined_cgroup:
            join_cgroup(procs_files)
        init_namespaces(config)
        if "net" in config.namespaces and "net" not in config.namespace_paths:
            linux.loopback_up()
            if network_sync is not None:
                from . import network
                r, w = network_sync
                os.write(w, b"n")
                if os.read(r, 1) != b"g":
                    raise OSError(errno.EIO, "the monitor did not set up the network")
                network.setup_container(config.network)
        if config.hostname is not None:
            socket.sethostname(config.hostname)
        if config.sysctl:
            from . import sysctl
            try:
                sysctl.apply(config.sysctl)
            except FileNotFoundError as e:
                raise _ConfigError(e.strerror) from None
        console = connect_console(config.process)
        rootfs.setup(config)
        finish(config.process, errfd, seccomp_filter, console, start_gate,
               cgroup_sync=cgroup_sync if cgroup_sync is not None and not new_cgroupns else None)
    _child(errfd, body)


def run_exec(init_pid: int, namespaces: list[str], procs_files: list[str], process: Process,
             stdio: list[int], errfd: int, seccomp_filter=None, cgroup_sync: int | None = None) -> None:
    """A process joining a running container: cgroup, then setns into each namespace of init.

    The monitor is already in the container's pid namespace for its children. ``cgroup_sync``:
    the monitor moves this process into the cgroup meanwhile (:class:`CgroupMove`), waited for
    before exec; without it the process joins the cgroup itself, first.
    """
    def body():
        os.setsid()
        ns_fds = [(ns, os.open(f"/proc/{init_pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
                  for ns in JOIN_ORDER if ns in namespaces]
        if cgroup_sync is None:
            join_cgroup(procs_files)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        # nothing of the monitor's (its socket, the client's connection, ...) goes further
        linux.close_fds_except([0, 1, 2, errfd] + [fd for _ns, fd in ns_fds]
                               + ([] if cgroup_sync is None else [cgroup_sync]))
        console = connect_console(process)
        for ns, fd in ns_fds:
            linux.setns(fd, 0)
            os.close(fd)
        finish(process, errfd, seccomp_filter, console, cgroup_sync=cgroup_sync)
    _child(errfd, body)
