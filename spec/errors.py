"""Errors of the container API: one base class, a code from one enum.

Source: the seed (``container.go``, 2014) names ContainerDestroyed,
ConfigInvalid, ContainerPaused and SystemError; the Factory of the same era
adds IdInUse and InvalidIdFormat. Codes marked *extension* follow later
libcontainer (runc) names and are defined in SPEC.md.

No public call lets a bare :class:`OSError` escape: a failing system call is
wrapped in :class:`SystemFailure` (the seed's ``SystemError``, renamed so it
does not shadow Python's builtin).
"""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    """Machine-readable reason of a :class:`LibcontainerError`."""

    ID_IN_USE = "IdInUse"
    INVALID_ID_FORMAT = "InvalidIdFormat"
    CONFIG_INVALID = "ConfigInvalid"
    CONTAINER_DESTROYED = "ContainerDestroyed"
    CONTAINER_PAUSED = "ContainerPaused"
    SYSTEM_ERROR = "SystemError"
    # extensions of the seed (later libcontainer / runc)
    CONTAINER_NOT_RUNNING = "ContainerNotRunning"
    PROCESS_NOT_FOUND = "ProcessNotFound"
    NOT_SUPPORTED = "NotSupported"
    CONTAINER_NOT_CREATED = "ContainerNotCreated"


class LibcontainerError(Exception):
    """Base of every error the API raises. ``code`` is an :class:`ErrorCode`."""

    code: ErrorCode = ErrorCode.SYSTEM_ERROR

    def __init__(self, message: str = "", *, code: ErrorCode | None = None):
        if code is not None:
            self.code = code
        super().__init__(message or self.code.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, code={self.code.value})"


class IdInUse(LibcontainerError):
    """A container with this id already exists under the factory's root."""

    code = ErrorCode.ID_IN_USE


class InvalidIdFormat(LibcontainerError):
    """The id breaks the id rule of SPEC.md (LC-ID-01)."""

    code = ErrorCode.INVALID_ID_FORMAT


class ConfigInvalid(LibcontainerError):
    """A container or process config is invalid; the message names the field."""

    code = ErrorCode.CONFIG_INVALID


class ContainerDestroyed(LibcontainerError):
    """The container no longer exists (destroyed here or by another process)."""

    code = ErrorCode.CONTAINER_DESTROYED


class ContainerPaused(LibcontainerError):
    """The operation is refused because the container is paused."""

    code = ErrorCode.CONTAINER_PAUSED


class SystemFailure(LibcontainerError):
    """The seed's ``SystemError``: the system failed the request.

    ``errno`` carries the failing call's errno when there was one.
    """

    code = ErrorCode.SYSTEM_ERROR

    def __init__(self, message: str = "", *, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


class ContainerNotRunning(LibcontainerError):
    """Extension (runc): the container's init has exited (STOPPED)."""

    code = ErrorCode.CONTAINER_NOT_RUNNING


class ProcessNotFound(LibcontainerError):
    """Extension: the pid does not name a process of this container."""

    code = ErrorCode.PROCESS_NOT_FOUND


class NotSupported(LibcontainerError):
    """Extension: the implementation under test cannot do this at all."""

    code = ErrorCode.NOT_SUPPORTED


class ContainerNotCreated(LibcontainerError):
    """Extension (OCI runtime-spec, lifecycle "start"): ``start()`` on a container that is not
    CREATED, where no other state error applies (it is RUNNING: runc's "cannot start an already
    running container"). SPEC.md LC-CREATED-03."""

    code = ErrorCode.CONTAINER_NOT_CREATED
