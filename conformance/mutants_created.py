"""Mutants for the create/start split (SPEC.md LC-CREATED-*): each the reference with one
behaviour of ``create(start=False)`` / ``start()`` broken, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import dataclasses

from libcontainer.spec import Config, ContainerNotRunning, Process, Status

from .mutants_base import MutantFactory, mutant


def _create_started(self, container_id, config, start=True):
    """Ignores start=False: the program runs at once (a runtime faking the split)."""
    return MutantFactory.create(self, container_id, config)


def _start_noop(self):
    return None


def _start_anything(self):
    """start() succeeds silently on a container that is not CREATED."""
    if self.inner.status() != Status.CREATED:
        return None
    return self.inner.start()


def _exec_refused_when_created(self, process):
    if self.inner.status() == Status.CREATED:
        raise ContainerNotRunning("container is created, not running")
    return self.inner.start_process(process)


def _pause_created_noop(self):
    if self.inner.status() == Status.CREATED:
        return None
    return self.inner.pause()


def _signal_created_refused(self, pid, sig):
    if self.inner.status() == Status.CREATED:
        raise ContainerNotRunning("container is created, not running")
    return self.inner.signal(pid, sig)


def _destroy_created_noop(self):
    try:
        if self.inner.status() == Status.CREATED:
            return None
    except Exception:  # noqa: BLE001 - destroyed or unreadable: the reference's destroy decides
        pass
    return self.inner.destroy()


def _create_late_lookup(self, container_id, config, start=True):
    """create(start=False) wraps the program in a shell, so a missing one fails only at start()."""
    if not start and isinstance(config, Config) and isinstance(config.process, Process):
        args = ["sh", "-c", 'exec "$0" "$@"'] + list(config.process.args)
        config = dataclasses.replace(config, process=dataclasses.replace(config.process, args=args))
    return MutantFactory.create(self, container_id, config, start=start)


CreatedRunsAtOnce = mutant("CreatedRunsAtOnce", start=_start_noop, _factory={"create": _create_started})
StartNoop = mutant("StartNoop", start=_start_noop)
StartAnything = mutant("StartAnything", start=_start_anything)
ExecRefusedWhenCreated = mutant("ExecRefusedWhenCreated", start_process=_exec_refused_when_created)
PauseCreatedNoop = mutant("PauseCreatedNoop", pause=_pause_created_noop)
SignalCreatedRefused = mutant("SignalCreatedRefused", signal=_signal_created_refused)
DestroyCreatedNoop = mutant("DestroyCreatedNoop", destroy=_destroy_created_noop)
CreateLateLookup = mutant("CreateLateLookup", _factory={"create": _create_late_lookup})

#: name -> (clauses that must fail, spec test module, -k selection), merged into ``mutants.MUTANTS``
CREATED_MUTANTS = {
    "CreatedRunsAtOnce": (("LC-CREATED-01",), "test_transitions", "CREATED-status"),
    "StartNoop": (("LC-CREATED-02",), "test_transitions", "CREATED-start"),
    "StartAnything": (("LC-CREATED-03",), "test_transitions", "RUNNING-start"),
    "ExecRefusedWhenCreated": (("LC-CREATED-04",), "test_transitions", "CREATED-start_process"),
    "PauseCreatedNoop": (("LC-CREATED-05",), "test_transitions", "CREATED-pause"),
    "SignalCreatedRefused": (("LC-CREATED-06",), "test_transitions", "CREATED-signal"),
    "DestroyCreatedNoop": (("LC-CREATED-07",), "test_transitions", "CREATED-destroy"),
    "CreateLateLookup": (("LC-CREATED-08",), "test_created", "test_missing_program_is_refused_by_create"),
}
