"""A container's start-up: the init in its namespaces and cgroup, reported to the supervisor.

:class:`MonitorStartup` is the first half of :class:`libcontainer.reference.kept.Kept` (one
container as the supervisor keeps it). The supervisor runs :meth:`MonitorStartup.start_init`
for a CreateRequest (reference/supervisor.py draws the protocol with the creator):

::

    supervisor (this module)                                  init
    ------------------------                                  ----
    fork (pid ns first; user ns: an intermediate child,
    maps written on its "u", answered "m")  --------------->  set-up; errfd: one JSON line on
    cgroup v2: moved, "c" on a pipe  ---------------------->  failure, EOF on exec (v1: the init
                                                              joins the cgroup itself, first)
    veth: init says "n", the supervisor "g"/"x"
    returns {"init_pid", "init_start"} or {"error": {...}}

A creator that dies before its commit leaves an init nobody keeps: the supervisor kills it
(:func:`committed`, SPEC.md LC-FAULT-02).
"""

from __future__ import annotations

import json
import os
import socket

from libcontainer.plumbing import linux
from libcontainer.plumbing import statedir
from libcontainer.plumbing import statefile
from libcontainer.spec import Config

from . import process as process_mod
from . import spawn as spawn_mod


class MonitorStartup:
    """Start-up of the monitor: config, subreaper, socket, seccomp filter, the init (see the module doc)."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        st = statefile.load(os.path.join(state_dir, statedir.STATE))
        self.config = Config.from_dict(st.config)
        self.procs_files = st.cgroup["procs_files"]
        # cgroup v1: a child moves itself (process.join_cgroup: ``0`` into ``tasks``, no grace period
        # to wait for); v2: the supervisor moves it while it sets up (process.CgroupMove)
        self.self_move = st.cgroup.get("version") == 1
        # create(start=False): the init waits on this pipe before its exec; StartRequest writes "s" (LC-CREATED-*)
        self.start_gate = os.pipe2(os.O_CLOEXEC) if st.await_start else None
        self.init_pid = 0
        self.children: set[int] = set()
        self.waiters: dict[int, list[socket.socket]] = {}
        self.statuses: dict[int, int] = {}  # every reaped child's status, also when it could not be written

    # -- start-up ------------------------------------------------------
    def start_init(self) -> dict:
        """Fork the init; ``{"init_pid", "init_start"}``, or ``{"error": {...}}`` when it failed."""
        os.makedirs(os.path.join(self.state_dir, statedir.EXITS), exist_ok=True)
        config = self.config
        self.filter = None
        if config.seccomp is not None:
            from . import seccomp
            self.filter = seccomp.compiled(config.seccomp)
        if "user" in config.namespaces:
            pid, err = self._start_userns_init()
        else:
            if "pid" in config.namespace_paths:
                self._setns_path(config.namespace_paths["pid"], linux.CLONE_NEWPID)
            elif "pid" in config.namespaces:
                linux.unshare(linux.CLONE_NEWPID)
            net = self._network_pipes()
            # v2: in parallel with the init's set-up; v1: the init moves itself first (self_move)
            move = None if self.self_move else process_mod.CgroupMove(self.procs_files)

            def init(errfd):
                # nothing of the supervisor's (other containers' sockets, gates, its own address) stays
                # open in an init that waits (CREATED) or fails before its exec
                cgroup_sync = move.child_end() if move else None
                gate = [self.start_gate[0]] if self.start_gate else []
                linux.close_fds_except([0, 1, 2, errfd] + ([cgroup_sync] if move else [])
                                       + list(net[1] if net else ()) + gate)
                process_mod.run_init(config, self.procs_files, errfd, self.filter, net and net[1],
                                     cgroup_sync=cgroup_sync, start_gate=self.start_gate and self.start_gate[0])

            def during(pid):
                if move:
                    move.move(pid)  # a failed move closes its end too: the init reads EOF and gives up
                if net:
                    self._network(pid, net[0], net[1])
            try:
                pid, err = self.spawn(init, during=during)
            finally:
                if move:
                    move.close()
                for fd in net[0] if net else ():
                    os.close(fd)
        if self.start_gate is not None:
            os.close(self.start_gate[0])
            self.start_gate = self.start_gate[1]
        if err is not None:
            return {"error": err}
        self.init_pid = pid
        return {"init_pid": pid, "init_start": linux.process_start_time(pid)}

    @staticmethod
    def _setns_path(path: str, nstype: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, nstype)
        finally:
            os.close(fd)

    def _network_pipes(self):
        """((monitor's read, monitor's write), (init's read, init's write)) when a veth is asked for."""
        if self.config.network is None:
            return None
        from_init = os.pipe2(os.O_CLOEXEC)
        to_init = os.pipe2(os.O_CLOEXEC)
        return (from_init[0], to_init[1]), (to_init[0], from_init[1])

    def _network(self, pid: int, ends: tuple[int, int], child_ends: tuple[int, int] = ()) -> None:
        """Wait until init has its net namespace, make the veth pair, let init go on."""
        for fd in child_ends:
            os.close(fd)  # the init's ends: a read sees EOF if the init dies
        r, w = ends
        if os.read(r, 1) != b"n":
            return  # init failed first; its error comes on errfd
        from . import network
        try:
            network.setup_host(self.config.network, pid)
        except BaseException:
            os.write(w, b"x")
            raise
        os.write(w, b"g")

    def _start_userns_init(self) -> tuple[int, dict | None]:
        """Init in a user namespace: an intermediate child joins the cgroup, makes (or joins) the
        user namespace, waits while the monitor writes uid_map and gid_map, makes the pid namespace
        (which must be owned by the new user namespace for /proc to mount), forks init and exits.
        The init is reparented to the monitor (a child subreaper). The monitor then joins that
        pid namespace, so that the processes it starts later are born in it."""
        config = self.config
        new_user = "user" not in config.namespace_paths
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        up_r, up_w = os.pipe2(os.O_CLOEXEC)      # stage 1 -> monitor: "u", then the init's pid
        down_r, down_w = os.pipe2(os.O_CLOEXEC)  # monitor -> stage 1: "m" once the maps are written
        net = self._network_pipes()
        stage1 = os.fork()
        if stage1 == 0:
            try:
                gate = [self.start_gate[0]] if self.start_gate else []
                linux.close_fds_except([0, 1, 2, err_w, up_w, down_r] + list(net[1] if net else ()) + gate)
                process_mod.reset_signals()
                linux.prctl(linux.PR_SET_DUMPABLE, 0)
                process_mod.join_cgroup(self.procs_files)
                if new_user:
                    linux.unshare(linux.CLONE_NEWUSER)
                    os.write(up_w, b"u")
                    if os.read(down_r, 1) != b"m":
                        os._exit(1)
                else:
                    self._setns_path(config.namespace_paths["user"], linux.CLONE_NEWUSER)
                for setid in (os.setresgid, os.setresuid):
                    try:
                        setid(0, 0, 0)  # root of the namespace, when it is mapped
                    except OSError:
                        pass
                if "pid" in config.namespace_paths:
                    self._setns_path(config.namespace_paths["pid"], linux.CLONE_NEWPID)
                elif "pid" in config.namespaces:
                    linux.unshare(linux.CLONE_NEWPID)
                init = os.fork()
                if init == 0:
                    os.close(up_w)  # else the monitor's read of the init's pid waits for this exec
                    os.close(down_r)
                    process_mod.run_init(config, self.procs_files, err_w, self.filter, net and net[1],
                                         joined_cgroup=True, start_gate=self.start_gate and self.start_gate[0])
                os.write(up_w, f"{init}".encode())
                os._exit(0)
            except BaseException as e:  # noqa: BLE001
                process_mod.report_error(err_w, e)
                os._exit(127)
        for fd in (err_w, up_w, down_r) + (net[1] if net else ()):
            os.close(fd)
        init, failure = 0, None
        try:
            if new_user and os.read(up_r, 1) == b"u":
                try:
                    self._write_maps(stage1)
                except OSError as e:
                    failure = e  # stage 1 reads EOF instead of "m" and gives up
                else:
                    os.write(down_w, b"m")
            os.close(down_w)
            down_w = -1
            data = b""
            while chunk := os.read(up_r, 64):
                data += chunk
            os.waitpid(stage1, 0)
            init = int(data) if data else 0
            if init:
                self.children.add(init)  # reparented here: kept (and killed on a failure) from now on
            if init and net and failure is None:
                try:
                    self._network(init, net[0])
                except Exception as e:  # noqa: BLE001 - reported below, as spawn reports its during()'s
                    failure = e
            for fd in net[0] if net else ():
                os.close(fd)  # an init still waiting for "g" reads EOF and gives up
            net = None
            with os.fdopen(err_r, "rb") as f:
                err_r = -1
                report = f.read()
        finally:
            for fd in (up_r, err_r, down_w) + (net[0] if net else ()):
                if fd >= 0:
                    os.close(fd)
        if report or not init or failure is not None:
            if init:
                os.waitpid(init, 0)  # reparented here when stage 1 exited
                self.children.discard(init)
            if failure is not None:  # the monitor's own failure is the cause; the init only gave up after it
                return init, {"kind": "system", "errno": getattr(failure, "errno", None),
                              "message": f"{type(failure).__name__}: {failure}"}
            return init, json.loads(report) if report else {"kind": "system", "errno": None,
                                                            "message": "user namespace set-up failed"}
        if "pid" in config.namespaces:
            self._setns_path(f"/proc/{init}/ns/pid", linux.CLONE_NEWPID)
        return init, None

    def _write_maps(self, pid: int) -> None:
        """/proc/<pid>/uid_map and gid_map from the config (user_namespaces(7)); setgroups stays allowed."""
        for name, maps in (("uid_map", self.config.uid_mappings), ("gid_map", self.config.gid_mappings)):
            text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)

    def spawn(self, child, during=None) -> tuple[int, dict | None]:
        """`spawn.spawn` of ``child``; a child that exec'd is kept among ``children``."""
        pid, err = spawn_mod.spawn(child, during)
        if err is None:
            self.children.add(pid)
        return pid, err


def committed(state_dir: str, data: bytes, init_pid: int) -> bool:
    """The creator's answer after the init was reported: ``data`` is what it sent before closing
    the connection, "c" once it wrote ``state.json``. True if committed, or if the creator died
    just after completing ``state.json`` with this init (SPEC.md LC-FAULT-02)."""
    if data.startswith(b"c"):
        return True
    try:
        saved = statefile.load(os.path.join(state_dir, statedir.STATE))
    except (OSError, statefile.StateCorrupt):
        return False
    return saved.init_pid == init_pid and not saved.creating
