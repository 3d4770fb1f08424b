"""Outcomes of a test and of a clause, and the exceptions the plugin turns into outcomes.

A test's outcome is one of :data:`OUTCOMES`:

* ``passed``, ``failed``, ``skipped`` as pytest says (an error in set-up or
  teardown is ``failed``);
* ``xfailed``: a known deviation of the runtime under test (strict xfail);
  a non-strict one that passed this time is ``passed``;
* ``not-supported``: the runtime refused what the test asked for with
  :class:`libcontainer.spec.NotSupported` (matched by class or by
  ``code == ErrorCode.NOT_SUPPORTED``); pytest shows it as skipped with the
  reason ``not supported: <message>``;
* ``blocked``: a set-up step that brings a container into a state (for
  example STOPPED through SIGKILL) failed its own clause
  (:class:`SetupFailed`); the test could not judge its own clauses. The
  set-up's clause is reported failed once per process, the dependent tests
  as blocked by it.

A clause's outcome (:func:`combine`) is ``passed`` only when every one of
its tests passed; one failed test makes it ``failed``; then ``blocked``,
then one xfailed test makes it ``xfailed`` (a deviation), then
``not-supported``, then ``skipped``, then ``host-only`` (a kernel matrix
guest's cell of a clause that ran on the host only: :mod:`libcontainer.vm.selection`).
"""

from __future__ import annotations

# worst first: the first of these that any test of a clause has is the clause's outcome
OUTCOMES = ("failed", "blocked", "xfailed", "not-supported", "skipped", "host-only", "passed")
# a guest's cell of a clause whose tests run on the host only (libcontainer.vm.selection): never "passed" there
HOST_ONLY = "host-only"
# a cell of a run that never reported (crashed, killed, no report written)
CRASHED = "crashed"


class SetupFailed(AssertionError):
    """A set-up step of a test failed the clause it relies on (``clause``, a SPEC.md id).

    Raised by the helpers that bring a container into a state
    (``spec/tests/helpers.py``); the plugin reports ``clause`` failed once and
    the test as blocked by it, not as a failure of the test's own clauses.
    """

    def __init__(self, clause: str, message: str):
        super().__init__(f"set-up failed {clause}: {message}")
        self.clause = clause
        self.message = message


def combine(outcomes) -> str:
    """The outcome of a clause whose tests had ``outcomes`` (worst first, see :data:`OUTCOMES`)."""
    outcomes = list(outcomes)
    for o in OUTCOMES:
        if o in outcomes:
            return o
    return "skipped"


def is_not_supported(exc: BaseException | None) -> bool:
    """True if ``exc`` is the runtime's NotSupported (by class, or by its ``code``)."""
    if exc is None:
        return False
    from libcontainer.spec.errors import ErrorCode, NotSupported
    return isinstance(exc, NotSupported) or getattr(exc, "code", None) in (ErrorCode.NOT_SUPPORTED,
                                                                           ErrorCode.NOT_SUPPORTED.value)


def test_outcome(rep) -> str | None:
    """The outcome of one pytest report phase (None for a passed set-up or teardown)."""
    props = dict(rep.user_properties)
    if "lc_outcome" in props and (rep.skipped or rep.failed):
        return props["lc_outcome"]
    if hasattr(rep, "wasxfail"):
        # a non-strict expected failure that passed this time (XPASS) passed; a strict XPASS failed
        return "xfailed" if rep.skipped else ("passed" if rep.passed else "failed")
    if rep.failed:
        return "failed"
    if rep.skipped:
        return "skipped"
    if rep.when == "call":
        return "passed"
    return None


def combine_phases(outcomes: list[str]) -> str:
    """A test's outcome from those of its phases (set-up, call, teardown): the worst, passed if none."""
    return combine(outcomes) if outcomes else "passed"


test_outcome.__test__ = False  # not a test, for pytest's collection of this module by name
