"""The create/start split (SPEC.md "The create/start split", LC-CREATED-*) over an OCI runtime's
command line, which has it natively (OCI runtime-spec runtime.md, "Lifecycle" and "Operations").

``OCIFactory.create(id, config, start=False)`` runs the runtime's ``create`` only: its init waits
before it executes the config's program, and ``state`` says ``created`` (:data:`RUNTIME_STATUS`
maps that to Status.CREATED). :meth:`StartMixin.start` runs the runtime's ``start``, which
releases it. What the runtime answers is passed on: a runtime that pauses a created container, or
resumes it back to ``created``, is seen doing so (SPEC.md, Deviations of peer runtimes).

``start``'s errors (runc 1.1.5 ``start.go``: "cannot start an already running container", "cannot
start a container that has stopped", "cannot start a container in the paused state"; crun 1.8.1:
"cannot open `ROOT/ID/exec.fifo`: No such file or directory" once started, "container `ID` is
not running" when stopped) are mapped by the state the runtime reports after the failure, in the
order of LC-GEN-04: ContainerDestroyed, ContainerPaused (PAUSING or PAUSED), ContainerNotRunning
(STOPPED), ContainerNotCreated (RUNNING: the runtime refused a second start); a refusal while the
runtime still says ``created`` is a SystemFailure with its text.
"""

from __future__ import annotations

from libcontainer.spec import (ContainerNotCreated, ContainerNotRunning, ContainerPaused, LibcontainerError, Status,
                               SystemFailure)

from .cli import CliError

#: the OCI state's ``status`` (runtime-spec runtime.md "State"; runc adds ``pausing``, ``paused``) -> Status
RUNTIME_STATUS = {"creating": Status.CREATED, "created": Status.CREATED, "running": Status.RUNNING,
                  "pausing": Status.PAUSING, "paused": Status.PAUSED, "stopped": Status.STOPPED}

_START_ERRORS = {Status.PAUSING: ContainerPaused, Status.PAUSED: ContainerPaused,
                 Status.STOPPED: ContainerNotRunning, Status.RUNNING: ContainerNotCreated}


def start_error(status: Status, container_id: str, message: str) -> LibcontainerError:
    """The spec's error for a refused ``start`` of ``container_id`` that the runtime now says is in
    ``status`` (see the module doc); ``message`` is the runtime's error text."""
    error = _START_ERRORS.get(status, SystemFailure)
    return error(f"start: container {container_id!r} is {status.name} ({message})")


class StartMixin:
    """``Container.start`` for :class:`.container.OCIContainer` (which provides ``_check``,
    ``_runtime_status``, ``_failed`` and ``runtime``)."""

    def start(self) -> None:
        """Run the runtime's ``start ID`` (OCI "Operations: Start"); the container becomes RUNNING.

        Raises ContainerDestroyed, ContainerPaused, ContainerNotRunning, ContainerNotCreated
        (SPEC.md LC-CREATED-03) or SystemFailure, by the runtime's state after a refusal (not by its
        text: crun's "cannot open `.../exec.fifo`: No such file or directory" is a second start)."""
        self._check()
        try:
            self.runtime.run("start", self._id)
        except CliError as e:
            if not self._exists() or e.rc < 0:
                raise self._failed(e, "start") from None
            raise start_error(self._runtime_status(), self._id, e.message) from None
