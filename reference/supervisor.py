"""The supervisor: one process per factory root that keeps every container of that root.

It is a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) and the parent of every container's
init and of every process started in a container, so exit statuses outlive the caller. It
listens on an abstract unix socket named after the root (:func:`address`; no file in the root)
for CreateRequest, and on each container's ``monitor.sock`` for exec, wait, start and drop
(:mod:`libcontainer.plumbing.messages`, :mod:`.kept`). It is single-threaded: one selector
loop; a create or exec holds the loop until that process has exec'd (or failed).

Pid namespaces: the init of a container is forked after unshare(CLONE_NEWPID) (or setns to
a given one), a process started in a container after setns(2) to the init's pid namespace
(:meth:`Supervisor.in_pid_namespace`); after each fork the supervisor's pid_for_children is set
back to its own namespace, the only one a new unshare(CLONE_NEWPID) may start from.

Life: started on first need by :mod:`.supervision` (forked from the caller, the default, or
``python -I -m libcontainer.reference.supervisor ROOT READY_FD IDLE``); it binds the root's
address (an address in use: another supervisor runs, this one exits), adopts the running inits
a killed predecessor left (:meth:`Supervisor.adopt_all`), writes ``ready`` on READY_FD and serves.
It exits when it has kept no container for IDLE seconds (0: as soon as the last is dropped; the
drop's reply tells the destroyer, which waits for the exit). Once it has decided to exit it takes
on nothing more: a request on the root's address read after that, in the same round of events,
is closed unanswered and the caller sends it to the next supervisor (a create kept then would
leave its init with no parent to record its status when the supervisor exits).

What a killed supervisor takes with it (its restart protocol in :meth:`adopt_all`): the exit
status of every process of its containers that exits before a new supervisor runs, the statuses
of processes started in them before (the new one knows only the inits), and the start gate of
CREATED containers (their inits read EOF on it and exit). The inits keep running, reparented to
the nearest subreaper or pid 1.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import selectors
import signal
import socket
import sys
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import server
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile

from . import procevents
from .kept import Kept

NAME = b"lc-supervisor"
FIRST_CREATE = 10.0  # seconds a new supervisor waits for its first request (its starter's create)


def address(root: str) -> str:
    """The abstract unix socket address of the supervisor of factory root ``root`` (an absolute path)."""
    return "\0libcontainer-supervisor/" + hashlib.sha256(os.fsencode(root)).hexdigest()


class Supervisor:
    """The supervisor of one factory root (see the module doc)."""

    def __init__(self, root: str, idle: float):
        self.root = root
        self.idle = idle
        self.kept: dict[str, Kept] = {}
        self.owner: dict[int, Kept] = {}   # child pid -> its container
        self.sel = selectors.DefaultSelector()
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.events: socket.socket | None = None
        self.ident = {"monitor_pid": os.getpid(), "monitor_start": linux.process_start_time(os.getpid())}
        self.listener: socket.socket | None = None
        self.stopping = False
        self.served = False  # it has kept a container, or answered a HelloRequest
        self.exit_codes: dict[int, int] = {}  # adopted inits' statuses from the process events

    # -- start-up ----------------------------------------------------------
    def bind(self) -> bool:
        """Take the root's address; False when another supervisor holds it."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.bind(address(self.root))
        except OSError:
            sock.close()
            return False
        sock.listen(128)
        self.listener = sock
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        return True

    def adopt_all(self) -> None:
        """The restart protocol: keep again every container of the root whose keeper is dead and
        whose init still runs (its pid has the start time in ``state.json``), re-binding its
        socket; remove the stale socket of the others. The process events are listened to first,
        so an adopted init that exits after its check still gives its status."""
        candidates = []
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("=") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                state = statefile.load(os.path.join(entry.path, statedir.STATE))
                keeper = statedir.read_json(os.path.join(entry.path, statedir.MONITOR))
            except (OSError, ValueError, statefile.StateCorrupt):
                continue
            if state.creating or keeper_alive(keeper):
                continue  # a create under way answers to its own supervisor; a live keeper keeps it
            candidates.append((entry.path, state))
        if candidates:
            self.listen_events()
        for path, state in candidates:
            try:
                kept = Kept.adopt(path, self, state)
                if kept is None:
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(path, statedir.SOCK))
                    continue
                kept.listen()
            except Exception as e:  # noqa: BLE001 - one container's failure must not stop the others
                sys.stderr.write(f"supervisor: cannot adopt {path}: {e!r}\n")
                continue
            self.keep(kept)
            self.sel.register(kept.pidfd, selectors.EVENT_READ, ("pidfd", kept))

    def listen_events(self) -> None:
        if self.events is None:
            self.events = procevents.open_events()
            if self.events is not None:
                self.sel.register(self.events, selectors.EVENT_READ, ("events", None))

    def keep(self, kept: Kept) -> None:
        self.served = True
        self.kept[kept.state_dir] = kept
        self.sel.register(kept.listener, selectors.EVENT_READ, ("listen", kept))

    # -- the loop ------------------------------------------------------------
    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ("sigchld", None))
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.reap()
        idle_since = time.monotonic()
        while self.kept or not self.stopping:  # never exits while it keeps a container
            timeout = None
            if not self.kept and len(self.sel.get_map()) <= 2 + (self.events is not None):
                # before its first container, it waits for the create it was started for
                left = idle_since + (self.idle if self.served else max(self.idle, FIRST_CREATE)) - time.monotonic()
                if left <= 0:
                    break
                timeout = left
            for key, _ in self.sel.select(timeout):
                kind, kept = key.data
                if kind == "sigchld":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    self.reap()
                elif kind in ("accept", "listen"):
                    with contextlib.suppress(OSError):
                        conn, _ = key.fileobj.accept()
                        self.sel.register(conn, selectors.EVENT_READ, ("root" if kind == "accept" else "conn", kept))
                elif kind == "events":
                    self.read_events()
                elif kind == "pidfd":
                    self.read_events()  # the exit event is queued before the pidfd turns readable
                    if not kept.init_gone:
                        kept.init_gone = True
                        kept.record(kept.init_pid, self.exit_codes.pop(kept.init_pid, None))
                        self.sel.unregister(kept.pidfd)
                    self.maybe_drop(kept)
                elif kind == "commit":
                    self.commit(key.fileobj, kept)
                else:
                    self.handle(key.fileobj, kept)
            if self.kept:
                idle_since = time.monotonic()
        self.listener.close()  # the address is free from here: a new create starts a new supervisor

    def read_events(self) -> None:
        if self.events is None:
            return
        adopted = {k.init_pid for k in self.kept.values() if k.pidfd is not None and not k.init_gone}
        for pid, status in procevents.read_exits(self.events).items():
            if pid in adopted:
                self.exit_codes[pid] = linux.exit_status(status)
        if not adopted:
            self.unregister(self.events)
            self.events.close()
            self.events = None

    def reap(self) -> None:
        """Reap every exited child (waitpid(2) WNOHANG) and record its status in its container."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            kept = self.owner.pop(pid, None)
            if kept is not None:  # else an orphan reparented here, or a failed spawn's
                kept.record(pid, linux.exit_status(status))
                self.maybe_drop(kept)

    def maybe_drop(self, kept: Kept) -> None:
        if self.kept.get(kept.state_dir) is not kept:  # dropped already (a request accepted before)
            for conn in kept.leavers:
                self.reply(conn, messages.DroppedReply(self.stopping))
            kept.leavers = []
        elif kept.finished():
            del self.kept[kept.state_dir]
            last = not self.kept and self.idle <= 0
            if last:
                self.stopping = True
                self.unregister(self.listener)
                self.listener.close()  # no create may reach a supervisor that is exiting
            kept.close(last)

    # -- connections ---------------------------------------------------------
    def unregister(self, fileobj) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(fileobj)

    def reply(self, conn: socket.socket, message=None) -> None:
        """Send ``message`` (None: nothing) and close the connection."""
        server.reply(self.sel, conn, message)

    def handle(self, conn: socket.socket, kept: Kept | None) -> None:
        def dispatch(request, fds):
            if kept is None:
                if self.stopping:
                    # it let its last container go earlier in this same round of events and exits
                    # after it: it takes on nothing more (a create kept now would be left with no
                    # parent to reap its init). Closed unanswered, the caller starts the next one.
                    self.reply(conn)
                    return
                if isinstance(request, messages.HelloRequest):
                    self.served = True  # started to adopt (LinuxContainer): no create is coming
                    self.reply(conn, messages.PidReply(os.getpid()))
                    return
                if not isinstance(request, messages.CreateRequest):
                    raise ValueError(f"op {request.op!r} is not for the factory root's socket")
                self.create(conn, request.state_dir, fds)
            elif isinstance(request, messages.WaitRequest):
                kept.wait(conn, request.pid)
            elif isinstance(request, messages.DropRequest):
                self.unregister(conn)
                kept.leavers.append(conn)
                self.maybe_drop(kept)
            else:
                self.reply(conn, kept.execute(request, fds))
        server.answer(self.sel, conn, dispatch)

    def create(self, conn: socket.socket, state_dir: str, fds: list[int]) -> None:
        """CreateRequest: fork the init with ``fds`` as its stdio; reply InitReply, then wait for the
        creator's commit on the same connection (:meth:`commit`)."""
        if os.path.dirname(os.path.abspath(state_dir)) != self.root:
            raise ValueError(f"{state_dir} is not a state directory of {self.root}")
        self.served = True
        kept = Kept(state_dir, self)
        kept.listen()
        try:
            with self.stdio(fds):
                report = kept.start_init()
        except BaseException:
            kept.kill_init()
            kept.close(False)
            raise
        finally:
            self.reset_pid_namespace()
            for pid in kept.children:
                self.owner[pid] = kept
        self.keep(kept)
        if "error" in report:
            # kept (finished) until the creator's DropRequest or EOF, so a last drop is waited for
            err = report["error"]
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(state_dir, statedir.MONITOR))
            code = "ConfigInvalid" if err.get("kind") == "config" else "SystemError"
            messages.send_msg(conn, messages.ErrorReply(code, f"start init: {err['message']}", err.get("errno")))
        else:
            messages.send_msg(conn, messages.InitReply(report["init_pid"], report["init_start"], **self.ident))
        self.sel.modify(conn, selectors.EVENT_READ, ("commit", kept))

    def commit(self, conn: socket.socket, kept: Kept) -> None:
        """The creator's "c" (it wrote ``state.json``) or EOF: without a commit the init is killed."""
        from .monitor_startup import committed
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        self.unregister(conn)
        conn.close()
        if not kept.init_pid:
            self.maybe_drop(kept)  # a failed start-up, reported: nothing to keep
        elif not committed(kept.state_dir, data, kept.init_pid):
            kept.log("the creator died or gave up before committing: the init is killed (LC-FAULT-02)")
            kept.kill_init()

    @contextlib.contextmanager
    def stdio(self, fds: list[int]):
        """The init inherits this process's 0, 1, 2: make them ``fds`` (or /dev/null) meanwhile."""
        saved = [os.dup(target) for target in range(3)]
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            for target in range(3):
                os.dup2(fds[target] if target < len(fds) else null, target)
            yield
        finally:
            for target in range(3):
                os.dup2(saved[target], target)
                os.close(saved[target])
            os.close(null)

    @contextlib.contextmanager
    def in_pid_namespace(self, kept: Kept):
        """Children forked meanwhile are born in the pid namespace of ``kept``'s init."""
        if "pid" not in kept.config.namespaces and "pid" not in kept.config.namespace_paths:
            yield
            return
        fd = os.open(f"/proc/{kept.init_pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, linux.CLONE_NEWPID)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            self.reset_pid_namespace()

    def reset_pid_namespace(self) -> None:
        linux.setns(self.own_pidns, linux.CLONE_NEWPID)


def keeper_alive(ident) -> bool:
    """True when ``{"monitor_pid", "monitor_start"}`` names a live process (the keeper of a container)."""
    if not isinstance(ident, dict):
        return False
    pid, start = ident.get("monitor_pid"), ident.get("monitor_start")
    return (type(pid) is int and pid > 0 and linux.process_start_time(pid) == start
            and linux.process_state(pid) not in ("Z", "X", None))


def run(root: str, ready_fd: int, idle: float) -> int:
    """The supervisor's life: bind, adopt, say ``ready`` (or ``busy``: another one runs) on ``ready_fd``, serve."""
    os.chdir(root)  # so the harness's leak check (a process whose cwd is under the root) sees it
    supervisor = Supervisor(root, idle)
    if not supervisor.bind():
        os.write(ready_fd, b"busy\n")
        os.close(ready_fd)
        return 0
    supervisor.adopt_all()
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    supervisor.serve()
    return 0


def run_forked(root: str, ready_fd: int, idle: float) -> int:
    """In a child forked from the caller (the default start mode): detach (new session, default
    signal dispositions, nothing of the caller's open but ``ready_fd``; stdio /dev/null), keep the
    inherited heap out of the collector (gc.freeze(): its pages stay shared with the caller), run."""
    os.setsid()
    linux.set_name(NAME)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    null = os.open(os.devnull, os.O_RDWR)
    for target in range(3):
        os.dup2(null, target)
    linux.close_fds_except((0, 1, 2, ready_fd))
    sys.stdout = sys.stderr = open(2, "w", buffering=1, closefd=False)  # not the caller's (pytest's capture)
    gc.freeze()
    return run(root, ready_fd, idle)


def main(argv: list[str]) -> int:
    """``python -I -m libcontainer.reference.supervisor ROOT READY_FD IDLE`` (the "exec" start mode)."""
    linux.set_name(NAME)
    return run(argv[1], int(argv[2]), float(argv[3]))


if __name__ == "__main__":
    os._exit(main(sys.argv))
