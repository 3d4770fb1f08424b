"""LinuxContainer: the reference Container, backed by a state directory and a monitor.

Every call re-reads the kernel and the state directory, so several objects
(in one process or many) for the same container agree. Calls that change the
container hold its flock. OSError never escapes: it becomes SystemFailure.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal as _signal
import time

from libcontainer.spec import (Config, Container, ContainerDestroyed, ContainerNotRunning, ContainerPaused,
                               ContainerStats, LibcontainerError, Process, ProcessNotFound, Status,
                               SystemFailure)
from libcontainer.spec.config import validate_process
from libcontainer.spec.errors import ErrorCode

from . import linux as L
from . import netdev
from . import state as S
from .cgroups import FREEZING, FROZEN, THAWED, CgroupDriver, CgroupV1, CgroupV2

_ERRORS = {cls.code.value: cls for cls in LibcontainerError.__subclasses__()}


@contextlib.contextmanager
def _system(what: str):
    """Turn an OSError into SystemFailure naming the operation."""
    try:
        yield
    except LibcontainerError:
        raise
    except OSError as e:
        raise SystemFailure(f"{what}: {e}", errno=e.errno) from e


def cgroup_driver(info: dict) -> CgroupDriver:
    """The driver recorded in a state file's ``cgroup`` entry."""
    if info["version"] == 1:
        driver = CgroupV1(info["parent"], info["name"], info["hierarchies"])
    else:
        driver = CgroupV2(info["parent"], info["name"], info["root"])
    driver.made = list(info.get("made", []))  # the parents create made: only those are removed
    return driver


