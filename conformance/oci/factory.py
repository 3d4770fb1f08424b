"""OCIFactory: the Factory interface over an OCI runtime's command line (runc, crun).

``create`` writes a bundle (``bundle/config.json``, see :mod:`.bundle`)
into the container's directory under the factory root, starts the
adapter's monitor (:mod:`.monitor`), which runs the runtime's ``create``
as its child and so becomes the child subreaper of the container's init,
then runs ``start`` (``create(..., start=False)`` does not: the container
is CREATED until ``OCIContainer.start``, :mod:`.split`). The runtime's own state lives in ``ROOT/.runtime``
(its ``--root``), removed when the last container goes. The container's
cgroup is ``/<config.cgroup_parent>/oci-<id>`` in every hierarchy.

Aliases (``--runtime runc``, ``crun``, ``runsc``): :func:`runc`, :func:`crun`, :func:`runsc`;
``--runtime oci:PATH FLAGS...`` or an absolute PATH: :func:`oci`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

from libcontainer.plumbing import linux
from libcontainer.plumbing import reaper
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile
from libcontainer.plumbing.handle import reraise
from libcontainer.spec import (Config, ConfigInvalid, ContainerDestroyed, Factory, IdInUse, LibcontainerError,
                               NotSupported, Process, SystemFailure, validate, validate_id)

from . import bundle
from . import monitor as monitor_mod
from .cli import UNIFIED_CONTROLLERS, CliError, read_log
from .container import OCIContainer, is_config_error, is_not_supported
from .features import runtime_for
from .files import cgroup_path, remove, remove_empty_cgroup

START_TIMEOUT = 30.0
REQUIRED = ("init_pid", "monitor_pid", "monitor_start")  # what a committed state.json of the adapter has


class OCIFactory(Factory):
    """Containers of one OCI runtime, state under ``root``: ``runtime_name`` is a preset (runc, crun,
    runsc) or ``oci:PATH FLAGS...`` / an absolute PATH, its features probed (:mod:`.features`)."""

    def __init__(self, root: str, runtime_name: str):
        self.root = os.path.abspath(root)
        self.runtime = runtime_for(runtime_name, os.path.join(self.root, ".runtime"))

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.root, statedir.dir_name(container_id))

    def load(self, container_id: str) -> OCIContainer:
        """The container ``container_id``; ContainerDestroyed when there is none (what a creator killed
        half-way left is removed), StateCorrupt (a SystemFailure) for a ``state.json`` that is not
        one of this format (:mod:`libcontainer.plumbing.statefile`)."""
        validate_id(container_id)
        try:
            state = statefile.load(statefile.path_in(self._dir(container_id)), container_id, REQUIRED)
        except FileNotFoundError:
            self._recover(container_id)
            raise ContainerDestroyed(f"container {container_id!r} does not exist") from None
        except OSError as e:
            raise SystemFailure(f"load {container_id!r}: {e}", errno=e.errno) from e
        return OCIContainer(container_id, self._dir(container_id), state, self.runtime)

    def create(self, container_id: str, config: Config, start: bool = True) -> OCIContainer:
        """See :meth:`libcontainer.spec.Factory.create`: the runtime's ``create``, then its ``start``
        unless ``start`` is False (the container is then CREATED: :mod:`.split`)."""
        validate_id(container_id)
        validate(config)
        if getattr(config, "network", None) is not None:
            raise NotSupported(f"{self.runtime.name} through the OCI CLI: a veth network has no OCI config field")
        state_dir = self._dir(container_id)
        lock = None
        for attempt in range(2):
            try:
                os.makedirs(self.root, mode=0o700, exist_ok=True)
                statedir.sweep_new_dirs(self.root)
                state_dir, lock = statedir.make_dir(self.root, statedir.dir_name(container_id))
                break
            except FileExistsError:
                if attempt or not self._recover(container_id):
                    raise IdInUse(f"container id {container_id!r} is in use") from None
            except OSError as e:
                raise SystemFailure(f"create state directory: {e}", errno=e.errno) from e
        made: dict = {}
        try:
            os.makedirs(self.runtime.root, mode=0o700, exist_ok=True)
            monitor, init_pid = self._create(container_id, config, state_dir, made)
            state = statefile.ContainerState(
                id=container_id, config=config.to_dict(), runtime=self.runtime.name, init_pid=init_pid,
                init_start=linux.process_start_time(init_pid), monitor_pid=monitor.pid,
                monitor_start=linux.process_start_time(monitor.pid), created=time.time(),
                incarnation=statedir.new_incarnation())
            if start:
                try:
                    self.runtime.run("start", container_id)
                except CliError as e:
                    raise _create_error(e.message) from None
            statefile.save(statefile.path_in(state_dir), state)
            return OCIContainer(container_id, state_dir, state, self.runtime)
        except BaseException as e:
            self._undo(container_id, state_dir, made.get("monitor"), config.cgroup_parent)
            reraise(e, f"create {container_id!r}")
        finally:
            os.close(lock)

    def _recover(self, container_id: str) -> bool:
        """Remove what a creator killed during create left (LC-FAULT-02): a directory without
        ``state.json`` whose flock nobody holds; the runtime's container goes with ``delete
        --force``. True if the id is free now."""
        state_dir = self._dir(container_id)

        def remove_left() -> None:
            try:
                with open(os.path.join(state_dir, "monitor.pid")) as f:
                    monitor_pid, monitor_start = (int(x) for x in f.read().split())
            except (OSError, ValueError):
                monitor_pid = monitor_start = None
            if monitor_pid and linux.process_start_time(monitor_pid) == monitor_start:
                # the dead creator's monitor may still be running the runtime's create (a slow runtime's,
                # lcrun's, takes long enough): SIGKILL its session's group, so that the delete below does
                # not come before that create and miss it (the new create would meet the id in use)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(monitor_pid, signal.SIGKILL)
            try:
                remove(self.runtime, container_id, state_dir, monitor_pid, monitor_start)
            except (CliError, OSError) as e:
                raise SystemFailure(f"remove what an interrupted create of {container_id!r} left: {e}") from None
        return statedir.recover(state_dir, lambda: os.path.exists(statefile.path_in(state_dir)), remove_left)

    def _create(self, container_id: str, config: Config, state_dir: str, made: dict):
        """Write the bundle, start the monitor (which runs ``create``); return (monitor Popen, init pid)."""
        cgroups_path = cgroup_path(config.cgroup_parent, container_id)
        os.mkdir(os.path.join(state_dir, "bundle"))
        with open(os.path.join(state_dir, "bundle", "config.json"), "w") as f:
            json.dump(bundle.config_json(config, cgroups_path), f, indent=1)
        log = os.path.join(state_dir, "create.log")
        console = ["--console-socket", config.process.console_socket] \
            if getattr(config.process, "terminal", False) and config.process.console_socket else []
        spec = {"create": self.runtime.argv("create", "--bundle", os.path.join(state_dir, "bundle"), *console,
                                            "--pid-file", os.path.join(state_dir, "init.pid"), container_id, log=log),
                "pid_file": os.path.join(state_dir, "init.pid"), "hide_unified_controllers": None,
                "state": self.runtime.argv("state", container_id)}
        if self.runtime.hide_unified_controllers():
            empty = os.path.join(state_dir, "empty")
            open(empty, "w").close()
            spec["hide_unified_controllers"] = [empty, UNIFIED_CONTROLLERS]
        with open(os.path.join(state_dir, "monitor.json"), "w") as f:
            json.dump(spec, f)
        stdio = {n: getattr(config.process, n) for n in Process.STDIO}
        stdio = {k: (subprocess.DEVNULL if v is None else v) for k, v in stdio.items()}
        r, w = os.pipe2(os.O_CLOEXEC)
        # the monitor works in this directory by its fd, not its path: a monitor that starts late, after
        # its creator died and the next create of the id made a new directory there, must not use that one
        dir_fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            monitor = subprocess.Popen(monitor_mod.argv(state_dir, w, dir_fd), pass_fds=[w, dir_fd], close_fds=True,
                                       start_new_session=True, cwd="/", **stdio)
        finally:
            os.close(w)
            os.close(dir_fd)
        made["monitor"] = monitor
        with open(os.path.join(state_dir, "monitor.pid"), "w") as f:
            f.write(f"{monitor.pid} {linux.process_start_time(monitor.pid)}")
        reaper.add(monitor.pid)  # reaped whenever it exits, handle or not (LC-FAULT-07)
        try:
            data = statedir.read_all(r, START_TIMEOUT, "the runtime's create")
        finally:
            os.close(r)
        msg = json.loads(data) if data else {"error": "the monitor exited before reporting", "rc": -1}
        if "error" in msg:
            raise _create_error(read_log(log) or msg["error"])
        return monitor, msg["init_pid"]

    def _undo(self, container_id: str, state_dir: str, monitor, cgroup_parent: str) -> None:
        """Remove whatever a failed create made: the runtime's container, the monitor, the directory,
        and the container's cgroup if the runtime left it (crun 1.8.1 does after a refused limit:
        SPEC.md, Deviations, D-CREATE-CGROUP)."""
        try:
            remove(self.runtime, container_id, state_dir, monitor.pid if monitor else None, None)
        except (CliError, OSError):
            statedir.rmtree(state_dir)  # the runtime refused the id or never made the container
            with contextlib.suppress(OSError):
                os.rmdir(self.runtime.root)
        if monitor is not None:
            try:
                monitor.wait(10)
            except subprocess.TimeoutExpired:
                monitor.kill()
                monitor.wait()
        remove_empty_cgroup(cgroup_path(cgroup_parent, container_id))


def _create_error(message: str) -> LibcontainerError:
    if is_not_supported(message):
        return NotSupported(f"create: {message}")
    if is_config_error(message):
        return ConfigInvalid(f"create: {message}")
    if "already exists" in message:
        return IdInUse(f"create: {message}")
    return SystemFailure(f"create: {message}")


def runc(root: str) -> OCIFactory:
    """Factory over Debian's runc (``--runtime runc``)."""
    return OCIFactory(root, "runc")


def crun(root: str) -> OCIFactory:
    """Factory over Debian's crun (``--runtime crun``); on a hybrid host it hides cgroup2's controller list."""
    return OCIFactory(root, "crun")


def runsc(root: str) -> OCIFactory:
    """Factory over Debian's gVisor runsc (``--runtime runsc``), run with the preset's flags
    (``--platform=ptrace --network=none --oci-seccomp --net-raw``, :data:`.features.PRESETS`)."""
    return OCIFactory(root, "runsc")


def oci(spec: str):
    """The factory constructor for ``--runtime oci:PATH FLAGS...`` (or an absolute PATH): any OCI runtime
    command line, its features probed. Raises ValueError if PATH is not an executable file."""
    from .features import parse
    parse(spec)

    def make(root: str) -> OCIFactory:
        return OCIFactory(root, spec)
    make.__name__ = make.__qualname__ = "oci"
    return make
