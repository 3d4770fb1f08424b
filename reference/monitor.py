"""The per-container monitor: parent and child subreaper of every container process.

Started by ``LinuxFactory.create``, forked from the caller (:func:`run_forked`,
the default) or as ``python -m libcontainer.reference.monitor STATE_DIR
SYNC_FD`` (:func:`main`), with the init's stdio as its own. It compiles the
seccomp filter, creates the pid namespace (or, with a user namespace, has an
intermediate child make the user and pid namespaces while it writes the id
maps), forks the init, makes the veth pair when asked, reports
``{"init_pid", "init_start"}`` (or an error) on SYNC_FD, then serves its unix
socket:

* ``{"op": "exec", "process": {...}}`` with stdin/stdout/stderr passed as
  SCM_RIGHTS fds: start a process in the container, answer ``{"pid": N}``.
* ``{"op": "wait", "pid": N}``: answer ``{"status": S}`` when N is reaped.

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
import select
import selectors
import signal
import socket
import sys
import time

from libcontainer.spec import Config, Process

from . import linux as L
from . import process as P
from . import state as S


class Monitor:
    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        st = S.read_json(S.STATE)
        self.config = Config.from_dict(st["config"])
        self.procs_files = st["cgroup"]["procs_files"]
        self.init_pid = 0
        self.children: set[int] = set()
        self.waiters: dict[int, list[socket.socket]] = {}
        self.statuses: dict[int, int] = {}  # every reaped child's status, also when it could not be written
        self.sel = selectors.DefaultSelector()

    # -- start-up ------------------------------------------------------
    def start_init(self, sync_fd: int) -> bool:
        os.makedirs(S.EXITS, exist_ok=True)
        L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind(S.SOCK)
        self.listener.listen(64)
        config = self.config
        self.filter = None
        if config.seccomp is not None:
            from . import seccomp
            self.filter = seccomp.build(config.seccomp)
        if "user" in config.namespaces:
            pid, err = self._start_userns_init()
        else:
            if "pid" in config.namespace_paths:
                self._setns_path(config.namespace_paths["pid"], L.CLONE_NEWPID)
            elif "pid" in config.namespaces:
                L.unshare(L.CLONE_NEWPID)
            net = self._network_pipes()
            cg_r, cg_w = os.pipe2(os.O_CLOEXEC)

            def init(errfd):
                os.close(cg_w)
                P.run_init(config, self.procs_files, errfd, self.filter, net and net[1], cgroup_sync=cg_r)

            def during(pid):
                os.close(cg_r)
                try:
                    P.join_cgroup(self.procs_files, pid)
                    os.write(cg_w, b"c")
                finally:
                    os.close(cg_w)  # a failed move: the init reads EOF and gives up
                if net:
                    self._network(pid, net[0], net[1])
            try:
                pid, err = self._spawn(init, during=during)
            finally:
                for fd in net[0] if net else ():
                    os.close(fd)
        if err is not None:
            os.write(sync_fd, json.dumps({"error": err}).encode())
            return False
        self.init_pid = pid
        os.write(sync_fd, json.dumps({"init_pid": pid, "init_start": L.process_start_time(pid)}).encode())
        return True

    @staticmethod
    def _setns_path(path: str, nstype: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            L.setns(fd, nstype)
        finally:
            os.close(fd)

    def _network_pipes(self):
        """((monitor's read, monitor's write), (init's read, init's write)) when a veth is asked for."""
        if self.config.network is None:
            return None
        from_init = os.pipe2(os.O_CLOEXEC)
        to_init = os.pipe2(os.O_CLOEXEC)
        return (from_init[0], to_init[1]), (to_init[0], from_init[1])

    def _network(self, pid: int, ends: tuple[int, int], child_ends: tuple[int, int] = ()) -> None:
        """Wait until init has its net namespace, make the veth pair, let init go on."""
        for fd in child_ends:
            os.close(fd)  # the init's ends: a read sees EOF if the init dies
        r, w = ends
        if os.read(r, 1) != b"n":
            return  # init failed first; its error comes on errfd
        from . import network
        try:
            network.setup_host(self.config.network, pid)
        except BaseException:
            os.write(w, b"x")
            raise
        os.write(w, b"g")

    def _start_userns_init(self) -> tuple[int, dict | None]:
        """Init in a user namespace: an intermediate child joins the cgroup, makes (or joins) the
        user namespace, waits while the monitor writes uid_map and gid_map, makes the pid namespace
        (which must be owned by the new user namespace for /proc to mount), forks init and exits.
        The init is reparented to the monitor (a child subreaper). The monitor then joins that
        pid namespace, so that the processes it starts later are born in it."""
        config = self.config
        new_user = "user" not in config.namespace_paths
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        up_r, up_w = os.pipe2(os.O_CLOEXEC)      # stage 1 -> monitor: "u", then the init's pid
        down_r, down_w = os.pipe2(os.O_CLOEXEC)  # monitor -> stage 1: "m" once the maps are written
        net = self._network_pipes()
        stage1 = os.fork()
        if stage1 == 0:
            try:
                for fd in (err_r, up_r, down_w) + (net[0] if net else ()):
                    os.close(fd)
                P._reset_signals()
                L.prctl(L.PR_SET_DUMPABLE, 0)
                P.join_cgroup(self.procs_files)
                if new_user:
                    L.unshare(L.CLONE_NEWUSER)
                    os.write(up_w, b"u")
                    if os.read(down_r, 1) != b"m":
                        os._exit(1)
                else:
                    self._setns_path(config.namespace_paths["user"], L.CLONE_NEWUSER)
                for setid in (os.setresgid, os.setresuid):
                    try:
                        setid(0, 0, 0)  # root of the namespace, when it is mapped
                    except OSError:
                        pass
                if "pid" in config.namespace_paths:
                    self._setns_path(config.namespace_paths["pid"], L.CLONE_NEWPID)
                elif "pid" in config.namespaces:
                    L.unshare(L.CLONE_NEWPID)
                init = os.fork()
                if init == 0:
                    os.close(up_w)  # else the monitor's read of the init's pid waits for this exec
                    os.close(down_r)
                    P.run_init(config, self.procs_files, err_w, self.filter, net and net[1], joined_cgroup=True)
                os.write(up_w, f"{init}".encode())
                os._exit(0)
            except BaseException as e:  # noqa: BLE001
                P._report(err_w, e)
                os._exit(127)
        for fd in (err_w, up_w, down_r) + (net[1] if net else ()):
            os.close(fd)
        try:
            if new_user:
                if os.read(up_r, 1) == b"u":
                    self._write_maps(stage1)
                    os.write(down_w, b"m")
            os.close(down_w)
            data = b""
            while chunk := os.read(up_r, 64):
                data += chunk
            os.waitpid(stage1, 0)
            init = int(data) if data else 0
            if init and net:
                self._network(init, net[0])
            with os.fdopen(err_r, "rb") as f:
                err_r = -1
                report = f.read()
        finally:
            for fd in (up_r, err_r) + (net[0] if net else ()):
                if fd >= 0:
                    os.close(fd)
        if report or not init:
            if init:
                os.waitpid(init, 0)  # reparented here when stage 1 exited
            return init, json.loads(report) if report else {"kind": "system", "errno": None,
                                                            "message": "user namespace set-up failed"}
        self.children.add(init)
        if "pid" in config.namespaces:
            self._setns_path(f"/proc/{init}/ns/pid", L.CLONE_NEWPID)
        return init, None

    def _write_maps(self, pid: int) -> None:
        """/proc/<pid>/uid_map and gid_map from the config (user_namespaces(7)); setgroups stays allowed."""
        for name, maps in (("uid_map", self.config.uid_mappings), ("gid_map", self.config.gid_mappings)):
            text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)

    def _spawn(self, child, during=None) -> tuple[int, dict | None]:
        """Fork ``child(errfd)``; return (pid, None) once it has exec'd, or (pid, error).

        ``during(pid)`` runs in the monitor before it waits for the exec (the network set-up).
        """
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:
            os.close(r)
            child(w)  # never returns
        os.close(w)
        with os.fdopen(r, "rb") as f:
            hook_error = None
            if during is not None:
                try:
                    during(pid)
                except Exception as e:  # noqa: BLE001 - reported below, after the child is gone
                    hook_error = e
            data = f.read()
        if data or hook_error is not None:
            _, status = os.waitpid(pid, 0)
            if hook_error is None:
                return pid, json.loads(data)
            # the monitor's own failure is the cause; the child only gave up after it
            return pid, {"kind": "system", "errno": getattr(hook_error, "errno", None),
                         "message": f"{type(hook_error).__name__}: {hook_error}"}
        self.children.add(pid)
        return pid, None

    # -- the loop -------------------------------------------------------
    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, "sigchld")
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.reap()
        while self.children:
            for key, _ in self.sel.select():
                if key.data == "sigchld":
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self.reap()
                elif key.data == "accept":
                    conn, _ = self.listener.accept()
                    self.sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    self.handle(key.fileobj)
        self.shutdown()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            code = L.exit_status(status)
            self.statuses[pid] = code
            try:
                S.write_exit(".", pid, code)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.write(2, f"monitor: cannot record the exit status {code} of pid {pid}: {e}\n".encode())
            self.children.discard(pid)
            for conn in self.waiters.pop(pid, []):
                self._reply(conn, {"status": code})

    def shutdown(self) -> None:
        for pid, conns in self.waiters.items():
            code = self._status_of(pid)
            for conn in conns:
                self._reply(conn, {"status": code} if code is not None else
                            {"error": "ProcessNotFound", "message": f"pid {pid} is not in the container"})
        try:
            os.unlink(S.SOCK)
        except FileNotFoundError:
            pass
        self.listener.close()

    def _reply(self, conn: socket.socket, msg: dict) -> None:
        try:
            S.send_msg(conn, msg)
        except OSError:
            pass
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    # -- requests -------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        try:
            data, fds = read_request(conn)
        except (OSError, ValueError):
            data, fds = b"", []
        if not data:
            self._reply(conn, {})
            return
        try:
            msg = json.loads(data)
            if msg["op"] == "exec":
                self._reply(conn, self.exec(Process.from_dict(msg["process"]), fds))
            elif msg["op"] == "wait":
                self.wait(conn, int(msg["pid"]))
            else:
                self._reply(conn, {"error": "SystemError", "message": f"unknown op {msg['op']!r}"})
        except Exception as e:  # noqa: BLE001 - a bad request must not end the monitor
            self._reply(conn, {"error": "SystemError", "message": f"{type(e).__name__}: {e}"})
        finally:
            for fd in fds:
                os.close(fd)

    def exec(self, process: Process, fds: list[int]) -> dict:
        stopped = {"error": "ContainerNotRunning", "message": "the container's init has exited"}
        if not self._init_alive():
            return stopped
        with open(os.devnull, "r+b") as null:
            stdio = [fds[i] if i < len(fds) else null.fileno() for i in range(3)]
            try:
                pid, err = self._spawn(lambda errfd: P.run_exec(
                    self.init_pid, self.config.namespaces, self.procs_files, process, stdio, errfd, self.filter))
            except OSError as e:
                if not self._init_alive(settle=2.0 if e.errno == errno.ENOMEM else 0.0):
                    return stopped  # fork into a pid namespace whose init died: ENOMEM (LC-FAULT-06)
                raise
        if err is not None and not self._init_alive(settle=0.5 if err.get("errno") else 0.0):
            return stopped  # the init exited while the process joined it (its /proc/N/ns vanished)
        if err is not None:
            code = "ConfigInvalid" if err["kind"] == "config" else "SystemError"
            return {"error": code, "message": err["message"], "errno": err["errno"]}
        return {"pid": pid}

    def _status_of(self, pid: int) -> int | None:
        code = self.statuses.get(pid)
        return code if code is not None else S.read_exit(".", pid)

    def _init_alive(self, settle: float = 0.0) -> bool:
        """True while init runs. With ``settle`` (seconds): after a failure that an exiting init
        explains (fork into its dying pid namespace: ENOMEM; its /proc/N/ns gone), wait up to that
        long for the init to finish exiting (its pidfd turns readable), so the answer is certain."""
        if self.init_pid not in self.children or L.process_state(self.init_pid) in ("Z", "X", None):
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
                    if self.init_pid not in self.children or select.select([pidfd], [], [], 0.005)[0]:
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

    def wait(self, conn: socket.socket, pid: int) -> None:
        code = self._status_of(pid)
        if code is not None:
            self._reply(conn, {"status": code})
        elif pid in self.children:
            self.waiters.setdefault(pid, []).append(conn)
        else:
            self._reply(conn, {"error": "ProcessNotFound", "message": f"pid {pid} is not in the container"})


MAX_REQUEST = 16 << 20  # bytes: above execve(2)'s ARG_MAX (a quarter of the stack limit) for usual stacks
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send the rest of a request it began


def read_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    """One request: a newline-terminated JSON message and the fds (SCM_RIGHTS, at most 3) sent with it.

    The kernel hands a stream message that carries fds over in several reads (the first ends where
    the sender's first skb did, about 36 KB on x86_64), so the rest is read until the newline or EOF.
    Raises OSError (a timeout after REQUEST_TIMEOUT s included) and ValueError (more than MAX_REQUEST
    bytes); the fds are closed then."""
    conn.settimeout(REQUEST_TIMEOUT)
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    try:
        chunks = [data]
        size = len(data)
        while data and not data.endswith(b"\n"):
            data = conn.recv(65536)
            chunks.append(data)
            size += len(data)
            if size > MAX_REQUEST:
                raise ValueError(f"request of more than {MAX_REQUEST} bytes")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return b"".join(chunks), fds


def run(state_dir: str, sync_fd: int, commit_fd: int = -1) -> int:
    """The monitor's life, in either start mode: start init, report on ``sync_fd``, wait for the
    creator's commit (EOF on ``commit_fd``), serve; the exit code."""
    os.chdir(state_dir)
    monitor = None
    try:
        ident = {"monitor_pid": os.getpid(), "monitor_start": L.process_start_time(os.getpid())}
        S.write_json(S.MONITOR, ident)
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
    if commit_fd >= 0 and not _committed(commit_fd, monitor.init_pid):
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


def _committed(commit_fd: int, init_pid: int) -> bool:
    """Wait for the creator on ``commit_fd``: "c" (it wrote ``state.json``), or EOF without it (it
    died or gave up); then True if committed, or if the creator died just after completing
    ``state.json`` with this init."""
    data = b""
    try:
        while chunk := os.read(commit_fd, 64):
            data += chunk
    except OSError:
        pass
    os.close(commit_fd)
    if data.startswith(b"c"):
        return True
    try:
        state = S.read_json(S.STATE)
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("init_pid") == init_pid and not state.get("creating")


def main(argv: list[str]) -> int:
    """``python -m libcontainer.reference.monitor STATE_DIR SYNC_FD [COMMIT_FD]`` (the "exec" start mode)."""
    return run(argv[1], int(argv[2]), int(argv[3]) if len(argv) > 3 else -1)


def run_forked(state_dir: str, stdio: list[int], sync_fd: int, commit_fd: int = -1) -> int:
    """The "fork" start mode: called in a child forked from the caller of ``create``, which has every
    module imported already, so no interpreter starts on the hot path. Detaches from the caller
    (new session, default signal dispositions, only the init's stdio and ``sync_fd`` kept open)."""
    os.setsid()
    L.set_name(b"lc-monitor")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in a fresh interpreter
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    high = [os.dup(fd) for fd in stdio]  # out of the way of 0..2 before they are replaced
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    L.close_fds_except((0, 1, 2, sync_fd, commit_fd))
    return run(state_dir, sync_fd, commit_fd)


if __name__ == "__main__":
    # os._exit: the state is on disk; skipping the interpreter's teardown lets destroy(), which
    # waits for the monitor to exit, return sooner
    os._exit(main(sys.argv))