class LinuxContainer(Container):
    def __init__(self, container_id: str, state_dir: str, state: dict, monitor=None):
        self._id = container_id
        self._dir = state_dir
        self._config = Config.from_dict(state["config"])
        self._state = state
        self._cgroup = cgroup_driver(state["cgroup"])
        self._monitor = monitor  # the subprocess.Popen when this process started the monitor

    # -- identity -------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    def config(self) -> Config:
        return self._config

    @property
    def init_pid(self) -> int:
        """Host pid of the container's init."""
        return self._state["init_pid"]

    def __repr__(self) -> str:
        return f"LinuxContainer(id={self._id!r}, init_pid={self.init_pid})"

    # -- state ----------------------------------------------------------
    def _exists(self) -> bool:
        return os.path.exists(os.path.join(self._dir, S.STATE))

    def _check(self) -> None:
        if not self._exists():
            self._reap_monitor()
            raise ContainerDestroyed(f"container {self._id!r} does not exist")

    def _init_exited(self) -> bool:
        pid = self.init_pid
        if S.read_exit(self._dir, pid) is not None:
            return True
        if L.process_start_time(pid) != self._state["init_start"]:
            return True
        return L.process_state(pid) in ("Z", "X", None)

    def _status(self) -> Status:
        self._check()
        with _system("status"):
            if self._init_exited():
                return Status.STOPPED
            freezer = self._cgroup.freezer_state()
            if freezer == FROZEN:
                return Status.PAUSED
            if freezer == FREEZING:
                return Status.PAUSING
            if not self._exists():
                raise ContainerDestroyed(f"container {self._id!r} does not exist")
            return Status.RUNNING

    def status(self) -> Status:
        return self._status()

    @contextlib.contextmanager
    def _locked(self):
        try:
            with S.locked(self._dir):
                self._check()
                yield
        except FileNotFoundError:
            self._check()
            raise

    def processes(self) -> list[int]:
        self._check()
        with _system("processes"):
            pids = self._cgroup.pids()
        self._check()
        return pids

    def stats(self) -> ContainerStats:
        """The cgroup's statistics (see the driver's ``stats``) plus the network counters of init's namespace.

        ``network`` is None once init has exited (its namespace is gone).
        """
        self._check()
        with _system("stats"):
            stats = self._cgroup.stats()
            pid = self.init_pid
            network = netdev.interfaces(pid)
            # the pid may have been reused if init exited: keep the counters only if it is still init
            if network is not None and L.process_start_time(pid) == self._state["init_start"]:
                stats.network = network
        self._check()
        return stats

    # -- freezer --------------------------------------------------------
    def pause(self) -> None:
        with self._locked(), _system("pause"):
            status = self._status()
            if status == Status.STOPPED:
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            if status != Status.PAUSED:
                self._cgroup.freeze()

    def resume(self) -> None:
        with self._locked(), _system("resume"):
            status = self._status()
            if status == Status.STOPPED:
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            if status != Status.RUNNING:
                self._cgroup.thaw()

    # -- processes ------------------------------------------------------
    def signal(self, pid: int, sig: int) -> None:
        if isinstance(sig, bool) or not isinstance(sig, int) or not 0 <= sig <= 64:
            raise SystemFailure(f"invalid signal {sig!r}", errno=22)
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise ProcessNotFound(f"pid {pid!r} is not a process of container {self._id!r}")
        status = self._status()
        if status in (Status.PAUSED, Status.PAUSING):
            raise ContainerPaused(f"container {self._id!r} is paused")
        if status == Status.STOPPED:
            raise ContainerNotRunning(f"container {self._id!r} is stopped")
        with _system("signal"):
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                raise ProcessNotFound(f"pid {pid} does not exist") from None
            try:
                # checked after the pidfd is held, so the pid cannot be reused in between
                if pid not in self._cgroup.pids():
                    raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
                L.pidfd_send_signal(pidfd, sig)
            finally:
                os.close(pidfd)

    def start_process(self, process: Process) -> int:
        validate_process(process)
        with self._locked():
            status = self._status()
            if status in (Status.PAUSED, Status.PAUSING):
                raise ContainerPaused(f"container {self._id!r} is paused")
            if status == Status.STOPPED:
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            fds = [_fileno(getattr(process, name)) for name in Process.STDIO]
            with open(os.devnull, "r+b") as null:
                fds = [null.fileno() if fd is None else fd for fd in fds]
                reply = self._request({"op": "exec", "process": process.to_dict()}, fds)
        return reply["pid"]

    def wait(self) -> int:
        return self.wait_process(self.init_pid)

    def wait_process(self, pid: int) -> int:
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ProcessNotFound(f"pid {pid!r} is not a process of container {self._id!r}")
        self._check()
        try:
            reply = self._request({"op": "wait", "pid": pid})
        except _MonitorGone:
            code = S.read_exit(self._dir, pid)
            if code is None:
                self._check()
                raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}") from None
            return code
        return reply["status"]

    def _request(self, msg: dict, fds: list[int] = ()) -> dict:
        try:
            sock = S.connect(self._dir)
        except (FileNotFoundError, ConnectionRefusedError):
            self._check()
            if msg["op"] == "exec":
                raise ContainerNotRunning(f"container {self._id!r} is stopped") from None
            raise _MonitorGone() from None
        except OSError as e:
            raise SystemFailure(f"connect to monitor: {e}", errno=e.errno) from e
        with sock:
            try:
                S.send_msg(sock, msg, fds)
                reply = S.recv_msg(sock)
            except (ConnectionResetError, BrokenPipeError):
                reply = None  # the monitor exited with the container's last process
            except OSError as e:
                raise SystemFailure(f"monitor request: {e}", errno=e.errno) from e
        if reply is None and msg["op"] == "exec":
            self._check()
            raise ContainerNotRunning(f"container {self._id!r} is stopped")
        if reply is None:
            self._check()
            raise _MonitorGone()
        if "error" in reply:
            cls = _ERRORS.get(reply["error"], SystemFailure)
            raise cls(reply.get("message", ""))
        return reply

    # -- destroy --------------------------------------------------------
    def destroy(self) -> None:
        try:
            with S.locked(self._dir):
                if not self._exists():
                    _remove_leftover(self._dir)
                    return
                with _system("destroy"):
                    self._kill_all()
                    self._wait_monitor()
                    self._cgroup.destroy()
                    _remove_state_dir(self._dir)
        except FileNotFoundError:
            pass  # destroyed by another call
        finally:
            self._reap_monitor()

    def _kill_all(self) -> None:
        """SIGKILL every process in the cgroup, then thaw it, and wait until it is empty.

        v2 with ``cgroup.kill`` kills all at once. Otherwise the cgroup is
        frozen first so none can fork; a paused container is killed while
        frozen and thawed after, so the kills take effect. The thaw is in a
        ``finally``: an interrupted destroy never leaves the cgroup frozen.
        An empty cgroup (the container has exited: the common case of
        destroy) is not frozen.
        """
        if self._cgroup.kill():
            self._cgroup.thaw()
        frozen = False
        if not self._cgroup.pids():
            return
        try:
            try:
                self._cgroup.freeze(timeout=2.0)
                frozen = True
            except OSError:
                pass
            for _ in range(1000):
                pids = self._cgroup.pids()
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, _signal.SIGKILL)
                if frozen:
                    self._cgroup.thaw()
                    frozen = False
                time.sleep(0.001)
        finally:
            if frozen or self._cgroup.freezer_state() != THAWED:
                with contextlib.suppress(FileNotFoundError):
                    self._cgroup.thaw()

    def _wait_monitor(self, timeout: float = 10.0) -> None:
        pid, start = self._state["monitor_pid"], self._state["monitor_start"]
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            if L.process_start_time(pid) != start:
                return
            if not select.select([pidfd], [], [], timeout)[0]:
                os.kill(pid, _signal.SIGKILL)
                select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)

    def _reap_monitor(self) -> None:
        if self._monitor is not None and self._monitor.poll() is not None:
            self._monitor = None


class _MonitorGone(Exception):
    pass


def _fileno(obj) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.fileno()


def _remove_state_dir(path: str) -> None:
    """Remove a container's state directory, ``state.json`` last: a destroy killed half-way
    leaves the container visible, and the next destroy completes it."""
    for entry in os.scandir(path):
        if entry.name == S.STATE:
            continue
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(path, S.STATE))
    os.rmdir(path)


def _remove_leftover(path: str) -> None:
    """Remove what a destroy killed after unlinking ``state.json`` left: the directory and its lock file only."""
    try:
        names = os.listdir(path)
        if set(names) <= {S.LOCK}:
            for name in names:
                os.unlink(os.path.join(path, name))
            os.rmdir(path)
    except OSError:
        pass


def _rmtree(path: str) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            os.unlink(entry.path)
    os.rmdir(path)


__all__ = ["LinuxContainer", "ErrorCode"]
