"""The messages between a container handle and its monitor, over the monitor's unix socket
(``monitor.sock`` in the state directory), as named types.

One connection carries one request and its one reply; each is one JSON object on one line
(``\\n``-terminated). The standard streams of a process to start travel with the request as
SCM_RIGHTS fds (unix(7)), at most three: stdin, stdout, stderr.

::

    handle (any process)                                  monitor
    --------------------                                  -------
    ExecRequest {"op": "exec", "process": {...}}  + fds -->  start it in the container (reference)
    RunRequest  {"op": "run", "argv": [...], "pid_file"} + fds --> run an OCI runtime's exec (adapter)
                <-- PidReply {"pid": N} | ErrorReply
    WaitRequest {"op": "wait", "pid": N}  ------------->  answers once N is reaped
                <-- StatusReply {"status": S} | ErrorReply
    StartRequest {"op": "start"}  --------------------->  releases a CREATED container's init
                <-- PidReply {"pid": init} | ErrorReply (ContainerNotCreated: started already)
    DropRequest {"op": "drop"}  ---------------------->  answered once the container's processes are
                <-- DroppedReply {"dropped": last}          reaped and kept no more (destroy waits)
    (no reply: the connection closes) when the monitor is exiting

The reference's supervisor (one per factory root, ``reference/supervisor.py``) also listens on an
abstract socket of the root, for one more request::

    CreateRequest {"op": "create", "state_dir": D} + fds -->  fork the init of the container in D
                <-- InitReply {"init_pid", "init_start", "monitor_pid", "monitor_start"} | ErrorReply
    "c\n" (state.json is written), then EOF  -------------->  keeps it; EOF alone: LC-FAULT-02

An :class:`ErrorReply`'s ``error`` is an :class:`libcontainer.spec.ErrorCode` value
(``ContainerNotRunning``, ``ProcessNotFound``, ``ConfigInvalid``, ``SystemError``) or
``CommandFailed`` (a runtime command exited non-zero: ``rc``, code or 128 + signal).
Statuses are exit codes, or 128 + the signal number for a signal death.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from dataclasses import dataclass

COMMAND_FAILED = "CommandFailed"
MAX_FDS = 3
MAX_REQUEST = 16 << 20  # bytes: above execve(2)'s ARG_MAX (a quarter of the stack limit) for usual stacks
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send the rest of a request it began


@dataclass(frozen=True)
class ExecRequest:
    """Start ``process`` (``Process.to_dict()``) in the container; answered by PidReply or ErrorReply."""

    process: dict
    incarnation: str | None = None
    op = "exec"


@dataclass(frozen=True)
class RunRequest:
    """Run ``argv`` (an OCI runtime's ``exec --detach``) with the fds as its stdio; the started
    process's pid is then read from ``pid_file``. Answered by PidReply or ErrorReply."""

    argv: list
    pid_file: str
    op = "run"


@dataclass(frozen=True)
class WaitRequest:
    """The exit status of ``pid`` once it is reaped; answered by StatusReply or ErrorReply."""

    pid: int
    incarnation: str | None = None
    op = "wait"


@dataclass(frozen=True)
class StartRequest:
    """Let the init of a container made by ``create(start=False)`` exec its program (SPEC.md
    LC-CREATED-02); answered by PidReply (the init's pid) or ErrorReply."""

    incarnation: str | None = None
    op = "start"


@dataclass(frozen=True)
class DropRequest:
    """Answered (DroppedReply) once every process of the container is reaped and its monitor keeps
    it no more: what destroy waits for before removing the state directory."""
    incarnation: str | None = None
    op = "drop"


@dataclass(frozen=True)
class CreateRequest:
    """Start the init of the container whose state directory is ``state_dir`` (its ``state.json``
    has the config) with the fds as its stdio; answered by InitReply or ErrorReply."""
    state_dir: str
    op = "create"


@dataclass(frozen=True)
class HelloRequest:
    """Answered (PidReply, the supervisor's pid) once the supervisor serves: after it has adopted
    the containers a killed predecessor left."""
    op = "hello"


@dataclass(frozen=True)
class InitReply:
    """The started init and the supervisor that keeps it (pids and start times, /proc/PID/stat field 22)."""
    init_pid: int
    init_start: int
    monitor_pid: int
    monitor_start: int


@dataclass(frozen=True)
class DroppedReply:
    """``dropped``: True when this was the supervisor's last container (it exits now)."""
    dropped: bool


@dataclass(frozen=True)
class PidReply:
    pid: int


@dataclass(frozen=True)
class StatusReply:
    status: int


@dataclass(frozen=True)
class ErrorReply:
    """``error``: an ErrorCode value or COMMAND_FAILED; ``errno``: the failing call's; ``rc``: a
    runtime command's exit status."""

    error: str
    message: str = ""
    errno: int | None = None
    rc: int | None = None

    def exception(self):
        """The LibcontainerError this reply names (SystemFailure for COMMAND_FAILED and unknown names)."""
        from libcontainer.spec.errors import LibcontainerError, SystemFailure
        for cls in LibcontainerError.__subclasses__():
            if cls.code.value == self.error and cls is not SystemFailure:
                return cls(self.message)
        return SystemFailure(self.message or self.error, errno=self.errno)


REQUESTS = {cls.op: cls for cls in (ExecRequest, RunRequest, WaitRequest, StartRequest, DropRequest, CreateRequest,
                                         HelloRequest)}
REPLIES = {"pid": PidReply, "status": StatusReply, "error": ErrorReply, "init_pid": InitReply,
           "dropped": DroppedReply}


def encode(message) -> bytes:
    """A request or reply as its line (requests carry their ``op``)."""
    data = {k: v for k, v in dataclasses.asdict(message).items() if v is not None}
    if hasattr(message, "op"):
        data["op"] = message.op
    return json.dumps(data).encode() + b"\n"


def _build(cls, data: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as e:
        raise ValueError(f"malformed {cls.__name__}: {e}") from None


def decode_request(line: bytes):
    """A request from its line; ValueError for JSON that is not a request (an unknown ``op``)."""
    data = json.loads(line)
    if not isinstance(data, dict) or data.get("op") not in REQUESTS:
        raise ValueError(f"unknown op {data.get('op') if isinstance(data, dict) else data!r}")
    request = _build(REQUESTS[data["op"]], data)
    if isinstance(request, WaitRequest) and (isinstance(request.pid, bool) or not isinstance(request.pid, int)):
        raise ValueError(f"pid {request.pid!r} is not an int")
    return request


def decode_reply(data: dict):
    """A reply from its decoded object; None when it is none of the three (an empty ``{}``)."""
    for key, cls in REPLIES.items():
        if key in data:
            return _build(cls, data)
    return None


def send_msg(sock: socket.socket, message, fds=()) -> None:
    """Send one message (with ``fds`` as SCM_RIGHTS on its first bytes). OSError."""
    data = encode(message)
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        if sent < len(data):  # a signal cut a big message short: the rest carries no fds
            sock.sendall(data[sent:])
    else:
        sock.sendall(data)


def recv_reply(sock: socket.socket):
    """The reply on ``sock``: PidReply, StatusReply or ErrorReply; None at EOF (the monitor exited) or
    for a line that is not a reply. OSError."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    try:
        data = json.loads(buf)
        return decode_reply(data) if isinstance(data, dict) else None
    except ValueError:
        return None


def read_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    """One request's line and the fds (SCM_RIGHTS, at most MAX_FDS) sent with it; ``b""`` at EOF.

    The kernel hands a stream message that carries fds over in several reads (the first ends where
    the sender's first skb did, about 36 KB on x86_64), so the rest is read until the newline or EOF.
    Raises OSError (a timeout after REQUEST_TIMEOUT s included) and ValueError (more than MAX_REQUEST
    bytes); the fds are closed then."""
    conn.settimeout(REQUEST_TIMEOUT)
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, MAX_FDS)
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
