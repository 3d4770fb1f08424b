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
                               IdInUse, LibcontainerError, Process, ProcessNotFound, Status, SystemFailure,
                               validate_id)
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


def _stats_destroyed_as_system_failure(self):
    try:
        return self.inner.stats()
    except ContainerDestroyed as e:
        raise SystemFailure(f"stats: [Errno 19] No such device ({e})", errno=19) from None  # issue 13 case 8


def _exec_race_raw(self, process):
    try:
        return self.inner.start_process(process)
    except ContainerNotRunning:
        raise SystemFailure("monitor request: [Errno 12] Cannot allocate memory", errno=12) from None  # case 9


def _wait_lost_keeper_not_found(self):
    status = self.inner.wait()
    if status == 137:
        raise ProcessNotFound("pid is not a process of the container")  # issue 13 case 4
    return status


class _FollowsIdContainer(Delegating):
    """A handle that looks its container up by id at every call (issue 13 case 2's bug)."""

    def __init__(self, inner, factory):
        super().__init__(inner)
        self._factory = factory

    def _fresh(self):
        try:
            self.inner = self._factory.inner.load(self.inner.id)
        except ContainerDestroyed:
            pass
        return self.inner

    def status(self):
        return self._fresh().status()

    def destroy(self):
        return self._fresh().destroy()


class StaleHandleFollowsId(MutantFactory):
    def create(self, container_id, config):
        return _FollowsIdContainer(self.inner.create(container_id, config), self)

    def load(self, container_id):
        return _FollowsIdContainer(self.inner.load(container_id), self)


class CreateNotCrashSafe(MutantFactory):
    """Marks the id in use (a file in the factory root) for the length of create; a killed creator
    leaves the mark, and the id is blocked for ever (issue 13 case 3's bug)."""

    def _mark(self, container_id):
        return os.path.join(self.root, f"={container_id[:200]}.creating")

    def create(self, container_id, config):
        validate_id(container_id)
        if os.path.exists(self._mark(container_id)):
            raise IdInUse(f"{container_id!r} is being created")
        with open(self._mark(container_id), "w"):
            pass
        try:
            return MutantFactory.create(self, container_id, config)
        finally:
            os.unlink(self._mark(container_id))

    def load(self, container_id):
        validate_id(container_id)
        if os.path.exists(self._mark(container_id)):
            raise ContainerDestroyed(f"{container_id!r} is being created")
        return MutantFactory.load(self, container_id)


class ZombieKeeper(MutantFactory):
    """Forks a short-lived child at every create and never reaps it (issue 13 case 12's zombies)."""

    def create(self, container_id, config):
        c = MutantFactory.create(self, container_id, config)
        if os.fork() == 0:
            os._exit(0)
        return c


class IdAliases(MutantFactory):
    """Refuses an id whose name under the old hashing (prefix, '-', SHA-256) is another id's (case 13)."""

    @staticmethod
    def _old(name):
        return name.replace("=", "-", 1) if len(name) > 128 else name

    def create(self, container_id, config):
        from libcontainer.reference import state as S
        mine = self._old(S.dir_name(container_id))
        if os.path.isdir(self.root) and any(self._old(n) == mine and n != S.dir_name(container_id)
                                            for n in os.listdir(self.root)):
            raise IdInUse(f"container id {container_id!r} is in use")
        return MutantFactory.create(self, container_id, config)


class DestroyByIdForgets(MutantFactory):
    """destroy(id) removes the state directory only: the processes and cgroup stay (case 5's kind)."""

    def state_dir(self, container_id):
        return self.inner.state_dir(container_id)

    def destroy(self, container_id):
        import shutil
        shutil.rmtree(self.inner.state_dir(container_id), ignore_errors=True)


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
StatsDestroyedAsSystemFailure = _mutant("StatsDestroyedAsSystemFailure", stats=_stats_destroyed_as_system_failure)
ExecRaceRaw = _mutant("ExecRaceRaw", start_process=_exec_race_raw)
WaitLostKeeperNotFound = _mutant("WaitLostKeeperNotFound", wait=_wait_lost_keeper_not_found)

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
    # issue 13: faults
    "StaleHandleFollowsId": (("LC-FAULT-01",), "test_faults", "test_stale_handle_never_touches"),
    "CreateNotCrashSafe": (("LC-FAULT-02",), "test_faults", "test_creator_killed_during_create and cgroup-made"),
    "WaitLostKeeperNotFound": (("LC-FAULT-03",), "test_faults", "test_lost_keeper_leaves_no_unkept_init"),
    "DestroyByIdForgets": (("LC-FAULT-04",), "test_faults_state", "test_untrusted_state_is_refused and empty-list"),
    "StatsDestroyedAsSystemFailure": (("LC-FAULT-05",), "test_faults", "test_destroy_racing_stats_resume"),
    "ExecRaceRaw": (("LC-FAULT-06",), "test_faults", "test_start_process_racing_init_exit and 0.02"),
    "ZombieKeeper": (("LC-FAULT-07",), "test_faults", "test_no_zombies_after_lifecycles"),
    "IdAliases": (("LC-FAULT-09",), "test_faults", "test_long_id_and_its_hashed_name"),
}
