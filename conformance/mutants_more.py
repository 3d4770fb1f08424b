"""Mutants for the factory, the id rules, the frozen cells and the error clauses (SPEC.md
LC-FACTORY-*, LC-ID-*, LC-IDENT-01, LC-PAUSE-04, LC-SIGNAL-03/05/06, LC-WAIT-05, LC-WAITPROC-03,
LC-DESTROY-03/04, LC-EXEC-06, LC-PROCS-04, LC-GEN-03/04): each the reference with one behaviour broken,
through the public interface (see :mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import time

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, ContainerNotRunning, ContainerPaused, IdInUse,
                               InvalidIdFormat, ProcessNotFound, Status, SystemFailure)

from .mutants_base import Delegating, MutantFactory, ignoring, mutant

FROZEN = (Status.PAUSING, Status.PAUSED)


def _pause_pausing_raises(self):
    if self.inner.status() in FROZEN:
        raise SystemFailure("container is already pausing or paused")
    return self.inner.pause()


def _signal_paused_delivered(self, pid, sig):
    """runc's behaviour: the signal is queued to the frozen process (the seed says ContainerPaused)."""
    if self.inner.status() in FROZEN and pid in self.inner.processes():
        os.kill(pid, sig)
        return None
    return self.inner.signal(pid, sig)


def _wait_frozen_nohang(self):
    if self.inner.status() in FROZEN:
        return 0
    return self.inner.wait()


def _destroy_stopped_noop(self):
    """Nothing left to kill, so nothing done: the cgroups and state stay."""
    if self.inner.status() == Status.STOPPED:
        return None
    return self.inner.destroy()


def _signal_esrch_ignored(self, pid, sig):
    try:
        return self.inner.signal(pid, sig)
    except ProcessNotFound:
        return None


def _signal_invalid_as_probe(self, pid, sig):
    """A signal number out of range sent as signal 0 (a probe), not refused with EINVAL."""
    if type(sig) is not int or not 0 <= sig <= 64:
        sig = 0
    return self.inner.signal(pid, sig)


def _wait_process_any_pid(self, pid):
    """A pid not of the container waited for as any host pid (until /proc/PID goes away)."""
    try:
        return self.inner.wait_process(pid)
    except ProcessNotFound:
        deadline = time.monotonic() + 60
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.05)
        return 0


def _exec_missing_program_system_failure(self, process):
    try:
        return self.inner.start_process(process)
    except ConfigInvalid as error:
        raise SystemFailure(f"exec: {error}", errno=errno.ENOENT) from None


def _id_gone_after_destroy(self):
    """The id read back from the state directory, which destroy removed."""
    try:
        self.inner.status()
    except ContainerDestroyed:
        raise ContainerDestroyed("no state for this container") from None
    return self.inner.id


def _create_2014_ids(self, container_id, config, start=True):
    """Factory (2014)'s id rule only: letters, digits and ``_`` (refuses ``-``, ``.``, ``+``)."""
    if isinstance(container_id, str) and not re.fullmatch(r"[A-Za-z0-9_]{1,1024}", container_id):
        raise InvalidIdFormat(f"invalid id {container_id!r}")
    return MutantFactory.create(self, container_id, config, start=start)


def _create_state_dir_first(self, container_id, config, start=True):
    """The state directory made before the id is checked, and left when the check fails."""
    if isinstance(container_id, str) and container_id not in ("", ".", "..") and "/" not in container_id \
            and "\0" not in container_id and len(container_id) <= 255:
        os.makedirs(os.path.join(self.root, container_id), exist_ok=True)
    return MutantFactory.create(self, container_id, config, start=start)


def _create_replaces(self, container_id, config, start=True):
    """An existing container of that id destroyed and replaced (create as ``--force``)."""
    try:
        return MutantFactory.create(self, container_id, config, start=start)
    except IdInUse:
        self.inner.load(container_id).destroy()
        return MutantFactory.create(self, container_id, config, start=start)


def _create_leaves_state(self, container_id, config, start=True):
    """A refused config leaves the state directory behind."""
    try:
        return MutantFactory.create(self, container_id, config, start=start)
    except ConfigInvalid:
        os.makedirs(os.path.join(self.root, container_id), exist_ok=True)
        raise


def _create_never_starts(self, container_id, config, start=True):
    return MutantFactory.create(self, container_id, config, start=False)


def _load_unknown_not_running(self, container_id):
    try:
        return MutantFactory.load(self, container_id)
    except ContainerDestroyed:
        raise ContainerNotRunning(f"container {container_id!r} is not running") from None


class PauseKnownToCreator(Delegating):
    """A loaded handle that knows nothing of a pause (kept in the creating process's memory)."""

    def status(self):
        status = self.inner.status()
        return Status.RUNNING if status in FROZEN else status


def _load_without_pause(self, container_id):
    return PauseKnownToCreator(self.inner.load(container_id))


def _destroy_paused_refused(self):
    """runc's ``delete`` without ``--force``: a paused container is refused, not killed."""
    if self.inner.status() in FROZEN:
        raise ContainerPaused(f"container {self.id} is paused, resume it first")
    return self.inner.destroy()


def _processes_cached_after_exit(self):
    """The last list seen while processes ran, kept once init has gone (a list kept in the state)."""
    pids = self.inner.processes()
    if pids:
        self._pids = pids
    return pids or getattr(self, "_pids", [])


def _wait_process_unchecked_type(self, pid):
    """The pid compared before its type is checked: a TypeError escapes for None."""
    if pid <= 0:
        raise ProcessNotFound(f"no process {pid}")
    return self.inner.wait_process(pid)


