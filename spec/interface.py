"""The Factory and Container interfaces (seed: ``container.go``, Dec 2014).

Every method documents what it returns (with units), and which errors it
raises and when; SPEC.md gives the clause IDs and the full transition table.
Implementations subclass these ABCs; the conformance suite only calls what
is declared here.
"""

from __future__ import annotations

import abc
import re

from .config import Config, Process
from .errors import InvalidIdFormat, NotSupported
from .stats import ContainerStats
from .status import Status

ID_MAX = 1024
_ID_RE = re.compile(r"[A-Za-z0-9_+.-]{1,1024}")


def validate_id(container_id: object) -> str:
    """Return ``container_id`` if it follows the id rule (SPEC.md LC-ID-01).

    An id is 1 to 1024 ASCII letters, digits, ``_``, ``-``, ``.`` or ``+``
    and is not ``.`` or ``..``. Anything else (including a non-str) raises
    :class:`InvalidIdFormat`.
    """
    if not isinstance(container_id, str) or not _ID_RE.fullmatch(container_id) \
            or container_id in (".", ".."):
        shown = container_id if not isinstance(container_id, str) or len(container_id) < 40 \
            else container_id[:37] + "..."
        raise InvalidIdFormat(f"invalid container id {shown!r}: use 1-{ID_MAX} of [A-Za-z0-9_+.-], not . or ..")
    return container_id


class Container(abc.ABC):
    """A container. Thread-safe within one process (LC-GEN-01).

    Another process may destroy the container at any time, so every method
    that the seed lists with ContainerDestroyed may raise it at any call.
    When several errors apply, a malformed argument is reported first, then
    ContainerDestroyed, ContainerPaused, ContainerNotRunning, ProcessNotFound
    (SPEC.md LC-GEN-04). SPEC.md's transition table gives the outcome of
    every method in every state.
    """

    @property
    @abc.abstractmethod
    def id(self) -> str:
        """The container's id (str). Answers also after destroy."""

    @abc.abstractmethod
    def status(self) -> Status:
        """The current run state: RUNNING, PAUSING, PAUSED or STOPPED.

        Raises ContainerDestroyed once the container is destroyed,
        SystemFailure when the state cannot be read.
        """

    @abc.abstractmethod
    def config(self) -> Config:
        """The config the container was created with. Never raises; answers after destroy."""

    @abc.abstractmethod
    def processes(self) -> list[int]:
        """PIDs of the container's processes, in the caller's pid namespace.

        Some may already have exited unless the container is PAUSED, when
        every returned pid is live. Raises ContainerDestroyed, SystemFailure.
        """

    @abc.abstractmethod
    def stats(self) -> ContainerStats:
        """Resource statistics (units in :mod:`libcontainer.spec.stats`), in every state but DESTROYED.

        Raises ContainerDestroyed, SystemFailure.
        """

    @abc.abstractmethod
    def start_process(self, process: Process) -> int:
        """Start ``process`` in the container; return its pid in the caller's pid namespace.

        Raises ContainerDestroyed, ConfigInvalid (bad process config),
        ContainerPaused (PAUSING or PAUSED), ContainerNotRunning (STOPPED;
        extension), SystemFailure.
        """

    @abc.abstractmethod
    def destroy(self) -> None:
        """Kill every process of the container, then remove all it holds.

        Leaves no process, mount, cgroup or state behind. A destroyed
        container is not an error: the call does nothing. Raises
        SystemFailure only.
        """

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze every process of the container (cgroup freezer).

        From RUNNING or PAUSING the state becomes PAUSING, then PAUSED. On
        PAUSED it does nothing. Raises ContainerDestroyed, ContainerNotRunning
        (STOPPED; extension), SystemFailure.
        """

    @abc.abstractmethod
    def resume(self) -> None:
        """Thaw a PAUSED (or PAUSING) container; the state becomes RUNNING.

        On RUNNING it does nothing. Raises ContainerDestroyed,
        ContainerNotRunning (STOPPED; extension), SystemFailure.
        """

    @abc.abstractmethod
    def signal(self, pid: int, sig: int) -> None:
        """Send signal number ``sig`` to ``pid`` (caller's pid namespace), a process of the container.

        Raises ContainerDestroyed, ContainerPaused (PAUSING or PAUSED),
        ContainerNotRunning (STOPPED; extension), ProcessNotFound (pid not a
        live process of the container; extension), SystemFailure.
        """

    @abc.abstractmethod
    def wait(self) -> int:
        """Block until init exits; return its exit status.

        The status is the exit code (0-255), or 128 + the signal number if a
        signal killed it. On STOPPED it returns at once. A wait blocked when
        the container is destroyed returns 137 or raises ContainerDestroyed.
        Raises ContainerDestroyed, SystemFailure.
        """

    @abc.abstractmethod
    def wait_process(self, pid: int) -> int:
        """Block until ``pid`` (a process started in the container) exits; return its exit status.

        Status as for :meth:`wait`. Raises ContainerDestroyed,
        ProcessNotFound (extension), SystemFailure.
        """

    def start(self) -> None:
        """Extension (OCI runtime-spec, lifecycle "start"; SPEC.md LC-CREATED-02/03): let the init of
        a CREATED container (``Factory.create(..., start=False)``) execute the config's program; the
        state becomes RUNNING.

        Raises ContainerNotCreated (RUNNING), ContainerPaused (PAUSING or PAUSED),
        ContainerNotRunning (STOPPED), ContainerDestroyed, SystemFailure; NotSupported (this
        default) when the implementation has no create/start split.
        """
        raise NotSupported(f"{type(self).__name__} has no create/start split (Container.start)")


class Factory(abc.ABC):
    """Creates and loads containers whose state lives under ``root``."""

    root: str

    @abc.abstractmethod
    def create(self, container_id: str, config: Config, start: bool = True) -> Container:
        """Create the container and start its initial process; return it RUNNING.

        With ``start=False`` (extension, SPEC.md LC-CREATED-01): set the init up and leave it
        waiting before it executes the program; return the container CREATED, for
        :meth:`Container.start`. An implementation without that split raises NotSupported (the
        suite reads a create that does not take the keyword the same way) and makes nothing.

        Atomic: on any error, everything made so far is removed. Raises
        InvalidIdFormat, IdInUse, ConfigInvalid, SystemFailure.
        """

    @abc.abstractmethod
    def load(self, container_id: str) -> Container:
        """Return the existing container ``container_id`` (made by any process).

        Raises InvalidIdFormat, ContainerDestroyed (no such container),
        SystemFailure.
        """
