"""SPEC.md's transition table in code: ``(status, operation) -> outcome``.

:data:`TABLE` holds one :class:`Outcome` per cell of the table in SPEC.md
("The transition table"); the meta-test (``tests/test_spec_meta.py``) reads
SPEC.md and fails on any cell where the two differ (error, end state, no-op,
extension mark or clause IDs). Changing a cell is one edit here plus the
same edit in SPEC.md.

:func:`check` is what an implementation calls at the top of ``pause``,
``resume``, ``signal``, ``start_process`` (and any other operation): it
raises the error LC-GEN-04 ranks first among the argument errors (rank 1)
and the state errors of the cell (ranks 2 to 4), and otherwise returns the
cell's outcome. Ranks 5 (a pid not of the container) and 6 (SystemFailure)
depend on the operation's own work and stay with the caller.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .arguments import validate_pid, validate_process, validate_signal
from .errors import ContainerDestroyed, ContainerNotCreated, ContainerNotRunning, ContainerPaused, LibcontainerError
from .status import Status

OPERATIONS = ("status", "config", "processes", "stats", "start_process", "destroy", "pause", "resume", "signal",
              "wait", "wait_process", "start")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One cell of the table.

    * ``error``: the error class the call raises in this state (it then changes nothing), or None.
    * ``to``: the state the call leaves the container in when that differs from the row's state
      (SPEC.md's last ``→ STATE`` of the cell), or None; for ``signal`` and ``wait`` on RUNNING it
      is where init's end takes it.
    * ``noop``: the call succeeds and changes nothing (SPEC.md's "no-op").
    * ``extension``: the seed is silent; the cell is the spec's decision (SPEC.md's "extension").
    * ``clauses``: the clause IDs that decide the cell.
    """

    clauses: tuple[str, ...]
    error: type[LibcontainerError] | None = None
    to: Status | None = None
    noop: bool = False
    extension: bool = False


def _ok(*clauses: str, to: Status | None = None, extension: bool = False) -> Outcome:
    return Outcome(clauses, to=to, extension=extension)


def _noop(*clauses: str) -> Outcome:
    return Outcome(clauses, noop=True)


def _err(error: type[LibcontainerError], *clauses: str, extension: bool = False) -> Outcome:
    return Outcome(clauses, error=error, extension=extension)


#: SPEC.md's columns, in order
COLUMNS = (Status.RUNNING, Status.PAUSING, Status.PAUSED, Status.STOPPED, Status.DESTROYED, Status.CREATED)

