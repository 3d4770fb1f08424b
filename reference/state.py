"""A container's state directory: ``<factory root>/<dir name>/``.

Files: ``state.json`` (config, cgroup, monitor and init identity),
``monitor.sock`` (the monitor's unix socket), ``exits/<pid>`` (the exit
status of every reaped process, written by the monitor), ``lock`` (flock for
operations that change the container). Writes are atomic (write + rename).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket

STATE = "state.json"
SOCK = "monitor.sock"
EXITS = "exits"
LOCK = "lock"
MAX_NAME = 200


def dir_name(container_id: str) -> str:
    """The state directory (and cgroup) name for an id: the id, or for ids longer
    than 200 bytes (NAME_MAX is 255) a prefix plus a SHA-256 of the id."""
    if len(container_id) <= MAX_NAME:
        return container_id
    return container_id[:64] + "-" + hashlib.sha256(container_id.encode()).hexdigest()


# names the kernel gives a cgroup's interface files (cgroup-v1/*.rst, cgroup-v2.rst): "<prefix>.<name>"
_CGROUP_FILE_PREFIXES = frozenset({"cgroup", "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls",
                                   "net_prio", "blkio", "io", "perf_event", "hugetlb", "pids", "rdma", "misc"})
_CGROUP_FILES = frozenset({"tasks", "notify_on_release", "release_agent"})


def cgroup_name(container_id: str) -> str:
    """The container's cgroup directory name: :func:`dir_name`, unless that could be the name of a
    cgroup interface file in the parent (``tasks``, ``cgroup.procs``, ``freezer.state``...; a valid
    id, SPEC.md LC-ID-01), then ``lc-`` plus a SHA-256 of the id."""
    name = dir_name(container_id)
    if name in _CGROUP_FILES or ("." in name and name.split(".", 1)[0] in _CGROUP_FILE_PREFIXES):
        return "lc-" + hashlib.sha256(container_id.encode()).hexdigest()[:40]
    return name


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.rename(tmp, path)


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def write_exit(state_dir: str, pid: int, status: int) -> None:
    path = os.path.join(state_dir, EXITS, str(pid))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(status))
    os.rename(tmp, path)


def read_exit(state_dir: str, pid: int) -> int | None:
    try:
        with open(os.path.join(state_dir, EXITS, str(pid))) as f:
            return int(f.read())
    except (FileNotFoundError, ValueError):
        return None


@contextlib.contextmanager
def locked(state_dir: str):
    """Hold the container's flock (between threads and processes). Raises
    FileNotFoundError when the state directory is gone."""
    fd = os.open(os.path.join(state_dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def connect(state_dir: str, timeout: float | None = None) -> socket.socket:
    """Connect to the monitor's socket (path length safe: through /proc/self/fd).

    Raises FileNotFoundError or ConnectionRefusedError when no monitor listens.
    """
    dfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(timeout)
            sock.connect(f"/proc/self/fd/{dfd}/{SOCK}")
        except BaseException:
            sock.close()
            raise
        return sock
    finally:
        os.close(dfd)


def send_msg(sock: socket.socket, msg: dict, fds: list[int] = ()) -> None:
    data = json.dumps(msg).encode() + b"\n"
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        if sent < len(data):  # a signal cut a big message short: the rest carries no fds
            sock.sendall(data[sent:])
    else:
        sock.sendall(data)


def recv_msg(sock: socket.socket) -> dict | None:
    """One newline-terminated JSON message, or None at EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)
