"""The request loop of a per-container monitor: :class:`MonitorServer`, run by the OCI adapter's
monitor (``conformance/oci/monitor.py``). The reference's supervisor (``reference/supervisor.py``),
which keeps all containers of a root in one process, has its own loop over the same messages and
the same records (``exits/<pid>``, 128 + signal, statuses kept in memory when a write fails).

A monitor is the parent and child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) of a container's
processes. Once its start-up is done it serves ``monitor.sock`` (:mod:`.messages`) and reaps:

* every reaped child's status (:func:`.linux.exit_status`: code, or 128 + signal) is kept in
  memory and written to ``exits/<pid>`` in its working directory, the state directory; when
  that write fails (a full or read-only factory root) it logs to stderr and answers its waiters
  from memory (SPEC.md LC-FAULT-03);
* a WaitRequest is answered at once when the status is known, held until the reap when the pid
  is one of :attr:`children` (the processes whose status the monitor promised), and answered
  ProcessNotFound otherwise;
* any other request goes to :meth:`execute` of the subclass;
* the loop ends when no promised child is left (init in a pid namespace takes the rest with it),
  or no child at all; waiters still held are answered and the socket is removed.

A subclass sets, before :meth:`serve`: ``listener`` (the bound, listening socket), ``children``
(set of pids), ``waiters`` (dict, empty), ``statuses`` (dict, empty), ``sel`` (a selector),
``init_pid``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket

from . import linux
from . import messages
from . import statedir


class MonitorServer:
    """The request server on ``monitor.sock`` and the reaper of every child (see the module doc)."""

    listener: socket.socket
    children: set
    waiters: dict
    statuses: dict
    sel: selectors.BaseSelector
    init_pid: int

    def execute(self, request, fds: list[int]):
        """Answer a request other than WaitRequest (a reply of :mod:`.messages`); the fds are closed after."""
        return messages.ErrorReply("SystemError", f"unknown op {request.op!r}")

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
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    self.reap()
                elif key.data == "accept":
                    conn, _ = self.listener.accept()
                    self.sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    self.handle(key.fileobj)
        self.shutdown()

    def reap(self) -> None:
        """Reap every exited child (waitpid(2) WNOHANG), record its status, answer its waiters."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            code = linux.exit_status(status)
            self.statuses[pid] = code
            try:
                statedir.write_exit(".", pid, code)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.write(2, f"monitor: cannot record the exit status {code} of pid {pid}: {e}\n".encode())
            self.children.discard(pid)
            for conn in self.waiters.pop(pid, []):
                self.reply(conn, messages.StatusReply(code))

    def shutdown(self) -> None:
        for pid, conns in self.waiters.items():
            for conn in conns:
                self.reply(conn, self.status_reply(pid))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(statedir.SOCK)
        self.listener.close()

    def reply(self, conn: socket.socket, message=None) -> None:
        """Send ``message`` (None: nothing) and close the connection."""
        reply(self.sel, conn, message)

    # -- requests -------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        def dispatch(request, fds):
            if isinstance(request, messages.WaitRequest):
                self.wait(conn, request.pid)
            else:
                self.reply(conn, self.execute(request, fds))
        answer(self.sel, conn, dispatch)

    def status_of(self, pid: int) -> int | None:
        """The status of ``pid`` once reaped (from memory, else ``exits/<pid>``), or None."""
        code = self.statuses.get(pid)
        return code if code is not None else statedir.read_exit(".", pid)

    def status_reply(self, pid: int):
        code = self.status_of(pid)
        if code is not None:
            return messages.StatusReply(code)
        return messages.ErrorReply("ProcessNotFound", f"pid {pid} is not a process of the container")

    def wait(self, conn: socket.socket, pid: int) -> None:
        if self.status_of(pid) is None and pid in self.children:
            self.waiters.setdefault(pid, []).append(conn)
        else:
            self.reply(conn, self.status_reply(pid))


def reply(sel: selectors.BaseSelector, conn: socket.socket, message=None) -> None:
    """Send ``message`` (None: nothing) on ``conn``, unregister it from ``sel`` and close it."""
    if message is not None:
        with contextlib.suppress(OSError):
            messages.send_msg(conn, message)
    with contextlib.suppress(KeyError, ValueError):
        sel.unregister(conn)
    conn.close()


def answer(sel: selectors.BaseSelector, conn: socket.socket, dispatch) -> None:
    """Read one request from ``conn`` and pass it, with the fds it carried, to ``dispatch(request,
    fds)``, which replies; EOF or an unreadable request closes the connection, and a request that
    fails is answered ErrorReply SystemError (a bad request must not end a monitor). The fds are
    closed after."""
    try:
        data, fds = messages.read_request(conn)
    except (OSError, ValueError):
        data, fds = b"", []
    if not data:
        reply(sel, conn)
        return
    try:
        dispatch(messages.decode_request(data), fds)
    except Exception as e:  # noqa: BLE001 - a bad request must not end the monitor
        reply(sel, conn, messages.ErrorReply("SystemError", f"{type(e).__name__}: {e}"))
    finally:
        for fd in fds:
            os.close(fd)
