"""OCIFactory: the Factory interface over an OCI runtime's command line (runc, crun).

``create`` writes a bundle (``bundle/config.json``, see :mod:`.bundle`)
into the container's directory under the factory root, starts the
adapter's monitor (:mod:`.monitor`), which runs the runtime's ``create``
as its child and so becomes the child subreaper of the container's init,
then runs ``start``. The runtime's own state lives in ``ROOT/.runtime``
(its ``--root``), removed when the last container goes. The container's
cgroup is ``/<config.cgroup_parent>/oci-<id>`` in every hierarchy.

Aliases (``--runtime runc``, ``crun``, ``runsc``): :func:`runc`, :func:`crun`, :func:`runsc`;
``--runtime oci:PATH FLAGS...`` or an absolute PATH: :func:`oci`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import time
import uuid

from libcontainer.reference import reaper
from libcontainer.reference.linux import rename_noreplace
from libcontainer.spec import (Config, ConfigInvalid, ContainerDestroyed, Factory, IdInUse, LibcontainerError,
                               NotSupported, Process, SystemFailure, validate, validate_id)

from . import bundle
from .cli import UNIFIED_CONTROLLERS, CliError, read_log
from .container import (STATE, OCIContainer, cgroup_path, dir_name, is_config_error, remove, remove_empty_cgroup,
                        rmtree, start_time)
from .features import runtime_for

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")
START_TIMEOUT = 30.0


class OCIFactory(Factory):
    """Containers of one OCI runtime, state under ``root``: ``runtime_name`` is a preset (runc, crun,
    runsc) or ``oci:PATH FLAGS...`` / an absolute PATH, its features probed (:mod:`.features`)."""

    def __init__(self, root: str, runtime_name: str):
        self.root = os.path.abspath(root)
        self.runtime = runtime_for(runtime_name, os.path.join(self.root, ".runtime"))

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.root, dir_name(container_id))

    def load(self, container_id: str) -> OCIContainer:
        validate_id(container_id)
        try:
            with open(os.path.join(self._dir(container_id), STATE)) as f:
                state = json.load(f)
        except FileNotFoundError:
            self._recover(container_id)
            raise ContainerDestroyed(f"container {container_id!r} does not exist") from None
        except (OSError, ValueError) as e:
            raise SystemFailure(f"load {container_id!r}: {e}") from e
        if state.get("id") != container_id:
            raise ContainerDestroyed(f"container {container_id!r} does not exist")
        return OCIContainer(container_id, self._dir(container_id), state, self.runtime)

    def create(self, container_id: str, config: Config) -> OCIContainer:
        validate_id(container_id)
        validate(config)
        if getattr(config, "network", None) is not None:
            raise NotSupported(f"{self.runtime.name} through the OCI CLI: a veth network has no OCI config field")
        state_dir = self._dir(container_id)
        lock = None
        for attempt in range(2):
            try:
                os.makedirs(self.root, mode=0o700, exist_ok=True)
                _sweep_new_dirs(self.root)
                lock = _make_locked_dir(state_dir)
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
            state = {"id": container_id, "config": config.to_dict(), "runtime": self.runtime.name,
                     "init_pid": init_pid, "monitor_pid": monitor.pid, "monitor_start": start_time(monitor.pid),
                     "created": time.time(), "incarnation": uuid.uuid4().hex}
            try:
                self.runtime.run("start", container_id)
            except CliError as e:
                raise _create_error(e.message) from None
            tmp = os.path.join(state_dir, STATE + ".tmp")
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.rename(tmp, os.path.join(state_dir, STATE))
            return OCIContainer(container_id, state_dir, state, self.runtime)
        except BaseException as e:
            self._undo(container_id, state_dir, made.get("monitor"), config.cgroup_parent)
            if isinstance(e, LibcontainerError):
                raise
            if isinstance(e, OSError):
                raise SystemFailure(f"create {container_id!r}: {e}", errno=e.errno) from e
            raise
        finally:
            os.close(lock)

    def _recover(self, container_id: str) -> bool:
        """Remove what a creator killed during create left (LC-FAULT-02): a directory without
        ``state.json`` whose flock nobody holds; the runtime's container goes with ``delete
        --force``. True if the id is free now."""
        state_dir = self._dir(container_id)
        try:
            fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return True
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a create (or destroy) under way
            if os.path.exists(os.path.join(state_dir, STATE)):
                return False
            try:
                with open(os.path.join(state_dir, "monitor.pid")) as f:
                    monitor_pid, monitor_start = (int(x) for x in f.read().split())
            except (OSError, ValueError):
                monitor_pid = monitor_start = None
            try:
                remove(self.runtime, container_id, state_dir, monitor_pid, monitor_start)
            except (CliError, OSError) as e:
                raise SystemFailure(f"remove what an interrupted create of {container_id!r} left: {e}") from None
            return True
        finally:
            os.close(fd)

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
                "pid_file": os.path.join(state_dir, "init.pid"), "hide_unified_controllers": None}
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
            monitor = subprocess.Popen([sys.executable, "-I", "-S", MONITOR, state_dir, str(w), str(dir_fd)],
                                       pass_fds=[w, dir_fd], close_fds=True, start_new_session=True, cwd="/",
                                       **stdio)
        finally:
            os.close(w)
            os.close(dir_fd)
        made["monitor"] = monitor
        with open(os.path.join(state_dir, "monitor.pid"), "w") as f:
            f.write(f"{monitor.pid} {start_time(monitor.pid)}")
        reaper.add(monitor.pid)  # reaped whenever it exits, handle or not (LC-FAULT-07)
        try:
            data = _read_all(r, START_TIMEOUT)
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
            rmtree(state_dir)  # the runtime refused the id or never made the container
            with contextlib.suppress(OSError):
                os.rmdir(self.runtime.root)
        if monitor is not None:
            try:
                monitor.wait(10)
            except subprocess.TimeoutExpired:
                monitor.kill()
                monitor.wait()
        remove_empty_cgroup(cgroup_path(cgroup_parent, container_id))


def _sweep_new_dirs(root: str) -> None:
    """Remove directories :func:`_make_locked_dir` left under their temporary name (its caller was
    killed before the rename): those whose flock nobody holds."""
    for entry in os.scandir(root):
        if not entry.name.startswith(".=new-"):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rmdir(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _make_locked_dir(path: str) -> int:
    """Make directory ``path`` already flocked (built under a temporary name, renamed without
    replacing): no process ever sees it unlocked while its creator lives. The fd holding the lock."""
    tmp = os.path.join(os.path.dirname(path), f".=new-{uuid.uuid4().hex}")
    os.mkdir(tmp, 0o700)
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rename_noreplace(tmp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        raise
    return fd


def _create_error(message: str) -> LibcontainerError:
    if is_config_error(message):
        return ConfigInvalid(f"create: {message}")
    if "already exists" in message:
        return IdInUse(f"create: {message}")
    return SystemFailure(f"create: {message}")


def _read_all(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise SystemFailure("timed out waiting for the runtime's create")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


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
