"""Mutants for the lifecycle clauses (the transition table, wait, load, status, stats, processes;
issue 3, item 8): each the reference with one documented behaviour broken, through the public
interface (see :mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import os
import time

from libcontainer.spec import (ContainerDestroyed, ContainerNotRunning, ContainerPaused, LibcontainerError, Status,
                               SystemFailure, validate_id)

from .mutants_base import MutantFactory, mutant


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


ResumeNoop = mutant("ResumeNoop", resume=_resume_noop)
DestroyLeavesCgroup = mutant("DestroyLeavesCgroup", destroy=_destroy_leaves_cgroup)
WaitZeroForSignals = mutant("WaitZeroForSignals", wait=_wait_zero_for_signals)
LoadIgnoresDestroy = mutant("LoadIgnoresDestroy", status=_cached_status)
PausePausedRaises = mutant("PausePausedRaises", pause=_pause_paused_raises)
ResumeRunningRaises = mutant("ResumeRunningRaises", resume=_resume_running_raises)
ExecWaitsForThaw = mutant("ExecWaitsForThaw", start_process=_exec_waits_for_thaw)
SignalStoppedSilent = mutant("SignalStoppedSilent", signal=_signal_stopped_silent)
LoadInvalidIdDestroyed = mutant("LoadInvalidIdDestroyed", _factory={"load": _load_invalid_id_destroyed})
WaitAfterDestroyCached = mutant("WaitAfterDestroyCached", wait=_wait_after_destroy_cached)
StateBeforeArgument = mutant("StateBeforeArgument", start_process=_state_before_argument)
StatusNeverStopped = mutant("StatusNeverStopped", status=_status_never_stopped)
StatsRefusedWhenStopped = mutant("StatsRefusedWhenStopped", stats=_stats_refused_when_stopped)
ProcessesWithDeadPid = mutant("ProcessesWithDeadPid", processes=_processes_with_a_dead_pid)
