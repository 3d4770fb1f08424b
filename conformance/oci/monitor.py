"""The adapter's per-container monitor: parent and child subreaper of an OCI runtime's container.

Run as ``python -I -S monitor.py STATE_DIR SYNC_FD [DIR_FD]`` (standard library only,
so it starts fast), with the init's stdio as its own stdio. An OCI runtime's
``create`` forks the container's init and exits; the init is then orphaned
and the kernel hands it to the nearest child subreaper (prctl(2)
PR_SET_CHILD_SUBREAPER). Being that subreaper is the only sound way to learn
the init's exit status; the same holds for ``exec --detach``, so exec'd
processes are started by the monitor too.

DIR_FD, when given, is STATE_DIR opened by the creator: the monitor works in
that directory, not in whatever STATE_DIR names when it gets to run (a
creator killed before recording the monitor leaves it to start late, after
the next create of the id made a new directory at that path). It reads ``monitor.json`` in STATE_DIR: ``{"create": argv, "pid_file": path,
"hide_unified_controllers": null | [empty_file, controllers_file]}``. With
the last set (crun on a hybrid cgroup host) the monitor first unshares its
mount namespace, makes it a slave of the host's (rslave: the host's later
mounts still reach it, as they reach a runtime run on the host, and nothing
goes back) and bind-mounts the empty file over the unified hierarchy's
``cgroup.controllers``: the runtime it runs sees no v2 controllers, and the
host's mount table is unchanged.

It runs ``create`` with its own stdio, reports ``{"init_pid": N}`` or
``{"error": "...", "rc": N}`` on SYNC_FD, then serves ``monitor.sock``:

* ``{"op": "exec", "argv": [...], "pid_file": path}`` with three fds
  (SCM_RIGHTS) for stdin, stdout, stderr: run the runtime's ``exec
  --detach`` with them, answer ``{"pid": N}`` or ``{"error": "...", "rc": N}``.
* ``{"op": "wait", "pid": N}``: answer ``{"status": S}`` once N is reaped,
  or ``{"error": "ProcessNotFound"}``.

Every reaped process's exit status (code, or 128 + signal) is written to
``exits/<pid>``, so any process can read it after the monitor is gone. The
monitor exits once init is reaped and it has no child left.
"""

