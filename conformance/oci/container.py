"""OCIContainer: the Container interface over an OCI runtime's command line.

State of the adapter lives in the container's directory under the factory
root, kept by :mod:`libcontainer.plumbing` as the reference keeps its own:
``state.json`` (:class:`libcontainer.plumbing.statefile.ContainerState`:
id, config, runtime, init and monitor pids), the lock, the bundle, the
monitor's socket and ``exits/<pid>`` statuses. What the runtime
says is passed on faithfully: the adapter maps its errors to the spec's
classes but does not make up for behaviour the runtime lacks (SPEC.md,
"Deviations of peer runtimes", records where that differs from the spec).

Error mapping: any command failing on a container the runtime no longer
knows raises ContainerDestroyed; on a stopped container
ContainerNotRunning; "exec"/"executable"/"chdir" with "not found"/"no such
file"/"permission denied" raises ConfigInvalid; the runtime's own
"paused" refusals raise ContainerPaused; anything else SystemFailure with
the runtime's message. ``start`` (the create/start split) maps its errors
by the runtime's state instead: :mod:`.split`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal as _signal
import uuid

from libcontainer.plumbing import linux
from libcontainer.plumbing import messages
from libcontainer.plumbing import statedir
from libcontainer.plumbing.handle import StateHandle
from libcontainer.spec import (ContainerDestroyed, ContainerNotRunning, ContainerPaused, ContainerStats,
                               LibcontainerError, NotSupported, Process, ProcessNotFound, Status, SystemFailure)
from libcontainer.spec import transitions
from libcontainer.spec.errors import ConfigInvalid

from . import bundle
from .cli import CliError, Runtime, read_log
from .files import _GONE, cgroup_path, remove, stats_from_events
from .refusals import refuses_config
from .split import RUNTIME_STATUS, StartMixin
# runsc's own ELF loader says "failed to load /x: no such file or directory" for a missing binary
_CONFIG_ERR = (re.compile(r"exec|executable|chdir|cwd|failed to load", re.I),
               re.compile(r"not found|no such file|permission denied|not a directory", re.I))
# the kernel refused a value of the config (a cgroup file write failing with EINVAL or ERANGE)
_VALUE_ERR = re.compile(r"(failed to write|writing|write).*(invalid argument|numerical result out of range)", re.I)
_PAUSED_PANIC = "invalid state transition: paused => stopped"  # runsc 20221219's delete --force of a paused one


def is_config_error(message: str) -> bool:
    """True when a runtime's error text says the config was unusable (missing binary or cwd, a refused value,
    its validator's refusal: :mod:`.refusals`, or lcrun's "invalid configuration: ")."""
    return all(p.search(message) for p in _CONFIG_ERR) or bool(_VALUE_ERR.search(message)) \
        or refuses_config(message) or bool(_SAYS_INVALID.search(message))


# a runtime that names the spec's own classes (lcrun) starts its message "invalid configuration: " or
# "not supported: " (cli/main.py)
_SAYS_INVALID = re.compile(r"(^|; )invalid configuration: ")
_SAYS_NOT_SUPPORTED = re.compile(r"(^|; )not supported: ")


def is_not_supported(message: str) -> bool:
    """True when a runtime's error text says it cannot do what the config asks (NotSupported)."""
    return bool(_SAYS_NOT_SUPPORTED.search(message))


