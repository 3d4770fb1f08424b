"""OCIContainer: the Container interface over an OCI runtime's command line.

State of the adapter lives in the container's directory under the factory
root: ``state.json`` (id, config, runtime, init and monitor pids), the
bundle, the monitor's socket and ``exits/<pid>`` statuses. What the runtime
says is passed on faithfully: the adapter maps its errors to the spec's
classes but does not make up for behaviour the runtime lacks (SPEC.md,
"Deviations of peer runtimes", records where that differs from the spec).

Error mapping: any command failing on a container the runtime no longer
knows raises ContainerDestroyed; on a stopped container
ContainerNotRunning; "exec"/"executable"/"chdir" with "not found"/"no such
file"/"permission denied" raises ConfigInvalid; the runtime's own
"paused" refusals raise ContainerPaused; anything else SystemFailure with
the runtime's message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal as _signal
import socket
import uuid

from libcontainer.spec import (Config, Container, ContainerDestroyed, ContainerNotRunning, ContainerPaused,
                               ContainerStats, LibcontainerError, NotSupported, Process, ProcessNotFound, Status,
                               SystemFailure)
from libcontainer.spec import transitions
from libcontainer.spec.errors import ConfigInvalid

from . import bundle
from .cli import CliError, Runtime, read_log
from .files import (_GONE, MAX_NAME, cgroup_path, dir_name, remove, remove_empty_cgroup, rmtree,  # noqa: F401
                    start_time, stats_from_events, wait_monitor)

STATE = "state.json"
_STATUS = {"created": Status.RUNNING, "creating": Status.RUNNING, "running": Status.RUNNING,
           "pausing": Status.PAUSING, "paused": Status.PAUSED, "stopped": Status.STOPPED}
# runsc's own ELF loader says "failed to load /x: no such file or directory" for a missing binary
_CONFIG_ERR = (re.compile(r"exec|executable|chdir|cwd|failed to load", re.I),
               re.compile(r"not found|no such file|permission denied|not a directory", re.I))
# the kernel refused a value of the config (a cgroup file write failing with EINVAL or ERANGE)
_VALUE_ERR = re.compile(r"(failed to write|writing|write).*(invalid argument|numerical result out of range)", re.I)
_PAUSED_PANIC = "invalid state transition: paused => stopped"  # runsc 20221219's delete --force of a paused one
_ERRORS = {cls.code.value: cls for cls in LibcontainerError.__subclasses__()}


def is_config_error(message: str) -> bool:
    """True when a runtime's error text says the config was unusable (missing binary or cwd, a refused value)."""
    return all(p.search(message) for p in _CONFIG_ERR) or bool(_VALUE_ERR.search(message))


