"""LinuxContainer: the reference Container, backed by a state directory and the root's supervisor.

Every call re-reads the kernel and the state directory, so several objects
(in one process or many) for the same container agree. Calls that change the
container hold its flock. OSError never escapes: it becomes SystemFailure.

Faults (SPEC.md "Faults: lost processes and stale state"): a handle is bound to
one incarnation of its id (LC-FAULT-01); when the supervisor is gone while init
runs, the first call that notices starts a new one, which adopts the init
(reference/supervisor.py); only when that fails is the container killed and
its init's status recorded as 128+SIGKILL (LC-FAULT-03); every kill is sent through a
pidfd after checking the target (its start time, or its membership in the
cgroup), so a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.plumbing.handle import StateHandle
from libcontainer.spec import (ContainerDestroyed, ContainerNotRunning, ContainerStats, LibcontainerError, Process,
                               ProcessNotFound, Status, SystemFailure)
from libcontainer.spec import transitions
from libcontainer.spec.errors import ErrorCode

from . import netdev
from .cleanup import kill_cgroup
from .cleanup import driver_from_info as cgroup_driver
from .cgroups import FREEZING, FROZEN
from .supervision import Supervision, drop
from .supervisor import keeper_alive

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


class LinuxContainer(StateHandle):
    def __init__(self, container_id: str, state_dir: str, state, supervision: Supervision | None = None):
        super().__init__(container_id, state_dir, state)
        self._cgroup = cgroup_driver(state.cgroup)
        self._supervision = supervision or Supervision(os.path.dirname(state_dir))

    # -- the supervisor -------------------------------------------------
    def _monitor_alive(self) -> bool:
        """True while the supervisor that keeps the container (``monitor.json``: it rewrites that
        when it adopts the container after a restart) runs."""
        try:
            ident = statedir.read_json(os.path.join(self._dir, statedir.MONITOR))
        except (OSError, ValueError):
            ident = {"monitor_pid": self._state.monitor_pid, "monitor_start": self._state.monitor_start}
        return keeper_alive(ident)

    def _readopt(self) -> bool:
        """The supervisor is gone while init runs: start a new one, which adopts the init (the
        restart protocol, reference/supervisor.py). True when the container is kept again."""
        with contextlib.suppress(OSError, LibcontainerError):
            self._supervision.ensure()
        return self._monitor_alive()

    def _wait_monitor(self, timeout: float = 10.0) -> None:
        """Wait until the supervisor keeps the container no more (its processes reaped and recorded)."""
        drop(self._dir, timeout)

    # -- state ----------------------------------------------------------
    def _init_exited(self) -> bool:
        pid = self.init_pid
        if statedir.read_exit(self._dir, pid) is not None:
            if not self._monitor_alive():
                self._kill_init()  # recorded by a lost-monitor kill under way: let it land
            return True
        if linux.process_start_time(pid) != self._state.init_start:
            return True
        return linux.process_state(pid) in ("Z", "X", None)

    def _lost_monitor(self) -> None:
        """The monitor is gone while init runs: nothing keeps the container any more (nobody reaps
        its processes or records their statuses). Kill them all and record init's status as
        128+SIGKILL (LC-FAULT-03)."""
        self._record_lost_init()
        self._kill_init()
        kill_cgroup(self._cgroup)

    def _kill_init(self, timeout: float = 5.0) -> None:
        """SIGKILL init (verified by its start time) and wait until it has exited."""
        try:
            pidfd = linux.pidfd_open(self.init_pid)
        except ProcessLookupError:
            return
        try:
            if linux.process_start_time(self.init_pid) == self._state.init_start:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                linux.wait_readable(pidfd, timeout)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    def _status(self) -> Status:
        self._check()
        with system_errors("status", self):
            if self._init_exited():
                return Status.STOPPED
            if not self._monitor_alive() and not self._readopt():
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
        return self._state.await_start and not os.path.exists(os.path.join(self._dir, STARTED))

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
                    self._request(messages.StartRequest(self._state.incarnation))
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
            if network is not None and linux.process_start_time(pid) == self._state.init_start:
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
                pidfd = linux.pidfd_open(pid)
            except ProcessLookupError:
                raise ProcessNotFound(f"pid {pid} does not exist") from None
            try:
                # checked after the pidfd is held, so the pid cannot be reused in between
                if pid not in self._cgroup.pids():
                    raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
                signal.pidfd_send_signal(pidfd, sig)
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
                    reply = self._request(messages.ExecRequest(process.to_dict(), self._state.incarnation), fds)
                except SystemFailure:
                    # the init exited while the process was being started (LC-FAULT-06)
                    if self._status() == Status.STOPPED:
                        raise ContainerNotRunning(f"container {self._id!r} is stopped") from None
                    raise
        return reply.pid

    def wait_process(self, pid: int) -> int:
        self._check_waitable(pid)
        for _attempt in range(3):
            try:
                return self._request(messages.WaitRequest(pid, self._state.incarnation)).status
            except _MonitorGone:
                # the supervisor dropped the container (its processes are gone), or it died: while
                # init runs, a new one adopts it and the wait is asked again (LC-FAULT-03)
                if statedir.read_exit(self._dir, pid) is not None or self._init_exited() or not self._readopt():
                    break
        return self._recorded_status(pid)

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
            return self._recorded_init_status()
        self._check()
        raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")

    def _request(self, request, fds: list[int] = ()):
        """The monitor's PidReply or StatusReply; its ErrorReply raised; when no monitor answers,
        ContainerNotRunning for an exec, _MonitorGone for a wait."""
        reply = self._ask(request, fds)
        if reply is None:
            self._check()
            if isinstance(request, messages.ExecRequest):
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            raise _MonitorGone()
        if isinstance(reply, messages.ErrorReply):
            raise reply.exception()
        return reply

    # -- destroy --------------------------------------------------------
    def destroy(self) -> None:
        """Kill every process, the monitor, remove the cgroup and the state directory. The kills come
        first: on a read-only or full factory root they still happen, and the SystemFailure that
        follows says what is left (LC-FAULT-08)."""
        try:
            with statedir.locked(self._dir):
                if not self._exists():
                    # what a destroy killed after removing state.json left (its lock, files) is
                    # finished here; a create under way held the lock until it was done
                    with system_errors("destroy"):
                        self._finish_half_destroy()
                    return  # another incarnation, or destroyed: never touched by this handle
                with system_errors("destroy"):
                    kill_cgroup(self._cgroup)
                    self._wait_monitor()
                    self._cgroup.destroy()
                    try:
                        statedir.remove_state_dir(self._dir)
                    except OSError as e:
                        raise SystemFailure(f"destroy {self._id!r}: every process is killed and the cgroup "
                                            f"removed, but the state directory {self._dir} is left: {e}",
                                            errno=e.errno) from e
        except FileNotFoundError:
            pass  # destroyed by another call
        except OSError as e:
            raise SystemFailure(f"destroy {self._id!r}: {e}", errno=e.errno) from e


class _MonitorGone(Exception):
    pass


def _fileno(obj) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.fileno()


__all__ = ["LinuxContainer", "ErrorCode"]
