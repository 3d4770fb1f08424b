"""Validators of the arguments of Container calls: rank (1) of LC-GEN-04.

An argument error is wrong whatever the container's state, so it is reported
before any state error (SPEC.md, LC-GEN-04). These are the checks the
clauses rely on; an implementation calls them (or
:func:`libcontainer.spec.transitions.check`, which calls them first).

* :func:`validate_process` -> ConfigInvalid naming the field (LC-EXEC-05).
* :func:`validate_signal` -> SystemFailure with errno EINVAL (LC-SIGNAL-06;
  kill(2): EINVAL "an invalid signal was specified").
* :func:`validate_pid` -> ProcessNotFound (LC-GEN-04 (1)).
"""

from __future__ import annotations

import errno
from typing import Any

from .validation import validate_process
from .errors import ProcessNotFound, SystemFailure

#: the largest signal number a Container accepts (LC-GEN-04): SIGRTMAX on x86_64 and arm64 (signal(7))
SIGNAL_MAX = 64


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_signal(sig: Any) -> int:
    """Return ``sig`` if it is an int in 0..SIGNAL_MAX (0 probes, kill(2)); else raise
    SystemFailure with ``errno`` EINVAL, as kill(2) does for an invalid signal."""
    if not _is_int(sig) or not 0 <= sig <= SIGNAL_MAX:
        raise SystemFailure(f"invalid signal {sig!r}: must be an int in 0..{SIGNAL_MAX}", errno=errno.EINVAL)
    return sig


def validate_pid(pid: Any) -> int:
    """Return ``pid`` if it is a positive int (a bool is not); else raise ProcessNotFound:
    no process of any container has it (LC-GEN-04 (1))."""
    if not _is_int(pid) or pid <= 0:
        raise ProcessNotFound(f"pid {pid!r} is not a process id (a positive int)")
    return pid


__all__ = ["SIGNAL_MAX", "validate_pid", "validate_process", "validate_signal"]
