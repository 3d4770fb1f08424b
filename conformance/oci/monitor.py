"""The adapter's per-container monitor: parent and child subreaper of an OCI runtime's container.

Run as ``python -I -m libcontainer.conformance.oci.monitor STATE_DIR SYNC_FD [DIR_FD]``
(:func:`argv`; it imports only the standard library and :mod:`libcontainer.plumbing`'s
modules that need no more, so it starts fast), with the init's stdio as its own stdio. An OCI runtime's
``create`` forks the container's init and exits; the init is then orphaned
and the kernel hands it to the nearest child subreaper (prctl(2)
PR_SET_CHILD_SUBREAPER). Being that subreaper is the only sound way to learn
the init's exit status; the same holds for ``exec --detach``, so exec'd
processes are started by the monitor too.

DIR_FD, when given, is STATE_DIR opened by the creator: the monitor works in
that directory, not in whatever STATE_DIR names when it gets to run (a
creator killed before recording the monitor leaves it to start late, after
the next create of the id made a new directory at that path). It reads ``monitor.json`` in STATE_DIR: ``{"create": argv, "pid_file": path,
"hide_unified_controllers": null | [empty_file, controllers_file], "state": argv}``
(``state``: the runtime's ``state ID``, whose ``pid`` is the init's: :meth:`Monitor.state_pid`). With
the last set (crun on a hybrid cgroup host) the monitor first unshares its
mount namespace, makes it a slave of the host's (rslave: the host's later
mounts still reach it, as they reach a runtime run on the host, and nothing
goes back) and bind-mounts the empty file over the unified hierarchy's
``cgroup.controllers``: the runtime it runs sees no v2 controllers, and the
host's mount table is unchanged.

Its start-up, over the pipe SYNC_FD that the creator (``OCIFactory.create``) made::

    creator                         monitor                             runtime / init
    -------                         -------                             --------------
    monitor.json, bundle written
    Popen(argv(...)) ----------->   subreaper; socket bound
                                    fork+exec ``RUNTIME create`` ----->  forks init (it waits for
                                    waitpid(create)                      ``start``), exits
                                    init pid from ``init.pid``           init reparented here
                  SYNC <--  {"init_pid": N}  or  {"error": "...", "rc": N}, then EOF
    state.json written; ``RUNTIME start``

Then it serves ``monitor.sock`` (:mod:`libcontainer.plumbing.server`): a RunRequest
(:mod:`libcontainer.plumbing.messages`) with three fds for stdin, stdout, stderr runs the
runtime's ``exec --detach`` with them and is answered PidReply, or ErrorReply ``CommandFailed``
with the command's ``rc``; a WaitRequest StatusReply once the pid is reaped. Every reaped
process's exit status (code, or 128 + signal) is written to ``exits/<pid>``, so any process can
read it after the monitor is gone. The monitor exits once init and every process it started
are reaped.
"""

import json
import os
import selectors
import signal
import socket
import sys

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.plumbing.server import MonitorServer


def argv(state_dir: str, sync_fd: int, dir_fd: int | None = None) -> list[str]:
    """The command line that starts the monitor (see the module doc)."""
    extra = [str(dir_fd)] if dir_fd is not None else []
    return [sys.executable, "-I", "-m", __name__, state_dir, str(sync_fd)] + extra


def hide_unified_controllers(empty: str, controllers: str) -> None:
    """A mount namespace of this process's own (a slave of the host's), ``empty`` bind-mounted over ``controllers``."""
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_SLAVE)
    linux.mount(empty, controllers, None, linux.MS_BIND)


def spawn(command: list, fds: list) -> int:
    """Fork and exec ``command`` with ``fds`` as stdin, stdout, stderr; return the pid."""
    pid = os.fork()
    if pid == 0:
        try:
            for i, fd in enumerate(fds):
                os.dup2(fd, i, inheritable=True)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    return pid


