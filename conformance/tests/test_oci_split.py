"""Unit tests (no root, no runtime) of the OCI adapter's create/start split (:mod:`.oci.split`) and of
its reading of a runtime's config refusals (:mod:`.oci.refusals`)."""

import pytest

from libcontainer.conformance.oci import split
from libcontainer.conformance.oci.cli import CliError
from libcontainer.conformance.oci.container import OCIContainer, is_config_error
from libcontainer.conformance.oci.refusals import refuses_config
from libcontainer.spec import (ContainerDestroyed, ContainerNotCreated, ContainerNotRunning, ContainerPaused, Status,
                               SystemFailure)

# create's error texts measured here (runc 1.1.5, crun 1.8.1; see the refusals module)
REFUSED = [
    "runc create failed: unable to set hostname without a private UTS namespace",
    'runc create failed: sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
    'runc create failed: sysctl "kernel.pid_max" is not in a separate kernel namespace',
    "runc create failed: invalid configuration: cannot use unified on cgroup v1",
    "runc create failed: string SCMP_ACT_NOPE is not a valid action for seccomp",
    "runc create failed: wrong rlimit value: RLIMIT_NOPE",
    'runc create failed: invalid device type "x"',
    "runc create failed: unable to start container process: error during container init: error setting cgroup "
    "config for procHooks process: invalid memory swappiness value: 200 (valid range is 0-100)",
    'runc create failed: malformed spec file: duplicated ns {"pid" ""}',
    "hostname requires the UTS namespace",
    "the sysctl `net.ipv4.ip_forward` requires a new network namespace",
    "the sysctl `kernel.pid_max` is not namespaced",
    "the memory limit could be too low: invalid configuration: cannot use unified on cgroup v1",
    "invalid seccomp action `SCMP_ACT_NOPE`",
    "invalid rlimit `RLIMIT_NOPE`",
]
NOT_REFUSED = [
    "invalid configuration",  # runc's warning for a relative mount destination: it goes on
    "container not running",
    "cgroups in hybrid mode not supported, drop all controllers from cgroupv2",
    "runc create failed: unable to start container process: error during container init: error preparing "
    "rootfs: mount /r:/r, flags: 0x5000: permission denied",
    "cannot set hugetlb limit: container could not join or create cgroup",
]


@pytest.mark.parametrize("message", REFUSED)
def test_a_runtimes_config_refusal_is_config_invalid(message):
    assert refuses_config(message)
    assert is_config_error(message)


@pytest.mark.parametrize("message", NOT_REFUSED)
def test_other_runtime_errors_are_not_config_refusals(message):
    assert not refuses_config(message)
    assert not is_config_error(message)


def test_the_oci_created_state_is_created():
    assert split.RUNTIME_STATUS["created"] == Status.CREATED
    assert split.RUNTIME_STATUS["running"] == Status.RUNNING
    assert set(split.RUNTIME_STATUS) == {"creating", "created", "running", "pausing", "paused", "stopped"}


class FakeRuntime:
    name = "fake"

    def __init__(self, error: CliError | None):
        self.error, self.calls = error, []

    def run(self, *args):
        self.calls.append(args)
        if self.error:
            raise self.error
        return ""


class FakeContainer(split.StartMixin):
    """What StartMixin uses of OCIContainer: ``_check``, ``_exists``, ``_runtime_status``, ``_failed``."""

    def __init__(self, error: CliError | None, status: Status, exists: bool = True):
        self._id, self.runtime, self.status_after, self.exists = "c", FakeRuntime(error), status, exists

    def _exists(self):
        return self.exists

    def _check(self):
        if not self.exists:
            raise ContainerDestroyed("gone")

    def _runtime_status(self):
        return self.status_after

    def _failed(self, e, what):
        return ContainerDestroyed(what) if not self.exists else SystemFailure(f"{what}: {e.message}")


def test_start_runs_the_runtimes_start():
    c = FakeContainer(None, Status.RUNNING)
    c.start()
    assert c.runtime.calls == [("start", "c")]


@pytest.mark.parametrize("status, error, text", [
    (Status.RUNNING, ContainerNotCreated, "cannot start an already running container"),
    (Status.RUNNING, ContainerNotCreated, "cannot open `/r/c/exec.fifo`: No such file or directory"),
    (Status.PAUSED, ContainerPaused, "cannot start a container in the paused state"),
    (Status.PAUSING, ContainerPaused, "cannot start a container in the pausing state"),
    (Status.STOPPED, ContainerNotRunning, "cannot start a container that has stopped"),
    (Status.CREATED, SystemFailure, "something else"),
])
def test_a_refused_start_is_mapped_by_the_state_after_it(status, error, text):
    c = FakeContainer(CliError(["runc", "start", "c"], 1, text), status)
    with pytest.raises(error) as info:
        c.start()
    assert type(info.value) is error
    assert text in str(info.value)


def test_start_of_a_destroyed_container_runs_nothing():
    c = FakeContainer(None, Status.RUNNING, exists=False)
    with pytest.raises(ContainerDestroyed):
        c.start()
    assert c.runtime.calls == []


def test_a_crashed_start_is_a_system_failure():
    c = FakeContainer(CliError(["runc", "start", "c"], -11, "crashed: killed by signal 11"), Status.RUNNING)
    with pytest.raises(SystemFailure):
        c.start()


class _Runtime:
    name = "lcrun"


def _container_in(status: Status):
    """An OCIContainer whose runtime state reads ``status``: only what ``_failed`` uses."""
    c = OCIContainer.__new__(OCIContainer)
    c._id, c.runtime = "c", _Runtime()
    c._exists = lambda: True
    c._runtime_status = lambda: status
    return c


@pytest.mark.parametrize("op", ["pause", "resume"])
def test_a_refused_pause_of_a_created_container_is_not_running(op):
    """LC-CREATED-05 through a runtime that refuses (lcrun): "container not running" on CREATED."""
    err = _container_in(Status.CREATED)._failed(CliError(["lcrun", op, "c"], 1, "container not running"), op)
    assert isinstance(err, ContainerNotRunning)


def test_not_running_on_a_running_container_stays_a_system_failure():
    err = _container_in(Status.RUNNING)._failed(CliError(["lcrun", "resume", "c"], 1, "container not running"),
                                                 "resume")
    assert type(err) is SystemFailure
