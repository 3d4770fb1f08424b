"""``lcrun exec``'s process, forked by ``lcrun`` itself, as ``runc exec`` forks its own.

runc's model (runc 1.1 ``exec``): the runtime forks the process, which joins the container
(cgroup, namespaces) and execs; the runtime writes that process's pid to ``--pid-file`` and, with
``--detach``, exits, so the process is reparented to the caller's child subreaper (conmon,
containerd's shim, the suite's adapter), which reaps it and learns its exit status. Started through
the reference's monitor (``Container.start_process``) the process would be the monitor's child,
which no caller can reap. So ``lcrun`` starts it here, with the reference's own set-up of a joining
process (``libcontainer.reference.process.run_exec``: cgroup, setns, identity, limits, seccomp,
exec), after it has joined the container's pid namespace (setns(2) CLONE_NEWPID: its children
are born there; the reference's monitor does the same for its own).

The container's flock (the one the reference's pause, resume, start_process and destroy hold) is
held from the state check to the exec, so the container cannot be paused (a process joining a
frozen cgroup would freeze before its exec) or destroyed meanwhile; the state check is SPEC.md's
transition table (ContainerPaused in PAUSING and PAUSED, ContainerNotRunning when STOPPED).
"""

from __future__ import annotations

import errno
import os

from libcontainer.plumbing import linux
from libcontainer.plumbing import statedir
from libcontainer.reference import process as process_mod
from libcontainer.reference import seccomp
from libcontainer.reference import spawn
from libcontainer.reference.cgroups import driver_for
from libcontainer.spec import ConfigInvalid, ContainerNotRunning, Process, Status, SystemFailure, transitions


def _join_pid_namespace(init_pid: int) -> None:
    """Make the children of this process born in ``init_pid``'s pid namespace (pid_namespaces(7))."""
    fd = os.open(f"/proc/{init_pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns(fd, linux.CLONE_NEWPID)
    finally:
        os.close(fd)

def start(factory, container, process: Process) -> int:
    """Start ``process`` in ``container`` (a LinuxContainer of ``factory``) as a child of this
    process; its host pid. Raises what ``Container.start_process`` raises: ConfigInvalid (a
    missing program or cwd), ContainerPaused, ContainerNotRunning, SystemFailure."""
    transitions.validate_arguments(process=process)
    config = container.config()
    cgroup = driver_for(config.cgroup_parent, statedir.cgroup_name(container.id))
    with statedir.locked(factory.state_dir(container.id)):
        transitions.check("start_process", container.status, container.id)
        init_pid = container.init_pid
        filter_ = seccomp.build(config.seccomp) if config.seccomp is not None else None
        try:
            if "pid" in config.namespaces:
                _join_pid_namespace(init_pid)
            pid, err = spawn.spawn(lambda errfd: process_mod.run_exec(
                init_pid, config.namespaces, cgroup.procs_files(), process, [0, 1, 2], errfd, filter_))
        except OSError as e:
            # fork into a pid namespace whose init has exited: ENOMEM (pid_namespaces(7)); its /proc gone: ENOENT
            if container.status() == Status.STOPPED:
                raise ContainerNotRunning(f"container {container.id!r} is stopped") from None
            raise SystemFailure(f"exec: {e}", errno=e.errno) from e
        finally:
            if filter_ is not None:
                filter_.release()
    if err is None:
        return pid
    if container.status() == Status.STOPPED:
        raise ContainerNotRunning(f"container {container.id!r} is stopped ({err['message']})")
    if err["kind"] == "config":
        raise ConfigInvalid(err["message"])
    raise SystemFailure(err["message"], errno=err.get("errno") or errno.EIO)
