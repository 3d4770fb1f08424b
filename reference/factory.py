"""LinuxFactory: creates containers (starting their init through a monitor) and loads them.

Sources: the seed era's Factory contract (create starts the initial process
and is atomic; load returns an existing container), SPEC.md LC-FACTORY-*.
"""

from __future__ import annotations

import errno
import json
import os
import select
import subprocess
import sys
import time

from libcontainer.spec import (Config, ConfigInvalid, ContainerDestroyed, Factory, IdInUse, LibcontainerError,
                               Process, SystemFailure, validate, validate_id)

from . import linux as L
from . import state as S
from .cgroups import THAWED, CgroupV1, driver_for
from .container import LinuxContainer, _rmtree

DEFAULT_ROOT = "/run/libcontainer"
START_TIMEOUT = 120.0  # seconds; generous: emulated (TCG) guests under load are 15-45x slower


class LinuxFactory(Factory):
    """Containers on this Linux host, their state under ``root`` (default /run/libcontainer).

    ``monitor`` is how each container's monitor process starts: ``"fork"``
    (default) forks it from the calling process, which has the code loaded
    already, so create does not wait for a Python interpreter to start (the
    monitor shows as ``lc-monitor`` in ps; its command line is the
    caller's); ``"exec"`` runs ``python -m libcontainer.reference.monitor``,
    slower by an interpreter's start-up, for callers that must not fork (a
    process whose other threads hold C-level locks across fork).

    ``start_timeout`` (seconds, default 120) bounds how long create waits for
    the init to exec; past it, create removes what it made and raises
    SystemFailure.
    """

    MONITOR_MODES = ("fork", "exec")

    def __init__(self, root: str = DEFAULT_ROOT, monitor: str = "fork", start_timeout: float = START_TIMEOUT):
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, not {type(root).__name__}")
        if monitor not in self.MONITOR_MODES:
            raise ValueError(f"monitor must be one of {self.MONITOR_MODES}")
        self.root = os.path.abspath(root)
        self.monitor_mode = monitor
        self.start_timeout = start_timeout

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.root, S.dir_name(container_id))

    def load(self, container_id: str) -> LinuxContainer:
        validate_id(container_id)
        state_dir = self._dir(container_id)
        try:
            state = S.read_json(os.path.join(state_dir, S.STATE))
        except FileNotFoundError:
            raise ContainerDestroyed(f"container {container_id!r} does not exist") from None
        except (OSError, ValueError) as e:
            raise SystemFailure(f"load {container_id!r}: {e}") from e
        if state.get("id") != container_id or "init_pid" not in state:
            raise ContainerDestroyed(f"container {container_id!r} does not exist")
        return LinuxContainer(container_id, state_dir, state)

    def create(self, container_id: str, config: Config) -> LinuxContainer:
        validate_id(container_id)
        validate(config)
        check_userns_reachable(config)
        state_dir = self._dir(container_id)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        except OSError as e:
            raise SystemFailure(f"factory root {self.root!r} cannot be made a directory: {e}",
                                errno=e.errno) from e
        try:
            os.mkdir(state_dir, 0o700)
        except FileExistsError:
            raise IdInUse(f"container id {container_id!r} is in use") from None
        except OSError as e:
            raise SystemFailure(f"create state directory: {e}", errno=e.errno) from e
        cgroup = None
        monitor = None
        try:
            cgroup = driver_for(config.cgroup_parent, S.cgroup_name(container_id))
            if cgroup.exists():
                existing, cgroup = cgroup, None  # not ours: never removed by _undo
                _refuse_frozen(existing)
                raise SystemFailure(f"cgroup {existing.paths()[0]} already exists")
            try:
                cgroup.create(config.resources)
            except OSError as e:
                if e.errno in (errno.EINVAL, errno.ERANGE):
                    # the kernel refused a value of the config (SPEC.md LC-FACTORY-06)
                    raise ConfigInvalid(f"resources: the kernel refused a limit: {e}") from e
                raise
            _refuse_frozen(cgroup)
            state = {"id": container_id, "config": config.to_dict(), "cgroup": _cgroup_info(cgroup),
                     "created": time.time()}
            monitor, started = self._start_monitor(state_dir, config.process, state)
            state.update(started)
            state["monitor_pid"] = monitor.pid
            state["monitor_start"] = L.process_start_time(monitor.pid)
            S.write_json(os.path.join(state_dir, S.STATE), state)
            return LinuxContainer(container_id, state_dir, state, monitor)
        except BaseException as e:
            self._undo(state_dir, cgroup, monitor)
            if isinstance(e, LibcontainerError):
                raise
            if isinstance(e, OSError):
                raise SystemFailure(f"create {container_id!r}: {e}", errno=e.errno) from e
            raise

    def _start_monitor(self, state_dir: str, process: Process, state: dict):
        # the monitor reads its config from state.json: give it the pre-start state under that name
        S.write_json(os.path.join(state_dir, S.STATE), state)
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            if self.monitor_mode == "fork":
                monitor = _fork_monitor(state_dir, process, w)
            else:
                stdio = {name: getattr(process, name) for name in Process.STDIO}
                stdio = {k: (subprocess.DEVNULL if v is None else v) for k, v in stdio.items()}
                monitor = subprocess.Popen(
                    [sys.executable, "-m", "libcontainer.reference.monitor", state_dir, str(w)],
                    pass_fds=[w], close_fds=True, start_new_session=True, cwd="/", **stdio)
        finally:
            os.close(w)
        try:
            data = _read_all(r, self.start_timeout)
        finally:
            os.close(r)
        if not data:
            monitor.kill()
            monitor.wait()
            raise SystemFailure("the container's monitor exited before starting init")
        msg = json.loads(data)
        if "error" in msg:
            monitor.wait()
            err = msg["error"]
            cls = ConfigInvalid if err.get("kind") == "config" else SystemFailure
            if cls is SystemFailure:
                raise SystemFailure(f"start init: {err['message']}", errno=err.get("errno"))
            raise cls(err["message"])
        return monitor, msg

    def _undo(self, state_dir: str, cgroup, monitor) -> None:
        """Remove whatever a failed create made: processes, cgroup, state directory."""
        if cgroup is not None:
            try:
                for _ in range(1000):
                    pids = cgroup.pids()
                    if not pids:
                        break
                    for pid in pids:
                        try:
                            os.kill(pid, 9)
                        except ProcessLookupError:
                            pass
                    cgroup.thaw()
                    time.sleep(0.001)
            except OSError:
                pass
        if monitor is not None and monitor.poll() is None:
            monitor.kill()
            monitor.wait()
        if cgroup is not None:
            try:
                cgroup.destroy()
            except OSError:
                pass
        try:
            _rmtree(state_dir)
        except OSError:
            pass


