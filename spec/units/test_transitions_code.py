"""Unit tests of libcontainer.spec.transitions and .arguments: no container, no root."""

import errno

import pytest

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, ContainerNotRunning, ContainerPaused, Process,
                               ProcessNotFound, Status, SystemFailure, transitions, validate_pid, validate_signal)


def _destroyed() -> Status:
    raise ContainerDestroyed("gone")


@pytest.mark.parametrize("status, operation, error", [
    (Status.PAUSED, "start_process", ContainerPaused),
    (Status.PAUSING, "signal", ContainerPaused),
    (Status.STOPPED, "pause", ContainerNotRunning),
    (Status.STOPPED, "resume", ContainerNotRunning),
    (Status.DESTROYED, "pause", ContainerDestroyed),
])
def test_state_errors_come_from_the_table(status, operation, error):
    with pytest.raises(error, match=operation):
        transitions.check(operation, status, "c1")
    assert transitions.TABLE[(status, operation)].error is error


def test_no_ops_and_transitions_are_returned():
    assert transitions.check("pause", Status.PAUSED).noop
    assert transitions.check("resume", Status.RUNNING).noop
    assert transitions.check("pause", Status.RUNNING).to is Status.PAUSED
    assert transitions.check("resume", Status.PAUSING).to is Status.RUNNING
    assert transitions.check("destroy", Status.DESTROYED).noop


@pytest.mark.parametrize("arguments, error", [
    ({"process": "not a Process"}, ConfigInvalid),
    ({"sig": 65}, SystemFailure),
    ({"sig": True}, SystemFailure),
    ({"pid": 0}, ProcessNotFound),
    ({"pid": "1"}, ProcessNotFound),
])
@pytest.mark.parametrize("status", [Status.PAUSED, Status.STOPPED, _destroyed])
def test_argument_errors_rank_first(arguments, error, status):
    """LC-GEN-04 (1): a malformed argument wins over every state error, and the status is not read."""
    with pytest.raises(error):
        transitions.check("signal" if "process" not in arguments else "start_process", status, **arguments)


def test_status_is_read_after_the_arguments():
    with pytest.raises(ContainerDestroyed):
        transitions.check("start_process", _destroyed, process=Process(args=["true"]))


def test_validators():
    assert validate_signal(0) == 0 and validate_signal(64) == 64
    with pytest.raises(SystemFailure) as caught:
        validate_signal(-1)
    assert caught.value.errno == errno.EINVAL
    assert validate_pid(1) == 1
    with pytest.raises(ProcessNotFound):
        validate_pid(False)


def test_unknown_operation_is_a_programming_error():
    with pytest.raises(KeyError):
        transitions.check("frobnicate", Status.RUNNING)


def test_every_cell_is_present():
    assert set(transitions.TABLE) == {(s, o) for s in Status for o in transitions.OPERATIONS}


def test_validate_arguments_checks_only_what_is_given():
    transitions.validate_arguments()  # nothing given, nothing to refuse
    transitions.validate_arguments(sig=9, pid=1, process=Process(args=["true"]))
    with pytest.raises(SystemFailure):
        transitions.validate_arguments(sig=99, pid=0)  # both malformed: the signal is checked first
