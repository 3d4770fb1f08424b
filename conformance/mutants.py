"""Deliberately broken implementations: the suite tests itself (issue 3, item 8).

Each mutant is the reference with one documented behaviour broken, built as a
wrapper that goes through the public Factory/Container interface. Run one
with ``--runtime libcontainer.conformance.mutants:NAME``; ``MUTANTS`` maps
each name to the clauses that must fail and the tests (``-k`` expression)
that show it. ``conformance/tests/test_mutants.py`` runs them all.

No mutant sends a signal the reference would not send to a pid outside its
container, or touches a path outside the factory root and the container's
own cgroup parent.
"""

from __future__ import annotations

import os
import time

from libcontainer.spec import (Config, Container, ContainerDestroyed, ContainerPaused, ContainerStats, Factory,
                               LibcontainerError, Process, Status, SystemFailure, validate_id)
from libcontainer.spec.errors import ContainerNotRunning


class Delegating(Container):
    """A Container that forwards every call to ``inner``."""

    def __init__(self, inner: Container):
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    def status(self) -> Status:
        return self.inner.status()

    def config(self) -> Config:
        return self.inner.config()

    def processes(self) -> list[int]:
        return self.inner.processes()

    def stats(self) -> ContainerStats:
        return self.inner.stats()

    def start_process(self, process: Process) -> int:
        return self.inner.start_process(process)

    def destroy(self) -> None:
        return self.inner.destroy()

    def pause(self) -> None:
        return self.inner.pause()

    def resume(self) -> None:
        return self.inner.resume()

    def signal(self, pid: int, sig: int) -> None:
        return self.inner.signal(pid, sig)

    def wait(self) -> int:
        return self.inner.wait()

    def wait_process(self, pid: int) -> int:
        return self.inner.wait_process(pid)


class MutantFactory(Factory):
    """The reference factory, its containers wrapped in ``container_class``."""

    container_class = Delegating

    def __init__(self, root: str):
        from libcontainer.reference import LinuxFactory
        self.inner = LinuxFactory(root)
        self.root = self.inner.root

    def create(self, container_id: str, config: Config) -> Container:
        return self.container_class(self.inner.create(container_id, config))

    def load(self, container_id: str) -> Container:
        return self.container_class(self.inner.load(container_id))


def _mutant(name: str, **methods):
    factory_methods = methods.pop("_factory", {})
    container = type(f"{name}Container", (Delegating,), methods)
    return type(name, (MutantFactory,), {"container_class": container, **factory_methods})


# -- the mutants ---------------------------------------------------------------

def _resume_noop(self):
    return None


def _destroy_leaves_cgroup(self):
    parent = self.inner.config().cgroup_parent
    self.inner.destroy()
    for hierarchy in ("/sys/fs/cgroup/freezer", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(hierarchy, "cgroup.procs")):
            os.makedirs(os.path.join(hierarchy, parent, self.id), exist_ok=True)
            return


def _wait_zero_for_signals(self):
    status = self.inner.wait()
    return 0 if status > 128 else status


def _cached_status(self):
    try:
        self._last = self.inner.status()
    except ContainerDestroyed:
        if getattr(self, "_last", None) is None:
            raise
    return self._last


def _pause_paused_raises(self):
    if self.inner.status() == Status.PAUSED:
        raise SystemFailure("container already paused")  # runc 1.1's behaviour, against the seed
    return self.inner.pause()


def _resume_running_raises(self):
    if self.inner.status() == Status.RUNNING:
        raise SystemFailure("container not paused")  # runc 1.1's ErrNotPaused, against the seed
    return self.inner.resume()


def _exec_waits_for_thaw(self, process):
    deadline = time.monotonic() + 20
    while self.inner.status() in (Status.PAUSING, Status.PAUSED) and time.monotonic() < deadline:
        time.sleep(0.05)
    return self.inner.start_process(process)


def _signal_stopped_silent(self, pid, sig):
    try:
        return self.inner.signal(pid, sig)
    except ContainerNotRunning:
        return None


def _load_invalid_id_destroyed(self, container_id):
    try:
        validate_id(container_id)
    except LibcontainerError:
        raise ContainerDestroyed(f"no container {container_id!r}") from None
    return MutantFactory.load(self, container_id)


