"""The frame of the transition-table tests (``test_transitions.py``, one test per cell of SPEC.md's
table): the registry of cell checks, the container a check runs on, how it is brought to each state,
and the builder of the cells whose call must be refused.

A check is a function of one :class:`Subject`; :func:`cell` registers it for (state, operation)
cells with the clause IDs that decide them (SPEC.md, "The transition table"), which become the
test's ``clause`` markers (:func:`params`). ``test_spec_meta.py`` checks them against the table.
"""

from __future__ import annotations

import dataclasses
import signal
from typing import Callable

import pytest

from libcontainer.spec import Config, Container, ContainerDestroyed, Factory, LibcontainerError, Process, Status
from libcontainer.spec.transitions import COLUMNS, OPERATIONS

from .helpers import Call, eventually, exec_probe, stop_by_sigkill, wait_status

STATES = tuple(state.name for state in COLUMNS)
FROZEN = (Status.PAUSING, Status.PAUSED)

#: (state name, operation) -> (clause IDs, check)
CELLS: dict[tuple[str, str], tuple[tuple[str, ...], Callable]] = {}


def cell(states: str, operation: str, *clauses: str):
    """Register the check of the cells (state, operation) for each of ``states`` (names, space-separated)."""
    def register(fn):
        for state in states.split():
            CELLS[(state, operation)] = (clauses, fn)
        return fn
    return register


@dataclasses.dataclass
class Subject:
    factory: Factory
    config: Config
    c: Container
    state: str
    init: int  # host pid of init
    sleeper: int  # a started `sleep 86400`
    exited: int  # a started process that exited with status 7
    ran: str = ""  # CREATED: the file the config's program makes when it runs (host path)
    met: Status | None = None  # PAUSING: the status seen when the operation was issued
    pauser: Call | None = None  # PAUSING: the thread in pause()

    def finish_pause(self, may_be_destroyed: bool = False) -> None:
        """Join the pausing thread (PAUSING only); its pause() must have succeeded."""
        if self.pauser is None:
            return
        assert self.pauser.join(15), "pause() did not return within 15 s"
        if self.pauser.error is not None and not (may_be_destroyed and
                                                  isinstance(self.pauser.error, ContainerDestroyed)):
            raise self.pauser.error
        self.pauser = None


def enter(factory: Factory, config: Config, state: str) -> Subject:
    """Create container "cell" with an exited process (status 7) and a sleeper, and bring it to ``state``.

    PAUSING: pause() runs in another thread and this returns as soon as status() reports PAUSING
    or PAUSED (SPEC.md, "Testing PAUSING"); ``met`` is the status seen. CREATED: created with
    ``start=False`` (``transitions_created.enter_created``).
    """
    if state == "CREATED":
        from . import transitions_created
        return transitions_created.enter_created(factory, config)
    c = factory.create("cell", config)
    pids = c.processes()
    assert len(pids) == 1, pids
    exited, _out, status = exec_probe(c, "exit 7")
    assert status == 7
    sleeper = c.start_process(Process(args=["sleep", "86400"]))
    s = Subject(factory, config, c, state, pids[0], sleeper, exited)
    if state == "PAUSED":
        c.pause()
        assert wait_status(c, Status.PAUSED) == Status.PAUSED
    elif state == "PAUSING":
        s.pauser = Call(c.pause)

        def frozen_or_freezing():
            got = c.status()
            return got if got in FROZEN else None

        s.met = eventually(frozen_or_freezing, timeout=10, step=0.0005)
        assert s.met, "pause() never made the container PAUSING or PAUSED"
    elif state == "STOPPED":
        stop_by_sigkill(c, s.init)  # a wrong status here is LC-WAIT-02's failure: the cell is blocked by it
    elif state == "DESTROYED":
        c.destroy()
    return s


def params() -> list:
    """One pytest param a cell, id ``STATE-operation``, marked with the cell's clauses."""
    out = []
    for state in STATES:
        for op in OPERATIONS:
            clauses = CELLS[(state, op)][0] if (state, op) in CELLS else ()
            out.append(pytest.param(state, op, id=f"{state}-{op}", marks=[pytest.mark.clause(*clauses)]))
    return out


def issue(s: Subject, operation: str):
    """Call ``operation`` on the subject's container with the arguments a refused call gets: a new
    ``sleep 86400`` (start_process), SIGKILL to init (signal), the exited process (wait_process)."""
    arguments = {"start_process": (Process(args=["sleep", "86400"]),), "signal": (s.init, signal.SIGKILL),
                 "wait_process": (s.exited,)}
    return getattr(s.c, operation)(*arguments.get(operation, ()))


def refused(states: str, operation: str, error: type[LibcontainerError], *clauses: str,
            then: Callable[[Subject], None] | None = None) -> None:
    """Register the cells where ``operation`` (called by :func:`issue`) raises ``error``; ``then``
    checks what must hold afterwards (the call changed nothing)."""
    def check(s: Subject) -> None:
        with pytest.raises(error):
            issue(s, operation)
        if then is not None:
            then(s)
    check.__name__ = f"refused_{operation}"
    cell(states, operation, *clauses)(check)