def run_command(command: list, fds: list) -> int:
    """Run ``command`` to its end with ``fds`` as its stdio; its exit status (code, or 128 + signal)."""
    _, status = os.waitpid(spawn(command, fds), 0)
    return linux.exit_status(status)


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


class Monitor(MonitorServer):
    def __init__(self, spec: dict):
        self.spec = spec
        self.init_pid = 0
        self.children: set = set()  # pids whose status is promised: init and the processes started
        self.waiters: dict = {}
        self.statuses: dict = {}  # also those that could not be written (a full or read-only root)
        self.stand_ins: dict = {}  # init's pid (OCI state) -> the pid file's process, when they differ
        self.sel = selectors.DefaultSelector()

    def start(self) -> dict:
        os.makedirs("exits", exist_ok=True)
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        if self.spec.get("hide_unified_controllers"):
            hide_unified_controllers(*self.spec["hide_unified_controllers"])
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind("monitor.sock")
        self.listener.listen(64)
        rc = run_command(self.spec["create"], [0, 1, 2])
        if rc != 0:
            return {"error": "create failed", "rc": rc}
        self.init_pid = read_pid(self.spec["pid_file"])
        self.children.add(self.init_pid)
        return {"init_pid": self.state_pid()}

    def state_pid(self) -> int:
        """The init's host pid as the runtime's OCI state gives it (runtime-spec runtime.md "State":
        ``pid``). runc, crun and runsc write the same pid to ``--pid-file``; a runtime whose pid
        file names another process, which exits with the init's status (lcrun's keeper: its init
        is its own monitor's child, so no caller could reap it), gets that process as the init's
        stand-in here: waits for the init are the stand-in's, and its status is recorded as the
        init's too. Without a ``state`` command in monitor.json, or a usable answer: the pid file's pid."""
        if not self.spec.get("state"):
            return self.init_pid
        r, w = os.pipe2(os.O_CLOEXEC)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = spawn(self.spec["state"], [null, w, null])
        finally:
            os.close(w)
            os.close(null)
        with os.fdopen(r, "rb") as f:
            out = f.read()
        status = linux.exit_status(os.waitpid(pid, 0)[1])
        try:
            state_pid = json.loads(out)["pid"] if status == 0 else None
        except (ValueError, KeyError, TypeError):
            state_pid = None
        if isinstance(state_pid, int) and state_pid > 0 and state_pid != self.init_pid:
            self.stand_ins[state_pid] = self.init_pid
            return state_pid
        return self.init_pid

    def wait(self, conn, pid: int) -> None:
        super().wait(conn, self.stand_ins.get(pid, pid))

    def reap(self) -> None:
        super().reap()
        for pid, stand_in in self.stand_ins.items():
            if stand_in in self.statuses and pid not in self.statuses:
                self.statuses[pid] = self.statuses[stand_in]
                try:
                    statedir.write_exit(".", pid, self.statuses[pid])
                except OSError as e:
                    os.write(2, f"monitor: cannot record the exit status of pid {pid}: {e}\n".encode())

    def execute(self, request, fds: list):
        if not isinstance(request, messages.RunRequest):
            return super().execute(request, fds)
        if self.init_pid not in self.children:
            return messages.ErrorReply("ContainerNotRunning", "the container's init has exited")
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            rc = run_command(request.argv, [fds[i] if i < len(fds) else null for i in range(3)])
        finally:
            os.close(null)
        if rc != 0:
            return messages.ErrorReply(messages.COMMAND_FAILED, "exec failed", rc=rc)
        child = read_pid(request.pid_file)
        if child not in self.statuses:
            self.children.add(child)
        return messages.PidReply(child)


def main(args: list) -> int:
    state_dir, sync_fd = args[1], int(args[2])
    os.set_inheritable(sync_fd, False)  # the runtime and the container must not hold the creator's pipe
    if len(args) > 3:  # the state directory as its creator opened it (args[1] names it for ps)
        dir_fd = int(args[3])
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