def _signal_membership_before_paused(self, pid, sig):
    """The target looked up before the state is checked: ProcessNotFound wins over ContainerPaused."""
    if self.inner.status() in FROZEN and pid not in self.inner.processes():
        raise ProcessNotFound(f"no process {pid} in container {self.id}")
    return self.inner.signal(pid, sig)


def _negative_limits_unlimited(config):
    """A negative limit taken as "unlimited" (as -1 is in runc's memory.limit), not refused."""
    resources = getattr(config, "resources", None)
    if not dataclasses.is_dataclass(resources):
        return config
    changes = {name: None for name in ("memory", "memory_reservation", "memory_swap", "cpu_quota", "pids_limit")
               if type(getattr(resources, name, None)) is int and getattr(resources, name) < 0}
    return dataclasses.replace(config, resources=dataclasses.replace(resources, **changes)) if changes else config


PausePausingRaises = mutant("PausePausingRaises", pause=_pause_pausing_raises)
SignalPausedDelivered = mutant("SignalPausedDelivered", signal=_signal_paused_delivered)
WaitFrozenNoHang = mutant("WaitFrozenNoHang", wait=_wait_frozen_nohang)
DestroyStoppedNoop = mutant("DestroyStoppedNoop", destroy=_destroy_stopped_noop)
SignalEsrchIgnored = mutant("SignalEsrchIgnored", signal=_signal_esrch_ignored)
SignalInvalidAsProbe = mutant("SignalInvalidAsProbe", signal=_signal_invalid_as_probe)
WaitProcessAnyPid = mutant("WaitProcessAnyPid", wait_process=_wait_process_any_pid)
ExecMissingProgramSystemFailure = mutant("ExecMissingProgramSystemFailure",
                                         start_process=_exec_missing_program_system_failure)
IdGoneAfterDestroy = mutant("IdGoneAfterDestroy", id=property(_id_gone_after_destroy))
Ids2014 = mutant("Ids2014", _factory={"create": _create_2014_ids})
StateDirBeforeIdCheck = mutant("StateDirBeforeIdCheck", _factory={"create": _create_state_dir_first})
CreateReplaces = mutant("CreateReplaces", _factory={"create": _create_replaces})
CreateLeavesState = mutant("CreateLeavesState", _factory={"create": _create_leaves_state})
CreateNeverStarts = mutant("CreateNeverStarts", _factory={"create": _create_never_starts})
LoadUnknownNotRunning = mutant("LoadUnknownNotRunning", _factory={"load": _load_unknown_not_running})
LoadWithoutPause = mutant("LoadWithoutPause", _factory={"load": _load_without_pause})
DestroyPausedRefused = mutant("DestroyPausedRefused", destroy=_destroy_paused_refused)
ProcessesCachedAfterExit = mutant("ProcessesCachedAfterExit", processes=_processes_cached_after_exit)
WaitProcessUncheckedType = mutant("WaitProcessUncheckedType", wait_process=_wait_process_unchecked_type)
SignalMembershipBeforePaused = mutant("SignalMembershipBeforePaused", signal=_signal_membership_before_paused)
NegativeLimitsUnlimited = ignoring("NegativeLimitsUnlimited", _negative_limits_unlimited)

MORE_MUTANTS = {
    "PausePausingRaises": (("LC-PAUSE-04",), "test_transitions", "PAUSING-pause"),
    "SignalPausedDelivered": (("LC-SIGNAL-03",), "test_transitions", "PAUSED-signal"),
    "WaitFrozenNoHang": (("LC-WAIT-05",), "test_transitions", "PAUSED-wait and not wait_process"),
    "DestroyStoppedNoop": (("LC-DESTROY-04",), "test_transitions", "STOPPED-destroy"),
    "SignalEsrchIgnored": (("LC-SIGNAL-05",), "test_errors", "test_signal_to_pids_outside_the_container"),
    "SignalInvalidAsProbe": (("LC-SIGNAL-06",), "test_errors", "test_invalid_signal_number and RUNNING"),
    "WaitProcessAnyPid": (("LC-WAITPROC-03",), "test_errors", "test_wait_process_on_pids_outside"),
    "ExecMissingProgramSystemFailure": (("LC-EXEC-06",), "test_errors", "test_missing_program_raises"),
    "IdGoneAfterDestroy": (("LC-IDENT-01",), "test_destroyed", "test_id_and_config_answer_after_destroy"),
    "Ids2014": (("LC-ID-01",), "test_factory", "test_valid_ids_are_accepted"),
    "StateDirBeforeIdCheck": (("LC-ID-02",), "test_factory", "test_invalid_id_raises_and_creates_nothing and sp"),
    "CreateReplaces": (("LC-FACTORY-02",), "test_factory", "test_second_create_with_same_id"),
    "CreateLeavesState": (("LC-FACTORY-03",), "test_factory", "test_missing_rootfs_raises"),
    "CreateNeverStarts": (("LC-FACTORY-01",), "test_factory", "test_create_returns_running_container"),
    "LoadUnknownNotRunning": (("LC-FACTORY-05",), "test_factory", "test_load_of_unknown_id"),
    "LoadWithoutPause": (("LC-FACTORY-04",), "test_factory", "test_load_from_another_process"),
    "DestroyPausedRefused": (("LC-DESTROY-03",), "test_transitions", "PAUSED-destroy"),
    "ProcessesCachedAfterExit": (("LC-PROCS-04",), "test_transitions", "STOPPED-processes"),
    "WaitProcessUncheckedType": (("LC-GEN-03",), "test_errors", "test_wrong_types and wait_process-none"),
    "SignalMembershipBeforePaused": (("LC-GEN-04",), "test_errors", "test_which_error_wins"),
    "NegativeLimitsUnlimited": (("LC-FACTORY-06",), "test_hostile", "test_invalid_config_raises"),
}
