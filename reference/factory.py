"""LinuxFactory: creates containers (starting their init through a monitor) and loads them.

Sources: the seed era's Factory contract (create starts the initial process
and is atomic; load returns an existing container), SPEC.md LC-FACTORY-*.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import subprocess
import sys
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import reaper
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile
from libcontainer.plumbing.handle import reraise
from libcontainer.spec import (Config, ConfigInvalid, ContainerDestroyed, Factory, IdInUse, LibcontainerError,
                               Process, SystemFailure, validate, validate_id)

from .cgroups import THAWED, CgroupV1, driver_for
from .cleanup import force_remove, kill_cgroup, stop_monitor
from .container import LinuxContainer, system_errors

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
        return os.path.join(self.root, statedir.dir_name(container_id))

    def state_dir(self, container_id: str) -> str:
        """The state directory of ``container_id`` (whether or not it exists): ``state.json``,
        ``cgroup.json``, ``monitor.json``, ``exits/``, ``lock`` (plumbing/statedir.py). For tests and
        operators; InvalidIdFormat for an invalid id."""
        validate_id(container_id)
        return self._dir(container_id)

    def load(self, container_id: str) -> LinuxContainer:
        """The container ``container_id``. ContainerDestroyed when it does not exist (or its create has
        not finished; what a creator killed half-way left is removed here, SPEC.md LC-FAULT-02);
        SystemFailure naming the file and field when its state cannot be trusted (LC-FAULT-04):
        :meth:`destroy` removes such a container by id (it raises StateCorrupt, a SystemFailure, for a
        file that is not a state of this format, libcontainer.plumbing.statefile)."""
        validate_id(container_id)
        state_dir = self._dir(container_id)
        state = self._read_state(container_id, state_dir)
        if state is None:
            self._recover(container_id, state_dir)
            raise ContainerDestroyed(f"container {container_id!r} does not exist")
        return LinuxContainer(container_id, state_dir, state)

    def _read_state(self, container_id: str, state_dir: str) -> statefile.ContainerState | None:
        """The validated state, or None when there is none or create has not finished."""
        path = statefile.path_in(state_dir)
        try:
            state = statefile.load(path, container_id, require=statefile.STARTED + ("cgroup",))
            if state.creating:
                return None
            Config.from_dict(state.config)
        except FileNotFoundError:
            return None
        except NotADirectoryError as e:
            raise SystemFailure(f"load {container_id!r}: {e}", errno=e.errno) from e
        except OSError as e:
            raise SystemFailure(f"the state of container {container_id!r} cannot be read ({path}: {e}); "
                                "LinuxFactory.destroy(id) kills and removes it", errno=e.errno) from e
        except (ValueError, TypeError, KeyError, LibcontainerError) as e:
            where = str(e) if isinstance(e, statefile.StateCorrupt) else f"{path}: {e}"  # the file and the field
            raise statefile.StateCorrupt(f"the state of container {container_id!r} cannot be trusted ({where}); "
                                         "LinuxFactory.destroy(id) kills and removes it") from None
        return state

    def _recover(self, container_id: str, state_dir: str) -> bool:
        """Remove ``state_dir`` if a creator (or destroy) that died left it unfinished: no complete
        state and nobody holds its flock. True if the id is free now."""
        def finished() -> bool:
            try:
                return self._read_state(container_id, state_dir) is not None  # finished meanwhile
            except SystemFailure:
                return True  # corrupt: only destroy(id) removes it

        def remove() -> None:
            with system_errors(f"remove what an interrupted create of {container_id!r} left"):
                force_remove(state_dir)
        return statedir.recover(state_dir, finished, remove)

    def destroy(self, container_id: str) -> None:
        """Destroy the container ``container_id`` by id, as ``runc delete --force`` does, also when its
        state cannot be read or trusted (LC-FAULT-04): kill every process of its cgroup (from
        ``state.json`` or, when that is unreadable, ``cgroup.json``), its monitor when identified,
        remove the cgroup and the state directory. No-op when the id does not exist. Errors:
        InvalidIdFormat, SystemFailure."""
        validate_id(container_id)
        state_dir = self._dir(container_id)
        try:
            state = self._read_state(container_id, state_dir)
        except SystemFailure:
            state = None
        if state is not None:
            LinuxContainer(container_id, state_dir, state).destroy()
            return
        try:
            with statedir.locked(state_dir), system_errors(f"destroy {container_id!r}"):
                force_remove(state_dir)
        except FileNotFoundError:
            pass

    def create(self, container_id: str, config: Config, start: bool = True) -> LinuxContainer:
        """See :meth:`libcontainer.spec.Factory.create`; ``start=False`` leaves the init waiting before
        its exec (status CREATED) until :meth:`LinuxContainer.start` (SPEC.md LC-CREATED-*)."""
        validate_id(container_id)
        validate(config)
        check_userns_reachable(config)
        precompile_seccomp(config)
        state_dir = self._dir(container_id)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            statedir.sweep_new_dirs(self.root)
        except OSError as e:
            raise SystemFailure(f"factory root {self.root!r} cannot be made a directory: {e}",
                                errno=e.errno) from e
        lock_fd = None
        for attempt in range(2):
            try:
                state_dir, lock_fd = statedir.make_dir(self.root, statedir.dir_name(container_id))
                break
            except FileExistsError:
                if attempt or not self._recover(container_id, state_dir):
                    raise IdInUse(f"container id {container_id!r} is in use") from None
            except OSError as e:
                raise SystemFailure(f"create state directory: {e}", errno=e.errno) from e
        cgroup = None
        monitor = None
        commit = None
        try:
            cgroup = driver_for(config.cgroup_parent, statedir.cgroup_name(container_id))
            if cgroup.exists():
                existing, cgroup = cgroup, None  # not ours: never removed by _undo
                _refuse_frozen(existing)
                raise SystemFailure(f"cgroup {existing.paths()[0]} already exists")
            statedir.write_json(os.path.join(state_dir, statedir.CGROUP), _cgroup_info(cgroup))
            try:
                cgroup.create(config.resources)
            except OSError as e:
                if e.errno in (errno.EINVAL, errno.ERANGE):
                    # the kernel refused a value of the config (SPEC.md LC-FACTORY-06)
                    raise ConfigInvalid(f"resources: the kernel refused a limit: {e}") from e
                raise
            # again with the parents create() made: a destroy by id from cgroup.json removes them too
            statedir.write_json(os.path.join(state_dir, statedir.CGROUP), _cgroup_info(cgroup))
            _refuse_frozen(cgroup)
            state = statefile.ContainerState(id=container_id, config=config.to_dict(), cgroup=_cgroup_info(cgroup),
                                             created=time.time(), incarnation=statedir.new_incarnation(),
                                             creating=True, await_start=not start)
            monitor, commit, started = self._start_monitor(state_dir, config.process, state)
            state = dataclasses.replace(state, creating=False, **{k: started[k] for k in statefile.STARTED})
            statefile.save(statefile.path_in(state_dir), state)
            with contextlib.suppress(OSError):
                os.write(commit, b"c")  # committed: the monitor keeps the init
            os.close(commit)
            commit = None
            return LinuxContainer(container_id, state_dir, state)
        except BaseException as e:
            if commit is not None:
                os.close(commit)  # the monitor kills its init and exits
            self._undo(state_dir, cgroup, monitor)
            reraise(e, f"create {container_id!r}")
        finally:
            os.close(lock_fd)

    def _start_monitor(self, state_dir: str, process: Process, state: statefile.ContainerState):
        """Start the monitor; return ({"monitor_pid", "monitor_start"}, the commit pipe's write end,
        {"init_pid", "init_start", "monitor_pid", "monitor_start"}). The monitor is this process's
        child, reaped by :mod:`reaper` when it exits, so it never stays a zombie of this process."""
        # the monitor reads its config from state.json: give it the pre-start state under that name
        statefile.save(statefile.path_in(state_dir), state)
        r, w = os.pipe2(os.O_CLOEXEC)
        commit_r, commit_w = os.pipe2(os.O_CLOEXEC)
        try:
            if self.monitor_mode == "fork":
                child = _fork_monitor(state_dir, process, w, commit_r)
            else:
                stdio = {name: getattr(process, name) for name in Process.STDIO}
                stdio = {k: (subprocess.DEVNULL if v is None else v) for k, v in stdio.items()}
                child = subprocess.Popen(
                    [sys.executable, "-m", "libcontainer.reference.monitor", state_dir, str(w), str(commit_r)],
                    pass_fds=[w, commit_r], close_fds=True, start_new_session=True, cwd="/", **stdio)
        except BaseException:
            os.close(commit_w)
            raise
        finally:
            os.close(w)
            os.close(commit_r)
        # until the monitor names itself: the child (unreaped, so its pid and start time are its own)
        ident = {"monitor_pid": child.pid, "monitor_start": linux.process_start_time(child.pid)}
        try:
            reaper.add(child.pid)  # the monitor: reaped by this process whenever it exits (LC-FAULT-07)
            try:
                data = statedir.read_all(r, self.start_timeout, "the container's init to start")
            finally:
                os.close(r)
            lines = data.split(b"\n", 1)
            ident = json.loads(lines[0]) if lines[0] else ident
            msg = json.loads(lines[1]) if len(lines) > 1 and lines[1].strip() else None
            if msg is None:
                raise SystemFailure("the container's monitor exited before starting init")
            if "error" in msg:
                err = msg["error"]
                if err.get("kind") == "config":
                    raise ConfigInvalid(err["message"])
                raise SystemFailure(f"start init: {err['message']}", errno=err.get("errno"))
        except BaseException:
            os.close(commit_w)
            stop_monitor(ident)
            raise
        msg.update(ident)
        return ident, commit_w, msg

    def _undo(self, state_dir: str, cgroup, monitor) -> None:
        """Remove whatever a failed create made: processes, monitor, cgroup, state directory."""
        if cgroup is not None:
            with contextlib.suppress(OSError):
                kill_cgroup(cgroup)
        stop_monitor(monitor)
        if cgroup is not None:
            try:
                cgroup.destroy()
            except OSError:
                pass
        with contextlib.suppress(OSError):
            statedir.rmtree(state_dir)


class _Forked:
    """A forked monitor's pid."""

    def __init__(self, pid: int):
        self.pid = pid


def _fork_monitor(state_dir: str, process: Process, sync_fd: int, commit_fd: int) -> _Forked:
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
                code = monitor_mod.run_forked(state_dir, stdio, sync_fd, commit_fd)
            finally:
                os._exit(code)
    finally:
        os.close(null)
    return _Forked(pid)


def precompile_seccomp(config: Config) -> None:
    """Compile ``config.seccomp`` here, before the monitor is forked, so that the monitor finds it in
    :func:`libcontainer.reference.seccomp.compiled`'s cache (built once per profile in this process);
    a profile libseccomp refuses, or a host without libseccomp (OSError), is left to the monitor,
    which reports it as before."""
    if config.seccomp is None:
        return
    from . import seccomp
    with contextlib.suppress(OSError):  # SeccompError is one
        seccomp.compiled(config.seccomp)


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