class OCIContainer(Container):
    def __init__(self, container_id: str, state_dir: str, state: dict, runtime: Runtime):
        self._id = container_id
        self._dir = state_dir
        self._state = state
        self._config = Config.from_dict(state["config"])
        self.runtime = runtime

    @property
    def id(self) -> str:
        return self._id

    def config(self) -> Config:
        return self._config

    @property
    def init_pid(self) -> int:
        return self._state["init_pid"]

    def __repr__(self) -> str:
        return f"OCIContainer({self.runtime.name}, id={self._id!r}, init_pid={self.init_pid})"

    # -- errors ------------------------------------------------------------
    def _exists(self) -> bool:
        """True while the directory holds this object's incarnation of the container (LC-FAULT-01)."""
        try:
            with open(os.path.join(self._dir, STATE)) as f:
                state = json.load(f)
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True
        return isinstance(state, dict) and state.get("incarnation") == self._state.get("incarnation")

    def _check(self) -> None:
        if not self._exists():
            raise ContainerDestroyed(f"container {self._id!r} does not exist")

    def _failed(self, e: CliError, what: str) -> LibcontainerError:
        """The spec error for a failed runtime command."""
        if not self._exists():
            return ContainerDestroyed(f"{what}: container {self._id!r} does not exist ({e.message})")
        if e.rc < 0:
            return SystemFailure(f"{what}: {self.runtime.name} {e.message}")
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
            status = _STATUS[data["status"]]
        except KeyError:
            raise SystemFailure(f"state: unknown status {data.get('status')!r}") from None
        if status != Status.STOPPED and not self._monitor_alive():
            return self._lost_monitor()
        return status

    def _init_exited(self, timeout: float = 0.0) -> bool:
        """True once init has exited, waiting up to ``timeout`` s for it (its pidfd turns readable)."""
        try:
            pidfd = os.pidfd_open(self.init_pid)
        except ProcessLookupError:
            return True
        try:
            if start_time(self.init_pid) is None:
                return True
            return bool(select.select([pidfd], [], [], timeout)[0])
        finally:
            os.close(pidfd)

    def _monitor_alive(self) -> bool:
        pid = self._state.get("monitor_pid")
        if not pid or start_time(pid) != self._state.get("monitor_start"):
            return False
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def _lost_monitor(self) -> Status:
        """The adapter's monitor (init's keeper) is gone: nothing reaps the container's processes or
        records their statuses, and exec goes through it. As the reference does (LC-FAULT-03): record
        128+SIGKILL for init, kill the container through the runtime, and report STOPPED."""
        path = os.path.join(self._dir, "exits", str(self.init_pid))
        if not os.path.exists(path):
            with contextlib.suppress(OSError):
                tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
                with open(tmp, "w") as f:
                    f.write("137")
                os.rename(tmp, path)
        try:
            self.runtime.run("kill", "--all", self._id, "KILL")
        except CliError:
            pass
        with contextlib.suppress(ProcessLookupError):
            pidfd = os.pidfd_open(self.init_pid)
            try:
                select.select([pidfd], [], [], 10.0)  # readable once the kill has landed
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
        # refused on a stopped container, delivered otherwise (also while paused), once ps lists it.
        if self._runtime_status() == Status.STOPPED:
            raise ContainerNotRunning(f"container {self._id!r} is stopped")
        try:
            pidfd = os.pidfd_open(pid)
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
                reply = self._request({"op": "exec", "argv": argv, "pid_file": pid_file}, fds)
            if reply is None:
                self._check()
                raise ContainerNotRunning(f"container {self._id!r} is stopped")
            if "pid" in reply:
                return reply["pid"]
            if reply.get("error") in _ERRORS:
                raise _ERRORS[reply["error"]](reply.get("message", ""))
            failure = self._failed(CliError(argv, reply.get("rc", -1), read_log(log) or reply["error"]),
                                   "start_process")
            # init exited while the runtime joined it (LC-FAULT-06): its /proc/N/ns vanished under the
            # runtime, which may still say "running" for a moment; wait for init's exit to be certain
            settle = 2.0 if re.search(r"/proc/\d+/ns/", str(failure)) else 0.0
            if self._init_exited(settle) or self.status() == Status.STOPPED:
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

    def wait(self) -> int:
        return self.wait_process(self.init_pid)

    def wait_process(self, pid: int) -> int:
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ProcessNotFound(f"pid {pid!r} is not a process of container {self._id!r}")
        self._check()
        reply = self._request({"op": "wait", "pid": pid})
        if reply is None:  # the monitor has exited: every status it had is on disk
            code = self._read_exit(pid)
            if code is not None:
                return code
            if pid == self.init_pid and self._state.get("monitor_pid"):
                wait_monitor(self._state["monitor_pid"], self._state.get("monitor_start"))
                self.status()  # a lost monitor: init is killed and 137 recorded (LC-FAULT-03)
                code = self._read_exit(pid)
                if code is not None:
                    return code
                self._check()
                raise SystemFailure(f"the exit status of container {self._id!r}'s init was never recorded "
                                    "(its monitor died or could not write it)")
            self._check()
            raise ProcessNotFound(f"pid {pid} is not a process of container {self._id!r}")
        if "status" in reply:
            return reply["status"]
        self._check()
        raise _ERRORS.get(reply.get("error"), SystemFailure)(reply.get("message", ""))

    def _read_exit(self, pid: int) -> int | None:
        try:
            with open(os.path.join(self._dir, "exits", str(pid))) as f:
                return int(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise SystemFailure(f"read exit status of {pid}: {e}") from e

    def _request(self, msg: dict, fds: list[int] = ()) -> dict | None:
        """Ask the monitor; None when it has exited (the container's processes are all gone)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with sock:
            try:
                sock.connect(os.path.join(self._dir, "monitor.sock"))
            except (FileNotFoundError, ConnectionRefusedError):
                return None
            except OSError as e:
                raise SystemFailure(f"connect to monitor: {e}", errno=e.errno) from e
            try:
                data = json.dumps(msg).encode()
                sent = socket.send_fds(sock, [data], list(fds))
                if sent < len(data):
                    sock.sendall(data[sent:])
                sock.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except (ConnectionResetError, BrokenPipeError):
                return None
            except OSError as e:
                raise SystemFailure(f"monitor request: {e}", errno=e.errno) from e
        data = b"".join(chunks)
        return json.loads(data) if data and data != b"{}" else None

    # -- destroy -----------------------------------------------------------
    def destroy(self) -> None:
        try:
            fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not self._exists():
                return
            remove(self.runtime, self._id, self._dir, self._state.get("monitor_pid"),
                   self._state.get("monitor_start"), cgroup_path(self._config.cgroup_parent, self._id))
        except CliError as e:
            if not (_PAUSED_PANIC in e.message and self._remove_again()):
                raise SystemFailure(f"destroy: {self.runtime.name}: {e.message}") from None
        except OSError as e:
            raise SystemFailure(f"destroy: {e}", errno=e.errno) from e
        finally:
            os.close(fd)

    def _remove_again(self) -> bool:
        """runsc 20221219's ``delete --force`` of a paused container panics ("invalid state transition:
        paused => stopped") after it removed the sandbox and its state: delete again (the runtime now
        says the container does not exist) and finish the removal. True if that removed it
        (SPEC.md, Deviations of peer runtimes, runsc)."""
        try:
            remove(self.runtime, self._id, self._dir, self._state.get("monitor_pid"),
                   self._state.get("monitor_start"), cgroup_path(self._config.cgroup_parent, self._id))
        except (CliError, OSError):
            return False
        return True


def _fileno(obj) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.fileno()


__all__ = ["OCIContainer", "stats_from_events", "is_config_error"]