def _wait_after_destroy_cached(self):
    try:
        self._status = self.inner.wait()
    except ContainerDestroyed:
        if getattr(self, "_status", None) is None:
            raise
    return self._status


def _state_before_argument(self, process):
    if self.inner.status() in (Status.PAUSING, Status.PAUSED):
        raise ContainerPaused("paused")
    return self.inner.start_process(process)


def _status_never_stopped(self):
    status = self.inner.status()
    return Status.RUNNING if status == Status.STOPPED else status


def _stats_refused_when_stopped(self):
    if self.inner.status() == Status.STOPPED:
        raise ContainerNotRunning("stopped")
    return self.inner.stats()


def _processes_with_a_dead_pid(self):
    pids = self.inner.processes()
    return pids + [_dead_pid()]


def _dead_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


ResumeNoop = _mutant("ResumeNoop", resume=_resume_noop)
DestroyLeavesCgroup = _mutant("DestroyLeavesCgroup", destroy=_destroy_leaves_cgroup)
WaitZeroForSignals = _mutant("WaitZeroForSignals", wait=_wait_zero_for_signals)
LoadIgnoresDestroy = _mutant("LoadIgnoresDestroy", status=_cached_status)
PausePausedRaises = _mutant("PausePausedRaises", pause=_pause_paused_raises)
ResumeRunningRaises = _mutant("ResumeRunningRaises", resume=_resume_running_raises)
ExecWaitsForThaw = _mutant("ExecWaitsForThaw", start_process=_exec_waits_for_thaw)
SignalStoppedSilent = _mutant("SignalStoppedSilent", signal=_signal_stopped_silent)
LoadInvalidIdDestroyed = _mutant("LoadInvalidIdDestroyed", _factory={"load": _load_invalid_id_destroyed})
WaitAfterDestroyCached = _mutant("WaitAfterDestroyCached", wait=_wait_after_destroy_cached)
StateBeforeArgument = _mutant("StateBeforeArgument", start_process=_state_before_argument)
StatusNeverStopped = _mutant("StatusNeverStopped", status=_status_never_stopped)
StatsRefusedWhenStopped = _mutant("StatsRefusedWhenStopped", stats=_stats_refused_when_stopped)
ProcessesWithDeadPid = _mutant("ProcessesWithDeadPid", processes=_processes_with_a_dead_pid)

# -- issue 13, the host and the image (LC-HOST-*) ------------------------------------
# The first two reproduce a runtime that follows the image's symlinks on the host: they create paths
# through the rootfs's links, which the tests point only at a tmp directory of their own.

def _create_following_links(self, container_id, config):
    validate_id(container_id)
    for m in getattr(config, "mounts", None) or []:
        if m.type != "bind" and isinstance(m.destination, str):
            os.makedirs(os.path.join(config.rootfs, m.destination.lstrip("/")), exist_ok=True)
    return MutantFactory.create(self, container_id, config)


def _create_dev_through_links(self, container_id, config):
    validate_id(container_id)
    dev = os.path.join(config.rootfs, "dev")
    if os.path.islink(dev) and os.path.isdir(dev):
        for name in ("null", "zero", "tty"):
            open(os.path.join(dev, name), "a").close()  # where an unscoped runtime would mknod
    return MutantFactory.create(self, container_id, config)


def _cgroup_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = [line.split(":", 2) for line in f.read().splitlines()]
    except OSError:
        return None
    for _id, controllers, path in lines:
        if "freezer" in controllers.split(","):
            return path
    return next((path for _id, controllers, path in lines if controllers == ""), None)


def _processes_top_cgroup_only(self):
    pids = self.inner.processes()
    if not pids:
        return pids
    top = _cgroup_of(pids[0])
    return [p for p in pids if _cgroup_of(p) == top]


def _destroy_removes_parent(self):
    parent = self.inner.config().cgroup_parent
    self.inner.destroy()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(os.path.join("/sys/fs/cgroup", hierarchy, parent))  # only when empty, as the old reference
        except OSError:
            pass


def _soft_above_hard(process) -> bool:
    def above(pair) -> bool:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            return False
        soft, hard = (2**64 if v == -1 else v for v in pair)
        return soft > hard
    rlimits = getattr(process, "rlimits", None)
    return isinstance(rlimits, dict) and any(above(v) for v in rlimits.values())