class ForkedMonitor:
    """The monitor forked by this process: the few subprocess.Popen methods the factory and
    container use (``pid``, ``poll``, ``kill``, ``wait``)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (a subreaper's clean-up)
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = -1
        return self.returncode


def _fork_monitor(state_dir: str, process: Process, sync_fd: int) -> ForkedMonitor:
    """Fork the monitor (monitor.run_forked) with the init's stdio; never returns in the child."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        stdio = []
        for name in Process.STDIO:
            value = getattr(process, name)
            stdio.append(null if value is None else value if isinstance(value, int) else value.fileno())
        from . import monitor as monitor_mod
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = monitor_mod.run_forked(state_dir, stdio, sync_fd)
            finally:
                os._exit(code)
    finally:
        os.close(null)
    return ForkedMonitor(pid)


def check_userns_reachable(config: Config) -> None:
    """With a new user namespace, raise ConfigInvalid unless the container's root (the host uid
    and gid its uid 0 maps to) can search every directory above the rootfs: the mounts are made
    from inside the namespace, by path (runc has the same requirement)."""
    if "user" not in config.namespaces or "user" in config.namespace_paths:
        return
    uid = next((m.host_id for m in config.uid_mappings if m.container_id == 0), 65534)
    gid = next((m.host_id for m in config.gid_mappings if m.container_id == 0), 65534)
    path = os.path.realpath(config.rootfs)
    while True:
        st = os.stat(path)
        ok = (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)
              or (st.st_gid == gid and st.st_mode & 0o010))
        if not ok:
            raise ConfigInvalid(f"rootfs: {path} is not searchable by the container's root (host uid {uid}), "
                                "which a user namespace needs")
        if path == "/":
            return
        path = os.path.dirname(path)


def _refuse_frozen(cgroup) -> None:
    """SystemFailure if the cgroup (or an ancestor, which freezes it too) is frozen or freezing.

    An init started there would hang in the freezer; runc refuses the same
    way ("container's cgroup is unexpectedly frozen").
    """
    state = cgroup.freezer_state()
    if state != THAWED:
        raise SystemFailure(f"cgroup {cgroup.paths()[0]} is {state.lower()} (a frozen cgroup or cgroup parent): "
                            "thaw it, or choose another cgroup_parent")


def _cgroup_info(cgroup) -> dict:
    info = {"version": cgroup.version, "parent": cgroup.parent, "name": cgroup.name,
            "procs_files": cgroup.procs_files(), "made": cgroup.made}
    if isinstance(cgroup, CgroupV1):
        info["hierarchies"] = cgroup.hierarchies
    else:
        info["root"] = cgroup.root
    return info


def _read_all(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise SystemFailure("timed out waiting for the container's init to start")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
