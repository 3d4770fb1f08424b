"""LinuxContainer: the reference Container, backed by a state directory and a monitor.

Every call re-reads the kernel and the state directory, so several objects
(in one process or many) for the same container agree. Calls that change the
container hold its flock. OSError never escapes: it becomes SystemFailure.

Faults (SPEC.md "Faults: lost processes and stale state"): a handle is bound to
one incarnation of its id (LC-FAULT-01); a container whose monitor is gone
while its init runs is killed by the first call that notices, and its init's
status recorded as 128+SIGKILL (LC-FAULT-03); every kill is sent through a
pidfd after checking the target (its start time, or its membership in the
cgroup), so a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal as _signal

from libcontainer.spec import (Config, Container, ContainerDestroyed, ContainerNotRunning,
                               ContainerStats, LibcontainerError, Process, ProcessNotFound, Status,
                               SystemFailure)
from libcontainer.spec import transitions
from libcontainer.spec.errors import ErrorCode

from . import linux
from . import netdev
from . import reaper
from . import state as statedir
from .cleanup import kill_cgroup, remove_state_dir
from .cleanup import driver_from_info as cgroup_driver
from .cgroups import FREEZING, FROZEN

_ERRORS = {cls.code.value: cls for cls in LibcontainerError.__subclasses__()}
STARTED = "started"  # in the state directory: a create(start=False) container was started


@contextlib.contextmanager
def system_errors(what: str, container: "LinuxContainer | None" = None, settle: bool = False):
    """Turn an OSError into SystemFailure naming the operation; ContainerDestroyed instead when
    ``container`` was destroyed meanwhile (its cgroup vanished under the call: LC-FAULT-05). With
    ``settle`` (callers that do not hold the lock), a destroy under way is waited for first."""
    try:
        yield
    except LibcontainerError:
        raise
    except OSError as e:
        if container is not None:
            if settle:
                with contextlib.suppress(OSError), statedir.locked(container._dir):
                    pass
            container._check()
        raise SystemFailure(f"{what}: {e}", errno=e.errno) from e


class LinuxContainer(Container):
    def __init__(self, container_id: str, state_dir: str, state: dict):
        self._id = container_id
        self._dir = state_dir
        self._config = Config.from_dict(state["config"])
        self._state = state
        self._cgroup = cgroup_driver(state["cgroup"])
        self._incarnation = state.get("incarnation")

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
        """True while the state directory holds this handle's incarnation of the container."""
        try:
            state = statedir.read_json(os.path.join(self._dir, statedir.STATE))
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True  # unreadable now (a full or read-only disk, a tamperer): not proof of a destroy
        if not isinstance(state, dict) or not isinstance(state.get("incarnation"), str):
            return True  # not the object create wrote (`[]`, no incarnation): no proof of a destroy either
        return state["incarnation"] == self._incarnation

    def _check(self) -> None:
        if not self._exists():
            raise ContainerDestroyed(f"container {self._id!r} does not exist")

    def _init_exited(self) -> bool:
        pid = self.init_pid
        if statedir.read_exit(self._dir, pid) is not None:
            if not self._monitor_alive():
                self._kill_init()  # recorded by a lost-monitor kill under way: let it land
            return True
        if linux.process_start_time(pid) != self._state["init_start"]:
            return True
        return linux.process_state(pid) in ("Z", "X", None)

    def _monitor_alive(self) -> bool:
        pid = self._state["monitor_pid"]
        return (linux.process_start_time(pid) == self._state["monitor_start"]
                and linux.process_state(pid) not in ("Z", "X", None))

    def _lost_monitor(self) -> None:
        """The monitor is gone while init runs: nothing keeps the container any more (nobody reaps
        its processes or records their statuses). Kill them all and record init's status as
        128+SIGKILL (LC-FAULT-03)."""
        # recorded before the kill: a caller that sees init gone finds its status
        if statedir.read_exit(self._dir, self.init_pid) is None:
            with contextlib.suppress(OSError):
                statedir.write_exit(self._dir, self.init_pid, 128 + _signal.SIGKILL)
        self._kill_init()
        kill_cgroup(self._cgroup)

    def _kill_init(self, timeout: float = 5.0) -> None:
        """SIGKILL init (verified by its start time) and wait until it has exited."""
        try:
            pidfd = os.pidfd_open(self.init_pid)
        except ProcessLookupError:
            return
        try:
            if linux.process_start_time(self.init_pid) == self._state["init_start"]:
                linux.pidfd_send_signal(pidfd, _signal.SIGKILL)
                select.select([pidfd], [], [], timeout)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    def _status(self) -> Status:
        self._check()
        with system_errors("status", self):
            if self._init_exited():
                return Status.STOPPED
            if not self._monitor_alive():
                self._check()
                self._lost_monitor()
                return Status.STOPPED
            if self._awaits_start():
                return Status.CREATED
            freezer = self._cgroup.freezer_state()
            if freezer == FROZEN:
                return Status.PAUSED
            if freezer == FREEZING:
                return Status.PAUSING
            if not self._exists():
                raise ContainerDestroyed(f"container {self._id!r} does not exist")
            return Status.RUNNING

    def _awaits_start(self) -> bool:
        """Made by create(start=False) and not started: no ``started`` file yet (LC-CREATED-01)."""
        return bool(self._state.get("await_start")) and not os.path.exists(os.path.join(self._dir, STARTED))

    def start(self) -> None:
        """Let the CREATED container's init exec its program (SPEC.md LC-CREATED-02, -03): the
        ``started`` file is written first, under the lock, so no reader sees CREATED after the
        program runs; then the monitor releases the init."""
        with self._locked(), system_errors("start", self):
            transitions.check("start", self._status, self._id)
            marker = os.path.join(self._dir, STARTED)
            with open(marker, "x"):
                pass
            try:
                try:
                    self._request({"op": "start"})
                except _MonitorGone:
                    raise ContainerNotRunning(f"start: container {self._id!r} is not running") from None
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(marker)
                raise

    def status(self) -> Status:
        try:
            return self._status()
        except SystemFailure:
            with contextlib.suppress(OSError), statedir.locked(self._dir):
                pass  # a destroy under way removed what status read: it says ContainerDestroyed
            self._check()
            raise

    @contextlib.contextmanager
    def _locked(self):
        try:
            with statedir.locked(self._dir):
                self._check()
                yield
        except FileNotFoundError:
            self._check()
            raise

    def processes(self) -> list[int]:
        self._check()
        with system_errors("processes", self, settle=True):
            pids = self._cgroup.pids()
        self._check()
        return pids

    def stats(self) -> ContainerStats:
        """The cgroup's statistics (see the driver's ``stats``) plus the network counters of init's namespace.

        ``network`` is None once init has exited (its namespace is gone).
        """
        self._check()
        with system_errors("stats", self, settle=True):
            stats = self._cgroup.stats()
            pid = self.init_pid
            network = netdev.interfaces(pid)
            # the pid may have been reused if init exited: keep the counters only if it is still init
            if network is not None and linux.process_start_time(pid) == self._state["init_start"]:
                stats.network = network
        self._check()
        return stats

    # -- freezer --------------------------------------------------------
    # The state errors of pause, resume, signal and start_process come from SPEC.md's transition table
    # (libcontainer.spec.transitions.check), which raises what LC-GEN-04 ranks first.
    def pause(self) -> None:
        with self._locked(), system_errors("pause", self):
            if not transitions.check("pause", self._status, self._id).noop:
                self._cgroup.freeze()

    def resume(self) -> None:
        with self._locked(), system_errors("resume", self):
            if not transitions.check("resume", self._status, self._id).noop:
                self._cgroup.thaw()

    # -- processes ------------------------------------------------------
    def signal(self, pid: int, sig: int) -> None:
        transitions.check("signal", self._status, self._id, sig=sig, pid=pid)
        with system_errors("signal", self, settle=True):
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                raise ProcessNotFound(f"pid {pid} does not exist") from None
            try:
                # checked after the pidfd is held, so the pid cannot be reused in between
                if pid not in self._cgroup.pids():
                    raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
                linux.pidfd_send_signal(pidfd, sig)
            finally:
                os.close(pidfd)

    def start_process(self, process: Process) -> int:
        transitions.validate_arguments(process=process)  # before the lock: an argument error wins (LC-GEN-04)
        with self._locked():
            transitions.check("start_process", self._status, self._id)
            fds = [_fileno(getattr(process, name)) for name in Process.STDIO]
            with open(os.devnull, "r+b") as null:
                fds = [null.fileno() if fd is None else fd for fd in fds]
                try:
                    reply = self._request({"op": "exec", "process": process.to_dict()}, fds)
                except SystemFailure:
                    # the init exited while the process was being started (LC-FAULT-06)
                    if self._status() == Status.STOPPED:
                        raise ContainerNotRunning(f"container {self._id!r} is stopped") from None
                    raise
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
            return self._recorded_status(pid)
        return reply["status"]

    def _recorded_status(self, pid: int) -> int:
        """The status of ``pid`` once the monitor is gone (LC-FAULT-03): as recorded; for init
        unrecorded, after the checks of status() (which kill an unkept init and record 137);
        SystemFailure when init's status was never recorded (the monitor could not write it)."""
        code = statedir.read_exit(self._dir, pid)
        if code is not None:
            return code
        try:
            with statedir.locked(self._dir):  # a destroy under way finishes first
                pass
        except FileNotFoundError:
            pass
        if pid == self.init_pid:
            self._wait_monitor()  # it closed the connection: it is exiting (its fds close before it is dead)
            self._status()
            code = statedir.read_exit(self._dir, pid)
            if code is not None:
                return code
            self._check()
            raise SystemFailure(f"the exit status of container {self._id!r}'s init was never recorded "
                                "(its monitor died or could not write it)")
        self._check()
        raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")

    def _request(self, msg: dict, fds: list[int] = ()) -> dict:
        try:
            sock = statedir.connect(self._dir)
        except (FileNotFoundError, ConnectionRefusedError):
            self._check()
            if msg["op"] == "exec":
                raise ContainerNotRunning(f"container {self._id!r} is stopped") from None
            raise _MonitorGone() from None
        except OSError as e:
            raise SystemFailure(f"connect to monitor: {e}", errno=e.errno) from e
        msg = dict(msg, incarnation=self._incarnation)
        with sock:
            try:
                statedir.send_msg(sock, msg, fds)
                reply = statedir.recv_msg(sock)
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
        """Kill every process, the monitor, remove the cgroup and the state directory. The kills come
        first: on a read-only or full factory root they still happen, and the SystemFailure that
        follows says what is left (LC-FAULT-08)."""
        try:
            with statedir.locked(self._dir):
                if not self._exists():
                    if not os.path.lexists(os.path.join(self._dir, statedir.STATE)):
                        # what a destroy killed after removing state.json left (its lock, files):
                        # finished here; a create under way held the lock until it was done
                        with system_errors("destroy"):
                            remove_state_dir(self._dir)
                    return  # another incarnation, or destroyed: never touched by this handle
                with system_errors("destroy"):
                    kill_cgroup(self._cgroup)
                    self._wait_monitor()
                    self._cgroup.destroy()
                    try:
                        remove_state_dir(self._dir)
                    except OSError as e:
                        raise SystemFailure(f"destroy {self._id!r}: every process is killed and the cgroup "
                                            f"removed, but the state directory {self._dir} is left: {e}",
                                            errno=e.errno) from e
        except FileNotFoundError:
            pass  # destroyed by another call
        except OSError as e:
            raise SystemFailure(f"destroy {self._id!r}: {e}", errno=e.errno) from e

    def _wait_monitor(self, timeout: float = 10.0) -> None:
        pid, start = self._state["monitor_pid"], self._state["monitor_start"]
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            if linux.process_start_time(pid) != start:
                return
            if not select.select([pidfd], [], [], timeout)[0]:
                linux.kill_verified(pid, start, _signal.SIGKILL)
                select.select([pidfd], [], [], timeout)
            reaper.reap(pid)  # when this process started it: no zombie left behind (LC-FAULT-07)
        finally:
            os.close(pidfd)


class _MonitorGone(Exception):
    pass


def _fileno(obj) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.fileno()


__all__ = ["LinuxContainer", "ErrorCode"]
