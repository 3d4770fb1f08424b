"""A container's state directory, ``<factory root>/<dir name>/``, as the reference and the OCI
adapter both keep it: naming, the flock, atomic writes, exit records, removal, and waiting for
(or ending) a process named by pid and start time.

Files: ``state.json`` (:mod:`.statefile`: config, cgroup, monitor and init identity),
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
import errno
import fcntl
import hashlib
import json
import os
import signal
import socket
import threading
import time
import uuid

from . import linux
from . import reaper

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


def write_atomic(path: str, text: str, unlink_first: bool = False) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, renamed over it (rename(2)),
    so a reader sees the old content or the new, never a part. OSError (ENOSPC, EROFS) as open(2).

    ``unlink_first``: remove the old ``path`` just before the rename, so a reader may also see no
    file in between (for a file no reader may rely on meanwhile: the ``creating`` state.json, under
    the creator's lock). Why: ext4 (``auto_da_alloc``, ext4(5)) starts writing back a file renamed
    over another, which its unlink at destroy then waits for (0.2-1.3 ms measured here, against
    0.08 ms for a file renamed onto no file)."""
    tmp = f"{path}.tmp{os.getpid()}-{threading.get_ident()}"
    try:
        # os.open + os.write: no text file object (its buffer and encoder cost 0.1 ms per file, loaded)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            data = memoryview(text.encode())
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        if unlink_first:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: str, data: dict) -> None:
    """``data`` as JSON in ``path``, atomically (:func:`write_atomic`)."""
    write_atomic(path, json.dumps(data))


def new_incarnation() -> str:
    """A value naming one container's lifetime: a handle whose value differs from the state's
    belongs to a destroyed container, even if the id was made again (SPEC.md LC-FAULT-01)."""
    return uuid.uuid4().hex


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
            rmtree(entry.path)


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


def read_json(path: str):
    """The JSON value in ``path`` (any type: the caller validates). OSError, ValueError."""
    with open(path) as f:
        return json.load(f)


def write_exit(state_dir: str, pid: int, status: int) -> None:
    """Record ``status`` (0..255: :func:`.linux.exit_status`) as ``exits/<pid>``, atomically."""
    write_atomic(os.path.join(state_dir, EXITS, str(pid)), str(status))


def read_exit(state_dir: str, pid: int) -> int | None:
    """The recorded exit status of ``pid`` (0..255), or None when none is recorded or the record is
    not a status (a tampered file is no status)."""
    try:
        with open(os.path.join(state_dir, EXITS, str(pid))) as f:
            code = int(f.read(16))
    except (OSError, ValueError):
        return None
    return code if 0 <= code <= 255 else None


def recover(state_dir: str, finished, remove) -> bool:
    """Remove what a creator (or destroy) that died left unfinished in ``state_dir``: when nobody
    holds its flock and ``finished()`` is false, ``remove()`` runs, the flock held (SPEC.md
    LC-FAULT-02). True if the id's directory is free now; False while a create or destroy is
    under way, or the directory holds a finished container."""
    try:
        fd = try_lock(state_dir)
    except FileNotFoundError:
        return not os.path.lexists(state_dir)
    except OSError:
        return False
    if fd is None:
        return False  # a create or destroy is under way
    try:
        if finished():
            return False
        remove()
        return True
    finally:
        os.close(fd)


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


def rmtree(path: str) -> None:
    """Remove the directory ``path`` and everything below it (symlinks not followed); entries that
    another process adds meanwhile are removed on another pass. Gone already: nothing. OSError."""
    _remove(path, last=())


def remove_state_dir(path: str) -> None:
    """Remove a container's state directory: its files, then ``state.json``, then ``lock``. A
    destroy killed half-way leaves either the state (the next destroy does it all again) or a
    lock-only directory (removed by the next load, create or destroy of the id, LC-FAULT-02).
    Files that other processes add meanwhile (a status record) are removed on a second pass."""
    _remove(path, last=(STATE, LOCK))


def _remove(path: str, last: tuple[str, ...], attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return  # removed by another call
        for entry in entries:
            if entry.name in last:
                continue
            if entry.is_dir(follow_symlinks=False):
                rmtree(entry.path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        for name in last:  # in this order, after everything else
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(path, name))
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.ENOTEMPTY or attempt == attempts - 1:
                raise


def end_process(pid: int | None, start: int | None, grace: float = 10.0, timeout: float = 10.0) -> None:
    """Wait up to ``grace`` seconds for process ``pid`` to exit, then SIGKILL it (through a pidfd,
    only while it is the process that started at ``start``, field 22 of /proc/PID/stat; None:
    any) and wait up to ``timeout`` more; reap it when this process started it (:mod:`.reaper`).
    Nothing happens when ``pid`` is None, gone, or another process's now."""
    if not pid:
        return
    try:
        pidfd = linux.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if start is not None and linux.process_start_time(pid) != start:
            return
        if not linux.wait_readable(pidfd, grace):
            if linux.kill_verified(pid, start, signal.SIGKILL):
                linux.wait_readable(pidfd, timeout)
        reaper.reap(pid)
    finally:
        os.close(pidfd)


def read_all(fd: int, timeout: float, what: str) -> bytes:
    """Everything the pipe ``fd`` gives until EOF, within ``timeout`` seconds in all; past it,
    SystemFailure "timed out waiting for ``what``"."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not linux.wait_readable(fd, left):
            from libcontainer.spec.errors import SystemFailure
            raise SystemFailure(f"timed out waiting for {what}")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
