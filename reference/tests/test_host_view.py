"""Host-side assertions through pytest-testinfra's local backend: what the host sees of a container."""

from __future__ import annotations

import os

import pytest

testinfra = pytest.importorskip("testinfra")


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host("local://")


def test_host_sees_no_container_mount(host, container, rootfs):
    for point in ("/proc", "/sys", "/dev", "/dev/pts", "/"):
        assert not host.mount_point(os.path.normpath(rootfs + point)).exists


def test_host_sees_the_init_in_other_namespaces(host, container):
    for ns in ("mnt", "pid", "uts", "ipc", "net"):
        theirs = host.file(f"/proc/{container.init_pid}/ns/{ns}").linked_to
        ours = host.file(f"/proc/{os.getpid()}/ns/{ns}").linked_to
        assert theirs != ours, ns


def test_host_sees_the_init_confined(host, container):
    status = host.file(f"/proc/{container.init_pid}/status").content_string
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Seccomp"].strip() == "2"
    assert int(fields["CapEff"], 16) == int(fields["CapBnd"], 16) != int("1ffffffffff", 16)
    cgroup = host.file(f"/proc/{container.init_pid}/cgroup").content_string
    assert "libcontainer/" in cgroup


def test_host_hostname_is_unchanged(host, container):
    assert host.check_output("hostname") == os.uname().nodename != "spec"
