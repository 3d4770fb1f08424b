"""Mutants for the clauses about calls at once (SPEC.md LC-GEN-01, LC-CONC-01, LC-CONC-02,
LC-DESTROY-05, LC-WAIT-06) and resume of a PAUSING container (LC-RESUME-04): each the reference
with one race or state handled wrongly, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them; ``CHANCE_MUTANTS`` is the one
whose test catches it only by chance)."""

from __future__ import annotations

import errno
import functools
import threading
import time

from libcontainer.spec import ContainerDestroyed, ContainerPaused, Status, SystemFailure

from .mutants_base import Delegating, MutantFactory, mutant

RETRY_DESTROYED_FOR = 30.0  # seconds a "transient" missing state is retried (longer than the tests' 10 s)


def _one_call_at_a_time(method):
    """``method`` refused with EBUSY while another call of the same handle is in flight (one shared
    connection to the runtime and a busy flag, where a lock or a queue was needed)."""
    @functools.wraps(method)
    def guarded(self, *args):
        if not self._busy.acquire(blocking=False):
            raise SystemFailure(f"container {self.id}: another call is in progress", errno=errno.EBUSY)
        try:
            return method(self, *args)
        finally:
            self._busy.release()
    return guarded


class OneCallAtATime(Delegating):
    """A handle that is not safe for several threads: a second call at once fails instead of waiting."""

    def __init__(self, inner):
        super().__init__(inner)
        self._busy = threading.Lock()

    status = _one_call_at_a_time(Delegating.status)
    processes = _one_call_at_a_time(Delegating.processes)
    stats = _one_call_at_a_time(Delegating.stats)
    start_process = _one_call_at_a_time(Delegating.start_process)
    pause = _one_call_at_a_time(Delegating.pause)
    resume = _one_call_at_a_time(Delegating.resume)
    signal = _one_call_at_a_time(Delegating.signal)
    destroy = _one_call_at_a_time(Delegating.destroy)


class HandleNotThreadSafe(MutantFactory):
    container_class = OneCallAtATime


def _exec_racing_pause_fails(self, process):
    """An exec that saw RUNNING and then met the freeze reports SystemFailure (runc#2753: the new
    process joined a cgroup that was FREEZING), not ContainerPaused."""
    before = self.inner.status()
    try:
        return self.inner.start_process(process)
    except ContainerPaused:
        if before == Status.RUNNING:
            raise SystemFailure("exec: the container froze while the process joined it", errno=errno.EBUSY) from None
        raise


def _destroy_refused_while_destroying(self):
    """A second destroy while one runs refused (a non-blocking lock, flock(LOCK_EX | LOCK_NB)), not waited for."""
    busy = self.__dict__.setdefault("_destroying", threading.Lock())
    if not busy.acquire(blocking=False):
        raise SystemFailure(f"container {self.id} is being destroyed", errno=errno.EBUSY)
    try:
        return self.inner.destroy()
    finally:
        busy.release()


def _retrying_destroyed(poll):
    """``poll()`` until it gives a result, taking ContainerDestroyed for a state file being rewritten
    (retried for RETRY_DESTROYED_FOR seconds) rather than for the end of the container."""
    deadline = time.monotonic() + RETRY_DESTROYED_FOR
    while True:
        try:
            result = poll()
        except ContainerDestroyed:
            if time.monotonic() > deadline:
                raise
            result = None
        if result is not None:
            return result[0]
        time.sleep(0.05)


def _wait_by_polling(self):
    def poll():
        return (self.inner.wait(),) if self.inner.status() == Status.STOPPED else None
    return _retrying_destroyed(poll)


def _wait_process_by_polling(self, pid):
    def poll():
        return None if pid in self.inner.processes() else (self.inner.wait_process(pid),)
    return _retrying_destroyed(poll)


def _resume_pausing_noop(self):
    """runc's ``resume`` of a container not (yet) paused: nothing to do, so the pause goes on to PAUSED."""
    if self.inner.status() == Status.PAUSING:
        return None
    return self.inner.resume()


ExecRacingPauseFails = mutant("ExecRacingPauseFails", start_process=_exec_racing_pause_fails)
DestroyRefusedWhileDestroying = mutant("DestroyRefusedWhileDestroying", destroy=_destroy_refused_while_destroying)
WaitRetriesDestroyed = mutant("WaitRetriesDestroyed", wait=_wait_by_polling, wait_process=_wait_process_by_polling)
ResumePausingNoop = mutant("ResumePausingNoop", resume=_resume_pausing_noop)

THREAD_MUTANTS = {
    "HandleNotThreadSafe": (("LC-GEN-01", "LC-CONC-01"), "test_concurrency", "test_threads_get_only_documented"),
    "ExecRacingPauseFails": (("LC-CONC-02",), "test_concurrency", "test_exec_loop_with_pause_resume"),
    "DestroyRefusedWhileDestroying": (("LC-DESTROY-05",), "test_concurrency", "test_racing_destroys_all_return"),
    "WaitRetriesDestroyed": (("LC-WAIT-06",), "test_concurrency", "test_wait_blocked_during_destroy and running"),
}

#: run by hand (``--runtime libcontainer.conformance.mutants_threads:ResumePausingNoop``), not in MUTANTS:
#: its test catches it only when it meets PAUSING (see mutants.NO_RELIABLE_MUTANT)
CHANCE_MUTANTS = {
    "ResumePausingNoop": (("LC-RESUME-04",), "test_concurrency", "test_resume_issued_while_pausing"),
}