class OCIContainer(StartMixin, StateHandle):
    def __init__(self, container_id: str, state_dir: str, state, runtime: Runtime):
        super().__init__(container_id, state_dir, state)
        self.runtime = runtime

    # -- errors ------------------------------------------------------------
    def _failed(self, e: CliError, what: str) -> LibcontainerError:
        """The spec error for a failed runtime command."""
        if not self._exists():
            return ContainerDestroyed(f"{what}: container {self._id!r} does not exist ({e.message})")
        if e.rc < 0:
            return SystemFailure(f"{what}: {self.runtime.name} {e.message}")
        if is_not_supported(e.message):
            return NotSupported(f"{what}: {e.message}")
        if is_config_error(e.message):
            return ConfigInvalid(f"{what}: {e.message}")
        if _GONE.search(e.message):
            return ContainerDestroyed(f"{what}: container {self._id!r} does not exist ({e.message})")
        if re.search(r"paused", e.message, re.I) and not re.search(r"not paused", e.message, re.I):
            return ContainerPaused(f"{what}: {e.message}")
        try:
            status = self._runtime_status()
        except LibcontainerError as err:
            return err
        if status == Status.STOPPED:
            return ContainerNotRunning(f"{what}: container {self._id!r} is stopped ({e.message})")
        if status == Status.CREATED and re.search(r"not running", e.message, re.I):
            # a runtime refusing to pause or resume a created container (lcrun, as LC-CREATED-05 asks)
            return ContainerNotRunning(f"{what}: container {self._id!r} is created, not started ({e.message})")
        return SystemFailure(f"{what}: {self.runtime.name}: {e.message}")

    def _run(self, what: str, *args: str) -> str:
        self._check()
        try:
            return self.runtime.run(*args)
        except CliError as e:
            raise self._failed(e, what) from None

    # -- state -------------------------------------------------------------
    def _runtime_status(self) -> Status:
        self._check()
        try:
            data = self.runtime.run_json("state", self._id)
        except CliError as e:
            if not self._exists() or _GONE.search(e.message):
                raise ContainerDestroyed(f"container {self._id!r} does not exist") from None
            raise SystemFailure(f"state: {self.runtime.name}: {e.message}") from None
        except ValueError as e:
            raise SystemFailure(f"state: {self.runtime.name} printed no JSON: {e}") from None
        try:
            status = RUNTIME_STATUS[data["status"]]
        except KeyError:
            raise SystemFailure(f"state: unknown status {data.get('status')!r}") from None
        if status != Status.STOPPED and not self._monitor_alive():
            return self._lost_monitor()
        return status

    def _init_exited(self, timeout: float = 0.0) -> bool:
        """True once init has exited, waiting up to ``timeout`` s for it (its pidfd turns readable)."""
        try:
            pidfd = linux.pidfd_open(self.init_pid)
        except ProcessLookupError:
            return True
        try:
            if linux.process_start_time(self.init_pid) is None:
                return True
            return linux.wait_readable(pidfd, timeout)
        finally:
            os.close(pidfd)

    def _lost_monitor(self) -> Status:
        """The adapter's monitor (init's keeper) is gone: nothing reaps the container's processes or
        records their statuses, and exec goes through it. As the reference does (LC-FAULT-03): record
        128+SIGKILL for init, kill the container through the runtime, and report STOPPED."""
        self._record_lost_init()
        try:
            self.runtime.run("kill", "--all", self._id, "KILL")
        except CliError:
            pass
        with contextlib.suppress(ProcessLookupError):
            pidfd = linux.pidfd_open(self.init_pid)
            try:
                linux.wait_readable(pidfd, 10.0)  # readable once the kill has landed
            finally:
                os.close(pidfd)
        return Status.STOPPED

    def status(self) -> Status:
        return self._runtime_status()

    def processes(self) -> list[int]:
        if not self.runtime.host_pids:
            raise NotSupported(f"{self.runtime.name} ps lists its sandbox kernel's pids, not host pids")
        out = self._run("processes", "ps", "--format", "json", self._id)
        try:
            pids = json.loads(out) if out.strip() else []
        except ValueError as e:
            raise SystemFailure(f"processes: {self.runtime.name} ps printed no JSON: {e}") from None
        return sorted(int(p) for p in (pids or []))

    def stats(self) -> ContainerStats:
        self._check()
        if not self.runtime.has_events:
            raise NotSupported(f"{self.runtime.name} has no 'events --stats' command")
        out = self._run("stats", "events", "--stats", self._id)
        try:
            data = json.loads(out.splitlines()[0])["data"]
        except (ValueError, IndexError, KeyError) as e:
            raise SystemFailure(f"stats: cannot read {self.runtime.name} events: {e}") from None
        return stats_from_events(data)

    # -- freezer -----------------------------------------------------------
    def pause(self) -> None:
        self._run("pause", "pause", self._id)

    def resume(self) -> None:
        self._run("resume", "resume", self._id)

    # -- processes ---------------------------------------------------------
    def signal(self, pid: int, sig: int) -> None:
        # rank 1 of LC-GEN-04 from the spec; the state errors are the runtime's own (its CLI's answers
        # are what the suite judges, so the adapter does not impose SPEC.md's table on them)
        transitions.validate_arguments(sig=sig, pid=pid)
        self._check()
        if pid == self.init_pid:
            self._run("signal", "kill", self._id, str(sig))
            return
        # The CLI signals only init (or all). Another pid is handled as the runtime's `kill` handles init:
        # refused on a stopped container, delivered otherwise, once ps lists it; while paused, as the
        # runtime's `kill ID 0` (which delivers nothing) answers: refused if it says "paused" (lcrun),
        # else delivered (runc, crun: SPEC.md D-SIGNAL-PAUSED)
        status = self._runtime_status()
        if status == Status.STOPPED:
            raise ContainerNotRunning(f"container {self._id!r} is stopped")
        if status in (Status.PAUSED, Status.PAUSING):
            self._refused_while_paused()
        try:
            pidfd = linux.pidfd_open(pid)
        except ProcessLookupError:
            raise ProcessNotFound(f"pid {pid} does not exist") from None
        try:
            if pid not in self.processes():
                raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
            _signal.pidfd_send_signal(pidfd, sig)
        except OSError as e:
            raise SystemFailure(f"signal {pid}: {e}", errno=e.errno) from e
        finally:
            os.close(pidfd)

    def _refused_while_paused(self) -> None:
        """ContainerPaused when the runtime's ``kill`` of init (signal 0) is refused as paused."""
        try:
            self.runtime.run("kill", self._id, "0")
        except CliError as e:
            if re.search(r"paused", e.message, re.I) and not re.search(r"not paused", e.message, re.I):
                raise ContainerPaused(f"signal: {e.message}") from None

    def start_process(self, process: Process) -> int:
        transitions.validate_arguments(process=process)
        self._check()
        name = uuid.uuid4().hex[:12]
        spec_path = os.path.join(self._dir, f"exec-{name}.json")
        pid_file = os.path.join(self._dir, f"exec-{name}.pid")
        log = os.path.join(self._dir, f"exec-{name}.log")
        try:
            with open(spec_path, "w") as f:
                json.dump(bundle.process_json(process), f)
            console = ["--console-socket", process.console_socket] \
                if getattr(process, "terminal", False) and process.console_socket else []
            argv = self.runtime.argv("exec", "--detach", *console, "--pid-file", pid_file, "--process", spec_path,
                                     self._id, log=log)
            fds = [_fileno(getattr(process, n)) for n in Process.STDIO]
            with open(os.devnull, "r+b") as null:
                fds = [null.fileno() if fd is None else fd for fd in fds]
                reply = self._ask(messages.RunRequest(argv, pid_file), fds)
            if reply is None:
                self._check()
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            if isinstance(reply, messages.PidReply):
                return reply.pid
            if reply.error != messages.COMMAND_FAILED:
                raise reply.exception()
            failure = self._failed(CliError(argv, -1 if reply.rc is None else reply.rc,
                                            read_log(log) or reply.message), "start_process")
            # init exited while the runtime joined it (LC-FAULT-06): its /proc/N/ns vanished under the
            # runtime, which may still say "running" for a moment; wait for init's exit to be certain
            settle = 2.0 if re.search(r"/proc/\d+/ns/", str(failure)) else 0.0
            # (a runtime's "paused" refusal needs no second look at its state: LC-EXEC-03 wants it at once)
            if self._init_exited(settle) or (not isinstance(failure, ContainerPaused)
                                             and self.status() == Status.STOPPED):
                raise ContainerNotRunning(f"container {self._id!r} is stopped ({failure})")
            raise failure
        except FileNotFoundError:
            self._check()
            raise
        except OSError as e:  # the state directory cannot be written (a full or read-only root)
            raise SystemFailure(f"start_process: {e}", errno=e.errno) from e
        finally:
            for path in (spec_path, pid_file, log):
                with contextlib.suppress(OSError):  # absent, or a read-only root
                    os.unlink(path)

    def wait_process(self, pid: int) -> int:
        self._check_waitable(pid)
        reply = self._ask(messages.WaitRequest(pid))
        if reply is None:  # the monitor has exited: every status it had is on disk
            code = statedir.read_exit(self._dir, pid)
            if code is not None:
                return code
            if pid == self.init_pid and self._state.monitor_pid:
                return self._recorded_init_status()
            self._check()
            raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
        if isinstance(reply, messages.StatusReply):
            return reply.status
        self._check()
        raise reply.exception()

    # -- destroy -----------------------------------------------------------
    def destroy(self) -> None:
        try:
            with statedir.locked(self._dir):
                if not self._exists():
                    self._finish_half_destroy()  # what a destroy killed after removing state.json left
                    return
                remove(self.runtime, self._id, self._dir, self._state.monitor_pid, self._state.monitor_start,
                       cgroup_path(self._config.cgroup_parent, self._id))
        except FileNotFoundError:
            return  # destroyed by another call
        except CliError as e:
            if not (_PAUSED_PANIC in e.message and self._remove_again()):
                raise SystemFailure(f"destroy: {self.runtime.name}: {e.message}") from None
        except OSError as e:
            raise SystemFailure(f"destroy: {e}", errno=e.errno) from e

    def _remove_again(self) -> bool:
        """runsc 20221219's ``delete --force`` of a paused container panics ("invalid state transition:
        paused => stopped") after it removed the sandbox and its state: delete again (the runtime now
        says the container does not exist) and finish the removal. True if that removed it
        (SPEC.md, Deviations of peer runtimes, runsc)."""
        try:
            remove(self.runtime, self._id, self._dir, self._state.monitor_pid,
                   self._state.monitor_start, cgroup_path(self._config.cgroup_parent, self._id))
        except (CliError, OSError):
            return False
        return True


def _fileno(obj) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.fileno()


__all__ = ["OCIContainer", "stats_from_events", "is_config_error", "is_not_supported"]
