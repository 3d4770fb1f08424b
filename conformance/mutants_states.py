"""Mutants for the live-container cells of the transition table (SPEC.md LC-PAUSE-*, LC-SIGNAL-*,
LC-WAIT-*, LC-WAITPROC-*, LC-PROCS-*, LC-STATS-*, LC-EXEC-*): each the reference with one call
answering a RUNNING or STOPPED container wrongly, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import dataclasses
import os
import signal

from libcontainer.spec import Status, SystemFailure

from .mutants_base import mutant


def _pause_noop(self):
    return None


def _signal_always_kill(self, pid, sig):
    """Every signal sent as SIGKILL (a runtime that only knows how to stop a process)."""
    return self.inner.signal(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_nohang(self):
    """wait() as waitpid(WNOHANG): 0 while init lives."""
    if self.inner.status() == Status.RUNNING:
        return 0
    return self.inner.wait()


def _wait_process_nohang(self, pid):
    """wait_process() as waitpid(WNOHANG): 0 while the process lives."""
    if _alive(pid):
        return 0
    return self.inner.wait_process(pid)


def _wait_once(self):
    """The exit status handed out once, then forgotten (0 for every later call)."""
    if getattr(self, "_waited", False):
        return 0
    status = self.inner.wait()
    self._waited = True
    return status


def _wait_process_reaped_zero(self, pid):
    """0 for a process of a stopped container (already reaped, its status not kept)."""
    if self.inner.status() == Status.STOPPED:
        return 0
    return self.inner.wait_process(pid)


def _processes_without_init(self):
    """Lists only the processes start_process started, not init."""
    pids = self.inner.processes()
    return pids[1:] if self.inner.status() == Status.RUNNING else pids


def _stats_as_dict(self):
    """The raw values as a dict, not a ContainerStats."""
    return dataclasses.asdict(self.inner.stats())


def _exec_namespace_pid(self, process):
    """The pid as the container's pid namespace numbers it, not the caller's."""
    pid = self.inner.start_process(process)
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return pid


def _stopped_system_failure(method: str):
    """``method`` on a stopped container raising SystemFailure instead of ContainerNotRunning."""
    def call(self, *args):
        if self.inner.status() == Status.STOPPED:
            raise SystemFailure(f"container {self.id}: init is gone")
        return getattr(self.inner, method)(*args)
    return call


def _stopped_noop(method: str):
    """``method`` on a stopped container doing nothing."""
    def call(self, *args):
        if self.inner.status() == Status.STOPPED:
            return None
        return getattr(self.inner, method)(*args)
    return call


PauseNoop = mutant("PauseNoop", pause=_pause_noop)
SignalAlwaysKill = mutant("SignalAlwaysKill", signal=_signal_always_kill)
WaitNoHang = mutant("WaitNoHang", wait=_wait_nohang)
WaitProcessNoHang = mutant("WaitProcessNoHang", wait_process=_wait_process_nohang)
WaitOnce = mutant("WaitOnce", wait=_wait_once)
WaitProcessReapedZero = mutant("WaitProcessReapedZero", wait_process=_wait_process_reaped_zero)
ProcessesWithoutInit = mutant("ProcessesWithoutInit", processes=_processes_without_init)
StatsAsDict = mutant("StatsAsDict", stats=_stats_as_dict)
ExecNamespacePid = mutant("ExecNamespacePid", start_process=_exec_namespace_pid)
ExecStoppedSystemFailure = mutant("ExecStoppedSystemFailure", start_process=_stopped_system_failure("start_process"))
PauseStoppedNoop = mutant("PauseStoppedNoop", pause=_stopped_noop("pause"))
ResumeStoppedNoop = mutant("ResumeStoppedNoop", resume=_stopped_noop("resume"))

STATE_MUTANTS = {
    "PauseNoop": (("LC-PAUSE-01",), "test_transitions", "RUNNING-pause"),
    "SignalAlwaysKill": (("LC-SIGNAL-01",), "test_transitions", "RUNNING-signal"),
    "WaitNoHang": (("LC-WAIT-01",), "test_transitions", "RUNNING-wait and not wait_process"),
    "WaitProcessNoHang": (("LC-WAITPROC-01",), "test_transitions", "RUNNING-wait_process"),
    "WaitOnce": (("LC-WAIT-04",), "test_transitions", "STOPPED-wait and not wait_process"),
    "WaitProcessReapedZero": (("LC-WAITPROC-04",), "test_transitions", "STOPPED-wait_process"),
    "ProcessesWithoutInit": (("LC-PROCS-01",), "test_transitions", "RUNNING-processes"),
    "StatsAsDict": (("LC-STATS-01",), "test_transitions", "RUNNING-stats"),
    "ExecNamespacePid": (("LC-EXEC-01",), "test_transitions", "RUNNING-start_process"),
    "ExecStoppedSystemFailure": (("LC-EXEC-04",), "test_transitions", "STOPPED-start_process"),
    "PauseStoppedNoop": (("LC-PAUSE-05",), "test_transitions", "STOPPED-pause"),
    "ResumeStoppedNoop": (("LC-RESUME-05",), "test_transitions", "STOPPED-resume"),
}
