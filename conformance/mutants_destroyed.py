"""Mutants for the calls on a destroyed container (SPEC.md LC-*-02, LC-CONFIG-01, LC-DESTROY-02):
each the reference answering one call on a destroyed container as if the container were merely
stopped (a runtime that keeps no "destroyed" state of its own), through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

from libcontainer.spec import ContainerDestroyed, ContainerNotRunning, Status

from .mutants_base import mutant


def _is_destroyed(container) -> bool:
    try:
        container.inner.status()
    except ContainerDestroyed:
        return True
    return False


def _status_stopped_when_destroyed(self):
    try:
        return self.inner.status()
    except ContainerDestroyed:
        return Status.STOPPED


def _processes_empty_when_destroyed(self):
    try:
        return self.inner.processes()
    except ContainerDestroyed:
        return []


def _not_running_when_destroyed(method: str):
    """``method`` raising ContainerNotRunning where the seed lists ContainerDestroyed."""
    def call(self, *args):
        try:
            return getattr(self.inner, method)(*args)
        except ContainerDestroyed:
            raise ContainerNotRunning(f"container {self.id} is not running") from None
    return call


def _noop_when_destroyed(method: str):
    """``method`` doing nothing on a destroyed container, as destroy() does."""
    def call(self, *args):
        try:
            return getattr(self.inner, method)(*args)
        except ContainerDestroyed:
            return None
    return call


def _destroy_twice_raises(self):
    if _is_destroyed(self):
        raise ContainerDestroyed(f"container {self.id} already destroyed")
    return self.inner.destroy()


def _config_gone_after_destroy(self):
    """config() read back from the state directory, which destroy removed."""
    if _is_destroyed(self):
        raise ContainerDestroyed(f"no state for container {self.id}")
    return self.inner.config()


StatusStoppedWhenDestroyed = mutant("StatusStoppedWhenDestroyed", status=_status_stopped_when_destroyed)
ProcessesEmptyWhenDestroyed = mutant("ProcessesEmptyWhenDestroyed", processes=_processes_empty_when_destroyed)
StatsNotRunningWhenDestroyed = mutant("StatsNotRunningWhenDestroyed", stats=_not_running_when_destroyed("stats"))
ExecNotRunningWhenDestroyed = mutant("ExecNotRunningWhenDestroyed",
                                     start_process=_not_running_when_destroyed("start_process"))
WaitProcessNotRunningWhenDestroyed = mutant("WaitProcessNotRunningWhenDestroyed",
                                            wait_process=_not_running_when_destroyed("wait_process"))
PauseDestroyedNoop = mutant("PauseDestroyedNoop", pause=_noop_when_destroyed("pause"))
ResumeDestroyedNoop = mutant("ResumeDestroyedNoop", resume=_noop_when_destroyed("resume"))
SignalDestroyedSilent = mutant("SignalDestroyedSilent", signal=_noop_when_destroyed("signal"))
DestroyTwiceRaises = mutant("DestroyTwiceRaises", destroy=_destroy_twice_raises)
ConfigGoneAfterDestroy = mutant("ConfigGoneAfterDestroy", config=_config_gone_after_destroy)

DESTROYED_MUTANTS = {
    "StatusStoppedWhenDestroyed": (("LC-STATUS-02",), "test_transitions", "DESTROYED-status"),
    "ProcessesEmptyWhenDestroyed": (("LC-PROCS-02",), "test_transitions", "DESTROYED-processes"),
    "StatsNotRunningWhenDestroyed": (("LC-STATS-02",), "test_transitions", "DESTROYED-stats"),
    "ExecNotRunningWhenDestroyed": (("LC-EXEC-02",), "test_transitions", "DESTROYED-start_process"),
    "WaitProcessNotRunningWhenDestroyed": (("LC-WAITPROC-02",), "test_transitions", "DESTROYED-wait_process"),
    "PauseDestroyedNoop": (("LC-PAUSE-02",), "test_transitions", "DESTROYED-pause"),
    "ResumeDestroyedNoop": (("LC-RESUME-02",), "test_transitions", "DESTROYED-resume"),
    "SignalDestroyedSilent": (("LC-SIGNAL-02",), "test_transitions", "DESTROYED-signal"),
    "DestroyTwiceRaises": (("LC-DESTROY-02",), "test_transitions", "DESTROYED-destroy"),
    "ConfigGoneAfterDestroy": (("LC-CONFIG-01",), "test_transitions", "DESTROYED-config"),
}
