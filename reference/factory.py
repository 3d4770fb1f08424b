"""LinuxFactory: creates containers (their init started by the root's supervisor) and loads them.

Sources: the seed era's Factory contract (create starts the initial process
and is atomic; load returns an existing container), SPEC.md LC-FACTORY-*.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import time

from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile
from libcontainer.plumbing.handle import reraise
from libcontainer.spec import (Config, ConfigInvalid, ContainerDestroyed, Factory, IdInUse, LibcontainerError,
                               Process, SystemFailure, validate, validate_id)

from .cgroups import THAWED, CgroupV1, driver_for
from . import supervision
from .cleanup import force_remove, kill_cgroup
from .container import LinuxContainer, system_errors
from .supervision import START_TIMEOUT, Supervision

DEFAULT_ROOT = "/run/libcontainer"


class LinuxFactory(Factory):
    """Containers on this Linux host, their state under ``root`` (default /run/libcontainer).

    Every container of a root is kept by one supervisor process (reference/supervisor.py: parent
    and subreaper of every container process, recorder of exit statuses), started on first need.
    ``monitor`` is how it starts: ``"fork"`` (default) forks it from the calling process, which
    has the code loaded already, so the first create does not wait for a Python interpreter to
    start (it shows as ``lc-supervisor`` in ps); ``"exec"`` runs ``python -I -m
    libcontainer.reference.supervisor``, slower by an interpreter's start-up, for callers that
    must not fork (a process whose other threads hold C-level locks across fork). Later creates
    are one request to it (reference/supervision.py).

    ``supervisor_idle`` (seconds, default 0): how long a supervisor that keeps no container
    waits for a new create before it exits; 0 exits with the last container's destroy (which
    waits for that), so nothing is left; a longer time saves a start for the next create.

    ``start_timeout`` (seconds, default 120) bounds how long create waits for the init to
    exec; past it, create removes what it made and raises SystemFailure.
    """

    MONITOR_MODES = Supervision.MODES

    def __init__(self, root: str = DEFAULT_ROOT, monitor: str = "fork", start_timeout: float = START_TIMEOUT,
                 supervisor_idle: float = 0.0):
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, not {type(root).__name__}")
        if monitor not in self.MONITOR_MODES:
            raise ValueError(f"monitor must be one of {self.MONITOR_MODES}")
        self.root = os.path.abspath(root)
        self.monitor_mode = monitor
        self.start_timeout = start_timeout
        self.supervision = Supervision(self.root, monitor, supervisor_idle, start_timeout)

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
        return LinuxContainer(container_id, state_dir, state, self.supervision)

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
            LinuxContainer(container_id, state_dir, state, self.supervision).destroy()
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
        commit = None
        try:
            cgroup = driver_for(config.cgroup_parent, statedir.cgroup_name(container_id))
            if cgroup.exists():
                existing, cgroup = cgroup, None  # not ours: never removed by _undo
                _refuse_frozen(existing)
                raise SystemFailure(f"cgroup {existing.paths()[0]} already exists")
            info = _cgroup_info(cgroup)
            statedir.write_json(os.path.join(state_dir, statedir.CGROUP), info)
            try:
                cgroup.create(config.resources)
            except OSError as e:
                if e.errno in (errno.EINVAL, errno.ERANGE):
                    # the kernel refused a value of the config (SPEC.md LC-FACTORY-06)
                    raise ConfigInvalid(f"resources: the kernel refused a limit: {e}") from e
                raise
            # again with the parents create() made: a destroy by id from cgroup.json removes them too
            # (only when it made some: the same file again costs a write, and ext4 starts writing back
            # a file renamed over another, which its unlink at destroy then waits for)
            if _cgroup_info(cgroup) != info:
                statedir.write_json(os.path.join(state_dir, statedir.CGROUP), _cgroup_info(cgroup))
            _refuse_frozen(cgroup)
            state = statefile.ContainerState(id=container_id, config=config.to_dict(), cgroup=_cgroup_info(cgroup),
                                             created=time.time(), incarnation=statedir.new_incarnation(),
                                             creating=True, await_start=not start)
            # the supervisor reads the config from state.json: give it the pre-start state under that name
            statefile.save(statefile.path_in(state_dir), state)
            commit, started = self._start_init(state_dir, config.process)
            state = dataclasses.replace(state, creating=False, **{k: getattr(started, k) for k in statefile.STARTED})
            # the creating state goes first: a reader without the lock takes no file as it takes a
            # creating one (not created yet: load, adopt_all, committed), and the supervisor read it
            statefile.save(statefile.path_in(state_dir), state, unlink_first=True)
            with contextlib.suppress(OSError):
                commit.sendall(b"c\n")  # committed: the supervisor keeps the init
            commit.close()
            commit = None
            return LinuxContainer(container_id, state_dir, state, self.supervision)
        except BaseException as e:
            if commit is not None:
                commit.close()  # the supervisor kills the init
            self._undo(state_dir, cgroup)
            reraise(e, f"create {container_id!r}")
        finally:
            os.close(lock_fd)

    def _start_init(self, state_dir: str, process: Process):
        """One CreateRequest to the root's supervisor (started when none runs), the init's stdio as
        its fds: (the connection to commit on, InitReply)."""
        with open(os.devnull, "r+b") as null:
            fds = []
            for name in Process.STDIO:
                value = getattr(process, name)
                fds.append(null.fileno() if value is None else value if isinstance(value, int) else value.fileno())
            return self.supervision.create(state_dir, fds)

    def _undo(self, state_dir: str, cgroup) -> None:
        """Remove whatever a failed create made: processes (the supervisor lets them go), cgroup, state directory."""
        if cgroup is not None:
            with contextlib.suppress(OSError):
                kill_cgroup(cgroup)
        with contextlib.suppress(OSError, LibcontainerError):
            supervision.drop(state_dir)
        if cgroup is not None:
            try:
                cgroup.destroy()
            except OSError:
                pass
        with contextlib.suppress(OSError):
            statedir.rmtree(state_dir)


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
            "procs_files": cgroup.procs_files(), "made": list(cgroup.made)}
    if isinstance(cgroup, CgroupV1):
        info["hierarchies"] = cgroup.hierarchies
    else:
        info["root"] = cgroup.root
    return info