import ctypes
import json
import os
import selectors
import signal
import socket
import sys

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_SLAVE = 4096, 16384, 1 << 19
_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def hide_unified_controllers(empty: str, controllers: str) -> None:
    """A mount namespace of this process's own (a slave of the host's), ``empty`` bind-mounted over ``controllers``."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None), "make / rslave")
    _check(_libc.mount(empty.encode(), controllers.encode(), None, MS_BIND, None), "bind over cgroup.controllers")


def read_request(conn) -> tuple[bytes, list[int]]:
    """A whole request (the client shuts its side down after sending) and the fds sent with it: the
    kernel splits a message that carries fds (about 36 KB a read), so one recv is not enough."""
    conn.settimeout(10.0)
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    chunks = [data]
    try:
        while data:
            data = conn.recv(65536)
            chunks.append(data)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return b"".join(chunks), fds


def exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def spawn(argv: list, fds: list) -> int:
    """Fork and exec ``argv`` with ``fds`` as stdin, stdout, stderr; return the pid."""
    pid = os.fork()
    if pid == 0:
        try:
            for i, fd in enumerate(fds):
                os.dup2(fd, i, inheritable=True)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    return pid


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


class Monitor:
    def __init__(self, spec: dict):
        self.spec = spec
        self.init_pid = 0
        self.init_done = False
        self.known: set = set()   # pids whose status we promise: init and exec'd processes
        self.waiters: dict = {}
        self.statuses: dict = {}  # also those that could not be written (a full or read-only root)
        self.sel = selectors.DefaultSelector()

    def start(self) -> dict:
        os.makedirs("exits", exist_ok=True)
        _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
        if self.spec.get("hide_unified_controllers"):
            hide_unified_controllers(*self.spec["hide_unified_controllers"])
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind("monitor.sock")
        self.listener.listen(64)
        pid = spawn(self.spec["create"], [0, 1, 2])
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return {"error": "create failed", "rc": exit_status(status)}
        self.init_pid = read_pid(self.spec["pid_file"])
        self.known.add(self.init_pid)
        return {"init_pid": self.init_pid}

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, "sigchld")
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        while self.reap():
            for key, _ in self.sel.select():
                if key.data == "sigchld":
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                elif key.data == "accept":
                    conn, _ = self.listener.accept()
                    self.sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    self.handle(key.fileobj)
        os.unlink("monitor.sock")
        for pid, conns in self.waiters.items():
            for conn in conns:
                self.reply(conn, self.status_reply(pid))

    def reap(self) -> bool:
        """Reap every exited child; False once init is gone and no child is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return not self.init_done
            if pid == 0:
                return True
            self.record(pid, exit_status(status))

    def record(self, pid: int, code: int) -> None:
        self.statuses[pid] = code
        tmp = f"exits/.{pid}.tmp"
        try:
            with open(tmp, "w") as f:
                f.write(str(code))
            os.rename(tmp, f"exits/{pid}")
        except OSError:  # kept in memory for the waiters (SPEC.md LC-FAULT-03)
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if pid == self.init_pid:
            self.init_done = True
        for conn in self.waiters.pop(pid, []):
            self.reply(conn, {"status": code})

    def status_reply(self, pid: int) -> dict:
        if pid in self.statuses:
            return {"status": self.statuses[pid]}
        try:
            with open(f"exits/{pid}") as f:
                return {"status": int(f.read())}
        except FileNotFoundError:
            return {"error": "ProcessNotFound", "message": f"pid {pid} is not a process of the container"}

    def reply(self, conn, msg: dict) -> None:
        try:
            conn.sendall(json.dumps(msg).encode())
        except OSError:
            pass
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass  # a waiter, no longer registered
        conn.close()

    def handle(self, conn) -> None:
        fds = []
        try:
            data, fds = read_request(conn)
            msg = json.loads(data) if data else None
            if msg is None:
                self.reply(conn, {})
            elif msg["op"] == "exec":
                self.reply(conn, self.exec(msg, fds))
            elif msg["op"] == "wait":
                pid = int(msg["pid"])
                reply = self.status_reply(pid)
                if "error" in reply and pid in self.known:
                    self.sel.unregister(conn)  # the request is read; its EOF must not count as a new one
                    self.waiters.setdefault(pid, []).append(conn)
                else:
                    self.reply(conn, reply)
            else:
                self.reply(conn, {"error": "SystemError", "message": f"unknown op {msg['op']!r}"})
        except Exception as e:  # noqa: BLE001 - a bad request must not end the monitor
            self.reply(conn, {"error": "SystemError", "message": f"{type(e).__name__}: {e}"})
        finally:
            for fd in fds:
                os.close(fd)

    def exec(self, msg: dict, fds: list) -> dict:
        if self.init_done:
            return {"error": "ContainerNotRunning", "message": "the container's init has exited"}
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = spawn(msg["argv"], [fds[i] if i < len(fds) else null for i in range(3)])
        finally:
            os.close(null)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return {"error": "exec failed", "rc": exit_status(status)}
        child = read_pid(msg["pid_file"])
        self.known.add(child)
        return {"pid": child}


def main(argv: list) -> int:
    state_dir, sync_fd = argv[1], int(argv[2])
    os.set_inheritable(sync_fd, False)  # the runtime and the container must not hold the creator's pipe
    if len(argv) > 3:  # the state directory as its creator opened it (argv[1] names it for ps)
        dir_fd = int(argv[3])
        os.fchdir(dir_fd)
        os.close(dir_fd)
    else:
        os.chdir(state_dir)
    try:
        with open("monitor.json") as f:
            monitor = Monitor(json.load(f))
        result = monitor.start()
    except BaseException as e:  # noqa: BLE001 - reported to the creator
        result = {"error": f"monitor: {type(e).__name__}: {e}", "rc": -1}
    os.write(sync_fd, json.dumps(result).encode())
    os.close(sync_fd)
    # the init holds its stdio; the monitor keeps none, so readers see EOF when the container's copies close
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    log = os.open("monitor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    if "error" in result:
        # reap whatever a failed create left as our children (the creator kills the rest)
        try:
            while True:
                os.waitpid(-1, 0)
        except ChildProcessError:
            pass
        return 1
    monitor.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