#: operation -> its row, in SPEC.md's column order RUNNING, PAUSING, PAUSED, STOPPED, DESTROYED, CREATED
_ROWS: dict[str, tuple[Outcome, ...]] = {
    "status": (_ok("LC-STATUS-01"), _ok("LC-STATUS-01", "LC-PAUSE-01"), _ok("LC-STATUS-01"), _ok("LC-STATUS-01"),
               _err(ContainerDestroyed, "LC-STATUS-02"),
               _ok("LC-CREATED-01", extension=True)),
    "config": (_ok("LC-CONFIG-01"),) * 6,
    "processes": (_ok("LC-PROCS-01"), _ok("LC-PROCS-01"), _ok("LC-PROCS-03"), _ok("LC-PROCS-04"),
                  _err(ContainerDestroyed, "LC-PROCS-02"),
                  _ok("LC-CREATED-01", extension=True)),
    "stats": (_ok("LC-STATS-01"), _ok("LC-STATS-03"), _ok("LC-STATS-03"), _ok("LC-STATS-03"),
              _err(ContainerDestroyed, "LC-STATS-02"),
              _ok("LC-CREATED-01", extension=True)),
    "start_process": (_ok("LC-EXEC-01"), _err(ContainerPaused, "LC-EXEC-03"), _err(ContainerPaused, "LC-EXEC-03"),
                      _err(ContainerNotRunning, "LC-EXEC-04", extension=True),
                      _err(ContainerDestroyed, "LC-EXEC-02"),
                      _ok("LC-CREATED-04", extension=True)),
    "destroy": (_ok("LC-DESTROY-01", to=Status.DESTROYED), _ok("LC-DESTROY-03", to=Status.DESTROYED),
                _ok("LC-DESTROY-03", to=Status.DESTROYED), _ok("LC-DESTROY-04", to=Status.DESTROYED),
                _noop("LC-DESTROY-02"),
                _ok("LC-CREATED-07", to=Status.DESTROYED, extension=True)),
    "pause": (_ok("LC-PAUSE-01", to=Status.PAUSED), _ok("LC-PAUSE-04", to=Status.PAUSED), _noop("LC-PAUSE-03"),
              _err(ContainerNotRunning, "LC-PAUSE-05", extension=True), _err(ContainerDestroyed, "LC-PAUSE-02"),
              _err(ContainerNotRunning, "LC-CREATED-05", extension=True)),
    "resume": (_noop("LC-RESUME-03"), _ok("LC-RESUME-04", to=Status.RUNNING, extension=True),
               _ok("LC-RESUME-01", to=Status.RUNNING),
               _err(ContainerNotRunning, "LC-RESUME-05", extension=True), _err(ContainerDestroyed, "LC-RESUME-02"),
               _err(ContainerNotRunning, "LC-CREATED-05", extension=True)),
    "signal": (_ok("LC-SIGNAL-01", "LC-WAIT-02", to=Status.STOPPED), _err(ContainerPaused, "LC-SIGNAL-03"),
               _err(ContainerPaused, "LC-SIGNAL-03"), _err(ContainerNotRunning, "LC-SIGNAL-04", extension=True),
               _err(ContainerDestroyed, "LC-SIGNAL-02"),
               _ok("LC-CREATED-06", to=Status.STOPPED, extension=True)),
    "wait": (_ok("LC-WAIT-01", to=Status.STOPPED), _ok("LC-WAIT-05"), _ok("LC-WAIT-05"), _ok("LC-WAIT-04"),
             _err(ContainerDestroyed, "LC-WAIT-03"),
             _ok("LC-CREATED-06", extension=True)),
    "wait_process": (_ok("LC-WAITPROC-01"), _ok("LC-WAITPROC-04"), _ok("LC-WAITPROC-04"), _ok("LC-WAITPROC-04"),
                     _err(ContainerDestroyed, "LC-WAITPROC-02"),
                     _ok("LC-CREATED-06", extension=True)),
    "start": (_err(ContainerNotCreated, "LC-CREATED-03", extension=True),
              _err(ContainerPaused, "LC-CREATED-03", extension=True),
              _err(ContainerPaused, "LC-CREATED-03", extension=True),
              _err(ContainerNotRunning, "LC-CREATED-03", extension=True),
              _err(ContainerDestroyed, "LC-CREATED-03", extension=True),
              _ok("LC-CREATED-02", to=Status.RUNNING, extension=True)),
}

#: (status, operation) -> outcome, every Status x every operation of :data:`OPERATIONS`
TABLE: dict[tuple[Status, str], Outcome] = {
    (state, op): row[i] for op, row in _ROWS.items() for i, state in enumerate(COLUMNS)}

_MESSAGES = {ContainerDestroyed: "is destroyed", ContainerPaused: "is paused", ContainerNotRunning: "is not running",
             ContainerNotCreated: "is not created (already started)"}


def validate_arguments(**arguments: Any) -> None:
    """Rank (1) of LC-GEN-04: raise the error of the first malformed argument.

    ``process`` (start_process) -> ConfigInvalid; ``sig`` (signal) -> SystemFailure EINVAL;
    ``pid`` (signal, wait_process) -> ProcessNotFound. Arguments not given are not checked.
    """
    if "process" in arguments:
        validate_process(arguments["process"])
    if "sig" in arguments:
        validate_signal(arguments["sig"])
    if "pid" in arguments:
        validate_pid(arguments["pid"])


def check(operation: str, status: Status | Callable[[], Status], name: str = "", **arguments: Any) -> Outcome:
    """Raise what LC-GEN-04 ranks first for ``operation`` in ``status``, else return the cell.

    ``status`` is a :class:`Status` or a callable returning one (called only after the arguments
    passed as keywords ``process``, ``sig``, ``pid`` are validated, so a malformed argument wins
    even when reading the status would raise ContainerDestroyed). ``name`` (the container id)
    goes into the message. Raises KeyError for an operation not in :data:`OPERATIONS` (a
    programming error of the caller, not of the API's user).
    """
    if operation not in OPERATIONS:
        raise KeyError(f"unknown operation {operation!r}; one of {OPERATIONS}")
    validate_arguments(**arguments)
    state = status() if callable(status) else status
    outcome = TABLE[(state, operation)]
    if outcome.error is not None:
        raise outcome.error(f"{operation}: container {name!r} {_MESSAGES[outcome.error]}")
    return outcome


__all__ = ["COLUMNS", "OPERATIONS", "Outcome", "TABLE", "check", "validate_arguments"]
