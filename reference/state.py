"""A container's state directory: ``<factory root>/<dir name>/``.

Files: ``state.json`` (config, cgroup, monitor and init identity),
``monitor.sock`` (the monitor's unix socket), ``exits/<pid>`` (the exit
status of every reaped process, written by the monitor), ``lock`` (flock for
operations that change the container; made with the directory, which appears
whole: :func:`make_dir`), ``cgroup.json`` (where the cgroup is, written before
the cgroup is made, so a container whose ``state.json`` is lost or corrupt can
still be killed and removed by its cgroup). Writes are atomic (write + rename).

While ``create`` runs, its caller holds the flock; ``state.json`` gets
``init_pid`` only when create has finished. A directory without a complete
state whose flock is free was left by a creator that died: the next load,
create or destroy of that id removes it (SPEC.md LC-FAULT-02).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import threading
import uuid

from . import linux

STATE = "state.json"
CGROUP = "cgroup.json"
MONITOR = "monitor.json"
NEW_PREFIX = "=new-"  # "=" is no id character: a directory being made is never an id's
SOCK = "monitor.sock"
EXITS = "exits"
LOCK = "lock"
MAX_NAME = 200


def dir_name(container_id: str) -> str:
    """The state directory (and cgroup) name for an id: the id, or for ids longer
    than 200 bytes (NAME_MAX is 255) a prefix, ``=`` and a SHA-256 of the id. ``=`` is
    not an id character (LC-ID-01), so no id's name is another's (SPEC.md LC-FAULT-09)."""
    if len(container_id) <= MAX_NAME:
        return container_id
    return container_id[:64] + "=" + hashlib.sha256(container_id.encode()).hexdigest()


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
    tmp = f"{path}.tmp{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def new_incarnation() -> str:
    """A value naming one container's lifetime: a handle whose value differs from the state's
    belongs to a destroyed container, even if the id was made again (SPEC.md LC-FAULT-01)."""
    return uuid.uuid4().hex


class CorruptState(ValueError):
    """``state.json`` is not what create wrote: the message names the field."""


_FIELDS = {"id": str, "config": dict, "cgroup": dict, "init_pid": int, "init_start": int,
           "monitor_pid": int, "monitor_start": int}


def validate_state(state, container_id: str) -> dict:
    """``state`` if it is a complete state of ``container_id``; else CorruptState naming the field."""
    if not isinstance(state, dict):
        raise CorruptState(f"not an object but {type(state).__name__}")
    for name, kind in _FIELDS.items():
        value = state.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CorruptState(f"field {name!r} is missing or not {kind.__name__}: {value!r}"[:200])
        if kind is int and value <= 0:
            raise CorruptState(f"field {name!r} is not positive: {value!r}")
    if state["id"] != container_id:
        raise CorruptState(f"field 'id' is {state['id']!r}"[:200])
    validate_cgroup(state["cgroup"])
    return state


def validate_cgroup(info) -> dict:
    """A ``cgroup`` entry as the factory wrote it; CorruptState naming the field otherwise."""
    if not isinstance(info, dict) or info.get("version") not in (1, 2):
        raise CorruptState("field 'cgroup.version' is missing or not 1 or 2")
    keys = {"parent": str, "name": str, "procs_files": list}
    keys.update({"hierarchies": dict} if info["version"] == 1 else {"root": str})
    for name, kind in keys.items():
        if not isinstance(info.get(name), kind):
            raise CorruptState(f"field 'cgroup.{name}' is missing or not {kind.__name__}")
    name = info["name"]
    if not name or "/" in name or name in (".", "..") or ".." in info["parent"].split("/"):
        raise CorruptState(f"field 'cgroup.name' or 'cgroup.parent' is not a cgroup below the parent: {name!r}")
    return info


def make_dir(root: str, name: str) -> tuple[str, int]:
    """Make ``root/name`` with its lock file, held (flock) by the returned fd: the directory is
    built under a temporary name (naming this process: :func:`sweep_new_dirs` removes it if the
    process dies first) and renamed into place (RENAME_NOREPLACE), so it is never seen without its
    lock. FileExistsError when the name is taken."""
    me = os.getpid()
    tmp = os.path.join(root, f"{NEW_PREFIX}{me}-{linux.process_start_time(me)}-{uuid.uuid4().hex}")
    os.mkdir(tmp, 0o700)
    fd = -1
    try:
        fd = os.open(os.path.join(tmp, LOCK), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        linux.rename_noreplace(tmp, os.path.join(root, name))
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(tmp, LOCK))
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        raise
    return os.path.join(root, name), fd


def sweep_new_dirs(root: str) -> None:
    """Remove directories :func:`make_dir` left under their temporary name, whose maker (named in
    the name: ``=new-PID-STARTTIME-…``) is no longer running: it died before the rename."""
    for entry in os.scandir(root):
        if not entry.name.startswith(NEW_PREFIX):
            continue
        try:
            pid, start = (int(x) for x in entry.name[len(NEW_PREFIX):].split("-")[:2])
        except ValueError:
            continue
        if linux.process_start_time(pid) == start:
            continue  # its maker is alive: a create under way
        with contextlib.suppress(OSError):
            _remove_tree(entry.path)


def _remove_tree(path: str) -> None:
    for entry in os.scandir(path):
        os.unlink(entry.path)
    os.rmdir(path)


def try_lock(state_dir: str) -> int | None:
    """The container's flock taken without waiting: the fd holding it, or None while another
    process holds it (a create or destroy under way). FileNotFoundError when the directory or its
    lock is gone."""
    fd = os.open(os.path.join(state_dir, LOCK), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def write_exit(state_dir: str, pid: int, status: int) -> None:
    path = os.path.join(state_dir, EXITS, str(pid))
    tmp = f"{path}.tmp{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "w") as f:
            f.write(str(status))
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_exit(state_dir: str, pid: int) -> int | None:
    """The recorded exit status of ``pid`` (0..255), or None when none is recorded or the record is
    not a status (a tampered file is no status)."""
    try:
        with open(os.path.join(state_dir, EXITS, str(pid))) as f:
            code = int(f.read(16))
    except (OSError, ValueError):
        return None
    return code if 0 <= code <= 255 else None


@contextlib.contextmanager
def locked(state_dir: str):
    """Hold the container's flock (between threads and processes). Raises
    FileNotFoundError when the state directory is gone."""
    # read-only and never created here: works on a read-only factory root, and a destroy that
    # removed the directory's files is not undone by a caller recreating the lock (LC-FAULT-05)
    fd = os.open(os.path.join(state_dir, LOCK), os.O_RDONLY | os.O_CLOEXEC)
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
    """One newline-terminated JSON message, or None at EOF (or a message that is not JSON)."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    try:
        msg = json.loads(buf)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None