def _create_late_rlimit(self, container_id, config):
    if _soft_above_hard(getattr(config, "process", None)):
        raise SystemFailure("init: setrlimit: Invalid argument", errno=22)  # found in init, not before
    return MutantFactory.create(self, container_id, config)


def _exec_late_rlimit(self, process):
    if _soft_above_hard(process):
        raise SystemFailure("exec: setrlimit: Invalid argument", errno=22)
    return self.inner.start_process(process)


def _exec_one_recv(self, process):
    import json
    if len(json.dumps(getattr(process, "args", []))) > 36000:
        raise SystemFailure("JSONDecodeError: Unterminated string")  # the monitor read one recv()
    return self.inner.start_process(process)


HostPathsFollowLinks = _mutant("HostPathsFollowLinks", _factory={"create": _create_following_links})
DevThroughLinks = _mutant("DevThroughLinks", _factory={"create": _create_dev_through_links})
SubCgroupsIgnored = _mutant("SubCgroupsIgnored", processes=_processes_top_cgroup_only)
DestroyRemovesParent = _mutant("DestroyRemovesParent", destroy=_destroy_removes_parent)
LateRlimitCheck = _mutant("LateRlimitCheck", start_process=_exec_late_rlimit,
                          _factory={"create": _create_late_rlimit})
ExecOneRecv = _mutant("ExecOneRecv", start_process=_exec_one_recv)

# name -> (clauses that must fail, spec test module, pytest -k expression selecting the tests that show it)
MUTANTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "ResumeNoop": (("LC-RESUME-01",), "test_transitions", "PAUSED-resume"),
    "DestroyLeavesCgroup": (("LC-DESTROY-01",), "test_transitions", "RUNNING-destroy"),
    "WaitZeroForSignals": (("LC-WAIT-02",), "test_bugs", "test_signal_killed_init_gives_128_plus_signal"),
    "LoadIgnoresDestroy": (("LC-GEN-02",), "test_cross_process", "test_destroy_from_another_process"),
    "PausePausedRaises": (("LC-PAUSE-03",), "test_transitions", "PAUSED-pause"),
    "ResumeRunningRaises": (("LC-RESUME-03",), "test_transitions", "RUNNING-resume"),
    "ExecWaitsForThaw": (("LC-EXEC-03",), "test_bugs", "test_start_process_on_paused_fails_at_once_and_never_hangs"),
    "SignalStoppedSilent": (("LC-SIGNAL-04",), "test_transitions", "STOPPED-signal"),
    "LoadInvalidIdDestroyed": (("LC-ID-03",), "test_bugs", "test_hostile_ids_touch_nothing_outside_the_root"),
    "WaitAfterDestroyCached": (("LC-WAIT-03",), "test_destroyed", "test_wait_after_destroy_raises_even_when"),
    "StateBeforeArgument": (("LC-EXEC-05",), "test_errors", "test_invalid_process_raises_config_invalid_in_every"),
    "StatusNeverStopped": (("LC-STATUS-01",), "test_transitions", "STOPPED-status"),
    "StatsRefusedWhenStopped": (("LC-STATS-03",), "test_transitions", "STOPPED-stats"),
    "ProcessesWithDeadPid": (("LC-PROCS-03",), "test_transitions", "PAUSED-processes"),
    "HostPathsFollowLinks": (("LC-HOST-01",), "test_hostile_rootfs", "test_absolute_symlink_to_host_dir"),
    "DevThroughLinks": (("LC-HOST-02",), "test_hostile_rootfs", "test_dev_as_symlink_to_host_dir"),
    "SubCgroupsIgnored": (("LC-HOST-03",), "test_cgroup_tree", "test_destroy_takes_a_frozen_sub_cgroup"),
    "DestroyRemovesParent": (("LC-HOST-04",), "test_cgroup_tree", "test_destroy_keeps_an_operator_cgroup_parent"),
    "LateRlimitCheck": (("LC-HOST-05",), "test_host_input", "soft-above-hard and not exec"),
    "ExecOneRecv": (("LC-HOST-06",), "test_host_input", "test_big_argument_through_start_process"),
}
